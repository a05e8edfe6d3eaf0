//! A target group's live settings, and the pure decisions of `modify-target-group` and
//! `modify-target-group-attributes`: each request is validated whole, as ELBv2 validates it
//! (same error codes, ELBv2's wording where tierlab knows it), and yields the next settings or
//! an error that changes nothing. [`super::target_group::TargetGroupHandle`] swaps the result in.
//!
//! Values tierlab cannot honour (an HTTPS or TCP health check, a separate health check port,
//! `app_cookie` stickiness) are refused with `InvalidConfigurationRequest` and a message saying
//! why, never accepted and ignored.

use std::num::IntErrorKind;
use std::ops::RangeInclusive;
use std::time::Duration;

use crate::config::{Algorithm, Matcher, TargetGroup, TimingProfile};

/// ELBv2's `HealthCheckIntervalSeconds` range.
const INTERVAL: RangeInclusive<i64> = 5..=300;
/// ELBv2's `HealthCheckTimeoutSeconds` range.
const TIMEOUT: RangeInclusive<i64> = 2..=120;
/// With `[lab] profile = "fast"` the API's whole seconds may go down to 1.
const FAST_MIN_SECONDS: i64 = 1;
/// `HealthyThresholdCount` and `UnhealthyThresholdCount`.
const THRESHOLD: RangeInclusive<i64> = 2..=10;
/// `HealthCheckPath` length.
const PATH_LEN: RangeInclusive<usize> = 1..=1024;
/// `deregistration_delay.timeout_seconds`.
const DEREGISTRATION_DELAY: RangeInclusive<u64> = 0..=3600;
/// `stickiness.lb_cookie.duration_seconds`: 1 s to 7 days.
const LB_COOKIE: RangeInclusive<u64> = 1..=604_800;
/// `slow_start.duration_seconds` when on (0 is off).
const SLOW_START: RangeInclusive<u64> = 30..=900;
/// AWS's default `stickiness.lb_cookie.duration_seconds` (one day).
pub const DEFAULT_LB_COOKIE: Duration = Duration::from_secs(86_400);

/// A target group's settings as the running lab applies them: the validated config plus what
/// ELBv2 remembers that the config model leaves implicit.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// What routing, the health checker and draining read.
    pub config: TargetGroup,
    /// `stickiness.lb_cookie.duration_seconds`, kept while stickiness is off so that enabling
    /// it later uses it (the config holds the duration only when stickiness is on).
    pub lb_cookie_duration: Duration,
}

impl Settings {
    /// The settings a config starts with.
    pub fn new(config: TargetGroup) -> Settings {
        let lb_cookie_duration = config.stickiness.unwrap_or(DEFAULT_LB_COOKIE);
        Settings {
            config,
            lb_cookie_duration,
        }
    }
}

/// Which of ELBv2's error codes a refusal carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsErrorCode {
    /// `ValidationError`: a value outside its range or enum.
    Validation,
    /// `InvalidConfigurationRequest`: a valid value this target group cannot take.
    InvalidConfiguration,
}

/// A refused change; nothing was applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", self.aws_code())]
pub struct SettingsError {
    /// The error code.
    pub code: SettingsErrorCode,
    /// ELBv2's message (or tierlab's, for what tierlab cannot do).
    pub message: String,
}

impl SettingsError {
    fn validation(message: impl Into<String>) -> SettingsError {
        SettingsError {
            code: SettingsErrorCode::Validation,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> SettingsError {
        SettingsError {
            code: SettingsErrorCode::InvalidConfiguration,
            message: message.into(),
        }
    }

    /// The code as the wire carries it.
    pub fn aws_code(&self) -> &'static str {
        match self.code {
            SettingsErrorCode::Validation => "ValidationError",
            SettingsErrorCode::InvalidConfiguration => "InvalidConfigurationRequest",
        }
    }
}

/// The optional members of `ModifyTargetGroup`, as sent (unparsed where ELBv2 reports the
/// parse error itself).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthCheckChange {
    /// `HealthCheckProtocol`.
    pub protocol: Option<String>,
    /// `HealthCheckPort`: `traffic-port` or a number.
    pub port: Option<String>,
    /// `HealthCheckPath`.
    pub path: Option<String>,
    /// `HealthCheckEnabled`.
    pub enabled: Option<bool>,
    /// `HealthCheckIntervalSeconds`.
    pub interval_seconds: Option<i64>,
    /// `HealthCheckTimeoutSeconds`.
    pub timeout_seconds: Option<i64>,
    /// `HealthyThresholdCount`.
    pub healthy_threshold: Option<i64>,
    /// `UnhealthyThresholdCount`.
    pub unhealthy_threshold: Option<i64>,
    /// `Matcher.HttpCode`.
    pub http_code: Option<String>,
    /// `Matcher.GrpcCode`.
    pub grpc_code: Option<String>,
}

