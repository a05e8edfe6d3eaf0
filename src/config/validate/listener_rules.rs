//! `rules = [{ priority, conditions, action }]` of a listener, with ALB's limits: priorities
//! 1..=50000 and unique, at least one condition, at most one host-header, path-pattern,
//! http-request-method and source-ip condition per rule, five match evaluations and five
//! wildcards per rule, values of at most 128 characters.

use std::net::IpAddr;
use std::ops::RangeInclusive;

use super::super::model::{Condition, IpNet, ListenerProtocol, ListenerRule, QueryPattern};
use super::super::wire;
use super::actions;
use super::ctx::{Ctx, list, q};
use super::listeners::TargetGroups;

const PRIORITIES: RangeInclusive<i64> = 1..=50000;
/// ALB: up to five match evaluations (condition values) per rule.
const MAX_EVALUATIONS: usize = 5;
/// ALB: up to five wildcards per rule.
const MAX_WILDCARDS: usize = 5;
/// ALB's limit on each condition string.
const MAX_VALUE_LEN: usize = 128;
/// ALB's limit on a method name and on a header name.
const MAX_NAME_LEN: usize = 40;

/// Checks the rules of the listener at `at`; the result is sorted by priority.
pub fn rules(
    cx: &mut Ctx,
    at: &str,
    rules: &[wire::Rule],
    listener: (ListenerProtocol, u16),
    target_groups: &TargetGroups,
) -> Vec<ListenerRule> {
    let mut out: Vec<ListenerRule> = Vec::with_capacity(rules.len());
    for (i, r) in rules.iter().enumerate() {
        let at = format!("{at}.rules[{i}]");
        let priority = cx
            .int_in(&format!("{at}.priority"), r.priority, PRIORITIES)
            .unwrap_or(0);
        if priority != 0 && out.iter().any(|o| o.priority == priority) {
            cx.bad(
                &format!("{at}.priority"),
                priority.to_string(),
                "is used by another rule of this listener; priorities must be unique",
            );
        }
        let action_at = format!("{at}.action");
        let action = actions::action(cx, &action_at, &r.action, listener, target_groups);
        out.push(ListenerRule {
            priority,
            conditions: conditions(cx, &at, &r.conditions),
            action,
        });
    }
    out.sort_by_key(|r| r.priority);
    out
}

fn conditions(cx: &mut Ctx, at: &str, conditions: &[wire::Condition]) -> Vec<Condition> {
    let key = format!("{at}.conditions");
    if conditions.is_empty() {
        cx.table(
            at,
            "a rule needs at least one condition (the listener's default action covers every request)",
        );
    }
    let out: Vec<Condition> = conditions
        .iter()
        .enumerate()
        .filter_map(|(i, c)| condition(cx, &format!("{key}[{i}]"), c))
        .collect();
    for field in [
        "host-header",
        "path-pattern",
        "http-request-method",
        "source-ip",
    ] {
        if out.iter().filter(|c| field_of(c) == field).count() > 1 {
            cx.table(
                &key,
                format!("a rule takes at most one `{field}` condition; list several values in it instead"),
            );
        }
    }
    let evaluations: usize = out.iter().map(values_of).sum();
    if evaluations > MAX_EVALUATIONS {
        cx.table(&key, format!("a rule takes at most {MAX_EVALUATIONS} condition values in all (found {evaluations})"));
    }
    let wildcards: usize = out.iter().map(wildcards_of).sum();
    if wildcards > MAX_WILDCARDS {
        cx.table(
            &key,
            format!("a rule takes at most {MAX_WILDCARDS} wildcards (`*`, `?`) in all (found {wildcards})"),
        );
    }
    out
}

