//! The service throttle, apart from any I/O: when a service's tasks keep failing to start, the
//! time between launches grows, as ECS's "service throttle logic" does.
//!
//! ECS (developer guide, "Amazon ECS service throttle logic") increases the time between restart
//! attempts of tasks that repeatedly go PENDING → STOPPED, up to a maximum (15 minutes in the
//! guide's older text, 27 in the current one), never gives up, and reports
//! "(service service-name) is unable to consistently start tasks successfully."
//!
//! tierlab's PENDING lasts until the task's target is healthy, so a failed start is a launch
//! Docker refuses or a task that stops before it was ever healthy (its container exits at once,
//! or it fails its first health checks). That is more than ECS counts (it leaves out tasks that
//! reached RUNNING, even if their command exits at once), because an app whose dependency is dead
//! exits or never turns healthy, and that must not churn containers. A task that dies after it
//! was healthy is not a failed start and is replaced at once, as are one or two failed starts in
//! a row; the delay starts at the [`Policy::threshold`]th. While a task has turned healthy since
//! the last failure, launches are not delayed; once one stays healthy for
//! [`Policy::stable_after`], the episode ends and the count starts again from zero.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::TimingProfile;

/// The shape of the back-off: `base`, doubling per further failure, up to `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Delay after the `threshold`th consecutive failed start.
    pub base: Duration,
    /// Longest delay between launches (ECS: 15 minutes).
    pub cap: Duration,
    /// Consecutive failed starts before launches are delayed at all.
    pub threshold: u32,
    /// How long a task must stay healthy to end a throttle episode.
    pub stable_after: Duration,
}

/// Most delay: ECS's documented 15 minutes, in both profiles.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

impl Policy {
    /// `aws`: 10 s, 20 s, 40 s ... 15 min; an episode ends after a task is 60 s healthy.
    /// `fast`: 1 s, 2 s, 4 s ... 15 min; an episode ends after a task is 10 s healthy.
    /// Both retry two failed starts in a row at once (a task that died and one unlucky
    /// replacement, say under load) and delay from the third.
    pub fn for_profile(profile: TimingProfile) -> Policy {
        match profile {
            TimingProfile::Aws => Policy {
                base: Duration::from_secs(10),
                cap: MAX_DELAY,
                threshold: 3,
                stable_after: Duration::from_secs(60),
            },
            TimingProfile::Fast => Policy {
                base: Duration::from_secs(1),
                cap: MAX_DELAY,
                threshold: 3,
                stable_after: Duration::from_secs(10),
            },
        }
    }

    /// The delay after `failures` consecutive failed starts: none below the threshold, then
    /// `base × 2^(failures − threshold)`, at most `cap`.
    pub fn delay(&self, failures: u32) -> Duration {
        if failures < self.threshold {
            return Duration::ZERO;
        }
        let doublings = (failures - self.threshold).min(31);
        self.base
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.cap)
            .min(self.cap)
    }
}

/// When the next task may be launched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delay {
    Now,
    Until(Instant),
}

/// One service's throttle state. Every method takes the time, so tests drive it without clocks.
#[derive(Debug, Clone)]
pub struct Throttle {
    policy: Policy,
    /// Consecutive failed starts since the last stable task.
    failures: u32,
    last_failure: Option<Instant>,
    last_launch: Option<Instant>,
    /// When a task last turned healthy.
    last_healthy: Option<Instant>,
    /// The episode's event has been recorded (once per episode, not per launch).
    announced: bool,
    /// Tasks that were healthy and died: each is replaced at once, throttled or not.
    owed: u32,
}

