//! The Query protocol's request form: `Action=...&Version=...&Names.member.1=a&...`, URL-decoded
//! into flat keys, and read back as scalars, lists and lists of structures.
//!
//! Lists come in two spellings: `Names.member.1` (ELBv2, RDS, STS) and `VpcId.1` (EC2's
//! flavour); [`Params::list`] and [`Params::structs`] read both, ordered by the index number
//! (so `member.10` comes after `member.9`).

use std::collections::BTreeMap;
use std::str::FromStr;

use super::error::ApiError;

/// The decoded form. Keys are case-sensitive, as AWS's are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Decodes an `application/x-www-form-urlencoded` body or a query string (`+` is a space,
    /// `%XX` a byte; invalid UTF-8 is replaced, so a bad byte cannot fail the whole request).
    pub fn from_form(form: &[u8]) -> Params {
        Params(form_urlencoded::parse(form).into_owned().collect())
    }

    /// The query string's parameters with the body's on top: the CLI and SDKs send everything
    /// in a POST body, a presigned or hand-made GET sends it in the query string.
    pub fn from_request(query: Option<&str>, body: &[u8]) -> Params {
        let mut params = Params::from_form(query.unwrap_or_default().as_bytes());
        params.0.extend(Params::from_form(body).0);
        params
    }

    /// Builds params from pairs (tests, and nested structures).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Params {
        Params(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The value of `key`, or AWS's `MissingParameter` error naming it.
    pub fn required(&self, key: &str) -> Result<&str, ApiError> {
        self.get(key)
            .ok_or_else(|| ApiError::missing_parameter(key))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every `(key, value)`, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A list of scalars: `prefix.member.N` (or EC2's `prefix.N`), in N order.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        let mut items: Vec<(u32, &String)> = self
            .0
            .iter()
            .filter_map(|(key, value)| match indexed(key, prefix) {
                Some((n, None)) => Some((n, value)),
                _ => None,
            })
            .collect();
        items.sort_by_key(|(n, _)| *n);
        items.into_iter().map(|(_, v)| v.clone()).collect()
    }

    /// A list of structures: `Targets.member.N.Id` → one `Params {"Id": ...}` per N, in N order.
    /// Nested lists and structures stay in the inner keys (`Attributes.member.1.Key` → read the
    /// result's `structs("Attributes")` again, or [`Params::map`]).
    pub fn structs(&self, prefix: &str) -> Vec<Params> {
        let mut groups: BTreeMap<u32, Params> = BTreeMap::new();
        for (key, value) in &self.0 {
            if let Some((n, Some(rest))) = indexed(key, prefix) {
                groups
                    .entry(n)
                    .or_default()
                    .0
                    .insert(rest.to_string(), value.clone());
            }
        }
        groups.into_values().collect()
    }

    /// A list of key/value structures, e.g. `Attributes.member.N.Key` / `.Value` or
    /// `Tags.member.N.Key` / `.Value`, as pairs in N order. A member without its key is a
    /// validation error; one without its value has the empty value (AWS allows empty values).
    pub fn map(
        &self,
        prefix: &str,
        key_name: &str,
        value_name: &str,
    ) -> Result<Vec<(String, String)>, ApiError> {
        self.structs(prefix)
            .into_iter()
            .map(|member| {
                let key = member
                    .get(key_name)
                    .ok_or_else(|| ApiError::missing_parameter(&format!("{prefix}.{key_name}")))?;
                Ok((
                    key.to_string(),
                    member.get(value_name).unwrap_or_default().to_string(),
                ))
            })
            .collect()
    }

    pub fn parse_u32(&self, key: &str) -> Result<Option<u32>, ApiError> {
        self.parse(key, "must be a non-negative integer")
    }

    pub fn parse_i64(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.parse(key, "must be an integer")
    }

    /// `true` / `false`, as the CLI sends booleans.
    pub fn parse_bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::invalid_parameter_value(
                key,
                v,
                "must be true or false",
            )),
        }
    }

    fn parse<T: FromStr>(&self, key: &str, why: &str) -> Result<Option<T>, ApiError> {
        self.get(key)
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| ApiError::invalid_parameter_value(key, v, why))
            })
            .transpose()
    }
}

