//! `[target-groups.NAME]`: health checks and routing attributes (algorithm, slow start,
//! stickiness).

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use super::super::model::{Algorithm, HealthCheck, Matcher, TargetGroup, TimingProfile};
use super::super::{defaults, duration, path, wire};
use super::ctx::{Ctx, q};

/// ALB's limits on `HealthCheckIntervalSeconds` and `HealthCheckTimeoutSeconds`.
const AWS_INTERVAL: RangeInclusive<Duration> = Duration::from_secs(5)..=Duration::from_secs(300);
const AWS_TIMEOUT: RangeInclusive<Duration> = Duration::from_secs(2)..=Duration::from_secs(120);
/// The lower bounds under `profile = "fast"`.
const FAST_MIN_INTERVAL: Duration = Duration::from_millis(100);
const FAST_MIN_TIMEOUT: Duration = Duration::from_millis(50);
/// Healthy/unhealthy threshold counts.
const THRESHOLDS: RangeInclusive<i64> = 2..=10;
/// Codes a matcher may name (ALB: 200-499 for HTTP health checks).
const MATCHER_CODES: RangeInclusive<u16> = 200..=499;
const MAX_DEREGISTRATION_DELAY: Duration = Duration::from_secs(3600);
/// `slow_start.duration_seconds`: 0 (off) or 30..=900 s.
const SLOW_START: RangeInclusive<Duration> = Duration::from_secs(30)..=Duration::from_secs(900);
/// `stickiness.lb_cookie.duration_seconds`: 1 s..=7 days; AWS's default is one day.
const STICKINESS: RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(7 * 86400);
const STICKINESS_DEFAULT: Duration = Duration::from_secs(86400);
/// `outlier-consecutive-5xx` range (0 disables ejection on 5xx).
const OUTLIER_5XX: RangeInclusive<i64> = 0..=1000;

pub fn target_group(
    cx: &mut Ctx,
    name: &str,
    tg: &wire::TargetGroup,
    profile: TimingProfile,
) -> TargetGroup {
    let at = path::join("target-groups", name);
    let protocol = tg
        .protocol
        .as_deref()
        .unwrap_or(defaults::TARGET_GROUP_PROTOCOL);
    if protocol != "HTTP" {
        cx.bad(
            &format!("{at}.protocol"),
            q(protocol),
            "only \"HTTP\" target groups are supported (TLS ends at the load balancer)",
        );
    }
    let target_type = tg.target_type.as_deref().unwrap_or(defaults::TARGET_TYPE);
    if target_type != "ip" {
        cx.bad(&format!("{at}.target-type"), q(target_type), "only \"ip\" is supported (tasks register by address, as Fargate's awsvpc mode requires)");
    }
    let delay_key = format!("{at}.deregistration-delay");
    let delay = cx.duration(
        &delay_key,
        tg.deregistration_delay.as_deref(),
        defaults::DEREGISTRATION_DELAY,
    );
    if delay > MAX_DEREGISTRATION_DELAY {
        cx.bad(
            &delay_key,
            q(tg.deregistration_delay.as_deref().unwrap_or_default()),
            "must be between 0s and 3600s",
        );
    }
    let (algorithm, slow_start) = algorithm_and_slow_start(cx, &at, tg);
    TargetGroup {
        name: name.to_string(),
        port: cx.port(&format!("{at}.port"), tg.port),
        health_check: health_check(cx, &format!("{at}.health-check"), &tg.health_check, profile),
        deregistration_delay: delay,
        static_targets: targets(cx, &at, &tg.targets),
        algorithm,
        slow_start,
        stickiness: stickiness(cx, &at, tg.stickiness.as_ref()),
        outlier_consecutive_5xx: match tg.outlier_consecutive_5xx {
            None => defaults::OUTLIER_CONSECUTIVE_5XX,
            Some(n) => cx
                .int_in(&format!("{at}.outlier-consecutive-5xx"), n, OUTLIER_5XX)
                .unwrap_or(defaults::OUTLIER_CONSECUTIVE_5XX),
        },
    }
}

