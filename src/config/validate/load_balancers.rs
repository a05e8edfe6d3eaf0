//! `[load-balancers.NAME]`: placement, security groups and listeners.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::super::model::{
    Action, Certificate, DefaultRoute, Listener, ListenerProtocol, LoadBalancer, Redirect,
    RedirectStatus, SecurityGroup, Vpc,
};
use super::super::{defaults, path, wire};
use super::ctx::{Ctx, list, q};
use super::rules;

/// ALB's `idle_timeout.timeout_seconds` range.
const IDLE_TIMEOUT_MAX: Duration = Duration::from_secs(4000);

/// What the load balancer rules look things up in.
pub struct Known<'a> {
    pub vpc: &'a Vpc,
    pub security_groups: &'a BTreeMap<String, SecurityGroup>,
    pub target_groups: &'a BTreeMap<String, wire::TargetGroup>,
}

pub fn load_balancers(
    cx: &mut Ctx,
    lbs: &BTreeMap<String, wire::LoadBalancer>,
    known: &Known,
) -> BTreeMap<String, LoadBalancer> {
    let mut ports: BTreeMap<u16, String> = BTreeMap::new();
    lbs.iter()
        .map(|(name, lb)| (name.clone(), load_balancer(cx, name, lb, known, &mut ports)))
        .collect()
}

fn load_balancer(
    cx: &mut Ctx,
    name: &str,
    lb: &wire::LoadBalancer,
    known: &Known,
    ports: &mut BTreeMap<u16, String>,
) -> LoadBalancer {
    let at = path::join("load-balancers", name);
    placement(cx, &at, lb, known.vpc);
    rules::groups_exist(
        cx,
        &format!("{at}.security-groups"),
        &lb.security_groups,
        known.security_groups,
    );
    let idle_key = format!("{at}.idle-timeout");
    let idle_timeout = cx.duration(
        &idle_key,
        lb.idle_timeout.as_deref(),
        defaults::IDLE_TIMEOUT,
    );
    if idle_timeout < Duration::from_secs(1) || idle_timeout > IDLE_TIMEOUT_MAX {
        cx.bad(
            &idle_key,
            q(lb.idle_timeout.as_deref().unwrap_or_default()),
            "must be between 1s and 4000s",
        );
    }
    let listeners = lb
        .listeners
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let at = format!("{at}.listeners[{i}]");
            let listener = listener(cx, &at, l, known);
            check_port(cx, &at, name, lb, &listener, known, ports);
            listener
        })
        .collect();
    LoadBalancer {
        name: name.to_string(),
        subnets: lb.subnets.clone(),
        security_groups: lb.security_groups.clone(),
        idle_timeout,
        listeners,
    }
}

/// An ALB needs subnets in at least two AZs, all public (routed to an internet gateway).
fn placement(cx: &mut Ctx, at: &str, lb: &wire::LoadBalancer, vpc: &Vpc) {
    let key = format!("{at}.subnets");
    let mut zones = BTreeSet::new();
    for (i, name) in lb.subnets.iter().enumerate() {
        let item = format!("{key}[{i}]");
        if !cx.exists(&item, "subnet", name, vpc.subnets.keys()) {
            continue;
        }
        let subnet = &vpc.subnets[name];
        zones.insert(subnet.availability_zone.as_str());
        match vpc.route_tables.get(&subnet.route_table).map(|rt| rt.default_route) {
            Some(DefaultRoute::InternetGateway) | None => {}
            Some(_) => cx.bad(&item, q(name), format!(
                "a load balancer needs public subnets, but route table `{}` has no internet-gateway default route",
                subnet.route_table
            )),
        }
    }
    if zones.len() < 2 {
        cx.bad(&key, list(&lb.subnets), format!(
            "an Application Load Balancer needs subnets in at least two availability zones (found {})",
            zones.len()
        ));
    }
}

fn listener(cx: &mut Ctx, at: &str, l: &wire::Listener, known: &Known) -> Listener {
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
            known,
        ),
    }
}

/// Port 0 ("any free port") is exempt from the uniqueness and security group checks: it is only
/// known once bound.
fn check_port(
    cx: &mut Ctx,
    at: &str,
    lb_name: &str,
    lb: &wire::LoadBalancer,
    l: &Listener,
    known: &Known,
    ports: &mut BTreeMap<u16, String>,
) {
    let port = l.port();
    if port == 0 {
        return;
    }
    let key = format!("{at}.port");
    if let Some(other) = ports.insert(port, lb_name.to_string()) {
        let msg = format!("port {port} is already used by a listener of load balancer `{other}`");
        cx.bad(&key, port.to_string(), msg);
    }
    // A missing group is reported on its own; judging ingress without it would mislead.
    if lb.security_groups.is_empty()
        || !lb
            .security_groups
            .iter()
            .all(|g| known.security_groups.contains_key(g))
    {
        return;
    }
    let allowed = lb
        .security_groups
        .iter()
        .map(|g| &known.security_groups[g])
        .any(|g| {
            g.ingress
                .iter()
                .any(|r| r.ports.is_none_or(|p| p.from <= port && port <= p.to))
        });
    if !allowed {
        let groups = list(&lb.security_groups);
        cx.bad(
            &key,
            port.to_string(),
            format!(
                "no ingress rule of the load balancer's security groups {groups} allows port {port}"
            ),
        );
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
    known: &Known,
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
                        known.target_groups.keys(),
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