/// Splits `prefix.member.N[.rest]` or `prefix.N[.rest]` into `(N, rest)`.
fn indexed<'k>(key: &'k str, prefix: &str) -> Option<(u32, Option<&'k str>)> {
    let tail = key.strip_prefix(prefix)?.strip_prefix('.')?;
    let tail = tail.strip_prefix("member.").unwrap_or(tail);
    let (index, rest) = match tail.split_once('.') {
        Some((index, rest)) => (index, Some(rest)),
        None => (tail, None),
    };
    // Digits only: `u32::from_str` would also take a leading `+`.
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((index.parse().ok()?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_body_is_url_decoded() {
        let p = Params::from_form(
            b"Action=DescribeTargetHealth&Version=2015-12-01&TargetGroupArn=arn%3Aaws%3Aelasticloadbalancing%3Aus-east-1%3A000000000000%3Atargetgroup%2Fflask-tg%2F0123&Note=a+b%20c",
        );
        assert_eq!(p.get("Action"), Some("DescribeTargetHealth"));
        assert_eq!(
            p.get("TargetGroupArn"),
            Some("arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/flask-tg/0123")
        );
        assert_eq!(p.get("Note"), Some("a b c"));
        assert_eq!(p.get("Missing"), None);
    }

    #[test]
    fn body_parameters_win_over_the_query_string() {
        let p = Params::from_request(Some("Action=A&Version=1"), b"Action=B");
        assert_eq!(p.get("Action"), Some("B"));
        assert_eq!(p.get("Version"), Some("1"));
    }

    #[test]
    fn member_lists_come_back_in_index_order() {
        let p = Params::from_form(
            b"Names.member.2=b&Names.member.10=j&Names.member.1=a&NamesX.member.3=no&Names.member.x=no",
        );
        assert_eq!(p.list("Names"), ["a", "b", "j"]);
        assert!(p.list("Other").is_empty());
    }

    #[test]
    fn ec2_lists_without_member_are_read_too() {
        let p = Params::from_form(b"VpcId.1=vpc-1&VpcId.2=vpc-2");
        assert_eq!(p.list("VpcId"), ["vpc-1", "vpc-2"]);
        let filters = Params::from_form(
            b"Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1&Filter.1.Value.2=vpc-2&Filter.2.Name=tag%3AName&Filter.2.Value.1=web",
        )
        .structs("Filter");
        assert_eq!(filters.len(), 2);
        assert_eq!(filters[0].get("Name"), Some("vpc-id"));
        assert_eq!(filters[0].list("Value"), ["vpc-1", "vpc-2"]);
        assert_eq!(filters[1].get("Name"), Some("tag:Name"));
    }

    #[test]
    fn structure_lists_group_by_index() {
        let p = Params::from_form(
            b"Targets.member.1.Id=10.0.3.5&Targets.member.1.Port=8000&Targets.member.2.Id=10.0.4.6",
        );
        let targets = p.structs("Targets");
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].get("Id"), Some("10.0.3.5"));
        assert_eq!(targets[0].parse_u32("Port").unwrap(), Some(8000));
        assert_eq!(targets[1].get("Id"), Some("10.0.4.6"));
        assert_eq!(targets[1].parse_u32("Port").unwrap(), None);
    }

    #[test]
    fn nested_attributes_read_as_pairs() {
        let p = Params::from_form(
            b"Attributes.member.1.Key=deregistration_delay.timeout_seconds&Attributes.member.1.Value=30&Attributes.member.2.Key=stickiness.enabled&Attributes.member.2.Value=true",
        );
        assert_eq!(
            p.map("Attributes", "Key", "Value").unwrap(),
            [
                (
                    "deregistration_delay.timeout_seconds".to_string(),
                    "30".to_string()
                ),
                ("stickiness.enabled".to_string(), "true".to_string()),
            ]
        );
        let bad = Params::from_form(b"Attributes.member.1.Value=30");
        assert_eq!(
            bad.map("Attributes", "Key", "Value").unwrap_err().code,
            "MissingParameter"
        );
    }

    #[test]
    fn required_and_typed_values_name_the_parameter() {
        let p = Params::from_form(b"Port=eighty&Enabled=maybe&Count=-3");
        let e = p.required("TargetGroupArn").unwrap_err();
        assert_eq!(e.code, "MissingParameter");
        assert!(e.message.contains("TargetGroupArn"));
        let e = p.parse_u32("Port").unwrap_err();
        assert_eq!(e.code, "ValidationError");
        assert!(
            e.message.contains("'eighty'") && e.message.contains("Port"),
            "{e}"
        );
        assert!(p.parse_bool("Enabled").is_err());
        assert_eq!(p.parse_i64("Count").unwrap(), Some(-3));
        assert!(p.parse_u32("Count").is_err());
    }
}
