//! One listener of a load balancer: protocol, port, certificate, rules and default action.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use super::super::model::{Certificate, Listener, ListenerProtocol};
use super::super::{defaults, wire};
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
    Listener {
        protocol,
        bind: SocketAddr::new(ip, port),
        certificate: certificate(cx, at, protocol, l.certificate.as_ref()),
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

fn certificate(
    cx: &mut Ctx,
    at: &str,
    protocol: ListenerProtocol,
    cert: Option<&wire::Certificate>,
) -> Option<Certificate> {
    let key = format!("{at}.certificate");
    let cert = match (protocol, cert) {
        (ListenerProtocol::Https, None) => {
            cx.table(at, "an HTTPS listener needs `certificate` ({ hostnames = [...] }, { cert-file, key-file } or {} for localhost)");
            return None;
        }
        (ListenerProtocol::Http, Some(_)) => {
            cx.table(
                &key,
                "an HTTP listener takes no certificate; use protocol = \"HTTPS\"",
            );
            return None;
        }
        (ListenerProtocol::Http, None) => return None,
        (ListenerProtocol::Https, Some(cert)) => cert,
    };
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

fn pem_file(cx: &mut Ctx, key: &str, text: &str) -> std::path::PathBuf {
    let file = cx.resolve(text);
    if !file.is_file() {
        cx.bad(key, q(text), format!("`{}` is not a file", file.display()));
    }
    file
}