/// The settings after `change`, or why ELBv2 would refuse it. `profile` is the lab's timing
/// profile: `fast` lets interval and timeout go down to 1 s.
pub fn modify_health_check(
    current: &Settings,
    change: &HealthCheckChange,
    profile: TimingProfile,
) -> Result<Settings, SettingsError> {
    let mut next = current.clone();
    let hc = &mut next.config.health_check;
    if let Some(protocol) = &change.protocol {
        check_protocol(protocol)?;
    }
    if let Some(port) = &change.port {
        check_port(port, current.config.port)?;
    }
    if change.enabled == Some(false) {
        return Err(SettingsError::invalid(
            "Health checks cannot be disabled for target groups with target type 'ip'",
        ));
    }
    if let Some(path) = &change.path {
        hc.path = check_path(path)?;
    }
    let fast_min = (profile == TimingProfile::Fast).then_some(FAST_MIN_SECONDS);
    if let Some(s) = change.interval_seconds {
        hc.interval = seconds_in("healthCheckIntervalSeconds", s, INTERVAL, fast_min)?;
    }
    if let Some(s) = change.timeout_seconds {
        hc.timeout = seconds_in("healthCheckTimeoutSeconds", s, TIMEOUT, fast_min)?;
    }
    if let Some(n) = change.healthy_threshold {
        hc.healthy_threshold = count_in("healthyThresholdCount", n)?;
    }
    if let Some(n) = change.unhealthy_threshold {
        hc.unhealthy_threshold = count_in("unhealthyThresholdCount", n)?;
    }
    if change.grpc_code.is_some() {
        return Err(SettingsError::invalid(
            "A gRPC matcher can only be used with target groups whose protocol version is 'GRPC'",
        ));
    }
    if let Some(code) = &change.http_code {
        hc.matcher = check_matcher(code)?;
    }
    if hc.timeout >= hc.interval {
        return Err(SettingsError::validation(
            "Health check interval must be greater than the timeout.",
        ));
    }
    Ok(next)
}

fn check_protocol(protocol: &str) -> Result<(), SettingsError> {
    const PROTOCOLS: [&str; 9] = [
        "HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP", "GENEVE", "QUIC", "TCP_QUIC",
    ];
    match protocol {
        "HTTP" => Ok(()),
        "HTTPS" => Err(SettingsError::invalid(
            "tierlab health-checks targets over HTTP only (its targets are the lab's tasks, \
             which serve plain HTTP behind the load balancer); keep HealthCheckProtocol 'HTTP'",
        )),
        p if PROTOCOLS.contains(&p) => Err(SettingsError::invalid(format!(
            "Health check protocol '{p}' is not supported for target groups with the HTTP protocol"
        ))),
        p => Err(SettingsError::validation(format!(
            "1 validation error detected: Value '{p}' at 'healthCheckProtocol' failed to satisfy \
             constraint: Member must satisfy enum value set: [{}]",
            PROTOCOLS.join(", ")
        ))),
    }
}

/// `traffic-port`, or a number equal to the group's port (the same thing for its targets).
fn check_port(port: &str, traffic_port: u16) -> Result<(), SettingsError> {
    if port == "traffic-port" || port.parse::<u16>() == Ok(traffic_port) {
        return Ok(());
    }
    match port.parse::<u16>() {
        Ok(p) if p >= 1 => Err(SettingsError::invalid(format!(
            "tierlab health-checks targets on their traffic port only: it reaches a task through \
             the one port it publishes for the container port, so health check port '{p}' cannot \
             be reached; use 'traffic-port'"
        ))),
        _ => Err(SettingsError::validation(format!(
            "Health check port '{port}' must be 'traffic-port' or a number between 1 and 65535"
        ))),
    }
}

