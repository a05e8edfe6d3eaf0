//! `[load-balancers.NAME]`: placement, security groups and listeners.

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;
use std::time::Duration;

use super::super::model::{
    AccessLogs, ClientConnections, DefaultRoute, Listener, LoadBalancer, ProxyMode, SecurityGroup,
    Vpc, XffMode,
};
use super::super::{defaults, duration, path, suggest, wire};
use super::ctx::{Ctx, list, q};
use super::{listeners, rules};

/// ALB's `idle_timeout.timeout_seconds` range.
const IDLE_TIMEOUT_MAX: Duration = Duration::from_secs(4000);
/// Bounds of `access-logs.interval`: AWS writes every 5 minutes; shorter helps demos and tests.
const ACCESS_LOG_INTERVAL_MIN: Duration = Duration::from_secs(1);
const ACCESS_LOG_INTERVAL_MAX: Duration = Duration::from_secs(3600);
/// `connect-timeout` bounds (tierlab's own key: AWS's is fixed at 10s).
const CONNECT_TIMEOUT_MAX: Duration = Duration::from_secs(4000);
/// `first-byte-timeout` floor: shorter would close clients still on their way (tests use 1s).
const FIRST_BYTE_TIMEOUT_MIN: Duration = Duration::from_millis(100);
/// `max-connections` ceiling: the largest descriptor limit a Linux process can have by default
/// (`fs.nr_open`); more connections than descriptors cannot be open anyway.
const MAX_CONNECTIONS_MAX: i64 = 1 << 20;
/// More data-plane threads than this is a typo, not a machine.
const DATA_PLANE_THREADS_MAX: i64 = 256;

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
            let listener = listeners::listener(cx, &at, l, known.target_groups);
            check_port(cx, &at, name, lb, &listener, known, ports);
            listener
        })
        .collect();
    let metrics_port = lb.metrics_port.map(|p| {
        let key = format!("{at}.metrics-port");
        let port = cx.int_in(&key, p, 0..=65535).map_or(0, |p| p as u16);
        if port != 0 {
            if let Some(other) = ports.insert(port, name.to_string()) {
                let msg = format!("port {port} is already used by load balancer `{other}`");
                cx.bad(&key, port.to_string(), msg);
            }
        }
        port
    });
    LoadBalancer {
        name: name.to_string(),
        subnets: lb.subnets.clone(),
        security_groups: lb.security_groups.clone(),
        idle_timeout,
        listeners,
        connect_timeout: connect_timeout(cx, &at, lb),
        xff_header_processing_mode: xff_mode(cx, &at, lb.xff_header_processing_mode.as_deref()),
        mode: mode(cx, &at, lb.mode.as_deref()),
        access_logs: access_logs(cx, &at, lb.access_logs.as_ref()),
        metrics_port,
        connections: client_connections(cx, &at, lb, idle_timeout),
        data_plane_threads: lb.data_plane_threads.and_then(|n| {
            let key = format!("{at}.data-plane-threads");
            cx.int_in(&key, n, 1..=DATA_PLANE_THREADS_MAX)
                .and_then(NonZeroU32::new)
        }),
    }
}

/// `first-byte-timeout` (100ms..=idle-timeout; absent: the idle timeout) and `max-connections`
/// (1..=1048576; absent: derived from the descriptor limit when the load balancer starts).
fn client_connections(
    cx: &mut Ctx,
    at: &str,
    lb: &wire::LoadBalancer,
    idle_timeout: Duration,
) -> ClientConnections {
    let key = format!("{at}.first-byte-timeout");
    let text = lb.first_byte_timeout.as_deref();
    let first_byte_timeout = text.and_then(|text| {
        let timeout = cx.duration(&key, Some(text), idle_timeout);
        if timeout < FIRST_BYTE_TIMEOUT_MIN {
            cx.bad(&key, q(text), "must be at least 100ms");
            return None;
        }
        if timeout > idle_timeout {
            let msg = format!(
                "must not exceed idle-timeout ({}): a silent connection is closed at the idle timeout anyway",
                duration::format(idle_timeout)
            );
            cx.bad(&key, q(text), msg);
            return None;
        }
        Some(timeout)
    });
    let key = format!("{at}.max-connections");
    let max_connections = lb.max_connections.and_then(|n| {
        cx.int_in(&key, n, 1..=MAX_CONNECTIONS_MAX)
            .and_then(NonZeroU32::new)
    });
    ClientConnections {
        first_byte_timeout,
        max_connections,
    }
}

/// `access-logs = { enabled = true, interval = "5m" }`; absent: disabled, as on AWS.
fn access_logs(cx: &mut Ctx, at: &str, wire: Option<&wire::AccessLogs>) -> AccessLogs {
    let default = AccessLogs::default();
    let Some(wire) = wire else { return default };
    let key = format!("{at}.access-logs.interval");
    let interval = cx.duration(&key, wire.interval.as_deref(), default.interval);
    if !(ACCESS_LOG_INTERVAL_MIN..=ACCESS_LOG_INTERVAL_MAX).contains(&interval) {
        let shown = q(wire.interval.as_deref().unwrap_or_default());
        cx.bad(
            &key,
            shown,
            "must be between 1s and 60m (AWS writes a file every 5m)",
        );
    }
    AccessLogs {
        // `access-logs = { interval = "1m" }` alone means the user wants logs.
        enabled: wire.enabled.unwrap_or(true),
        interval,
    }
}

