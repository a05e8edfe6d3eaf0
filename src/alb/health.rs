//! Target health as AWS reports it, and the pure state machine that turns health check results
//! into it. No I/O here: [`super::checker`] runs the checks and feeds [`HealthMachine::record`].
//!
//! Rules (AWS's): a new target is `initial` until its first check; one passing check makes it
//! `healthy`, `unhealthy_threshold` consecutive failures make it `unhealthy`. After that it flips
//! only after `healthy_threshold` consecutive passes or `unhealthy_threshold` consecutive failures.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A target's health state, as in `aws elbv2 describe-target-health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetState {
    /// Registered; the first health checks have not passed yet. Gets no traffic.
    Initial,
    /// Passing health checks; gets traffic.
    Healthy,
    /// Failing health checks; gets traffic only when no target is healthy (fail-open).
    Unhealthy,
    /// Deregistered, finishing its in-flight requests.
    Draining,
    /// Not registered (or not in use by any listener).
    Unused,
}

impl TargetState {
    /// The state as AWS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetState::Initial => "initial",
            TargetState::Healthy => "healthy",
            TargetState::Unhealthy => "unhealthy",
            TargetState::Draining => "draining",
            TargetState::Unused => "unused",
        }
    }

    /// Compact encoding, so the request path can read a target's state from an atomic.
    pub(crate) fn to_u8(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_u8(v: u8) -> TargetState {
        match v {
            0 => TargetState::Initial,
            1 => TargetState::Healthy,
            2 => TargetState::Unhealthy,
            3 => TargetState::Draining,
            _ => TargetState::Unused,
        }
    }
}

impl fmt::Display for TargetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// AWS's target health reason codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReasonCode {
    /// Registered; no health check has completed yet.
    #[serde(rename = "Elb.RegistrationInProgress")]
    RegistrationInProgress,
    /// Initial health checks are running (some failed, not enough to be unhealthy).
    #[serde(rename = "Elb.InitialHealthChecking")]
    InitialHealthChecking,
    /// The target answered with a status the matcher rejects.
    #[serde(rename = "Target.ResponseCodeMismatch")]
    ResponseCodeMismatch,
    /// The target did not answer within the health check timeout.
    #[serde(rename = "Target.Timeout")]
    Timeout,
    /// Connection refused or reset, or not an HTTP answer.
    #[serde(rename = "Target.FailedHealthChecks")]
    FailedHealthChecks,
    /// Deregistered and draining its in-flight requests.
    #[serde(rename = "Target.DeregistrationInProgress")]
    DeregistrationInProgress,
    /// Not registered with the target group.
    #[serde(rename = "Target.NotRegistered")]
    NotRegistered,
}

impl ReasonCode {
    /// The code as AWS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::RegistrationInProgress => "Elb.RegistrationInProgress",
            ReasonCode::InitialHealthChecking => "Elb.InitialHealthChecking",
            ReasonCode::ResponseCodeMismatch => "Target.ResponseCodeMismatch",
            ReasonCode::Timeout => "Target.Timeout",
            ReasonCode::FailedHealthChecks => "Target.FailedHealthChecks",
            ReasonCode::DeregistrationInProgress => "Target.DeregistrationInProgress",
            ReasonCode::NotRegistered => "Target.NotRegistered",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a target is not healthy: AWS's code and its human description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// AWS's reason code.
    pub code: ReasonCode,
    /// AWS's description, e.g. `Health checks failed with these codes: [500]`.
    pub description: String,
}

impl Reason {
    fn new(code: ReasonCode, description: impl Into<String>) -> Reason {
        Reason {
            code,
            description: description.into(),
        }
    }

    /// The reason of a deregistered target finishing its in-flight requests.
    pub fn deregistration_in_progress() -> Reason {
        Reason::new(
            ReasonCode::DeregistrationInProgress,
            "Target deregistration is in progress",
        )
    }

    /// The reason of a target that is not (or no longer) registered.
    pub fn not_registered() -> Reason {
        Reason::new(
            ReasonCode::NotRegistered,
            "Target is not registered to the target group",
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

/// The result of one health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Answered with a status the matcher accepts.
    Ok(u16),
    /// Answered with a status the matcher rejects.
    Mismatch(u16),
    /// No answer within the health check timeout.
    Timeout,
    /// Connection refused or reset, or not an HTTP answer.
    ConnectFailed(String),
}

impl CheckOutcome {
    fn passed(&self) -> bool {
        matches!(self, CheckOutcome::Ok(_))
    }

    /// The reason a failed check reports (AWS's wording); `None` for a pass.
    fn failure_reason(&self) -> Option<Reason> {
        match self {
            CheckOutcome::Ok(_) => None,
            CheckOutcome::Mismatch(code) => Some(Reason::new(
                ReasonCode::ResponseCodeMismatch,
                format!("Health checks failed with these codes: [{code}]"),
            )),
            CheckOutcome::Timeout => Some(Reason::new(ReasonCode::Timeout, "Request timed out")),
            CheckOutcome::ConnectFailed(why) => Some(Reason::new(
                ReasonCode::FailedHealthChecks,
                format!("Health checks failed: {why}"),
            )),
        }
    }
}

/// A change of state, returned by [`HealthMachine::record`] so the caller logs it once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The state before the check.
    pub from: TargetState,
    /// The state after it.
    pub to: TargetState,
    /// Why the target is in `to`; `None` when it became healthy.
    pub reason: Option<Reason>,
}

/// One target's health: state, reason and the run of consecutive results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthMachine {
    state: TargetState,
    reason: Option<Reason>,
    passes: u32,
    failures: u32,
    healthy_threshold: u32,
    unhealthy_threshold: u32,
}

