//! The auto scaling sections of the status table: each service's latest metrics, the scalable
//! targets with their policies and alarms, the latest scaling activities.

use crate::autoscaling::alarm::AlarmState;
use crate::autoscaling::model::ScalingMetric;
use crate::lab::LabStatus;

use super::Section;

/// Scaling activities in the table (all kept ones are in `--json`).
const ACTIVITIES_SHOWN: usize = 5;

/// One row per service measured: CloudWatch's values of the last datapoint.
pub fn metrics(status: &LabStatus) -> Section {
    let percent = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.1} %"));
    let rows = status
        .autoscaling
        .metrics
        .iter()
        .map(|m| {
            vec![
                m.service.clone(),
                percent(m.cpu_utilization),
                percent(m.memory_utilization),
                m.request_count_per_target
                    .map_or_else(|| "-".into(), |v| format!("{v:.0}")),
                m.tasks_sampled.to_string(),
                format!("{}s", m.period_seconds),
            ]
        })
        .collect();
    (
        vec![
            "SERVICE",
            "CPU",
            "MEMORY",
            "REQUESTS/TARGET/MIN",
            "TASKS",
            "PERIOD",
        ],
        rows,
    )
}

/// One row per policy of each scalable target (a target without policies: one row).
pub fn targets(status: &LabStatus) -> Section {
    let auto = &status.autoscaling;
    let mut rows = Vec::new();
    for t in &auto.targets {
        let bounds = format!("{}..{}", t.min_capacity, t.max_capacity);
        if t.policies.is_empty() {
            rows.push(vec![
                t.service.clone(),
                bounds,
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
            continue;
        }
        for p in &t.policies {
            let alarms = auto
                .metrics
                .iter()
                .find(|m| m.service == t.service && m.cluster == t.cluster)
                .and_then(|m| m.alarms.iter().find(|a| a.policy == p.name))
                .map_or_else(
                    || "-".into(),
                    |a| format!("high {}, low {}", state(a.alarms.high), state(a.alarms.low)),
                );
            rows.push(vec![
                t.service.clone(),
                bounds.clone(),
                p.name.clone(),
                format!("{} = {}", metric(p.metric), p.target_value),
                format!(
                    "{}s / {}s",
                    p.scale_out_cooldown_seconds, p.scale_in_cooldown_seconds
                ),
                alarms,
            ]);
        }
    }
    (
        vec![
            "SCALABLE TARGET",
            "MIN..MAX",
            "POLICY",
            "TARGET",
            "COOLDOWN OUT/IN",
            "ALARMS",
        ],
        rows,
    )
}

/// The latest activities, newest first.
pub fn activities(status: &LabStatus) -> Section {
    let rows = status
        .autoscaling
        .activities
        .iter()
        .take(ACTIVITIES_SHOWN)
        .map(|a| {
            vec![
                a.start_time.clone(),
                a.service.clone(),
                a.description.clone(),
                a.cause.clone(),
            ]
        })
        .collect();
    (
        vec!["SCALING ACTIVITY", "SERVICE", "DESCRIPTION", "CAUSE"],
        rows,
    )
}

fn metric(m: ScalingMetric) -> &'static str {
    match m {
        ScalingMetric::Cpu => "CPU",
        ScalingMetric::Memory => "memory",
        ScalingMetric::AlbRequestCountPerTarget => "requests/target",
    }
}

fn state(s: AlarmState) -> &'static str {
    match s {
        AlarmState::Ok => "OK",
        AlarmState::Alarm => "ALARM",
        AlarmState::InsufficientData => "INSUFFICIENT_DATA",
    }
}
