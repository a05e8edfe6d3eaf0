//! Rule conditions compiled once per listener, and matched against the parts of a request
//! ([`RequestView`]) as pure functions.

use std::borrow::Cow;
use std::net::IpAddr;

use http::header::{HeaderMap, HeaderName};

use super::wildcard::Pattern;
use crate::config::{Condition, IpNet};

/// What conditions look at, borrowed from the request.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// `Host` (or `:authority`) without its port; `None` when the request named none.
    pub host: Option<&'a str>,
    /// The URL path, as sent (not decoded).
    pub path: &'a str,
    /// The query string without `?`.
    pub query: Option<&'a str>,
    /// The method, e.g. `GET`.
    pub method: &'a str,
    /// All request headers.
    pub headers: &'a HeaderMap,
    /// The client's address.
    pub source: IpAddr,
}

/// A condition ready to match.
#[derive(Debug, Clone)]
pub enum Compiled {
    /// host-header patterns (any matches).
    Host(Vec<Pattern>),
    /// path-pattern patterns.
    Path(Vec<Pattern>),
    /// A header and patterns for its values.
    Header(HeaderName, Vec<Pattern>),
    /// Method names, exact.
    Method(Vec<String>),
    /// Key (optional) and value patterns.
    Query(Vec<(Option<Pattern>, Pattern)>),
    /// Client networks.
    SourceIp(Vec<IpNet>),
}

impl Compiled {
    /// Compiles a validated condition. A header name the config let through but `http` refuses
    /// cannot match anything, so it becomes a condition that never matches.
    pub fn new(c: &Condition) -> Compiled {
        let any_case = |v: &[String]| v.iter().map(|s| Pattern::any_case(s)).collect();
        match c {
            Condition::HostHeader(v) => Compiled::Host(any_case(v)),
            Condition::PathPattern(v) => {
                Compiled::Path(v.iter().map(|s| Pattern::exact_case(s)).collect())
            }
            Condition::HttpHeader { name, values } => match HeaderName::try_from(name.as_str()) {
                Ok(name) => Compiled::Header(name, any_case(values)),
                Err(_) => Compiled::Method(Vec::new()),
            },
            Condition::HttpRequestMethod(v) => Compiled::Method(v.clone()),
            Condition::QueryString(pairs) => Compiled::Query(
                pairs
                    .iter()
                    .map(|p| {
                        let key = p.key.as_deref().map(Pattern::any_case);
                        (key, Pattern::any_case(&p.value))
                    })
                    .collect(),
            ),
            Condition::SourceIp(nets) => Compiled::SourceIp(nets.clone()),
        }
    }

    /// Whether the request satisfies this condition (one of its values matches).
    pub fn matches(&self, req: &RequestView) -> bool {
        match self {
            Compiled::Host(patterns) => req
                .host
                .is_some_and(|h| patterns.iter().any(|p| p.matches(h))),
            Compiled::Path(patterns) => patterns.iter().any(|p| p.matches(req.path)),
            Compiled::Header(name, patterns) => req
                .headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| patterns.iter().any(|p| p.matches(v))),
            Compiled::Method(methods) => methods.iter().any(|m| m == req.method),
            Compiled::Query(pairs) => req.query.is_some_and(|q| query_matches(pairs, q)),
            Compiled::SourceIp(nets) => nets.iter().any(|n| n.contains(req.source)),
        }
    }
}

/// Some `key=value` of `query` (percent-decoded) matches one of the pairs. A pair without a key
/// matches on the value alone.
fn query_matches(pairs: &[(Option<Pattern>, Pattern)], query: &str) -> bool {
    query.split('&').filter(|p| !p.is_empty()).any(|part| {
        let (key, value) = match part.split_once('=') {
            Some((k, v)) => (Some(percent_decode(k)), percent_decode(v)),
            None => (None, percent_decode(part)),
        };
        pairs.iter().any(|(kp, vp)| {
            let key_ok = match (kp, &key) {
                (None, _) => true,
                (Some(kp), Some(k)) => kp.matches(k),
                (Some(_), None) => false,
            };
            key_ok && vp.matches(&value)
        })
    })
}

