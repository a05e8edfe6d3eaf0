//! Target tracking as Application Auto Scaling does it, as one pure decision: given the service's
//! desired count, its bounds, each policy's datapoints and the last scaling activities, what to
//! set the desired count to, and why (the activity's cause). The scaler loop applies it.
//!
//! The rules (Application Auto Scaling user guide, "target tracking"):
//! - A desired count outside min/max is brought inside at once ("minimum capacity was set to N").
//! - A policy whose high alarm is in ALARM asks for `ceil(capacity × metric ÷ target)`.
//! - Scale-out cooldown: while it runs, "the capacity added by the previous scale out … is
//!   calculated as part of the desired capacity for the next scale out": the next one is
//!   computed from the capacity before it, and happens only if it asks for more than now
//!   (such a larger scale-out restarts the cooldown but keeps its base: [`History::after`]).
//! - Scale-in needs every policy's low alarm in ALARM (and none with `DisableScaleIn`); it is
//!   blocked for the scale-in cooldown after the previous scale-in, and while a deployment is in
//!   progress. A scale-out is never blocked by the scale-in cooldown.
//! - Several policies: scale out if any asks (to the largest count asked), scale in only if all
//!   agree (to the largest count they ask for, the most conservative).

use std::time::{Duration, Instant};

use super::alarm::{self, AlarmState};

/// One target tracking policy as the decision sees it.
#[derive(Debug, Clone)]
pub struct PolicyView<'a> {
    pub name: &'a str,
    pub target_value: f64,
    /// The latest datapoints, oldest first (`None`: no data in that period).
    pub datapoints: &'a [Option<f64>],
    pub scale_out_cooldown: Duration,
    pub scale_in_cooldown: Duration,
    pub disable_scale_in: bool,
    /// The names of its two alarms (for the activity's cause).
    pub high_alarm: &'a str,
    pub low_alarm: &'a str,
}

/// The scaling activities the cooldowns are measured from.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct History {
    pub last_scale_out: Option<ScaleOutRecord>,
    /// When the last scale-in happened, and the cooldown of the policy that made it.
    pub last_scale_in: Option<(Instant, Duration)>,
}

/// A scale-out, for its cooldown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScaleOutRecord {
    pub at: Instant,
    /// The capacity before the scale-out that started the cooldown (what a scale-out within it
    /// is computed from).
    pub from: u32,
    /// The cooldown of the policy that made it.
    pub cooldown: Duration,
}

impl History {
    /// The history after a scaling from `from` made at `now` (`cooldown`: the policy's).
    ///
    /// A scale-out restarts the scale-out cooldown; one made within a running cooldown (a larger
    /// one) keeps the capacity the cooldown started from as its base, so capacity still being
    /// added is never counted twice (and the base cannot ratchet up while the metric lags).
    pub fn after(
        self,
        direction: Direction,
        now: Instant,
        from: u32,
        cooldown: Duration,
    ) -> History {
        match direction {
            Direction::Out => {
                let from = match self.last_scale_out {
                    Some(last) if now < last.at + last.cooldown => last.from,
                    _ => from,
                };
                History {
                    last_scale_out: Some(ScaleOutRecord {
                        at: now,
                        from,
                        cooldown,
                    }),
                    ..self
                }
            }
            Direction::In => History {
                last_scale_in: Some((now, cooldown)),
                ..self
            },
            Direction::Bounds => self,
        }
    }
}

/// Everything the decision needs.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// The service's desired count now.
    pub current: u32,
    pub min: u32,
    pub max: u32,
    pub policies: &'a [PolicyView<'a>],
    pub history: History,
    pub now: Instant,
    /// A deployment of the service is in progress: scale-in waits.
    pub deployment_in_progress: bool,
    /// `SuspendedState`: dynamic scale-in / scale-out suspended.
    pub scale_in_suspended: bool,
    pub scale_out_suspended: bool,
}