fn check_path(path: &str) -> Result<String, SettingsError> {
    if !PATH_LEN.contains(&path.len()) {
        return Err(SettingsError::validation(format!(
            "1 validation error detected: Value '{path}' at 'healthCheckPath' failed to satisfy \
             constraint: Member must have length between {} and {}",
            PATH_LEN.start(),
            PATH_LEN.end()
        )));
    }
    if !path.starts_with('/') {
        return Err(SettingsError::validation(format!(
            "Health check path '{path}' must begin with a '/' character"
        )));
    }
    Ok(path.to_string())
}

/// Whole seconds within ELBv2's range (or down to `fast_min` under the fast profile).
fn seconds_in(
    member: &str,
    value: i64,
    range: RangeInclusive<i64>,
    fast_min: Option<i64>,
) -> Result<Duration, SettingsError> {
    let min = fast_min.unwrap_or(*range.start());
    let max = *range.end();
    check_range(member, value, min, max)?;
    Ok(Duration::from_secs(value as u64))
}

fn count_in(member: &str, value: i64) -> Result<u32, SettingsError> {
    check_range(member, value, *THRESHOLD.start(), *THRESHOLD.end())?;
    Ok(value as u32)
}

/// ELBv2's (Coral's) wording for a number outside a member's constraint.
fn check_range(member: &str, value: i64, min: i64, max: i64) -> Result<(), SettingsError> {
    let bound = if value < min {
        format!("greater than or equal to {min}")
    } else if value > max {
        format!("less than or equal to {max}")
    } else {
        return Ok(());
    };
    Err(SettingsError::validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: \
         Member must have value {bound}"
    )))
}

fn check_matcher(code: &str) -> Result<Matcher, SettingsError> {
    crate::config::parse_matcher(code).map_err(|why| {
        SettingsError::validation(format!(
            "Invalid health check matcher HTTP code '{code}': {why}; HTTP target groups accept codes 200-499"
        ))
    })
}

/// The settings after `attributes` (key, value pairs in request order), or why ELBv2 would
/// refuse them. Later pairs win over earlier ones, then the combination is checked.
pub fn modify_attributes(
    current: &Settings,
    attributes: &[(String, String)],
) -> Result<Settings, SettingsError> {
    let mut next = current.clone();
    let mut sticky = current.config.stickiness.is_some();
    for (key, value) in attributes {
        let tg = &mut next.config;
        match key.as_str() {
            "deregistration_delay.timeout_seconds" => {
                let s = number(key, value, DEREGISTRATION_DELAY, "0-3600")?;
                tg.deregistration_delay = Duration::from_secs(s);
            }
            "stickiness.enabled" => sticky = boolean(key, value)?,
            "stickiness.type" => stickiness_type(value)?,
            "stickiness.lb_cookie.duration_seconds" => {
                let s = number(key, value, LB_COOKIE, "1-604800")?;
                next.lb_cookie_duration = Duration::from_secs(s);
            }
            "load_balancing.algorithm.type" => tg.algorithm = algorithm(value)?,
            "slow_start.duration_seconds" => {
                let s = slow_start(value)?;
                tg.slow_start = Duration::from_secs(s);
            }
            "load_balancing.algorithm.anomaly_mitigation" if value == "off" => {}
            "load_balancing.algorithm.anomaly_mitigation" => {
                return Err(SettingsError::invalid(
                    "tierlab does not implement anomaly mitigation; \
                     'load_balancing.algorithm.anomaly_mitigation' can only be 'off'",
                ));
            }
            other if NOT_MODELLED.contains(&other) => {
                return Err(SettingsError::invalid(format!(
                    "tierlab does not model the target group attribute '{other}'"
                )));
            }
            other => {
                return Err(SettingsError::validation(format!(
                    "Target group attribute key '{other}' is not recognized"
                )));
            }
        }
    }
    next.config.stickiness = sticky.then_some(next.lb_cookie_duration);
    if next.config.slow_start != Duration::ZERO && next.config.algorithm != Algorithm::RoundRobin {
        return Err(SettingsError::invalid(
            "Slow start mode is supported only with the 'round_robin' load balancing algorithm",
        ));
    }
    Ok(next)
}