impl HealthMachine {
    /// A newly registered target: `initial`, `Elb.RegistrationInProgress`. Thresholds below 1
    /// are treated as 1.
    pub fn new(healthy_threshold: u32, unhealthy_threshold: u32) -> HealthMachine {
        HealthMachine {
            state: TargetState::Initial,
            reason: Some(Reason::new(
                ReasonCode::RegistrationInProgress,
                "Target registration is in progress",
            )),
            passes: 0,
            failures: 0,
            healthy_threshold: healthy_threshold.max(1),
            unhealthy_threshold: unhealthy_threshold.max(1),
        }
    }

    /// New thresholds (`modify-target-group`), for the next results: the consecutive counts
    /// so far stay, so a target already past a lowered threshold flips at its next check.
    pub fn set_thresholds(&mut self, healthy_threshold: u32, unhealthy_threshold: u32) {
        self.healthy_threshold = healthy_threshold.max(1);
        self.unhealthy_threshold = unhealthy_threshold.max(1);
    }

    /// The current state.
    pub fn state(&self) -> TargetState {
        self.state
    }

    /// Why the target is not healthy; `None` when healthy.
    pub fn reason(&self) -> Option<&Reason> {
        self.reason.as_ref()
    }

    /// Whether no check result has been recorded yet.
    pub fn is_unchecked(&self) -> bool {
        self.state == TargetState::Initial && self.passes == 0 && self.failures == 0
    }

    /// Records one check result; returns the transition when the state flips.
    pub fn record(&mut self, outcome: &CheckOutcome) -> Option<Transition> {
        if outcome.passed() {
            self.passes = self.passes.saturating_add(1);
            self.failures = 0;
        } else {
            self.failures = self.failures.saturating_add(1);
            self.passes = 0;
        }
        let next = self.next_state();
        let from = self.state;
        self.reason = match (next, outcome.failure_reason()) {
            (TargetState::Healthy, _) => None,
            (TargetState::Initial, _) => Some(Reason::new(
                ReasonCode::InitialHealthChecking,
                "Initial health checks in progress",
            )),
            // Unhealthy and still failing: report the latest failure.
            (_, Some(reason)) => Some(reason),
            // Unhealthy but passing (below the threshold): keep the failure that made it so.
            (_, None) => self.reason.take(),
        };
        self.state = next;
        (from != next).then(|| Transition {
            from,
            to: next,
            reason: self.reason.clone(),
        })
    }

    /// Passive outlier detection: a healthy target that just failed a real request is made
    /// `unhealthy` at once (`Target.FailedHealthChecks`, `description` saying why). It returns
    /// like any unhealthy target: after `healthy_threshold` passing health checks. Targets in
    /// any other state are left alone (`initial` ones get no traffic; `unhealthy` ones only get
    /// it through fail-open, where ejecting changes nothing).
    pub fn eject(&mut self, description: &str) -> Option<Transition> {
        if self.state != TargetState::Healthy {
            return None;
        }
        self.state = TargetState::Unhealthy;
        self.passes = 0;
        self.failures = self.unhealthy_threshold;
        self.reason = Some(Reason::new(
            ReasonCode::FailedHealthChecks,
            format!("ejected: {description}"),
        ));
        Some(Transition {
            from: TargetState::Healthy,
            to: TargetState::Unhealthy,
            reason: self.reason.clone(),
        })
    }

