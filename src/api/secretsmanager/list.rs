//! `ListSecrets`: filters (prefix matches, `!` negates), sort order, pages.

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::wire::SecretDescription;
use crate::secrets::secret::Secret;
use crate::secrets::{Failure, SecretStore};

/// Page size when `MaxResults` is not given, and the most it may be.
const MAX_RESULTS: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSecretsInput {
    max_results: Option<i64>,
    next_token: Option<String>,
    #[serde(default)]
    filters: Vec<Filter>,
    sort_order: Option<String>,
    include_planned_deletion: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    key: String,
    #[serde(default)]
    values: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSecretsOutput {
    secret_list: Vec<SecretDescription>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

const FILTER_KEYS: [&str; 7] = [
    "description",
    "name",
    "tag-key",
    "tag-value",
    "primary-region",
    "owning-service",
    "all",
];

pub fn list_secrets(
    store: &SecretStore,
    input: ListSecretsInput,
) -> Result<ListSecretsOutput, Failure> {
    let _ = input.include_planned_deletion; // No secret is ever scheduled for deletion here.
    let max = Failure::max_results(input.max_results, MAX_RESULTS)?;
    for filter in &input.filters {
        if !FILTER_KEYS.contains(&filter.key.as_str()) {
            return Err(Failure::validation(format!(
                "1 validation error detected: Value '{}' at 'filters.1.member.key' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                filter.key,
                FILTER_KEYS.join(", ")
            )));
        }
    }
    let descending = match input.sort_order.as_deref() {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(other) => {
            return Err(Failure::validation(format!(
                "1 validation error detected: Value '{other}' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [asc, desc]"
            )));
        }
    };
    let mut secrets: Vec<Secret> = store
        .secrets()
        .into_iter()
        .filter(|s| input.filters.iter().all(|f| matches(s, f)))
        .collect();
    secrets.sort_by(|a, b| (a.created, &a.name).cmp(&(b.created, &b.name)));
    if descending {
        secrets.reverse();
    }
    let start = match &input.next_token {
        None => 0,
        Some(token) => decode_token(token)?,
    };
    let page: Vec<SecretDescription> = secrets
        .iter()
        .skip(start)
        .take(max)
        .map(|s| SecretDescription::of(s, false))
        .collect();
    let next = start + page.len();
    Ok(ListSecretsOutput {
        secret_list: page,
        next_token: (next < secrets.len()).then(|| encode_token(next)),
    })
}

/// Whether `secret` passes `filter`: any positive value matches as a prefix (case-insensitive)
/// and no `!value` does.
fn matches(secret: &Secret, filter: &Filter) -> bool {
    let fields: Vec<&str> = match filter.key.as_str() {
        "name" => vec![&secret.name],
        "description" => secret.description.iter().map(String::as_str).collect(),
        "tag-key" => secret.tags.iter().map(|(k, _)| k.as_str()).collect(),
        "tag-value" => secret.tags.iter().map(|(_, v)| v.as_str()).collect(),
        "owning-service" => secret.owning_service.iter().map(String::as_str).collect(),
        "primary-region" => Vec::new(),
        _ => {
            let mut all = vec![secret.name.as_str()];
            all.extend(secret.description.as_deref());
            all.extend(
                secret
                    .tags
                    .iter()
                    .flat_map(|(k, v)| [k.as_str(), v.as_str()]),
            );
            all.extend(secret.owning_service.as_deref());
            all
        }
    };
    let hit = |value: &str| {
        let value = value.to_lowercase();
        fields.iter().any(|f| f.to_lowercase().starts_with(&value))
    };
    let (negated, positive): (Vec<&String>, Vec<&String>) =
        filter.values.iter().partition(|v| v.starts_with('!'));
    (positive.is_empty() || positive.iter().any(|v| hit(v)))
        && !negated.iter().any(|v| hit(&v[1..]))
}

fn encode_token(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("tierlab:{offset}"))
}

fn decode_token(token: &str) -> Result<usize, Failure> {
    base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("tierlab:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| {
            Failure::new(
                "InvalidNextTokenException",
                "The NextToken value is invalid.",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str, description: Option<&str>) -> Secret {
        let mut s = Secret::new(name, format!("arn:{name}"), 1);
        s.description = description.map(str::to_string);
        s
    }

    fn filter(key: &str, values: &[&str]) -> Filter {
        Filter {
            key: key.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn filters_match_prefixes_and_negations() {
        let s = secret("prod/db", Some("The DB"));
        assert!(matches(&s, &filter("name", &["prod"])));
        assert!(matches(&s, &filter("name", &["PROD/"])));
        assert!(!matches(&s, &filter("name", &["db"])));
        assert!(!matches(&s, &filter("name", &["!prod"])));
        assert!(matches(&s, &filter("description", &["the"])));
        assert!(matches(&s, &filter("all", &["the db"])));
        assert!(!matches(&secret("x", None), &filter("description", &["a"])));
    }

    #[test]
    fn tokens_round_trip_and_bad_ones_are_refused() {
        assert_eq!(decode_token(&encode_token(42)).unwrap(), 42);
        assert_eq!(
            decode_token("garbage").unwrap_err().code,
            "InvalidNextTokenException"
        );
    }
}
