//! The dashboard's chart points: one per second, computed from two readings of the load
//! balancers' cumulative counters and the lab's status. Pure, so the arithmetic is tested.

use serde::Serialize;

use crate::alb::metrics::{MetricsSample, RESPONSE_TIME_BUCKETS};
use crate::lab::LabStatus;

/// How many points the charts keep (two minutes at one a second).
pub const POINTS_KEPT: usize = 120;

/// One point of every chart.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChartPoint {
    /// Milliseconds since the Unix epoch.
    pub t: u64,
    /// Responses per second of class 2XX, 3XX, 4XX, 5XX over the interval.
    pub rate: [f64; 4],
    /// `TargetResponseTime` p50 and p99 over the interval, in milliseconds (`None` without
    /// responses): the upper bound of the histogram bucket the quantile falls in, as
    /// CloudWatch's percentiles are estimates too.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// `HealthyHostCount` over every target group.
    pub healthy: u32,
    /// `UnHealthyHostCount` (unhealthy, initial and draining targets are not serving).
    pub unhealthy: u32,
    /// The services' desired and running counts, summed.
    pub desired: u32,
    pub running: u32,
}

/// The point for the interval from `before` to `now`, `seconds` long.
pub fn point(
    t: u64,
    before: &MetricsSample,
    now: &MetricsSample,
    seconds: f64,
    status: &LabStatus,
) -> ChartPoint {
    let seconds = seconds.max(0.001);
    let mut rate = [0.0; 4];
    for (i, r) in rate.iter_mut().enumerate() {
        *r = now.codes[i].saturating_sub(before.codes[i]) as f64 / seconds;
    }
    let mut buckets = [0u64; RESPONSE_TIME_BUCKETS.len()];
    for (i, b) in buckets.iter_mut().enumerate() {
        *b = now.response_time_buckets[i].saturating_sub(before.response_time_buckets[i]);
    }
    let targets = status.target_groups.iter().flat_map(|tg| &tg.targets);
    let healthy = targets
        .clone()
        .filter(|t| t.state == crate::alb::TargetState::Healthy)
        .count() as u32;
    let unhealthy = targets.count() as u32 - healthy;
    ChartPoint {
        t,
        rate,
        p50_ms: quantile(&buckets, 0.50).map(|s| s * 1000.0),
        p99_ms: quantile(&buckets, 0.99).map(|s| s * 1000.0),
        healthy,
        unhealthy,
        desired: status.services.iter().map(|s| s.desired_count).sum(),
        running: status.services.iter().map(|s| s.running_count).sum(),
    }
}

/// The `q` quantile (seconds) of a histogram with per-bucket counts over
/// [`RESPONSE_TIME_BUCKETS`]: the upper bound of the bucket holding the q·n-th observation.
pub fn quantile(buckets: &[u64; RESPONSE_TIME_BUCKETS.len()], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, count) in buckets.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return Some(RESPONSE_TIME_BUCKETS[i]);
        }
    }
    RESPONSE_TIME_BUCKETS.last().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(pairs: &[(usize, u64)]) -> [u64; RESPONSE_TIME_BUCKETS.len()] {
        let mut b = [0; RESPONSE_TIME_BUCKETS.len()];
        for &(i, n) in pairs {
            b[i] = n;
        }
        b
    }

    #[test]
    fn quantiles_are_the_bucket_bounds_that_hold_them() {
        // 98 answers within 5 ms (bucket 2), 2 within 250 ms (bucket 7).
        let b = buckets(&[(2, 98), (7, 2)]);
        assert_eq!(quantile(&b, 0.5), Some(0.005));
        assert_eq!(quantile(&b, 0.99), Some(0.25));
        assert_eq!(quantile(&buckets(&[]), 0.5), None);
        assert_eq!(quantile(&buckets(&[(0, 1)]), 0.99), Some(0.001));
    }

    #[test]
    fn rates_are_per_second_over_the_interval() {
        let before = MetricsSample {
            codes: [100, 0, 5, 1],
            response_time_buckets: buckets(&[(3, 10)]),
        };
        let now = MetricsSample {
            codes: [120, 0, 5, 3],
            response_time_buckets: buckets(&[(3, 30)]),
        };
        let status = crate::cli::status::sample::lab_status();
        let p = point(7, &before, &now, 2.0, &status);
        assert_eq!(p.rate, [10.0, 0.0, 0.0, 1.0]);
        assert_eq!(p.p50_ms, Some(10.0));
        assert_eq!(p.p99_ms, Some(10.0));
        // The sample status: one healthy target, one in initial health checks.
        assert_eq!((p.healthy, p.unhealthy), (1, 1));
        let services = &status.services;
        assert_eq!(
            p.desired,
            services.iter().map(|s| s.desired_count).sum::<u32>()
        );
        assert_eq!(
            p.running,
            services.iter().map(|s| s.running_count).sum::<u32>()
        );
    }

    #[test]
    fn a_counter_that_went_back_counts_nothing() {
        let before = MetricsSample {
            codes: [5, 0, 0, 0],
            ..Default::default()
        };
        let status = crate::cli::status::sample::lab_status();
        let p = point(0, &before, &MetricsSample::default(), 1.0, &status);
        assert_eq!(p.rate, [0.0; 4]);
        assert_eq!(p.p50_ms, None);
    }
}
