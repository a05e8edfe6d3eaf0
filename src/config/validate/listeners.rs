//! One listener of a load balancer: protocol, port, certificates, TLS policy, rules and default
//! action.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use super::super::model::{Certificate, Listener, ListenerProtocol, SslPolicy};
use super::super::{defaults, suggest, wire};
use super::ctx::{Ctx, list, q};
use super::{actions, listener_rules};

/// Target groups by name, for forward actions.
pub type TargetGroups = BTreeMap<String, wire::TargetGroup>;

pub fn listener(
    cx: &mut Ctx,
    at: &str,
    l: &wire::Listener,
    target_groups: &TargetGroups,
) -> Listener {
    let protocol = match l.protocol.as_str() {
        "HTTP" => ListenerProtocol::Http,
        "HTTPS" => ListenerProtocol::Https,
        other => {
            cx.bad(
                &format!("{at}.protocol"),
                q(other),
                "must be \"HTTP\" or \"HTTPS\"",
            );
            ListenerProtocol::Http
        }
    };
    let port = match cx.int_in(&format!("{at}.port"), l.port, 0..=65535) {
        Some(p) => p as u16,
        None => 0,
    };
    let ip = match l.bind_address.as_deref() {
        None => defaults::LISTENER_BIND_ADDRESS,
        Some(text) => text.parse::<IpAddr>().unwrap_or_else(|_| {
            cx.bad(
                &format!("{at}.bind-address"),
                q(text),
                "must be an IP address such as \"127.0.0.1\"",
            );
            defaults::LISTENER_BIND_ADDRESS
        }),
    };
    let mut certificates = certificates(cx, at, protocol, l).into_iter();
    Listener {
        protocol,
        bind: SocketAddr::new(ip, port),
        certificate: certificates.next(),
        additional_certificates: certificates.collect(),
        ssl_policy: ssl_policy(cx, at, protocol, l.ssl_policy.as_deref()),
        rules: listener_rules::rules(cx, at, &l.rules, (protocol, port), target_groups),
        default_action: actions::action(
            cx,
            &format!("{at}.default-action"),
            &l.default_action,
            (protocol, port),
            target_groups,
        ),
    }
}

/// `certificate = {...}` or `certificates = [{...}, ...]` (the first is the default one, as the
/// listener's default certificate on AWS; the others are picked by SNI).
fn certificates(
    cx: &mut Ctx,
    at: &str,
    protocol: ListenerProtocol,
    l: &wire::Listener,
) -> Vec<Certificate> {
    let given: Vec<(String, &wire::Certificate)> = match (&l.certificate, &l.certificates) {
        (Some(_), Some(_)) => {
            cx.table(
                at,
                "give either `certificate` or `certificates` (a list whose first entry is the default), not both",
            );
            return Vec::new();
        }
        (Some(one), None) => vec![(format!("{at}.certificate"), one)],
        (None, Some(list)) => list
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("{at}.certificates[{i}]"), c))
            .collect(),
        (None, None) => Vec::new(),
    };
    match protocol {
        ListenerProtocol::Https if given.is_empty() => {
            cx.table(at, "an HTTPS listener needs `certificate` ({ hostnames = [...] }, { cert-file, key-file } or {} for localhost)");
            Vec::new()
        }
        ListenerProtocol::Http if !given.is_empty() => {
            cx.table(
                &given[0].0,
                "an HTTP listener takes no certificate; use protocol = \"HTTPS\"",
            );
            Vec::new()
        }
        _ => given
            .into_iter()
            .filter_map(|(key, cert)| certificate(cx, &key, cert))
            .collect(),
    }
}

/// One certificate entry at `key`.
fn certificate(cx: &mut Ctx, key: &str, cert: &wire::Certificate) -> Option<Certificate> {
    let key = key.to_string();
    match (&cert.hostnames, &cert.cert_file, &cert.key_file) {
        (None, None, None) => Some(Certificate::LocalCa {
            hostnames: defaults::CERTIFICATE_HOSTNAMES
                .iter()
                .map(|h| h.to_string())
                .collect(),
        }),
        (Some(hosts), None, None) if hosts.is_empty() || hosts.iter().any(String::is_empty) => {
            cx.bad(
                &format!("{key}.hostnames"),
                list(hosts),
                "must list at least one non-empty host name",
            );
            None
        }
        (Some(hosts), None, None) => Some(Certificate::LocalCa {
            hostnames: hosts.clone(),
        }),
        (None, Some(cert), Some(k)) => Some(Certificate::Files {
            cert: pem_file(cx, &format!("{key}.cert-file"), cert),
            key: pem_file(cx, &format!("{key}.key-file"), k),
        }),
        (None, _, _) => {
            cx.table(&key, "`cert-file` and `key-file` go together");
            None
        }
        (Some(_), _, _) => {
            cx.table(
                &key,
                "give either `hostnames` (local CA) or `cert-file` and `key-file`, not both",
            );
            None
        }
    }
}

/// `ssl-policy`: AWS's name of one of the supported security policies.
fn ssl_policy(
    cx: &mut Ctx,
    at: &str,
    protocol: ListenerProtocol,
    value: Option<&str>,
) -> SslPolicy {
    let Some(name) = value else {
        return SslPolicy::default();
    };
    let key = format!("{at}.ssl-policy");
    if protocol == ListenerProtocol::Http {
        cx.bad(&key, q(name), "only HTTPS listeners have a security policy");
        return SslPolicy::default();
    }
    if let Some(policy) = SslPolicy::ALL.into_iter().find(|p| p.name() == name) {
        return policy;
    }
    let names = SslPolicy::ALL.map(SslPolicy::name);
    let hint = match suggest::closest(name, names) {
        Some(c) => format!("did you mean `{c}`?"),
        None => format!("supported: {}", suggest::backticked(&names)),
    };
    cx.bad(
        &key,
        q(name),
        format!("unknown or unsupported security policy; {hint}"),
    );
    SslPolicy::default()
}

fn pem_file(cx: &mut Ctx, key: &str, text: &str) -> std::path::PathBuf {
    let file = cx.resolve(text);
    if !file.is_file() {
        cx.bad(key, q(text), format!("`{}` is not a file", file.display()));
    }
    file
}