/// `%XX` decoded; text without `%` (or with a malformed escape) is returned as is.
pub fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(decoded) => Cow::Owned(decoded),
        Err(_) => Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::QueryPattern;

    fn view<'a>(headers: &'a HeaderMap, path: &'a str, query: Option<&'a str>) -> RequestView<'a> {
        RequestView {
            host: Some("app.example.com"),
            path,
            query,
            method: "GET",
            headers,
            source: "10.1.2.3".parse().unwrap(),
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn host_header_is_case_insensitive_with_wildcards() {
        let h = HeaderMap::new();
        let c = Compiled::new(&Condition::HostHeader(strings(&["*.EXAMPLE.com", "other"])));
        assert!(c.matches(&view(&h, "/", None)));
        let mut v = view(&h, "/", None);
        v.host = Some("example.com");
        assert!(!c.matches(&v));
        v.host = None;
        assert!(!c.matches(&v), "no host matches no host condition");
    }

    #[test]
    fn path_pattern_is_case_sensitive_and_ignores_the_query() {
        let h = HeaderMap::new();
        let c = Compiled::new(&Condition::PathPattern(strings(&["/api/*", "/img/*.png"])));
        assert!(c.matches(&view(&h, "/api/items", Some("x=1"))));
        assert!(c.matches(&view(&h, "/img/a.png", None)));
        assert!(!c.matches(&view(&h, "/API/items", None)));
        assert!(!c.matches(&view(&h, "/img/a.png2", None)));
    }

    #[test]
    fn http_header_matches_any_value_case_insensitively() {
        let mut h = HeaderMap::new();
        h.append("x-env", "Beta-2".parse().unwrap());
        h.append("x-env", "other".parse().unwrap());
        let c = Compiled::new(&Condition::HttpHeader {
            name: "X-Env".into(),
            values: strings(&["beta-?"]),
        });
        assert!(c.matches(&view(&h, "/", None)));
        let c = Compiled::new(&Condition::HttpHeader {
            name: "X-Missing".into(),
            values: strings(&["*"]),
        });
        assert!(
            !c.matches(&view(&h, "/", None)),
            "absent header never matches"
        );
    }

    #[test]
    fn method_is_exact() {
        let h = HeaderMap::new();
        let c = Compiled::new(&Condition::HttpRequestMethod(strings(&["POST", "GET"])));
        assert!(c.matches(&view(&h, "/", None)));
        let mut v = view(&h, "/", None);
        v.method = "DELETE";
        assert!(!c.matches(&v));
        let lower = Compiled::new(&Condition::HttpRequestMethod(strings(&["get"])));
        assert!(!lower.matches(&view(&h, "/", None)));
    }

    #[test]
    fn query_string_pairs_keys_optional_decoded_case_insensitive() {
        let h = HeaderMap::new();
        let c = Compiled::new(&Condition::QueryString(vec![
            QueryPattern {
                key: Some("version".into()),
                value: "v2*".into(),
            },
            QueryPattern {
                key: None,
                value: "beta".into(),
            },
        ]));
        assert!(c.matches(&view(&h, "/", Some("a=1&Version=V2.1"))));
        assert!(c.matches(&view(&h, "/", Some("mode=BETA"))));
        assert!(
            c.matches(&view(&h, "/", Some("x=%62eta"))),
            "percent-decoded"
        );
        assert!(!c.matches(&view(&h, "/", Some("version=v1"))));
        assert!(!c.matches(&view(&h, "/", None)));
        assert!(
            !c.matches(&view(&h, "/", Some("other=v2"))),
            "key must match"
        );
    }

    #[test]
    fn source_ip_uses_the_client_address() {
        let h = HeaderMap::new();
        let net = |a: &str, p| IpNet {
            addr: a.parse().unwrap(),
            prefix: p,
        };
        let c = Compiled::new(&Condition::SourceIp(vec![
            net("10.1.0.0", 16),
            net("::1", 128),
        ]));
        assert!(c.matches(&view(&h, "/", None)));
        let mut v = view(&h, "/", None);
        v.source = "::1".parse().unwrap();
        assert!(c.matches(&v));
        v.source = "192.168.0.1".parse().unwrap();
        assert!(!c.matches(&v));
    }

    #[test]
    fn percent_decoding_keeps_malformed_escapes() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert!(matches!(percent_decode("plain"), Cow::Borrowed(_)));
    }
}
