//! Paging of DescribeLogGroups and DescribeLogStreams: the token names the sort key of the last
//! item returned, so the next page starts after it even if items came or went in between.

use std::cmp::Ordering;

use crate::api::ApiError;

/// Items per page when no `limit` is given (and the most allowed).
pub const DESCRIBE_LIMIT: u32 = 50;

/// A sort key: a number (0 when ordering by name) then the name.
pub type Key = (i64, String);

/// The page of `items` (already sorted by `key`, ascending or `descending`) after `token`, at
/// most `limit` long, and the token of the next page when more follow.
pub fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> Key,
    descending: bool,
    limit: Option<u32>,
    token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let after = token.map(parse).transpose()?;
    let limit = limit.unwrap_or(DESCRIBE_LIMIT) as usize;
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|item| match &after {
            None => true,
            Some(after) => {
                let order = key(item).cmp(after);
                order
                    == if descending {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
            }
        })
        .collect();
    let next = (rest.len() > limit).then(|| {
        let (n, name) = key(&rest[limit - 1]);
        format!("{n}/{name}")
    });
    rest.truncate(limit);
    Ok((rest, next))
}

fn parse(token: &str) -> Result<Key, ApiError> {
    token
        .split_once('/')
        .and_then(|(n, name)| Some((n.parse().ok()?, name.to_string())))
        .ok_or_else(|| ApiError::validation("The specified nextToken is invalid."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("s{i:02}")).collect()
    }

    #[test]
    fn pages_follow_the_token_to_the_end() {
        let key = |s: &String| (0, s.clone());
        let (first, token) = page(names(5), key, false, Some(2), None).unwrap();
        assert_eq!(first, ["s00", "s01"]);
        let (second, token) = page(names(5), key, false, Some(2), token.as_deref()).unwrap();
        assert_eq!(second, ["s02", "s03"]);
        let (third, token) = page(names(5), key, false, Some(2), token.as_deref()).unwrap();
        assert_eq!((third, token), (vec!["s04".to_string()], None));
    }

    #[test]
    fn descending_pages_go_down() {
        let key = |s: &String| (0, s.clone());
        let mut items = names(3);
        items.reverse();
        let (first, token) = page(items.clone(), key, true, Some(2), None).unwrap();
        assert_eq!(first, ["s02", "s01"]);
        let (second, token) = page(items, key, true, Some(2), token.as_deref()).unwrap();
        assert_eq!((second, token), (vec!["s00".to_string()], None));
    }

    #[test]
    fn a_foreign_token_is_refused() {
        let key = |s: &String| (0, s.clone());
        assert!(page(names(1), key, false, None, Some("nonsense")).is_err());
    }
}