/// `load-balancing-algorithm` and `slow-start` (which ALB only combines with round robin).
fn algorithm_and_slow_start(
    cx: &mut Ctx,
    at: &str,
    tg: &wire::TargetGroup,
) -> (Algorithm, Duration) {
    let key = format!("{at}.load-balancing-algorithm");
    let algorithm = match tg.load_balancing_algorithm.as_deref() {
        None | Some("round_robin") => Algorithm::RoundRobin,
        Some("least_outstanding_requests") => Algorithm::LeastOutstandingRequests,
        Some("weighted_random") => Algorithm::WeightedRandom,
        Some(other) => {
            cx.bad(
                &key,
                q(other),
                "must be \"round_robin\", \"least_outstanding_requests\" or \"weighted_random\"",
            );
            Algorithm::RoundRobin
        }
    };
    let slow_key = format!("{at}.slow-start");
    let text = tg.slow_start.as_deref();
    let slow_start = cx.duration(&slow_key, text, Duration::ZERO);
    if slow_start != Duration::ZERO && !SLOW_START.contains(&slow_start) {
        cx.bad(
            &slow_key,
            q(text.unwrap_or_default()),
            "must be 0s (off) or between 30s and 15m",
        );
    } else if slow_start != Duration::ZERO && algorithm != Algorithm::RoundRobin {
        let algo = tg.load_balancing_algorithm.as_deref().unwrap_or_default();
        cx.bad(&slow_key, q(text.unwrap_or_default()), format!("slow start works only with load-balancing-algorithm = \"round_robin\" (as on ALB), not {}", q(algo)));
    }
    (algorithm, slow_start)
}

/// `stickiness = { enabled, type = "lb_cookie", duration }`; `None` when off.
fn stickiness(cx: &mut Ctx, at: &str, s: Option<&wire::Stickiness>) -> Option<Duration> {
    let s = s?;
    let key = format!("{at}.stickiness");
    if let Some(kind) = s.kind.as_deref().filter(|k| *k != "lb_cookie") {
        cx.bad(
            &format!("{key}.type"),
            q(kind),
            "only \"lb_cookie\" (duration-based, AWSALB cookie) is supported",
        );
    }
    let text = s.duration.as_deref();
    let duration = cx.duration(&format!("{key}.duration"), text, STICKINESS_DEFAULT);
    if !STICKINESS.contains(&duration) {
        cx.bad(
            &format!("{key}.duration"),
            q(text.unwrap_or_default()),
            "must be between 1s and 7d",
        );
    }
    s.enabled.then_some(duration)
}

/// Static targets: tierlab only ever sends to loopback, so only loopback addresses are accepted.
fn targets(cx: &mut Ctx, at: &str, targets: &[String]) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for (i, text) in targets.iter().enumerate() {
        let key = format!("{at}.targets[{i}]");
        match text.parse::<SocketAddr>() {
            Ok(addr) if !matches!(addr, SocketAddr::V4(v4) if v4.ip().is_loopback()) => {
                cx.bad(&key, q(text), "must be a loopback address (127.0.0.0/8): tierlab only sends traffic to this machine");
            }
            Ok(addr) if addr.port() == 0 => {
                cx.bad(&key, q(text), "port must be between 1 and 65535")
            }
            Ok(addr) => out.push(addr),
            Err(_) => cx.bad(
                &key,
                q(text),
                "must be an address and port, e.g. \"127.0.0.1:9001\"",
            ),
        }
    }
    out
}

