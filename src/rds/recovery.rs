//! What to do about a single-AZ DB instance, given what its container and `mysqladmin ping` say.
//! Pure: the supervisor observes, feeds the observation here, and carries out the action.
//!
//! RDS recovers a failed single-AZ instance in place, on its storage: the engine is restarted
//! and crash recovery replays the log. Here the storage is the named volume, so the answer to a
//! dead container is to start it again (or recreate it on the same volume when it is gone), and
//! the answer to a running engine that stops answering is to restart it. Restarts that keep
//! failing are retried with growing pauses, and after [`FAILED_AFTER`] of them the instance is
//! reported `failed`.

use std::time::Duration;

use tokio::time::Instant;

use super::events::EventKind;
use super::state::InstanceStatus;

/// Consecutive unanswered pings (one per probe interval) before a running engine is restarted.
pub const UNRESPONSIVE_AFTER: u32 = 3;
/// Consecutive failed recovery attempts before the instance is reported `failed`.
pub const FAILED_AFTER: u32 = 3;
/// Pause after the first failed attempt; doubles with each further failure.
pub const RETRY_MIN: Duration = Duration::from_secs(1);
/// Longest pause between attempts.
pub const RETRY_MAX: Duration = Duration::from_secs(30);

/// What was seen of the instance's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// Running; `answers` is whether `mysqladmin ping` succeeded.
    Running { answers: bool },
    /// The container exists but is not running.
    Exited { exit_code: Option<i64> },
    /// The container is gone (removed).
    Gone,
}

/// What the supervisor should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Start the existing (exited) container again.
    Start,
    /// Create the container again on the same volume, alias and address.
    Recreate,
    /// Restart a running container whose engine does not answer.
    Restart,
}

/// The outcome of one observation: events to record and, maybe, an action to carry out (then
/// report its outcome with [`Recovery::attempted`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    pub events: Vec<EventKind>,
    pub action: Option<Action>,
}

/// The recovery state machine of one instance.
#[derive(Debug, Clone)]
pub struct Recovery {
    status: InstanceStatus,
    unanswered: u32,
    failed_attempts: u32,
    /// No new attempt before this.
    retry_at: Option<Instant>,
    /// The reboot under way was asked for (a reboot, not a recovery).
    requested: bool,
}

impl Recovery {
    /// A machine for an instance observed in `status` (normally `available` after bring-up).
    pub fn new(status: InstanceStatus) -> Recovery {
        Recovery {
            status,
            unanswered: 0,
            failed_attempts: 0,
            retry_at: None,
            requested: false,
        }
    }

    pub fn status(&self) -> InstanceStatus {
        self.status
    }

    /// Recovery attempts that failed in a row (0 once the engine answers again).
    pub fn failed_attempts(&self) -> u32 {
        self.failed_attempts
    }

    /// Feeds one observation taken at `now`.
    pub fn observe(&mut self, seen: &Observation, now: Instant) -> Step {
        let mut step = Step::default();
        let recovering = matches!(
            self.status,
            InstanceStatus::Rebooting | InstanceStatus::Failed
        );
        match seen {
            Observation::Running { answers: true } => {
                self.unanswered = 0;
                if recovering {
                    // Back without our help (someone started it, or a slow start finished).
                    step.events = self.recovered();
                }
                return step;
            }
            Observation::Running { answers: false } => {
                self.unanswered += 1;
                if self.unanswered < self.patience(recovering) {
                    return step;
                }
            }
            Observation::Exited { .. } | Observation::Gone => {}
        }
        if !matches!(self.status, InstanceStatus::Available) && !recovering {
            // Creating, starting or stopping: someone else is in charge of the container.
            return step;
        }
        if !recovering {
            self.status = InstanceStatus::Rebooting;
            if !matches!(seen, Observation::Running { .. }) {
                step.events.push(EventKind::Shutdown);
            }
            step.events.push(EventKind::RecoveryStarted);
        } else if self.retry_at.is_some_and(|at| now < at) {
            return step;
        }
        // Unanswered probes count again from this attempt on.
        self.unanswered = 0;
        step.action = Some(match seen {
            Observation::Running { .. } => Action::Restart,
            Observation::Exited { .. } => Action::Start,
            Observation::Gone => Action::Recreate,
        });
        step
    }