fn condition(cx: &mut Ctx, at: &str, c: &wire::Condition) -> Option<Condition> {
    let set = [
        c.host_header.is_some(),
        c.path_pattern.is_some(),
        c.http_header.is_some(),
        c.http_request_method.is_some(),
        c.query_string.is_some(),
        c.source_ip.is_some(),
    ];
    if set.iter().filter(|s| **s).count() != 1 {
        cx.table(at, "a condition is one of { host-header = [...] }, { path-pattern = [...] }, { http-header = { name, values } }, { http-request-method = [...] }, { query-string = [{ key, value }] }, { source-ip = [...] }");
        return None;
    }
    if let Some(values) = &c.host_header {
        let key = format!("{at}.host-header");
        strings(
            cx,
            &key,
            values,
            |v| {
                v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.*?".contains(&b))
            },
            "may only hold letters, digits, `-`, `.`, `*` and `?`",
        );
        return Some(Condition::HostHeader(values.clone()));
    }
    if let Some(values) = &c.path_pattern {
        let key = format!("{at}.path-pattern");
        strings(
            cx,
            &key,
            values,
            visible_ascii,
            "may only hold visible ASCII characters",
        );
        return Some(Condition::PathPattern(values.clone()));
    }
    if let Some(h) = &c.http_header {
        let key = format!("{at}.http-header");
        let valid_name = !h.name.is_empty()
            && h.name.len() <= MAX_NAME_LEN
            && http::HeaderName::from_bytes(h.name.as_bytes()).is_ok();
        if !valid_name {
            cx.bad(
                &format!("{key}.name"),
                q(&h.name),
                format!("must be a header name of 1 to {MAX_NAME_LEN} characters"),
            );
        }
        strings(
            cx,
            &format!("{key}.values"),
            &h.values,
            visible_ascii_or_space,
            "may only hold visible ASCII characters and spaces",
        );
        return Some(Condition::HttpHeader {
            name: h.name.clone(),
            values: h.values.clone(),
        });
    }
    if let Some(methods) = &c.http_request_method {
        let key = format!("{at}.http-request-method");
        strings(
            cx,
            &key,
            methods,
            |m| {
                m.len() <= MAX_NAME_LEN
                    && m.bytes()
                        .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
            },
            "must be an upper-case method name such as \"GET\" (A-Z, `-`, `_`; matched exactly)",
        );
        return Some(Condition::HttpRequestMethod(methods.clone()));
    }
    if let Some(pairs) = &c.query_string {
        return Some(Condition::QueryString(query(
            cx,
            &format!("{at}.query-string"),
            pairs,
        )));
    }
    let cidrs = c.source_ip.as_deref().unwrap_or_default();
    let key = format!("{at}.source-ip");
    if cidrs.is_empty() {
        cx.bad(&key, list(cidrs), "must list at least one CIDR block");
    }
    let nets = cidrs
        .iter()
        .enumerate()
        .filter_map(|(i, text)| {
            parse_ip_net(text)
                .map_err(|why| cx.bad(&format!("{key}[{i}]"), q(text), why))
                .ok()
        })
        .collect();
    Some(Condition::SourceIp(nets))
}

fn query(cx: &mut Ctx, key: &str, pairs: &[wire::QueryStringPair]) -> Vec<QueryPattern> {
    if pairs.is_empty() {
        cx.table(key, "must list at least one { key, value } pair");
    }
    for (i, p) in pairs.iter().enumerate() {
        let item = format!("{key}[{i}]");
        for (what, text) in [("key", p.key.as_deref()), ("value", Some(p.value.as_str()))] {
            let Some(text) = text else { continue };
            if text.is_empty() || text.len() > MAX_VALUE_LEN || !visible_ascii(text) {
                cx.bad(
                    &format!("{item}.{what}"),
                    q(text),
                    format!("must be 1 to {MAX_VALUE_LEN} visible ASCII characters"),
                );
            }
        }
    }
    pairs
        .iter()
        .map(|p| QueryPattern {
            key: p.key.clone(),
            value: p.value.clone(),
        })
        .collect()
}

