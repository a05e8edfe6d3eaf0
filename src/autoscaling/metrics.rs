//! The CloudWatch metrics target tracking reads, computed from samples (pure), and their
//! Prometheus text for the lab's `GET /metrics`.
//!
//! - `ECSServiceAverageCPUUtilization` (CloudWatch's `AWS/ECS` `CPUUtilization`): CPU time a
//!   task used over the period ÷ the CPU its task definition reserves (`cpu` units, 1024 = one
//!   vCPU; 256 units using a quarter of a core is 100 %), averaged over the service's tasks.
//! - `ECSServiceAverageMemoryUtilization` (`MemoryUtilization`): memory in use ÷ the task's
//!   `memory`, averaged over the tasks.
//! - `ALBRequestCountPerTarget` (`AWS/ApplicationELB` `RequestCountPerTarget`): requests the
//!   target group received in the period ÷ its healthy targets, per minute (CloudWatch's
//!   statistic is a one-minute sum, so a target value means the same under both timings).

use std::fmt::Write as _;
use std::time::Duration;

use super::model::ServiceMetrics;

/// CPU utilisation (percent) of a task that used `cpu_ns` of CPU time over `elapsed`, with
/// `cpu_units` reserved. `None` for an empty interval or a task without a CPU size.
pub fn cpu_utilization(cpu_ns: u64, elapsed: Duration, cpu_units: u32) -> Option<f64> {
    if elapsed.is_zero() || cpu_units == 0 {
        return None;
    }
    let cores_used = cpu_ns as f64 / elapsed.as_nanos() as f64;
    let cores_reserved = f64::from(cpu_units) / 1024.0;
    Some(cores_used / cores_reserved * 100.0)
}

/// Memory utilisation (percent) of a task using `bytes` with `memory_mib` reserved.
pub fn memory_utilization(bytes: u64, memory_mib: u32) -> Option<f64> {
    (memory_mib > 0).then(|| bytes as f64 / (f64::from(memory_mib) * 1024.0 * 1024.0) * 100.0)
}

/// Requests per healthy target per minute, from `requests` received over `elapsed`.
pub fn requests_per_target(
    requests: u64,
    elapsed: Duration,
    healthy_targets: usize,
) -> Option<f64> {
    if elapsed.is_zero() || healthy_targets == 0 {
        return None;
    }
    let per_minute = requests as f64 * 60.0 / elapsed.as_secs_f64();
    Some(per_minute / healthy_targets as f64)
}

/// The service average of per-task values (`None` without any).
pub fn average(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Appends the services' latest datapoints as gauges named and labelled as CloudWatch's
/// `AWS/ECS` metrics (`ClusterName`, `ServiceName`); nothing for a service without data.
pub fn render(out: &mut String, services: &[ServiceMetrics]) {
    type Pick = fn(&ServiceMetrics) -> Option<f64>;
    let families: [(&str, &str, Pick); 3] = [
        (
            "CPUUtilization",
            "Percent of the CPU its tasks reserve that an ECS service used in the last datapoint (ECSServiceAverageCPUUtilization).",
            |m| m.cpu_utilization,
        ),
        (
            "MemoryUtilization",
            "Percent of the memory its tasks reserve that an ECS service used in the last datapoint (ECSServiceAverageMemoryUtilization).",
            |m| m.memory_utilization,
        ),
        (
            "RequestCountPerTarget",
            "Requests per healthy target per minute to an ECS service's target group in the last datapoint (ALBRequestCountPerTarget).",
            |m| m.request_count_per_target,
        ),
    ];
    for (name, help, pick) in families {
        let rows: Vec<(&ServiceMetrics, f64)> = services
            .iter()
            .filter_map(|m| Some((m, pick(m)?)))
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (m, value) in rows {
            let _ = writeln!(
                out,
                "{name}{{ClusterName=\"{}\",ServiceName=\"{}\"}} {value:.2}",
                m.cluster, m.service
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quarter_core_is_full_use_of_256_units() {
        let second = Duration::from_secs(1);
        assert_eq!(cpu_utilization(250_000_000, second, 256), Some(100.0));
        assert_eq!(cpu_utilization(175_000_000, second, 256), Some(70.0));
        assert_eq!(cpu_utilization(500_000_000, second, 1024), Some(50.0));
        // Over a minute: 15 s of CPU time on 0.25 vCPU is 100 %.
        assert_eq!(
            cpu_utilization(15_000_000_000, Duration::from_secs(60), 256),
            Some(100.0)
        );
        assert_eq!(cpu_utilization(1, Duration::ZERO, 256), None);
        assert_eq!(cpu_utilization(1, second, 0), None);
    }

    #[test]
    fn memory_is_a_share_of_the_task_memory() {
        assert_eq!(memory_utilization(256 * 1024 * 1024, 512), Some(50.0));
        assert_eq!(memory_utilization(1, 0), None);
    }

    #[test]
    fn requests_per_target_are_per_minute() {
        // 30 requests in 1 s over 3 healthy targets: 600 per target per minute.
        assert_eq!(
            requests_per_target(30, Duration::from_secs(1), 3),
            Some(600.0)
        );
        assert_eq!(
            requests_per_target(600, Duration::from_secs(60), 2),
            Some(300.0)
        );
        assert_eq!(requests_per_target(5, Duration::from_secs(1), 0), None);
    }

    #[test]
    fn averages_and_prometheus_text() {
        assert_eq!(average(&[]), None);
        assert_eq!(average(&[50.0, 100.0]), Some(75.0));
        let m = ServiceMetrics {
            cluster: "c".into(),
            service: "s".into(),
            cpu_utilization: Some(71.234),
            memory_utilization: Some(20.0),
            ..ServiceMetrics::default()
        };
        let mut out = String::new();
        render(&mut out, &[m]);
        assert!(out.contains("# TYPE CPUUtilization gauge\n"), "{out}");
        assert!(out.contains("CPUUtilization{ClusterName=\"c\",ServiceName=\"s\"} 71.23\n"));
        assert!(out.contains("MemoryUtilization{ClusterName=\"c\",ServiceName=\"s\"} 20.00\n"));
        assert!(
            !out.contains("RequestCountPerTarget"),
            "no data, no family: {out}"
        );
    }
}