/// Which way a scaling goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Into min/max after they changed.
    Bounds,
    Out,
    In,
}

/// What to do now.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Hold,
    Scale {
        to: u32,
        direction: Direction,
        /// Application Auto Scaling's `Cause` ("monitor alarm … in state ALARM triggered
        /// policy …").
        cause: String,
        /// For a scale-out or scale-in, the cooldown of the policy that made it.
        cooldown: Duration,
    },
}

/// Decides the next desired count.
pub fn decide(input: &Input<'_>) -> Decision {
    let (min, max) = (input.min, input.max);
    if input.current < min || input.current > max {
        let (to, which) = if input.current < min {
            (min, "minimum")
        } else {
            (max, "maximum")
        };
        return Decision::Scale {
            to,
            direction: Direction::Bounds,
            cause: format!("{which} capacity was set to {to}"),
            cooldown: Duration::ZERO,
        };
    }
    if !input.scale_out_suspended
        && let Some(out) = scale_out(input)
    {
        return out;
    }
    if input.scale_in_suspended || input.deployment_in_progress {
        return Decision::Hold;
    }
    scale_in(input).unwrap_or(Decision::Hold)
}

fn scale_out(input: &Input<'_>) -> Option<Decision> {
    let asked = input.policies.iter().filter_map(|p| {
        let metric = breaching(p, |a| a.high)?;
        let base = match input.history.last_scale_out {
            Some(last) if input.now < last.at + p.scale_out_cooldown => last.from,
            _ => input.current,
        };
        Some((proportional(base, metric, p.target_value, input), p))
    });
    let (to, policy) = asked.max_by_key(|(to, _)| *to)?;
    (to > input.current).then(|| Decision::Scale {
        to,
        direction: Direction::Out,
        cause: cause(policy.high_alarm, policy.name),
        cooldown: policy.scale_out_cooldown,
    })
}

fn scale_in(input: &Input<'_>) -> Option<Decision> {
    if input.policies.is_empty() {
        return None;
    }
    let mut asked = Vec::with_capacity(input.policies.len());
    for p in input.policies {
        if p.disable_scale_in {
            return None;
        }
        let metric = breaching(p, |a| a.low)?;
        asked.push((
            proportional(input.current, metric, p.target_value, input),
            p,
        ));
    }
    let (to, policy) = asked.into_iter().max_by_key(|(to, _)| *to)?;
    if to >= input.current {
        return None;
    }
    if let Some((at, cooldown)) = input.history.last_scale_in
        && input.now < at + cooldown
    {
        return None;
    }
    Some(Decision::Scale {
        to,
        direction: Direction::In,
        cause: cause(policy.low_alarm, policy.name),
        cooldown: policy.scale_in_cooldown,
    })
}

/// The latest datapoint, when the alarm `which` picks is in ALARM.
fn breaching(p: &PolicyView<'_>, which: impl Fn(alarm::Alarms) -> AlarmState) -> Option<f64> {
    let alarms = alarm::evaluate(p.datapoints, p.target_value);
    if which(alarms) != AlarmState::Alarm {
        return None;
    }
    p.datapoints.last().copied().flatten()
}

/// `ceil(capacity × metric ÷ target)` within min/max.
fn proportional(capacity: u32, metric: f64, target: f64, input: &Input<'_>) -> u32 {
    // Less a hair, so float noise (3 × 70 ÷ 70 = 3.0000000000000004) does not add a task.
    let wanted = (f64::from(capacity) * metric / target - 1e-9).ceil();
    (wanted.max(0.0).min(f64::from(u32::MAX)) as u32).clamp(input.min, input.max)
}

/// Application Auto Scaling's cause of an activity a policy started.
pub fn cause(alarm: &str, policy: &str) -> String {
    format!("monitor alarm {alarm} in state ALARM triggered policy {policy}")
}

#[cfg(test)]
#[path = "decision_tests.rs"]
mod tests;