    /// Unanswered probes in a row before a running engine is restarted: [`UNRESPONSIVE_AFTER`]
    /// for an instance that was available; while recovering, that many again per failed
    /// attempt (doubling, at most 32×), so an engine still replaying its crash recovery after
    /// an attempt timed out is given time rather than killed mid-way again and again.
    fn patience(&self, recovering: bool) -> u32 {
        if !recovering {
            return UNRESPONSIVE_AFTER;
        }
        UNRESPONSIVE_AFTER.saturating_mul(1 << self.failed_attempts.min(5))
    }

    /// A reboot is asked for: only an `available` instance takes one (else `Err` with its
    /// status). The instance is `rebooting` from now on, so its engine going down is expected;
    /// carry out the reboot, then report it with [`Recovery::attempted`].
    pub fn reboot_requested(&mut self) -> Result<(), InstanceStatus> {
        if self.status != InstanceStatus::Available {
            return Err(self.status);
        }
        self.status = InstanceStatus::Rebooting;
        self.requested = true;
        self.unanswered = 0;
        Ok(())
    }

    /// Reports the outcome of an action: `Ok` once the engine answers again, else why not. A
    /// requested reboot that worked is reported as a restart only; one that failed becomes a
    /// recovery like any other.
    pub fn attempted(&mut self, outcome: Result<(), String>, now: Instant) -> Vec<EventKind> {
        let requested = std::mem::take(&mut self.requested);
        match outcome {
            Ok(()) if requested => {
                self.recovered();
                vec![EventKind::Restarted]
            }
            Ok(()) => self.recovered(),
            Err(reason) => {
                self.failed_attempts += 1;
                self.retry_at = Some(now + retry_pause(self.failed_attempts));
                let mut events = vec![EventKind::RestartError(reason)];
                if self.failed_attempts == FAILED_AFTER {
                    self.status = InstanceStatus::Failed;
                    events.push(EventKind::Failed);
                }
                events
            }
        }
    }

    fn recovered(&mut self) -> Vec<EventKind> {
        self.status = InstanceStatus::Available;
        self.unanswered = 0;
        self.failed_attempts = 0;
        self.retry_at = None;
        vec![EventKind::Restarted, EventKind::RecoveryComplete]
    }
}

