//! Builders of `tierlab::config` model structs for tests (port 0, fast health checks).

use std::net::SocketAddr;
use std::time::Duration;

use tierlab::config::{
    AccessLogs, Action, Certificate, HealthCheck, Listener, ListenerProtocol, LoadBalancer,
    Matcher, ProxyMode, Redirect, RedirectStatus, SslPolicy, TargetGroup, XffMode,
};

use super::HEALTH_PATH;

/// Any free loopback port.
pub fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A target group checked every 100 ms on [`HEALTH_PATH`], thresholds 2, matcher 200. The
/// timeout is a generous 1 s so a busy test machine does not flip targets by accident; see
/// [`fast_checks`] for tests about health itself.
pub fn target_group(name: &str) -> TargetGroup {
    TargetGroup {
        name: name.to_string(),
        port: 8000,
        health_check: HealthCheck {
            path: HEALTH_PATH.to_string(),
            interval: Duration::from_millis(100),
            timeout: Duration::from_secs(1),
            healthy_threshold: 2,
            unhealthy_threshold: 2,
            matcher: Matcher {
                ranges: vec![(200, 200)],
            },
        },
        deregistration_delay: Duration::from_secs(1),
        static_targets: Vec::new(),
        algorithm: Default::default(),
        slow_start: Duration::ZERO,
        stickiness: None,
        outlier_consecutive_5xx: 5,
    }
}

/// The fast profile: 100 ms interval, 50 ms timeout.
pub fn fast_checks(mut group: TargetGroup) -> TargetGroup {
    group.health_check.interval = Duration::from_millis(100);
    group.health_check.timeout = Duration::from_millis(50);
    group
}

/// The listener action "forward to `target_group`".
pub fn forward(target_group: &str) -> Action {
    Action::Forward {
        target_group: target_group.to_string(),
    }
}

/// HTTP → HTTPS on `port`, 301, host, path and query kept.
pub fn redirect_to_https(port: u16) -> Action {
    Action::Redirect(Redirect {
        protocol: Some(ListenerProtocol::Https),
        host: None,
        port: Some(port),
        path: None,
        query: None,
        status: RedirectStatus::Permanent301,
    })
}

/// A plain HTTP listener.
pub fn http_listener(bind: SocketAddr, action: Action) -> Listener {
    Listener {
        protocol: ListenerProtocol::Http,
        bind,
        certificate: None,
        rules: Vec::new(),
        additional_certificates: Vec::new(),
        ssl_policy: SslPolicy::default(),
        default_action: action,
    }
}

/// HTTPS with a local-CA certificate for `localhost` and `127.0.0.1`.
pub fn https_listener(bind: SocketAddr, action: Action) -> Listener {
    Listener {
        protocol: ListenerProtocol::Https,
        bind,
        certificate: Some(Certificate::LocalCa {
            hostnames: vec!["localhost".into(), "127.0.0.1".into()],
        }),
        rules: Vec::new(),
        additional_certificates: Vec::new(),
        ssl_policy: SslPolicy::default(),
        default_action: action,
    }
}

/// A load balancer named `test-alb`.
pub fn load_balancer(listeners: Vec<Listener>, idle_timeout: Duration) -> LoadBalancer {
    LoadBalancer {
        name: "test-alb".to_string(),
        subnets: Vec::new(),
        security_groups: Vec::new(),
        idle_timeout,
        listeners,
        access_logs: AccessLogs::default(),
        metrics_port: None,
        connections: Default::default(),
        data_plane_threads: None,
        connect_timeout: Duration::from_secs(10),
        xff_header_processing_mode: XffMode::Append,
        mode: ProxyMode::Tierlab,
    }
}