/// A non-empty list of non-empty values of at most 128 characters that pass `ok`.
fn strings(cx: &mut Ctx, key: &str, values: &[String], ok: impl Fn(&str) -> bool, why: &str) {
    if values.is_empty() {
        cx.bad(key, list(values), "must list at least one value");
    }
    for (i, v) in values.iter().enumerate() {
        let item = format!("{key}[{i}]");
        if v.is_empty() || v.len() > MAX_VALUE_LEN {
            cx.bad(
                &item,
                q(v),
                format!("must be 1 to {MAX_VALUE_LEN} characters"),
            );
        } else if !ok(v) {
            cx.bad(&item, q(v), why);
        }
    }
}

fn visible_ascii(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_graphic())
}

fn visible_ascii_or_space(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
}

fn field_of(c: &Condition) -> &'static str {
    match c {
        Condition::HostHeader(_) => "host-header",
        Condition::PathPattern(_) => "path-pattern",
        Condition::HttpHeader { .. } => "http-header",
        Condition::HttpRequestMethod(_) => "http-request-method",
        Condition::QueryString(_) => "query-string",
        Condition::SourceIp(_) => "source-ip",
    }
}

fn values_of(c: &Condition) -> usize {
    match c {
        Condition::HostHeader(v) | Condition::PathPattern(v) | Condition::HttpRequestMethod(v) => {
            v.len()
        }
        Condition::HttpHeader { values, .. } => values.len(),
        Condition::QueryString(pairs) => pairs.len(),
        Condition::SourceIp(nets) => nets.len(),
    }
}

/// Unescaped `*` and `?` in the condition's patterns.
fn wildcards_of(c: &Condition) -> usize {
    let count = |s: &str| {
        let mut n = 0;
        let mut escaped = false;
        for ch in s.chars() {
            match ch {
                '\\' if !escaped => escaped = true,
                '*' | '?' if !escaped => n += 1,
                _ => escaped = false,
            }
            if ch != '\\' {
                escaped = false;
            }
        }
        n
    };
    match c {
        Condition::HostHeader(v) | Condition::PathPattern(v) => v.iter().map(|s| count(s)).sum(),
        Condition::HttpHeader { values, .. } => values.iter().map(|s| count(s)).sum(),
        Condition::QueryString(pairs) => pairs
            .iter()
            .map(|p| count(&p.value) + p.key.as_deref().map_or(0, count))
            .sum(),
        Condition::HttpRequestMethod(_) | Condition::SourceIp(_) => 0,
    }
}

/// `10.0.0.0/8` or `2001:db8::/32`, host bits zero (a bare address is a /32 or /128).
pub fn parse_ip_net(text: &str) -> Result<IpNet, String> {
    const EXPECTED: &str = "must be a CIDR block such as \"10.0.0.0/8\" or \"2001:db8::/32\"";
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| EXPECTED.to_string())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix: u8 = match prefix {
        None => max,
        Some(p) => p
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("prefix must be 0 to {max}; {EXPECTED}"))?,
    };
    let net = IpNet { addr, prefix };
    if !net.contains(addr) || !host_bits_zero(addr, prefix) {
        return Err(format!("has host bits set (prefix /{prefix}); {EXPECTED}"));
    }
    Ok(net)
}

fn host_bits_zero(addr: IpAddr, prefix: u8) -> bool {
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & !mask == 0
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & !mask == 0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_nets_parse_v4_v6_and_refuse_host_bits() {
        let v4 = parse_ip_net("10.1.0.0/16").unwrap();
        assert!(v4.contains("10.1.2.3".parse().unwrap()));
        assert!(!v4.contains("10.2.0.1".parse().unwrap()));
        assert!(v4.contains("::ffff:10.1.0.9".parse().unwrap()), "mapped v4");
        let v6 = parse_ip_net("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::1".parse().unwrap()));
        assert!(!v6.contains("10.1.2.3".parse().unwrap()));
        assert_eq!(parse_ip_net("127.0.0.1").unwrap().prefix, 32);
        assert!(
            parse_ip_net("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            parse_ip_net("10.1.0.1/16")
                .unwrap_err()
                .contains("host bits")
        );
        assert!(parse_ip_net("10.0.0.0/33").unwrap_err().contains("prefix"));
        assert!(parse_ip_net("nope/8").is_err());
    }
}