fn connect_timeout(cx: &mut Ctx, at: &str, lb: &wire::LoadBalancer) -> Duration {
    let key = format!("{at}.connect-timeout");
    let text = lb.connect_timeout.as_deref();
    let timeout = cx.duration(&key, text, defaults::CONNECT_TIMEOUT);
    if timeout.is_zero() || timeout > CONNECT_TIMEOUT_MAX {
        let msg = "must be more than 0s and at most 4000s";
        cx.bad(&key, q(text.unwrap_or_default()), msg);
        return defaults::CONNECT_TIMEOUT;
    }
    timeout
}

/// AWS's values of `routing.http.xff_header_processing.mode`.
fn xff_mode(cx: &mut Ctx, at: &str, value: Option<&str>) -> XffMode {
    match value {
        None | Some("append") => XffMode::Append,
        Some("preserve") => XffMode::Preserve,
        Some("remove") => XffMode::Remove,
        Some(other) => {
            let hint = suggest::hint(other, "modes", ["append", "preserve", "remove"]);
            let msg = format!("must be \"append\", \"preserve\" or \"remove\"; {hint}");
            cx.bad(&format!("{at}.xff-header-processing-mode"), q(other), msg);
            XffMode::Append
        }
    }
}

fn mode(cx: &mut Ctx, at: &str, value: Option<&str>) -> ProxyMode {
    match value {
        None | Some("tierlab") => ProxyMode::Tierlab,
        Some("aws") => ProxyMode::Aws,
        Some(other) => {
            let hint = suggest::hint(other, "modes", ["tierlab", "aws"]);
            let msg = format!(
                "must be \"tierlab\" (retry and eject failing targets) or \"aws\" (exactly as AWS); {hint}"
            );
            cx.bad(&format!("{at}.mode"), q(other), msg);
            ProxyMode::Tierlab
        }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::tests::{BASE, assert_has, errors, try_parse};

    /// BASE with `line` among the keys of `[load-balancers.lb]`.
    fn with_lb_key(line: &str) -> String {
        let at = "security-groups = [\"lb-sg\"]\n[[load-balancers.lb.listeners]]";
        let with =
            format!("security-groups = [\"lb-sg\"]\n{line}\n[[load-balancers.lb.listeners]]");
        assert!(BASE.contains(at), "BASE changed shape");
        BASE.replacen(at, &with, 1)
    }

    #[test]
    fn connection_limits_default_to_idle_timeout_and_derived_cap() {
        let c = try_parse(BASE).unwrap();
        let lb = &c.load_balancers["lb"];
        assert_eq!(lb.connections.first_byte_timeout, None);
        assert_eq!(lb.first_byte_timeout(), lb.idle_timeout);
        assert_eq!(lb.connections.max_connections, None);
    }

    #[test]
    fn connection_limit_keys_are_read() {
        let c = try_parse(&with_lb_key(
            "first-byte-timeout = \"2s\"\nmax-connections = 500",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let lb = &c.load_balancers["lb"];
        assert_eq!(lb.first_byte_timeout(), Duration::from_secs(2));
        assert_eq!(lb.connections.max_connections.map(|n| n.get()), Some(500));
    }

    #[test]
    fn first_byte_timeout_must_be_at_least_100ms() {
        let errs = errors(&with_lb_key("first-byte-timeout = \"50ms\""));
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_has(
            &errs[0],
            &[
                "[load-balancers.lb] first-byte-timeout = \"50ms\"",
                "at least 100ms",
            ],
        );
    }

    #[test]
    fn first_byte_timeout_must_not_exceed_idle_timeout() {
        let errs = errors(&with_lb_key(
            "idle-timeout = \"30s\"\nfirst-byte-timeout = \"45s\"",
        ));
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_has(
            &errs[0],
            &[
                "[load-balancers.lb] first-byte-timeout = \"45s\"",
                "must not exceed idle-timeout (30s)",
            ],
        );
    }

    #[test]
    fn first_byte_timeout_must_be_a_duration() {
        let errs = errors(&with_lb_key("first-byte-timeout = \"soon\""));
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_has(&errs[0], &["first-byte-timeout = \"soon\""]);
    }

    #[test]
    fn data_plane_threads_are_one_to_256() {
        let c = try_parse(&with_lb_key("data-plane-threads = 3")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.load_balancers["lb"].data_plane_threads.map(|n| n.get()),
            Some(3)
        );
        assert_eq!(
            try_parse(BASE).unwrap().load_balancers["lb"].data_plane_threads,
            None
        );
        for bad in ["0", "300"] {
            let errs = errors(&with_lb_key(&format!("data-plane-threads = {bad}")));
            assert_eq!(errs.len(), 1, "{errs:#?}");
            assert_has(
                &errs[0],
                &[
                    &format!("[load-balancers.lb] data-plane-threads = {bad}"),
                    "must be between 1 and 256",
                ],
            );
        }
    }

    #[test]
    fn max_connections_must_be_positive_and_bounded() {
        for bad in ["0", "-3", "2000000"] {
            let errs = errors(&with_lb_key(&format!("max-connections = {bad}")));
            assert_eq!(errs.len(), 1, "{errs:#?}");
            assert_has(
                &errs[0],
                &[
                    &format!("[load-balancers.lb] max-connections = {bad}"),
                    "must be between 1 and 1048576",
                ],
            );
        }
    }
}