/// Keys ELBv2 has for Application Load Balancer target groups that tierlab does not model.
const NOT_MODELLED: [&str; 7] = [
    "stickiness.app_cookie.cookie_name",
    "stickiness.app_cookie.duration_seconds",
    "load_balancing.cross_zone.enabled",
    "target_group_health.dns_failover.minimum_healthy_targets.count",
    "target_group_health.dns_failover.minimum_healthy_targets.percentage",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage",
];

fn number(
    key: &str,
    value: &str,
    range: RangeInclusive<u64>,
    shown: &str,
) -> Result<u64, SettingsError> {
    let out_of_range = || {
        SettingsError::validation(format!(
            "'{key}' value '{value}' must be between '{shown}' inclusive"
        ))
    };
    match value.parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        Ok(_) => Err(out_of_range()),
        Err(e) if *e.kind() == IntErrorKind::PosOverflow => Err(out_of_range()),
        Err(_) => Err(SettingsError::validation(format!(
            "'{key}' value '{value}' must be an integer"
        ))),
    }
}

fn boolean(key: &str, value: &str) -> Result<bool, SettingsError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(SettingsError::validation(format!(
            "'{key}' value '{value}' must be one of [true, false]"
        ))),
    }
}

fn stickiness_type(value: &str) -> Result<(), SettingsError> {
    match value {
        "lb_cookie" => Ok(()),
        "app_cookie" => Err(SettingsError::invalid(
            "tierlab supports duration-based stickiness only ('lb_cookie', the AWSALB cookie); \
             'app_cookie' is not implemented",
        )),
        "source_ip" => Err(SettingsError::invalid(
            "Stickiness type 'source_ip' is not supported for target groups with the HTTP protocol",
        )),
        _ => Err(SettingsError::validation(
            "'Stickiness type' must be one of [app_cookie, lb_cookie, source_ip]",
        )),
    }
}

fn algorithm(value: &str) -> Result<Algorithm, SettingsError> {
    match value {
        "round_robin" => Ok(Algorithm::RoundRobin),
        "least_outstanding_requests" => Ok(Algorithm::LeastOutstandingRequests),
        "weighted_random" => Ok(Algorithm::WeightedRandom),
        _ => Err(SettingsError::validation(format!(
            "'load_balancing.algorithm.type' value '{value}' must be one of \
             [round_robin, least_outstanding_requests, weighted_random]"
        ))),
    }
}

fn slow_start(value: &str) -> Result<u64, SettingsError> {
    let key = "slow_start.duration_seconds";
    match value.parse::<u64>() {
        Ok(0) => Ok(0),
        Ok(n) if SLOW_START.contains(&n) => Ok(n),
        _ => Err(SettingsError::validation(format!(
            "'{key}' value '{value}' must be 0 (disabled) or between '30-900' inclusive"
        ))),
    }
}

/// `describe-target-group-attributes`: the attributes tierlab models, with their values, in
/// ELBv2's key order.
pub fn attributes(settings: &Settings) -> Vec<(&'static str, String)> {
    let tg = &settings.config;
    let algorithm = match tg.algorithm {
        Algorithm::RoundRobin => "round_robin",
        Algorithm::LeastOutstandingRequests => "least_outstanding_requests",
        Algorithm::WeightedRandom => "weighted_random",
    };
    vec![
        (
            "deregistration_delay.timeout_seconds",
            seconds(tg.deregistration_delay).to_string(),
        ),
        ("stickiness.enabled", tg.stickiness.is_some().to_string()),
        ("stickiness.type", "lb_cookie".to_string()),
        (
            "stickiness.lb_cookie.duration_seconds",
            seconds(settings.lb_cookie_duration).to_string(),
        ),
        ("load_balancing.algorithm.type", algorithm.to_string()),
        ("load_balancing.algorithm.anomaly_mitigation", "off".into()),
        (
            "slow_start.duration_seconds",
            seconds(tg.slow_start).to_string(),
        ),
    ]
}

/// A duration in ELBv2's whole seconds. Sub-second values (the fast profile's health checks)
/// round up, so a 500 ms interval never reads as 0.
pub fn seconds(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000) as u64
}

