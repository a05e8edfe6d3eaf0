//! ECS's task and deployment states, and the pure rules that move between them.

use serde::{Deserialize, Serialize};

use super::reconcile::{Phase, StopReason};

/// A task's desiredStatus.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DesiredStatus {
    #[default]
    Running,
    Stopped,
}

/// A task's lastStatus, in ECS's order (`ACTIVATING` and `PROVISIONING` pass inside one launch
/// call here, so they are never observed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LastStatus {
    Provisioning,
    #[default]
    Pending,
    Running,
    /// Deregistered from its target group, draining its in-flight requests.
    Deactivating,
    /// SIGTERM sent, SIGKILL after the stop timeout.
    Stopping,
    /// The container is being removed.
    Deprovisioning,
    Stopped,
}

/// A task's healthStatus (container health checks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HealthStatus {
    Healthy,
    Unhealthy,
    #[default]
    Unknown,
}

/// ECS's stopCode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopCode {
    TaskFailedToStart,
    EssentialContainerExited,
    UserInitiated,
    ServiceSchedulerInitiated,
}

/// A deployment's rolloutState.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RolloutState {
    #[default]
    InProgress,
    Completed,
    Failed,
}

macro_rules! as_str {
    ($ty:ty { $($variant:ident => $s:literal),* $(,)? }) => {
        impl $ty {
            /// The value as ECS writes it.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),* }
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

as_str!(DesiredStatus { Running => "RUNNING", Stopped => "STOPPED" });
as_str!(LastStatus {
    Provisioning => "PROVISIONING",
    Pending => "PENDING",
    Running => "RUNNING",
    Deactivating => "DEACTIVATING",
    Stopping => "STOPPING",
    Deprovisioning => "DEPROVISIONING",
    Stopped => "STOPPED",
});
as_str!(HealthStatus { Healthy => "HEALTHY", Unhealthy => "UNHEALTHY", Unknown => "UNKNOWN" });
as_str!(StopCode {
    TaskFailedToStart => "TaskFailedToStart",
    EssentialContainerExited => "EssentialContainerExited",
    UserInitiated => "UserInitiated",
    ServiceSchedulerInitiated => "ServiceSchedulerInitiated",
});
as_str!(RolloutState { InProgress => "IN_PROGRESS", Completed => "COMPLETED", Failed => "FAILED" });

/// The lastStatus of a task the service still wants running. tierlab counts a task RUNNING
/// only once its target is healthy, so `runningCount == desiredCount` (what `aws ecs wait
/// services-stable` polls for) means the targets serve.
pub fn last_status(phase: &Phase) -> LastStatus {
    match phase {
        Phase::Starting => LastStatus::Pending,
        Phase::Healthy | Phase::Unhealthy => LastStatus::Running,
        Phase::Exited { .. } => LastStatus::Stopped,
    }
}

/// The stopCode ECS gives a task stopped for `reason`.
pub fn stop_code(reason: &StopReason) -> StopCode {
    match reason {
        StopReason::EssentialContainerExited { .. } => StopCode::EssentialContainerExited,
        StopReason::UserInitiated { .. } => StopCode::UserInitiated,
        StopReason::FailedElbHealthChecks | StopReason::ScaledIn => {
            StopCode::ServiceSchedulerInitiated
        }
    }
}

/// What a change of steadiness means for the deployment: its new rollout state and the events
/// to record, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SteadyEvent {
    /// "(service S) (deployment ecs-svc/…) deployment completed."
    DeploymentCompleted,
    /// "(service S) has reached a steady state."
    ReachedSteadyState,
}

/// ECS records "has reached a steady state." each time a service becomes steady, and completes
/// its deployment the first time (a later scale does not reopen it).
pub fn on_steadiness(
    was_steady: bool,
    steady: bool,
    rollout: RolloutState,
) -> (RolloutState, Vec<SteadyEvent>) {
    if !steady || was_steady {
        return (rollout, Vec::new());
    }
    match rollout {
        RolloutState::InProgress => (
            RolloutState::Completed,
            vec![
                SteadyEvent::DeploymentCompleted,
                SteadyEvent::ReachedSteadyState,
            ],
        ),
        other => (other, vec![SteadyEvent::ReachedSteadyState]),
    }
}

/// ECS's rolloutStateReason.
pub fn rollout_reason(deployment_id: &str, rollout: RolloutState) -> String {
    match rollout {
        RolloutState::InProgress => format!("ECS deployment {deployment_id} in progress."),
        RolloutState::Completed => format!("ECS deployment {deployment_id} completed."),
        RolloutState::Failed => format!("ECS deployment {deployment_id} failed."),
    }
}

/// A deployment id as ECS makes them: `ecs-svc/` and 19 digits.
pub fn new_deployment_id() -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random_range(1_000_000_000_000_000_000..=9_223_372_036_854_775_807);
    format!("ecs-svc/{n}")
}

/// A random (version 4) UUID: ECS's event ids, the AWS API's request ids.
pub fn new_uuid_v4() -> String {
    use rand::Rng;
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_steady_state_completes_the_deployment() {
        let (state, events) = on_steadiness(false, true, RolloutState::InProgress);
        assert_eq!(state, RolloutState::Completed);
        assert_eq!(
            events,
            vec![
                SteadyEvent::DeploymentCompleted,
                SteadyEvent::ReachedSteadyState
            ]
        );
    }

    #[test]
    fn later_steady_states_only_say_so() {
        let (state, events) = on_steadiness(false, true, RolloutState::Completed);
        assert_eq!(state, RolloutState::Completed);
        assert_eq!(events, vec![SteadyEvent::ReachedSteadyState]);
    }

    #[test]
    fn staying_steady_or_unsteady_records_nothing() {
        assert!(
            on_steadiness(true, true, RolloutState::Completed)
                .1
                .is_empty()
        );
        assert!(
            on_steadiness(true, false, RolloutState::Completed)
                .1
                .is_empty()
        );
        let (state, events) = on_steadiness(false, false, RolloutState::InProgress);
        assert_eq!((state, events.len()), (RolloutState::InProgress, 0));
    }

    #[test]
    fn stop_codes_are_ecs_values() {
        let user = StopReason::UserInitiated {
            reason: "Task stopped by user".into(),
        };
        assert_eq!(stop_code(&user).as_str(), "UserInitiated");
        assert_eq!(
            stop_code(&StopReason::ScaledIn).as_str(),
            "ServiceSchedulerInitiated"
        );
        assert_eq!(
            stop_code(&StopReason::EssentialContainerExited { exit_code: Some(1) }).as_str(),
            "EssentialContainerExited"
        );
        assert_eq!(
            serde_json::to_value(StopCode::UserInitiated).unwrap(),
            "UserInitiated"
        );
    }

    #[test]
    fn states_serialise_as_ecs_writes_them() {
        assert_eq!(
            serde_json::to_value(LastStatus::Deprovisioning).unwrap(),
            "DEPROVISIONING"
        );
        assert_eq!(
            serde_json::to_value(RolloutState::InProgress).unwrap(),
            "IN_PROGRESS"
        );
        assert_eq!(last_status(&Phase::Starting), LastStatus::Pending);
        assert_eq!(last_status(&Phase::Unhealthy), LastStatus::Running);
    }

    #[test]
    fn ids_have_ecs_shapes() {
        let d = new_deployment_id();
        assert!(d.starts_with("ecs-svc/") && d.len() == 8 + 19, "{d}");
        let u = new_uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