/// Pause before the next attempt after `failures` consecutive failed ones.
pub fn retry_pause(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    (RETRY_MIN * 2u32.pow(doublings)).min(RETRY_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: Observation = Observation::Running { answers: true };
    const HUNG: Observation = Observation::Running { answers: false };
    const DEAD: Observation = Observation::Exited {
        exit_code: Some(137),
    };

    fn ids(events: &[EventKind]) -> Vec<&'static str> {
        events.iter().map(EventKind::id).collect()
    }

    #[test]
    fn a_healthy_instance_needs_nothing() {
        let mut r = Recovery::new(InstanceStatus::Available);
        let now = Instant::now();
        for _ in 0..10 {
            assert_eq!(r.observe(&UP, now), Step::default());
        }
        assert_eq!(r.status(), InstanceStatus::Available);
    }

    #[test]
    fn a_dead_container_is_started_again_at_once_and_reported() {
        let mut r = Recovery::new(InstanceStatus::Available);
        let now = Instant::now();
        let step = r.observe(&DEAD, now);
        assert_eq!(step.action, Some(Action::Start));
        assert_eq!(ids(&step.events), ["RDS-EVENT-0004", "RDS-EVENT-0020"]);
        assert_eq!(r.status(), InstanceStatus::Rebooting);
        let events = r.attempted(Ok(()), now);
        assert_eq!(ids(&events), ["RDS-EVENT-0006", "RDS-EVENT-0021"]);
        assert_eq!(r.status(), InstanceStatus::Available);
    }

    #[test]
    fn a_removed_container_is_recreated() {
        let mut r = Recovery::new(InstanceStatus::Available);
        let step = r.observe(&Observation::Gone, Instant::now());
        assert_eq!(step.action, Some(Action::Recreate));
        assert_eq!(r.status(), InstanceStatus::Rebooting);
    }

    #[test]
    fn an_engine_that_stops_answering_is_restarted_after_a_bounded_number_of_pings() {
        let mut r = Recovery::new(InstanceStatus::Available);
        let now = Instant::now();
        for _ in 1..UNRESPONSIVE_AFTER {
            assert_eq!(r.observe(&HUNG, now), Step::default());
            assert_eq!(r.status(), InstanceStatus::Available);
        }
        let step = r.observe(&HUNG, now);
        assert_eq!(step.action, Some(Action::Restart));
        // The engine did not shut down; only the recovery is reported.
        assert_eq!(ids(&step.events), ["RDS-EVENT-0020"]);
        assert_eq!(r.status(), InstanceStatus::Rebooting);
    }

    #[test]
    fn an_engine_still_recovering_after_a_timed_out_attempt_is_given_time() {
        let mut r = Recovery::new(InstanceStatus::Available);
        let mut now = Instant::now();
        assert_eq!(r.observe(&DEAD, now).action, Some(Action::Start));
        // The restart's readiness wait timed out: the engine runs but replays its redo log.
        r.attempted(Err("not ready after 90s".into()), now);
        now += RETRY_MAX;
        let patience = UNRESPONSIVE_AFTER * 2;
        for probe in 1..patience {
            let step = r.observe(&HUNG, now);
            assert_eq!(step.action, None, "restarted mid-recovery at probe {probe}");
        }
        assert_eq!(r.observe(&HUNG, now).action, Some(Action::Restart));
        // A second timed-out attempt doubles the patience again.
        r.attempted(Err("not ready after 90s".into()), now);
        now += RETRY_MAX;
        for _ in 1..UNRESPONSIVE_AFTER * 4 {
            assert_eq!(r.observe(&HUNG, now).action, None);
        }
        assert_eq!(r.observe(&UP, now).action, None);
        assert_eq!(r.status(), InstanceStatus::Available);
    }

    #[test]
    fn a_requested_reboot_is_a_restart_not_a_recovery() {
        let mut r = Recovery::new(InstanceStatus::Available);
        let now = Instant::now();
        assert_eq!(r.reboot_requested(), Ok(()));
        assert_eq!(r.status(), InstanceStatus::Rebooting);
        // A second request while it reboots is refused with the status.
        assert_eq!(r.reboot_requested(), Err(InstanceStatus::Rebooting));
        assert_eq!(ids(&r.attempted(Ok(()), now)), ["RDS-EVENT-0006"]);
        assert_eq!(r.status(), InstanceStatus::Available);
        // The next crash is a recovery again.
        assert_eq!(r.observe(&DEAD, now).action, Some(Action::Start));
        assert_eq!(
            ids(&r.attempted(Ok(()), now)),
            ["RDS-EVENT-0006", "RDS-EVENT-0021"]
        );
    }

    #[test]
    fn a_failed_reboot_is_recovered_like_a_crash() {
        let mut r = Recovery::new(InstanceStatus::Available);
        let now = Instant::now();
        r.reboot_requested().unwrap();
        assert_eq!(
            ids(&r.attempted(Err("boom".into()), now)),
            ["RDS-EVENT-0022"]
        );
        assert_eq!(r.status(), InstanceStatus::Rebooting);
        let later = now + RETRY_MAX;
        assert_eq!(r.observe(&DEAD, later).action, Some(Action::Start));
        assert_eq!(
            ids(&r.attempted(Ok(()), later)),
            ["RDS-EVENT-0006", "RDS-EVENT-0021"]
        );
    }

    #[test]
    fn only_an_available_instance_reboots() {
        for status in [
            InstanceStatus::Creating,
            InstanceStatus::Failed,
            InstanceStatus::Stopping,
        ] {
            assert_eq!(Recovery::new(status).reboot_requested(), Err(status));
        }
    }

    #[test]
    fn one_answered_ping_resets_the_count() {
        let mut r = Recovery::new(InstanceStatus::Available);
        let now = Instant::now();
        for _ in 0..5 {
            for _ in 1..UNRESPONSIVE_AFTER {
                r.observe(&HUNG, now);
            }
            r.observe(&UP, now);
        }
        assert_eq!(r.status(), InstanceStatus::Available);
    }

    #[test]
    fn failing_restarts_back_off_and_end_in_failed() {
        let mut r = Recovery::new(InstanceStatus::Available);
        let mut now = Instant::now();
        assert_eq!(r.observe(&DEAD, now).action, Some(Action::Start));
        for attempt in 1..=FAILED_AFTER + 2 {
            let events = r.attempted(Err("exited with code 1".into()), now);
            assert_eq!(events[0].id(), "RDS-EVENT-0022");
            assert_eq!(
                events.contains(&EventKind::Failed),
                attempt == FAILED_AFTER,
                "RDS-EVENT-0031 exactly once, at attempt {FAILED_AFTER}"
            );
            let pause = retry_pause(attempt);
            // Not before the pause is over: no action, no new events.
            assert_eq!(r.observe(&DEAD, now), Step::default());
            now += pause - Duration::from_millis(1);
            assert_eq!(r.observe(&DEAD, now), Step::default());
            now += Duration::from_millis(1);
            let step = r.observe(&DEAD, now);
            assert_eq!(step.action, Some(Action::Start));
            assert!(step.events.is_empty());
        }
        assert_eq!(r.status(), InstanceStatus::Failed);
        // A later success brings it back.
        assert_eq!(
            ids(&r.attempted(Ok(()), now)),
            ["RDS-EVENT-0006", "RDS-EVENT-0021"]
        );
        assert_eq!(r.status(), InstanceStatus::Available);
        // And the back-off starts over.
        r.observe(&DEAD, now);
        r.attempted(Err("again".into()), now);
        assert!(r.observe(&DEAD, now + RETRY_MIN).action.is_some());
    }

    #[test]
    fn an_instance_that_comes_back_by_itself_is_available_again() {
        let mut r = Recovery::new(InstanceStatus::Available);
        let now = Instant::now();
        r.observe(&DEAD, now);
        r.attempted(Err("timed out".into()), now);
        let step = r.observe(&UP, now);
        assert_eq!(step.action, None);
        assert_eq!(ids(&step.events), ["RDS-EVENT-0006", "RDS-EVENT-0021"]);
        assert_eq!(r.status(), InstanceStatus::Available);
    }

    #[test]
    fn the_container_kind_decides_the_action_while_retrying() {
        let mut r = Recovery::new(InstanceStatus::Available);
        let now = Instant::now();
        r.observe(&DEAD, now);
        r.attempted(Err("x".into()), now);
        let later = now + RETRY_MAX;
        assert_eq!(
            r.observe(&Observation::Gone, later).action,
            Some(Action::Recreate)
        );
        r.attempted(Err("x".into()), later);
        // A running engine is restarted once it has had its patience (see the test above).
        let later = later + RETRY_MAX;
        let patience = UNRESPONSIVE_AFTER * 4;
        for _ in 1..patience {
            assert_eq!(r.observe(&HUNG, later).action, None);
        }
        assert_eq!(r.observe(&HUNG, later).action, Some(Action::Restart));
    }

    #[test]
    fn nothing_is_done_while_someone_else_owns_the_container() {
        for status in [
            InstanceStatus::Creating,
            InstanceStatus::Starting,
            InstanceStatus::Stopping,
            InstanceStatus::Stopped,
        ] {
            let mut r = Recovery::new(status);
            assert_eq!(r.observe(&DEAD, Instant::now()), Step::default());
            assert_eq!(r.status(), status);
        }
    }

    #[test]
    fn retry_pauses_double_up_to_the_maximum() {
        assert_eq!(retry_pause(1), RETRY_MIN);
        assert_eq!(retry_pause(2), RETRY_MIN * 2);
        assert_eq!(retry_pause(3), RETRY_MIN * 4);
        assert_eq!(retry_pause(10), RETRY_MAX);
        assert_eq!(retry_pause(u32::MAX), RETRY_MAX);
    }
}
