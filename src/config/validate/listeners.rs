//! One listener of a load balancer: protocol, port, certificate and default action.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use super::super::model::{
    Action, Certificate, Listener, ListenerProtocol, Redirect, RedirectStatus,
};
use super::super::{defaults, wire};
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
    Listener {
        protocol,
        bind: SocketAddr::new(ip, port),
        certificate: certificate(cx, at, protocol, l.certificate.as_ref()),
        default_action: action(
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
