//! Validation of the observability and TLS keys: `access-logs`, `metrics-port`,
//! `certificates` and `ssl-policy`. Same shape as [`super::tests`]: one change to `BASE` each.

use std::time::Duration;

use super::super::model::*;
use super::tests::{BASE, assert_has, error_with, errors, try_parse};

/// `BASE` with its listener turned into HTTPS with `extra` keys after the port.
fn https(extra: &str) -> String {
    BASE.replacen(
        "protocol = \"HTTP\"\nport = 8080",
        &format!("protocol = \"HTTPS\"\nport = 8080\n{extra}"),
        1,
    )
}

/// `BASE` with `line` added to `[load-balancers.lb]`.
fn lb_with(line: &str) -> String {
    BASE.replacen(
        "security-groups = [\"lb-sg\"]\n[[load-balancers",
        &format!("security-groups = [\"lb-sg\"]\n{line}\n[[load-balancers"),
        1,
    )
}

#[test]
fn access_logs_are_off_by_default_and_5m() {
    let c = try_parse(BASE).unwrap_or_else(|e| panic!("{e}"));
    let lb = &c.load_balancers["lb"];
    assert_eq!(lb.access_logs, AccessLogs::default());
    assert!(!lb.access_logs.enabled);
    assert_eq!(lb.access_logs.interval, Duration::from_secs(300));
    assert_eq!(lb.metrics_port, None);
}

#[test]
fn access_logs_enabled_with_interval() {
    let text = lb_with("access-logs = { enabled = true, interval = \"1m\" }");
    let c = try_parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let logs = c.load_balancers["lb"].access_logs;
    assert!(logs.enabled);
    assert_eq!(logs.interval, Duration::from_secs(60));
    // An interval alone means "on".
    let c = try_parse(&lb_with("access-logs = { interval = \"10s\" }")).unwrap();
    assert!(c.load_balancers["lb"].access_logs.enabled);
}

#[test]
fn access_logs_interval_bounds_and_keys() {
    let errs = errors(&lb_with("access-logs = { interval = \"2h\" }"));
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_has(
        &errs[0],
        &[
            "[load-balancers.lb.access-logs] interval = \"2h\"",
            "between 1s and 60m",
        ],
    );
    let errs = errors(&lb_with("access-logs = { interval = \"5 minutes\" }"));
    assert_has(
        &errs[0],
        &["[load-balancers.lb.access-logs] interval = \"5 minutes\""],
    );
    let errs = errors(&lb_with("access-logs = { enable = true }"));
    assert_has(&errs[0], &["enable", "enabled"]);
}

#[test]
fn metrics_port_range_and_clash_with_listener() {
    let c = try_parse(&lb_with("metrics-port = 9100")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.load_balancers["lb"].metrics_port, Some(9100));
    let e = error_with(
        "security-groups = [\"lb-sg\"]\n[[",
        "security-groups = [\"lb-sg\"]\nmetrics-port = 70000\n[[",
    );
    assert_has(
        &e,
        &[
            "[load-balancers.lb] metrics-port = 70000",
            "between 0 and 65535",
        ],
    );
    let e = error_with(
        "security-groups = [\"lb-sg\"]\n[[",
        "security-groups = [\"lb-sg\"]\nmetrics-port = 8080\n[[",
    );
    assert_has(&e, &["metrics-port", "8080", "already used"]);
}

#[test]
fn certificates_list_first_is_default() {
    let text = https(
        "certificates = [{ hostnames = [\"a.test\"] }, { hostnames = [\"b.test\", \"c.test\"] }]",
    );
    let c = try_parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let l = &c.load_balancers["lb"].listeners[0];
    assert_eq!(
        l.certificate,
        Some(Certificate::LocalCa {
            hostnames: vec!["a.test".into()]
        })
    );
    assert_eq!(
        l.additional_certificates,
        vec![Certificate::LocalCa {
            hostnames: vec!["b.test".into(), "c.test".into()]
        }]
    );
    // The single-certificate form still works and has no additional ones.
    let c = try_parse(&https("certificate = {}")).unwrap();
    assert!(
        c.load_balancers["lb"].listeners[0]
            .additional_certificates
            .is_empty()
    );
}

#[test]
fn certificates_errors_name_the_entry() {
    let errs = errors(&https("certificates = [{}, { hostnames = [] }]"));
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_has(
        &errs[0],
        &[
            "[load-balancers.lb.listeners[0].certificates[1]] hostnames = []",
            "at least one",
        ],
    );
    let errs = errors(&https("certificate = {}\ncertificates = [{}]"));
    assert_has(
        &errs[0],
        &["listeners[0]", "either `certificate` or `certificates`"],
    );
    let errs = errors(&https("certificates = []"));
    assert_has(&errs[0], &["needs `certificate`"]);
    let e = error_with(
        "port = 8080\ndefault",
        "port = 8080\ncertificates = [{}]\ndefault",
    );
    assert_has(
        &e,
        &["certificates[0]", "HTTP listener takes no certificate"],
    );
}

#[test]
fn ssl_policy_default_known_and_suggested() {
    let c = try_parse(&https("certificate = {}")).unwrap();
    assert_eq!(
        c.load_balancers["lb"].listeners[0].ssl_policy,
        SslPolicy::Tls13And12
    );
    let text = https("certificate = {}\nssl-policy = \"ELBSecurityPolicy-TLS13-1-3-2021-06\"");
    let c = try_parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.load_balancers["lb"].listeners[0].ssl_policy,
        SslPolicy::Tls13Only
    );

    let errs = errors(&https(
        "certificate = {}\nssl-policy = \"ELBSecurityPolicy-TLS13-1-3-2021-6\"",
    ));
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_has(
        &errs[0],
        &[
            "ssl-policy",
            "unknown",
            "did you mean `ELBSecurityPolicy-TLS13-1-3-2021-06`?",
        ],
    );
    let errs = errors(&https("certificate = {}\nssl-policy = \"modern\""));
    assert_has(
        &errs[0],
        &["supported: `ELBSecurityPolicy-TLS13-1-2-2021-06`"],
    );
    let e = error_with(
        "port = 8080\ndefault",
        "port = 8080\nssl-policy = \"ELBSecurityPolicy-TLS13-1-2-2021-06\"\ndefault",
    );
    assert_has(&e, &["ssl-policy", "only HTTPS listeners"]);
}
