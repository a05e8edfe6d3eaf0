//! `[services.NAME.auto-scaling]`: the service as Application Auto Scaling's scalable target,
//! with its target tracking policies. The same limits as `register-scalable-target` and
//! `put-scaling-policy` (which answer a `ValidationException` for what is refused here).

use std::time::Duration;

use super::super::model::{ScalingMetric, ServiceAutoScaling, TargetTrackingPolicy};
use super::super::{duration, suggest, wire};
use super::ctx::{Ctx, q};

/// Application Auto Scaling's default cooldowns for an ECS service.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(300);
/// Application Auto Scaling's largest cooldown (`Cooldown`: 0..=31536000 seconds, a year).
pub const MAX_COOLDOWN: Duration = Duration::from_secs(31_536_000);
/// tierlab's bound on a service's tasks (as `desired-count`).
const MAX_CAPACITY: i64 = 100;

/// `at` is the service's key path (`services.NAME`); `has_load_balancer` decides whether
/// `ALBRequestCountPerTarget` can be tracked.
pub fn auto_scaling(
    cx: &mut Ctx,
    at: &str,
    table: &wire::AutoScaling,
    has_load_balancer: bool,
) -> ServiceAutoScaling {
    let at = format!("{at}.auto-scaling");
    let min_key = format!("{at}.min-capacity");
    let min = cx.int_in(&min_key, table.min_capacity, 0..=MAX_CAPACITY);
    let max_key = format!("{at}.max-capacity");
    let max = cx.int_in(&max_key, table.max_capacity, 0..=MAX_CAPACITY);
    if let (Some(min), Some(max)) = (min, max)
        && max < min
    {
        cx.bad(
            &max_key,
            max.to_string(),
            format!("must be at least min-capacity ({min})"),
        );
    }
    let mut policies: Vec<TargetTrackingPolicy> = Vec::new();
    for (i, p) in table.policies.iter().enumerate() {
        let at = format!("{at}.policies[{i}]");
        if policies.iter().any(|earlier| earlier.name == p.name) {
            cx.bad(
                &format!("{at}.name"),
                q(&p.name),
                "two policies have this name",
            );
        }
        policies.push(policy(cx, &at, p, has_load_balancer));
    }
    ServiceAutoScaling {
        min_capacity: min.unwrap_or(0),
        max_capacity: max.unwrap_or(0),
        policies,
    }
}

fn policy(
    cx: &mut Ctx,
    at: &str,
    p: &wire::ScalingPolicy,
    has_load_balancer: bool,
) -> TargetTrackingPolicy {
    if p.name.trim().is_empty() || p.name.len() > 256 {
        cx.bad(
            &format!("{at}.name"),
            q(&p.name),
            "a policy name is 1 to 256 characters",
        );
    }
    let metric_key = format!("{at}.metric");
    let metric = ScalingMetric::parse(&p.metric).unwrap_or_else(|| {
        let names = ScalingMetric::ALL.map(ScalingMetric::as_str);
        let hint = suggest::hint(&p.metric, "metrics", names);
        cx.bad(
            &metric_key,
            q(&p.metric),
            format!("not a predefined metric of an ECS service; {hint}"),
        );
        ScalingMetric::Cpu
    });
    if metric == ScalingMetric::AlbRequestCountPerTarget && !has_load_balancer {
        cx.bad(
            &metric_key,
            q(&p.metric),
            "the service has no load balancer, so it has no requests per target to track",
        );
    }
    if !(p.target_value.is_finite() && p.target_value > 0.0) {
        cx.bad(
            &format!("{at}.target-value"),
            p.target_value.to_string(),
            "must be a number greater than 0",
        );
    }
    TargetTrackingPolicy {
        name: p.name.clone(),
        metric,
        target_value: p.target_value,
        scale_out_cooldown: cooldown(
            cx,
            &format!("{at}.scale-out-cooldown"),
            p.scale_out_cooldown.as_deref(),
        ),
        scale_in_cooldown: cooldown(
            cx,
            &format!("{at}.scale-in-cooldown"),
            p.scale_in_cooldown.as_deref(),
        ),
        disable_scale_in: p.disable_scale_in,
    }
}

/// A cooldown: whole seconds (the API's unit), at most a year.
fn cooldown(cx: &mut Ctx, key: &str, value: Option<&str>) -> Duration {
    let d = cx.duration(key, value, DEFAULT_COOLDOWN);
    let text = || q(value.unwrap_or_default());
    if d.subsec_nanos() != 0 {
        cx.bad(
            key,
            text(),
            "must be whole seconds (Application Auto Scaling counts cooldowns in seconds)",
        );
    } else if d > MAX_COOLDOWN {
        cx.bad(
            key,
            text(),
            format!(
                "must be at most {} (a year)",
                duration::format(MAX_COOLDOWN)
            ),
        );
    }
    d
}
