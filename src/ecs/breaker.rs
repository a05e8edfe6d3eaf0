//! The deployment circuit breaker's counter, apart from any I/O.
//!
//! ECS (developer guide, "How the Amazon ECS deployment circuit breaker detects failures"): the
//! threshold is 0.5 × the desired count, at least 3 and at most 200. Stage 1 counts tasks of the
//! deployment that fail to reach RUNNING; stage 2, once tasks run, counts each ELB or container
//! health-check failure. A task that reaches a healthy state resets the count
//! (`resetOnHealthyTask`, true by default). Reaching the threshold fails the deployment; a
//! deployment that completed is no longer watched.

/// Fewest failures that trip the breaker.
pub const MIN_THRESHOLD: u32 = 3;
/// Most failures before the breaker trips.
pub const MAX_THRESHOLD: u32 = 200;

/// ECS's threshold for `desired` tasks: half of it (rounded up), within 3 and 200.
pub fn threshold(desired: u32) -> u32 {
    desired.div_ceil(2).clamp(MIN_THRESHOLD, MAX_THRESHOLD)
}

/// Which stage a failure is counted in (they count alike; the stage names the failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Stage 1: the task never reached RUNNING (its container exited, or could not start).
    NeverRan,
    /// Stage 2: the task failed its ELB health checks.
    HealthCheck,
}

/// The failures counted for one deployment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counter {
    failures: u32,
}

impl Counter {
    /// Failures since the last healthy task.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Counts one failure; true when it reaches the threshold for `desired` tasks (the
    /// deployment fails).
    pub fn failed(&mut self, _stage: Failure, desired: u32) -> bool {
        self.failures += 1;
        self.failures >= threshold(desired)
    }

    /// A task of the deployment turned healthy: the count starts again.
    pub fn healthy(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_is_half_the_desired_count_within_3_and_200() {
        assert_eq!(threshold(0), 3);
        assert_eq!(threshold(2), 3);
        assert_eq!(threshold(6), 3);
        assert_eq!(threshold(7), 4);
        assert_eq!(threshold(10), 5);
        assert_eq!(threshold(400), 200);
        assert_eq!(threshold(1000), 200);
    }

    #[test]
    fn trips_at_the_threshold_counting_both_stages() {
        let mut counter = Counter::default();
        assert!(!counter.failed(Failure::NeverRan, 2));
        assert!(!counter.failed(Failure::HealthCheck, 2));
        assert!(counter.failed(Failure::NeverRan, 2));
        assert_eq!(counter.failures(), 3);
    }

    #[test]
    fn a_healthy_task_resets_the_count() {
        let mut counter = Counter::default();
        counter.failed(Failure::NeverRan, 2);
        counter.failed(Failure::NeverRan, 2);
        counter.healthy();
        assert_eq!(counter.failures(), 0);
        assert!(!counter.failed(Failure::HealthCheck, 2));
        assert!(!counter.failed(Failure::HealthCheck, 2));
        assert!(counter.failed(Failure::HealthCheck, 2));
    }
}
