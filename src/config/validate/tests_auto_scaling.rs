//! `[services.NAME.auto-scaling]`: one test per rule, each from [`BASE`] with a table added.

use std::time::Duration;

use super::super::model::*;
use super::tests::{BASE, assert_has, errors, try_parse};

const LB_LINE: &str =
    "load-balancer = { target-group = \"tg\", container-name = \"app\", container-port = 8000 }\n";

/// `BASE` with `table` as the service's auto scaling.
fn with(table: &str) -> String {
    assert!(BASE.contains(LB_LINE));
    BASE.replacen(LB_LINE, &format!("{LB_LINE}\n{table}\n"), 1)
}

const REFERENCE: &str = r#"[services.svc.auto-scaling]
min-capacity = 2
max-capacity = 6
[[services.svc.auto-scaling.policies]]
name = "cpu-tracking-scaling-policy"
metric = "ECSServiceAverageCPUUtilization"
target-value = 70.0
scale-out-cooldown = "60s"
scale-in-cooldown = "60s""#;

fn one_error(text: &str) -> String {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    errs.into_iter().next().unwrap()
}

#[test]
fn the_references_auto_scaling_reads_as_written() {
    let c = try_parse(&with(REFERENCE)).unwrap_or_else(|e| panic!("{e}"));
    let a = c.services["svc"].auto_scaling.as_ref().unwrap();
    assert_eq!((a.min_capacity, a.max_capacity), (2, 6));
    assert_eq!(
        a.policies,
        [TargetTrackingPolicy {
            name: "cpu-tracking-scaling-policy".into(),
            metric: ScalingMetric::Cpu,
            target_value: 70.0,
            scale_out_cooldown: Duration::from_secs(60),
            scale_in_cooldown: Duration::from_secs(60),
            disable_scale_in: false,
        }]
    );
    assert!(
        try_parse(BASE).unwrap().services["svc"]
            .auto_scaling
            .is_none()
    );
}

#[test]
fn cooldowns_default_to_300_seconds() {
    let text = with(&REFERENCE.replace("scale-out-cooldown = \"60s\"\n", ""));
    let c = try_parse(&text).unwrap();
    let p = &c.services["svc"].auto_scaling.as_ref().unwrap().policies[0];
    assert_eq!(p.scale_out_cooldown, Duration::from_secs(300));
}

#[test]
fn max_capacity_must_not_be_below_min_capacity() {
    let e = one_error(&with(
        &REFERENCE.replace("max-capacity = 6", "max-capacity = 1"),
    ));
    assert_has(
        &e,
        &[
            "[services.svc.auto-scaling] max-capacity = 1",
            "must be at least min-capacity (2)",
        ],
    );
    let e = one_error(&with(
        &REFERENCE.replace("min-capacity = 2", "min-capacity = -1"),
    ));
    assert_has(&e, &["min-capacity = -1", "must be between 0 and 100"]);
}

#[test]
fn the_metric_is_a_predefined_ecs_metric() {
    let e = one_error(&with(&REFERENCE.replace(
        "ECSServiceAverageCPUUtilization",
        "ECSServiceAverageCPUUtilisation",
    )));
    assert_has(
        &e,
        &[
            "metric = \"ECSServiceAverageCPUUtilisation\"",
            "not a predefined metric",
            "did you mean `ECSServiceAverageCPUUtilization`?",
        ],
    );
}

#[test]
fn request_count_per_target_needs_a_load_balancer() {
    let text = with(&REFERENCE.replace(
        "ECSServiceAverageCPUUtilization",
        "ALBRequestCountPerTarget",
    ));
    assert!(try_parse(&text).is_ok());
    let e = one_error(&text.replacen(LB_LINE, "", 1));
    assert_has(
        &e,
        &[
            "metric = \"ALBRequestCountPerTarget\"",
            "has no load balancer",
        ],
    );
}

#[test]
fn the_target_value_is_positive() {
    let e = one_error(&with(
        &REFERENCE.replace("target-value = 70.0", "target-value = 0.0"),
    ));
    assert_has(&e, &["target-value = 0", "must be a number greater than 0"]);
}

#[test]
fn cooldowns_are_whole_seconds_up_to_a_year() {
    let e = one_error(&with(
        &REFERENCE.replace("\"60s\"\nscale-in", "\"1500ms\"\nscale-in"),
    ));
    assert_has(&e, &["scale-out-cooldown = \"1500ms\"", "whole seconds"]);
    let e = one_error(&with(&REFERENCE.replace(
        "scale-in-cooldown = \"60s\"",
        "scale-in-cooldown = \"400d\"",
    )));
    assert_has(&e, &["scale-in-cooldown = \"400d\"", "at most"]);
}

#[test]
fn policy_names_are_unique() {
    let twice = format!(
        "{REFERENCE}\n[[services.svc.auto-scaling.policies]]\nname = \"cpu-tracking-scaling-policy\"\nmetric = \"ECSServiceAverageMemoryUtilization\"\ntarget-value = 80.0"
    );
    let e = one_error(&with(&twice));
    assert_has(
        &e,
        &[
            "[services.svc.auto-scaling.policies[1]] name = \"cpu-tracking-scaling-policy\"",
            "two policies have this name",
        ],
    );
}

#[test]
fn metric_timing_is_seconds_unless_the_profile_is_aws() {
    assert_eq!(
        try_parse(BASE).unwrap().lab.metric_timing,
        MetricTiming::Fast
    );
    let aws = BASE.replacen("name = \"t\"\n", "name = \"t\"\nprofile = \"aws\"\n", 1);
    let c = try_parse(&aws).unwrap();
    assert_eq!(c.lab.metric_timing, MetricTiming::Aws);
    assert_eq!(c.lab.metric_timing.period(), Duration::from_secs(60));
}
