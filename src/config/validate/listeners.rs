//! One listener of a load balancer: protocol, port, certificate and default action.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use super::super::model::{
    Action, Certificate, Listener, ListenerProtocol, Redirect, RedirectStatus, SslPolicy,
};
use super::super::{defaults, suggest, wire};
use super::ctx::{Ctx, list, q};

/// Target groups by name, for forward actions.
type TargetGroups = BTreeMap<String, wire::TargetGroup>;

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
        default_action: action(
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

fn action(
    cx: &mut Ctx,
    at: &str,
    a: &wire::Action,
    listener: (ListenerProtocol, u16),
    target_groups: &TargetGroups,
) -> Action {
    match a.kind.as_str() {
        "forward" => {
            for (key, set) in [
                ("protocol", a.protocol.is_some()),
                ("port", a.port.is_some()),
                ("host", a.host.is_some()),
                ("status-code", a.status_code.is_some()),
            ] {
                if set {
                    cx.table(
                        at,
                        format!("`{key}` belongs to a redirect, not a forward action"),
                    );
                }
            }
            let target_group = a.target_group.clone().unwrap_or_default();
            match &a.target_group {
                Some(tg) => {
                    _ = cx.exists(
                        &format!("{at}.target-group"),
                        "target group",
                        tg,
                        target_groups.keys(),
                    )
                }
                None => cx.table(at, "a forward action needs `target-group`"),
            }
            Action::Forward { target_group }
        }
        "redirect" => Action::Redirect(redirect(cx, at, a, listener)),
        other => {
            cx.bad(
                &format!("{at}.type"),
                q(other),
                "must be \"forward\" or \"redirect\"",
            );
            Action::Forward {
                target_group: String::new(),
            }
        }
    }
}

fn redirect(
    cx: &mut Ctx,
    at: &str,
    a: &wire::Action,
    (from, from_port): (ListenerProtocol, u16),
) -> Redirect {
    if a.target_group.is_some() {
        cx.table(
            at,
            "`target-group` belongs to a forward action, not a redirect",
        );
    }
    let protocol = a.protocol.as_deref().and_then(|p| match p {
        "HTTP" => Some(ListenerProtocol::Http),
        "HTTPS" => Some(ListenerProtocol::Https),
        other => {
            cx.bad(
                &format!("{at}.protocol"),
                q(other),
                "must be \"HTTP\" or \"HTTPS\"",
            );
            None
        }
    });
    if from == ListenerProtocol::Https && protocol == Some(ListenerProtocol::Http) {
        cx.bad(
            &format!("{at}.protocol"),
            q("HTTP"),
            "an HTTPS listener may not redirect to HTTP (ALB refuses the downgrade)",
        );
    }
    let port = a.port.map(|p| cx.port(&format!("{at}.port"), p));
    let status = match a.status_code.as_deref() {
        Some("HTTP_301") => RedirectStatus::Permanent301,
        Some("HTTP_302") => RedirectStatus::Found302,
        Some(other) => {
            cx.bad(
                &format!("{at}.status-code"),
                q(other),
                "must be \"HTTP_301\" or \"HTTP_302\"",
            );
            RedirectStatus::Found302
        }
        None => {
            cx.table(
                at,
                "a redirect action needs `status-code` (\"HTTP_301\" or \"HTTP_302\")",
            );
            RedirectStatus::Found302
        }
    };
    let same_protocol = protocol.is_none_or(|p| p == from);
    let same_port = port.is_none_or(|p| p == from_port);
    if same_protocol && same_port && a.host.is_none() {
        cx.table(
            at,
            "this redirect changes neither protocol, port nor host, so it would loop",
        );
    }
    Redirect {
        protocol,
        host: a.host.clone(),
        port,
        status,
    }
}