fn health_check(
    cx: &mut Ctx,
    at: &str,
    hc: &wire::HealthCheck,
    profile: TimingProfile,
) -> HealthCheck {
    let interval = cx.duration(
        &format!("{at}.interval"),
        hc.interval.as_deref(),
        defaults::HEALTH_CHECK_INTERVAL,
    );
    let timeout = cx.duration(
        &format!("{at}.timeout"),
        hc.timeout.as_deref(),
        defaults::HEALTH_CHECK_TIMEOUT,
    );
    check_timing(cx, at, hc, profile, (interval, timeout));
    let path = hc
        .path
        .clone()
        .unwrap_or_else(|| defaults::HEALTH_CHECK_PATH.to_string());
    if !path.starts_with('/') {
        cx.bad(&format!("{at}.path"), q(&path), "must start with `/`");
    }
    let matcher_text = hc
        .matcher
        .as_deref()
        .unwrap_or(defaults::HEALTH_CHECK_MATCHER);
    let matcher = parse_matcher(matcher_text).unwrap_or_else(|why| {
        cx.bad(&format!("{at}.matcher"), q(matcher_text), why);
        Matcher {
            ranges: vec![(200, 200)],
        }
    });
    let mut threshold = |key: &str, value: Option<i64>, default: u32| match value {
        None => default,
        Some(v) => cx
            .int_in(&format!("{at}.{key}"), v, THRESHOLDS)
            .unwrap_or(default),
    };
    HealthCheck {
        healthy_threshold: threshold(
            "healthy-threshold",
            hc.healthy_threshold,
            defaults::HEALTHY_THRESHOLD,
        ),
        unhealthy_threshold: threshold(
            "unhealthy-threshold",
            hc.unhealthy_threshold,
            defaults::UNHEALTHY_THRESHOLD,
        ),
        path,
        interval,
        timeout,
        matcher,
    }
}

/// Interval and timeout bounds for the profile, and timeout < interval (as ALB requires).
fn check_timing(
    cx: &mut Ctx,
    at: &str,
    hc: &wire::HealthCheck,
    profile: TimingProfile,
    (interval, timeout): (Duration, Duration),
) {
    let shown = |v: &Option<String>, d: Duration| {
        q(v.as_deref()
            .map_or(duration::format(d), str::to_string)
            .as_str())
    };
    let (interval_key, timeout_key) = (format!("{at}.interval"), format!("{at}.timeout"));
    if let Some(why) = out_of_bounds(interval, AWS_INTERVAL, FAST_MIN_INTERVAL, profile) {
        cx.bad(&interval_key, shown(&hc.interval, interval), why);
    }
    if let Some(why) = out_of_bounds(timeout, AWS_TIMEOUT, FAST_MIN_TIMEOUT, profile) {
        cx.bad(&timeout_key, shown(&hc.timeout, timeout), why);
    }
    if timeout >= interval {
        let msg = format!(
            "must be less than interval ({})",
            duration::format(interval)
        );
        cx.bad(&timeout_key, shown(&hc.timeout, timeout), msg);
    }
}

fn out_of_bounds(
    value: Duration,
    aws: RangeInclusive<Duration>,
    fast_min: Duration,
    profile: TimingProfile,
) -> Option<String> {
    let f = duration::format;
    let (lo, hi) = (*aws.start(), *aws.end());
    match profile {
        TimingProfile::Aws if value < lo => Some(format!(
            "must be at least {} (AWS's limit; [lab] profile = \"fast\" allows down to {})",
            f(lo),
            f(fast_min)
        )),
        TimingProfile::Fast if value < fast_min => Some(format!(
            "must be at least {} (profile = \"fast\")",
            f(fast_min)
        )),
        _ if value > hi => Some(format!("must be at most {}", f(hi))),
        _ => None,
    }
}

/// ALB's matcher syntax: `200`, `200,202`, `200-299`, with codes 200..=499.
pub fn parse_matcher(text: &str) -> Result<Matcher, String> {
    let code = |s: &str| {
        let c: u16 = s
            .trim()
            .parse()
            .map_err(|_| format!("`{}` is not an HTTP status code", s.trim()))?;
        if MATCHER_CODES.contains(&c) {
            Ok(c)
        } else {
            Err(format!("code {c} is outside 200-499"))
        }
    };
    let ranges = text
        .split(',')
        .map(|part| match part.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (code(lo)?, code(hi)?);
                if lo > hi {
                    return Err(format!("range {lo}-{hi} is empty"));
                }
                Ok((lo, hi))
            }
            None => code(part).map(|c| (c, c)),
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(|why| {
            format!(
                "{why}; a matcher is codes and ranges such as \"200\", \"200,202\" or \"200-299\""
            )
        })?;
    Ok(Matcher { ranges })
}