impl Throttle {
    pub fn new(policy: Policy) -> Throttle {
        Throttle {
            policy,
            failures: 0,
            last_failure: None,
            last_launch: None,
            last_healthy: None,
            announced: false,
            owed: 0,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Consecutive failed starts in the current episode.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Launches are being delayed: enough failed starts in a row, and no task turned healthy
    /// since the last.
    pub fn is_throttled(&self) -> bool {
        let healthy_since_failure = match (self.last_healthy, self.last_failure) {
            (Some(h), Some(f)) => h >= f,
            _ => false,
        };
        self.failures >= self.policy.threshold && !healthy_since_failure
    }

    /// A task was launched at `now`.
    pub fn launched(&mut self, now: Instant) {
        self.last_launch = Some(now);
        self.owed = self.owed.saturating_sub(1);
    }

    /// A task that had been healthy stopped (it died, or failed its health checks later): its
    /// replacement is launched at once even while other tasks' failures throttle the service,
    /// so one crash-looping task cannot hold a healthy task's replacement back.
    pub fn lost_healthy(&mut self) {
        self.owed = self.owed.saturating_add(1);
    }

    /// A launch failed, or a task stopped before it was ever healthy. True when this failure
    /// starts a throttle episode: the caller records the service event then, and only then.
    pub fn failed(&mut self, now: Instant) -> bool {
        self.failures = self.failures.saturating_add(1);
        self.last_failure = Some(now);
        let announce = self.failures >= self.policy.threshold && !self.announced;
        self.announced |= announce;
        announce
    }

    /// A task turned healthy at `now`: launches are not delayed until the next failure.
    pub fn healthy(&mut self, now: Instant) {
        self.last_healthy = Some(now);
    }

    /// A task stayed healthy for `stable_after`: the episode ends, launches are immediate again.
    pub fn stable(&mut self) {
        self.failures = 0;
        self.announced = false;
    }

    /// When the next launch may happen: at once below the threshold; else the delay for the
    /// failures so far after the later of the last failure and the last launch, so a throttled
    /// service launches one task per delay (each launch a probe), not its whole desired count.
    pub fn next_launch(&self, now: Instant) -> Delay {
        if !self.is_throttled() || self.owed > 0 {
            return Delay::Now;
        }
        let since = match (self.last_failure, self.last_launch) {
            (Some(f), Some(l)) => f.max(l),
            (f, l) => f.or(l).unwrap_or(now),
        };
        let at = since + self.policy.delay(self.failures);
        if now >= at {
            Delay::Now
        } else {
            Delay::Until(at)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthy_tasks_replacement_is_not_held_back_by_anothers_failures() {
        let mut t = fast();
        let t0 = Instant::now();
        for i in 0..5 {
            t.launched(t0 + S * i);
            t.failed(t0 + S * i);
        }
        assert!(t.is_throttled());
        let now = t0 + S * 5;
        assert!(matches!(t.next_launch(now), Delay::Until(_)));
        // The long-healthy task dies: one launch now, then the throttle again.
        t.lost_healthy();
        assert_eq!(t.next_launch(now), Delay::Now);
        t.launched(now);
        assert!(matches!(t.next_launch(now), Delay::Until(_)));
    }

    const S: Duration = Duration::from_secs(1);

    fn fast() -> Throttle {
        Throttle::new(Policy::for_profile(TimingProfile::Fast))
    }

    #[test]
    fn delays_double_from_the_threshold_up_to_the_cap() {
        let p = Policy::for_profile(TimingProfile::Aws);
        let delays: Vec<u64> = (0..12).map(|n| p.delay(n).as_secs()).collect();
        assert_eq!(
            delays,
            vec![0, 0, 0, 10, 20, 40, 80, 160, 320, 640, 900, 900]
        );
        assert_eq!(p.delay(u32::MAX), MAX_DELAY);
        let f = Policy::for_profile(TimingProfile::Fast);
        let delays: Vec<u64> = (0..7).map(|n| f.delay(n).as_secs()).collect();
        assert_eq!(delays, vec![0, 0, 0, 1, 2, 4, 8]);
        assert_eq!(f.delay(40), MAX_DELAY, "fast has the same cap");
    }

    #[test]
    fn one_or_two_failures_are_replaced_at_once() {
        let t0 = Instant::now();
        let mut t = fast();
        t.launched(t0);
        assert!(!t.failed(t0 + S));
        assert_eq!(t.next_launch(t0 + S), Delay::Now);
        assert!(!t.failed(t0 + S));
        assert_eq!(t.next_launch(t0 + S), Delay::Now);
    }

    #[test]
    fn repeated_failures_space_launches_out_more_and_more() {
        let t0 = Instant::now();
        let mut t = fast();
        let mut now = t0;
        let mut gaps = Vec::new();
        let mut last_launch = now;
        t.launched(now);
        for _ in 0..6 {
            // The task exits half a second after it was launched.
            now += Duration::from_millis(500);
            t.failed(now);
            now = match t.next_launch(now) {
                Delay::Now => now,
                Delay::Until(at) => at,
            };
            gaps.push((now - last_launch).as_millis());
            last_launch = now;
            t.launched(now);
        }
        assert_eq!(gaps, vec![500, 500, 1500, 2500, 4500, 8500]);
    }

    #[test]
    fn a_throttled_service_launches_one_task_per_delay() {
        let t0 = Instant::now();
        let mut t = fast();
        for _ in 0..3 {
            t.failed(t0);
        }
        assert_eq!(t.next_launch(t0), Delay::Until(t0 + S));
        t.launched(t0 + S);
        // The second desired task waits another delay after the first launch.
        assert_eq!(t.next_launch(t0 + S), Delay::Until(t0 + 2 * S));
    }

    #[test]
    fn the_event_is_announced_once_per_episode() {
        let t0 = Instant::now();
        let mut t = fast();
        let announced: Vec<bool> = (0..5).map(|i| t.failed(t0 + i * S)).collect();
        assert_eq!(announced, vec![false, false, true, false, false]);
        t.stable();
        assert!(!t.is_throttled());
        assert_eq!(t.next_launch(t0 + 5 * S), Delay::Now);
        let announced: Vec<bool> = (5..9).map(|i| t.failed(t0 + i * S)).collect();
        assert_eq!(
            announced,
            vec![false, false, true, false],
            "a new episode announces again"
        );
    }

    #[test]
    fn a_task_turning_healthy_lifts_the_delay_until_the_next_failure() {
        let t0 = Instant::now();
        let mut t = fast();
        for i in 0..5 {
            t.failed(t0 + i * S);
        }
        assert!(matches!(t.next_launch(t0 + 5 * S), Delay::Until(_)));
        // A task turns healthy, then is killed (not a failed start): replaced at once.
        t.healthy(t0 + 6 * S);
        assert_eq!(t.next_launch(t0 + 7 * S), Delay::Now);
        // The count is kept until a task is stable: the next failure delays at once, and long.
        assert!(!t.failed(t0 + 8 * S), "same episode, no second event");
        assert_eq!(t.next_launch(t0 + 8 * S), Delay::Until(t0 + 8 * S + 8 * S));
    }
}