/// A matcher as ELBv2 writes `Matcher.HttpCode` (`200`, `200,202`, `200-299`).
pub fn matcher_text(m: &Matcher) -> String {
    m.ranges
        .iter()
        .map(|&(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alb::target_group::tests::config;
    use SettingsErrorCode::*;

    fn settings() -> Settings {
        Settings::new(config())
    }

    fn hc(change: HealthCheckChange) -> Result<Settings, SettingsError> {
        modify_health_check(&settings(), &change, TimingProfile::Aws)
    }

    fn attrs(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        modify_attributes(&settings(), &pairs)
    }

    #[test]
    fn health_check_fields_apply_together() {
        let next = hc(HealthCheckChange {
            path: Some("/health".into()),
            interval_seconds: Some(10),
            timeout_seconds: Some(3),
            healthy_threshold: Some(5),
            unhealthy_threshold: Some(3),
            http_code: Some("200-299".into()),
            protocol: Some("HTTP".into()),
            port: Some("traffic-port".into()),
            enabled: Some(true),
            ..Default::default()
        })
        .unwrap();
        let h = &next.config.health_check;
        assert_eq!(h.path, "/health");
        assert_eq!(
            (h.interval, h.timeout),
            (Duration::from_secs(10), Duration::from_secs(3))
        );
        assert_eq!((h.healthy_threshold, h.unhealthy_threshold), (5, 3));
        assert_eq!(matcher_text(&h.matcher), "200-299");
    }

    #[test]
    fn timeout_must_stay_below_the_interval() {
        // The current timeout is 1 s; an interval of 5 s is fine, a timeout of 5 s is not.
        assert!(
            hc(HealthCheckChange {
                interval_seconds: Some(5),
                ..Default::default()
            })
            .is_ok()
        );
        let e = hc(HealthCheckChange {
            interval_seconds: Some(5),
            timeout_seconds: Some(5),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.code, Validation);
        assert_eq!(
            e.message,
            "Health check interval must be greater than the timeout."
        );
    }

    #[test]
    fn ranges_are_elbv2s_with_its_wording() {
        let e = hc(HealthCheckChange {
            interval_seconds: Some(4),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            e.message,
            "1 validation error detected: Value '4' at 'healthCheckIntervalSeconds' failed to \
             satisfy constraint: Member must have value greater than or equal to 5"
        );
        let e = hc(HealthCheckChange {
            timeout_seconds: Some(121),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            e.message.contains("less than or equal to 120"),
            "{}",
            e.message
        );
        for n in [1, 11] {
            let e = hc(HealthCheckChange {
                healthy_threshold: Some(n),
                ..Default::default()
            })
            .unwrap_err();
            assert!(
                e.message.contains("'healthyThresholdCount'"),
                "{}",
                e.message
            );
        }
        let e = hc(HealthCheckChange {
            path: Some("health".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.code, Validation);
        let e = hc(HealthCheckChange {
            http_code: Some("500".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.code, Validation);
    }

    #[test]
    fn the_fast_profile_allows_one_second() {
        let change = HealthCheckChange {
            interval_seconds: Some(2),
            timeout_seconds: Some(1),
            ..Default::default()
        };
        assert!(modify_health_check(&settings(), &change, TimingProfile::Aws).is_err());
        let next = modify_health_check(&settings(), &change, TimingProfile::Fast).unwrap();
        assert_eq!(next.config.health_check.interval, Duration::from_secs(2));
    }

    #[test]
    fn what_tierlab_cannot_do_is_refused_not_ignored() {
        for change in [
            HealthCheckChange {
                protocol: Some("HTTPS".into()),
                ..Default::default()
            },
            HealthCheckChange {
                protocol: Some("TCP".into()),
                ..Default::default()
            },
            HealthCheckChange {
                port: Some("9000".into()),
                ..Default::default()
            },
            HealthCheckChange {
                enabled: Some(false),
                ..Default::default()
            },
            HealthCheckChange {
                grpc_code: Some("12".into()),
                ..Default::default()
            },
        ] {
            let e = hc(change.clone()).unwrap_err();
            assert_eq!(e.code, InvalidConfiguration, "{change:?}");
        }
        let e = hc(HealthCheckChange {
            protocol: Some("FTP".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.code, Validation);
        // The group's own port is the traffic port.
        assert!(
            hc(HealthCheckChange {
                port: Some("8000".into()),
                ..Default::default()
            })
            .is_ok()
        );
    }

    #[test]
    fn an_invalid_request_changes_nothing_even_when_part_is_valid() {
        // Pure: the input is untouched, and the error comes back instead of a half-applied one.
        let e = hc(HealthCheckChange {
            path: Some("/ok".into()),
            healthy_threshold: Some(50),
            ..Default::default()
        });
        assert!(e.is_err());
        let e = attrs(&[
            ("deregistration_delay.timeout_seconds", "10"),
            ("bogus.key", "1"),
        ]);
        assert_eq!(
            e.unwrap_err().message,
            "Target group attribute key 'bogus.key' is not recognized"
        );
    }

    #[test]
    fn attributes_apply_and_read_back() {
        let next = attrs(&[
            ("deregistration_delay.timeout_seconds", "30"),
            ("stickiness.lb_cookie.duration_seconds", "3600"),
            ("stickiness.enabled", "true"),
            ("stickiness.type", "lb_cookie"),
            (
                "load_balancing.algorithm.type",
                "least_outstanding_requests",
            ),
        ])
        .unwrap();
        assert_eq!(next.config.deregistration_delay, Duration::from_secs(30));
        assert_eq!(next.config.stickiness, Some(Duration::from_secs(3600)));
        assert_eq!(next.config.algorithm, Algorithm::LeastOutstandingRequests);
        let shown = attributes(&next);
        let get = |k: &str| shown.iter().find(|(key, _)| *key == k).unwrap().1.clone();
        assert_eq!(get("deregistration_delay.timeout_seconds"), "30");
        assert_eq!(get("stickiness.enabled"), "true");
        assert_eq!(get("stickiness.lb_cookie.duration_seconds"), "3600");
        assert_eq!(
            get("load_balancing.algorithm.type"),
            "least_outstanding_requests"
        );
        // Disabling keeps the duration for a later enable.
        let off =
            modify_attributes(&next, &[("stickiness.enabled".into(), "false".into())]).unwrap();
        assert_eq!(off.config.stickiness, None);
        assert_eq!(off.lb_cookie_duration, Duration::from_secs(3600));
    }

    #[test]
    fn attribute_values_are_checked() {
        let e = attrs(&[("deregistration_delay.timeout_seconds", "3601")]).unwrap_err();
        assert_eq!(
            e.message,
            "'deregistration_delay.timeout_seconds' value '3601' must be between '0-3600' inclusive"
        );
        assert_eq!(
            attrs(&[("stickiness.enabled", "yes")]).unwrap_err().code,
            Validation
        );
        assert_eq!(
            attrs(&[("stickiness.type", "app_cookie")])
                .unwrap_err()
                .code,
            InvalidConfiguration
        );
        assert_eq!(
            attrs(&[("load_balancing.algorithm.type", "fastest")])
                .unwrap_err()
                .code,
            Validation
        );
        assert_eq!(
            attrs(&[("slow_start.duration_seconds", "10")])
                .unwrap_err()
                .code,
            Validation
        );
        assert_eq!(
            attrs(&[("load_balancing.cross_zone.enabled", "true")])
                .unwrap_err()
                .code,
            InvalidConfiguration
        );
        // Slow start with least outstanding requests is ELBv2's configuration error.
        let e = attrs(&[
            ("slow_start.duration_seconds", "60"),
            (
                "load_balancing.algorithm.type",
                "least_outstanding_requests",
            ),
        ])
        .unwrap_err();
        assert_eq!(e.code, InvalidConfiguration);
        let ok = attrs(&[("slow_start.duration_seconds", "60")]).unwrap();
        assert_eq!(ok.config.slow_start, Duration::from_secs(60));
    }

    #[test]
    fn sub_second_durations_round_up() {
        assert_eq!(seconds(Duration::from_millis(100)), 1);
        assert_eq!(seconds(Duration::from_secs(30)), 30);
        assert_eq!(seconds(Duration::ZERO), 0);
        let m = Matcher {
            ranges: vec![(200, 200), (300, 399)],
        };
        assert_eq!(matcher_text(&m), "200,300-399");
    }
}
