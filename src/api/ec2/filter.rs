//! EC2's `Filter.N.Name` / `Filter.N.Value.M` and id lists: a resource is kept when every
//! filter matches one of its values (values may use `*` and `?` wildcards), and, when ids are
//! given, its id is one of them (an unknown id is the resource's `NotFound` error, as on AWS).

use crate::api::ApiError;
use crate::api::query::Params;

/// One `Filter.N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub name: String,
    pub values: Vec<String>,
}

impl Filter {
    /// Every filter of the request.
    pub fn all(params: &Params) -> Result<Vec<Filter>, ApiError> {
        params
            .structs("Filter")
            .into_iter()
            .map(|f| {
                Ok(Filter {
                    name: f.required("Name")?.to_string(),
                    values: f.list("Value"),
                })
            })
            .collect()
    }
}

/// What filters can see of a resource: `(filter name, value)` pairs, a name may repeat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    id: String,
    pairs: Vec<(String, String)>,
}

impl Facts {
    /// Facts of the resource with `id` (also its id filter's value).
    pub fn new(id: &str) -> Facts {
        Facts {
            id: id.to_string(),
            pairs: Vec::new(),
        }
    }

    pub fn add(&mut self, name: &str, value: impl ToString) -> &mut Self {
        self.pairs.push((name.to_string(), value.to_string()));
        self
    }

    fn values(&self, name: &str) -> impl Iterator<Item = &str> {
        self.pairs
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A described resource.
pub trait Record {
    fn facts(&self) -> Facts;
}

/// The filter names a kind of resource supports (besides `tag:*`, `tag-key`, `tag-value`).
pub struct NotFound {
    /// `InvalidVpcID.NotFound` etc.
    pub code: &'static str,
    /// `The vpc ID '{}' does not exist`, `{}` the first unknown id.
    pub message: &'static str,
    pub filters: &'static [&'static str],
}

/// Keeps the records `ids` (when any) and `filters` select, in their order.
pub fn select<R: Record>(
    records: Vec<R>,
    ids: &[String],
    filters: &[Filter],
    kind: NotFound,
) -> Result<Vec<R>, ApiError> {
    for f in filters {
        let known = kind.filters.contains(&f.name.as_str())
            || f.name.starts_with("tag:")
            || f.name == "tag-key"
            || f.name == "tag-value";
        if !known {
            return Err(ApiError::new(
                "InvalidParameterValue",
                format!("The filter '{}' is invalid", f.name),
            ));
        }
    }
    let facts: Vec<Facts> = records.iter().map(Record::facts).collect();
    if let Some(unknown) = ids.iter().find(|id| !facts.iter().any(|f| &f.id == *id)) {
        return Err(ApiError::new(
            kind.code,
            kind.message.replace("{}", unknown),
        ));
    }
    Ok(records
        .into_iter()
        .zip(facts)
        .filter(|(_, f)| ids.is_empty() || ids.contains(&f.id))
        .filter(|(_, f)| filters.iter().all(|filter| matches(f, filter)))
        .map(|(r, _)| r)
        .collect())
}

fn matches(facts: &Facts, filter: &Filter) -> bool {
    facts
        .values(&filter.name)
        .any(|value| filter.values.iter().any(|pattern| wildcard(pattern, value)))
}

/// `*` any run of characters, `?` one character; `\*`, `\?` and `\\` literal.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len()).any(|i| go(&p[1..], &t[i..])),
            Some('?') => !t.is_empty() && go(&p[1..], &t[1..]),
            Some('\\') if p.len() > 1 => t.first() == Some(&p[1]) && go(&p[2..], &t[1..]),
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
        }
    }
    go(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct R(&'static str, &'static str);
    impl Record for R {
        fn facts(&self) -> Facts {
            let mut f = Facts::new(self.0);
            f.add("vpc-id", "vpc-1").add("tag:Name", self.1);
            f
        }
    }
    const KIND: NotFound = NotFound {
        code: "InvalidSubnetID.NotFound",
        message: "The subnet ID '{}' does not exist",
        filters: &["vpc-id"],
    };

    fn names(rs: Vec<R>) -> Vec<&'static str> {
        rs.into_iter().map(|r| r.1).collect()
    }

    fn records() -> Vec<R> {
        vec![R("subnet-a", "public-a"), R("subnet-b", "private-b")]
    }

    #[test]
    fn filters_and_ids_select() {
        let f = |name: &str, values: &[&str]| Filter {
            name: name.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        assert_eq!(
            names(select(records(), &[], &[], KIND).unwrap()),
            ["public-a", "private-b"]
        );
        let by_tag = select(records(), &[], &[f("tag:Name", &["public-*"])], KIND).unwrap();
        assert_eq!(names(by_tag), ["public-a"]);
        let none = select(records(), &[], &[f("vpc-id", &["vpc-2"])], KIND).unwrap();
        assert!(none.is_empty());
        let by_id = select(
            records(),
            &["subnet-b".into()],
            &[f("vpc-id", &["vpc-1"])],
            KIND,
        );
        assert_eq!(names(by_id.unwrap()), ["private-b"]);
    }

    #[test]
    fn unknown_ids_and_filters_are_aws_errors() {
        let e = select(records(), &["subnet-x".into()], &[], KIND)
            .map(|_| ())
            .unwrap_err();
        assert_eq!(e.code, "InvalidSubnetID.NotFound");
        assert_eq!(e.message, "The subnet ID 'subnet-x' does not exist");
        let bad = Filter {
            name: "colour".into(),
            values: vec!["red".into()],
        };
        let e = select(records(), &[], &[bad], KIND)
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("InvalidParameterValue", "The filter 'colour' is invalid")
        );
    }

    #[test]
    fn filters_are_read_from_the_form() {
        let p =
            Params::from_form(b"Filter.1.Name=tag%3AName&Filter.1.Value.1=a&Filter.1.Value.2=b");
        assert_eq!(
            Filter::all(&p).unwrap(),
            [Filter {
                name: "tag:Name".into(),
                values: vec!["a".into(), "b".into()]
            }]
        );
        let p = Params::from_form(b"Filter.1.Value.1=a");
        assert_eq!(Filter::all(&p).unwrap_err().code, "MissingParameter");
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("*", ""));
        assert!(wildcard("pub*-1?", "public-subnet-1a"));
        assert!(!wildcard("pub*-1?", "public-subnet-1ab"));
        assert!(wildcard("a\\*", "a*"));
        assert!(!wildcard("a\\*", "ab"));
    }
}