    fn next_state(&self) -> TargetState {
        match self.state {
            TargetState::Initial if self.passes >= 1 => TargetState::Healthy,
            TargetState::Unhealthy if self.passes >= self.healthy_threshold => TargetState::Healthy,
            TargetState::Initial | TargetState::Healthy
                if self.failures >= self.unhealthy_threshold =>
            {
                TargetState::Unhealthy
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CheckOutcome::*;

    fn run(m: &mut HealthMachine, outcomes: &[CheckOutcome]) -> Vec<Option<Transition>> {
        outcomes.iter().map(|o| m.record(o)).collect()
    }

    #[test]
    fn new_target_is_initial_registration_in_progress() {
        let m = HealthMachine::new(5, 2);
        assert_eq!(m.state(), TargetState::Initial);
        assert_eq!(m.reason().unwrap().code, ReasonCode::RegistrationInProgress);
        assert!(m.is_unchecked());
    }

    #[test]
    fn new_target_becomes_healthy_after_one_pass() {
        let mut m = HealthMachine::new(5, 2);
        let t = m.record(&Ok(200)).unwrap();
        assert_eq!(
            (t.from, t.to, t.reason),
            (TargetState::Initial, TargetState::Healthy, None)
        );
        assert!(m.reason().is_none());
    }

    #[test]
    fn new_target_becomes_unhealthy_after_unhealthy_threshold_failures() {
        let mut m = HealthMachine::new(5, 3);
        let ts = run(&mut m, &[Timeout, Timeout]);
        assert!(ts.iter().all(Option::is_none));
        assert_eq!(m.state(), TargetState::Initial);
        assert_eq!(m.reason().unwrap().code, ReasonCode::InitialHealthChecking);
        let t = m.record(&Timeout).unwrap();
        assert_eq!(
            (t.from, t.to),
            (TargetState::Initial, TargetState::Unhealthy)
        );
        assert_eq!(t.reason.unwrap().code, ReasonCode::Timeout);
    }

    #[test]
    fn healthy_target_flips_only_after_consecutive_failures() {
        let mut m = HealthMachine::new(2, 2);
        m.record(&Ok(200));
        // A failure interrupted by a pass does not count.
        assert!(
            run(&mut m, &[Mismatch(500), Ok(200), Mismatch(500)])
                .iter()
                .all(Option::is_none)
        );
        assert_eq!(m.state(), TargetState::Healthy);
        let t = m.record(&Mismatch(503)).unwrap();
        assert_eq!(
            (t.from, t.to),
            (TargetState::Healthy, TargetState::Unhealthy)
        );
        let reason = t.reason.unwrap();
        assert_eq!(reason.code, ReasonCode::ResponseCodeMismatch);
        assert_eq!(
            reason.description,
            "Health checks failed with these codes: [503]"
        );
    }

    #[test]
    fn unhealthy_target_needs_healthy_threshold_passes() {
        let mut m = HealthMachine::new(3, 1);
        m.record(&ConnectFailed("connection refused".into()));
        assert_eq!(m.state(), TargetState::Unhealthy);
        assert_eq!(m.reason().unwrap().code, ReasonCode::FailedHealthChecks);
        assert!(run(&mut m, &[Ok(200), Ok(200)]).iter().all(Option::is_none));
        // Still unhealthy, still explained by the failure that made it so.
        assert_eq!(m.reason().unwrap().code, ReasonCode::FailedHealthChecks);
        let t = m.record(&Ok(200)).unwrap();
        assert_eq!(
            (t.from, t.to, t.reason),
            (TargetState::Unhealthy, TargetState::Healthy, None)
        );
    }

    #[test]
    fn unhealthy_reason_follows_the_latest_failure() {
        let mut m = HealthMachine::new(2, 1);
        m.record(&Timeout);
        assert_eq!(m.reason().unwrap().code, ReasonCode::Timeout);
        assert!(m.record(&Mismatch(404)).is_none());
        assert_eq!(m.reason().unwrap().code, ReasonCode::ResponseCodeMismatch);
    }

    #[test]
    fn ejection_makes_a_healthy_target_unhealthy_until_checks_pass() {
        let mut m = HealthMachine::new(2, 2);
        assert!(
            m.eject("connection refused").is_none(),
            "initial is not ejected"
        );
        m.record(&Ok(200));
        let t = m.eject("connection refused").unwrap();
        assert_eq!(
            (t.from, t.to),
            (TargetState::Healthy, TargetState::Unhealthy)
        );
        let reason = m.reason().unwrap();
        assert_eq!(reason.code, ReasonCode::FailedHealthChecks);
        assert_eq!(reason.description, "ejected: connection refused");
        assert!(m.eject("again").is_none(), "ejected once");
        assert!(m.record(&Ok(200)).is_none());
        assert_eq!(m.record(&Ok(200)).unwrap().to, TargetState::Healthy);
    }

    #[test]
    fn zero_thresholds_act_as_one() {
        let mut m = HealthMachine::new(0, 0);
        assert_eq!(m.record(&Timeout).unwrap().to, TargetState::Unhealthy);
        assert_eq!(m.record(&Ok(200)).unwrap().to, TargetState::Healthy);
    }

    #[test]
    fn state_round_trips_through_u8() {
        for s in [
            TargetState::Initial,
            TargetState::Healthy,
            TargetState::Unhealthy,
            TargetState::Draining,
            TargetState::Unused,
        ] {
            assert_eq!(TargetState::from_u8(s.to_u8()), s);
        }
    }

    #[test]
    fn reason_codes_serialize_as_aws_spells_them() {
        let json = serde_json::to_string(&ReasonCode::DeregistrationInProgress).unwrap();
        assert_eq!(json, "\"Target.DeregistrationInProgress\"");
        assert_eq!(
            Reason::not_registered().code.as_str(),
            "Target.NotRegistered"
        );
    }
}
