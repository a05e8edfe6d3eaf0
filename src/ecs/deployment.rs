//! A service's deployments as the controller keeps them: the PRIMARY one (what the service
//! should run) and older ACTIVE ones whose tasks are being replaced; and the update that starts
//! a new one (`update-service`, `tierlab deploy`).

use std::sync::Arc;
use std::time::Duration;

use crate::config::DeploymentConfiguration;

use super::breaker;
use super::lifecycle::{self, RolloutState};
use super::revisions::Revision;
use super::status::DeploymentStatus;

/// What a deployment's tasks run: a task definition revision and its environment, resolved
/// when the deployment was asked for (so `--force-new-deployment` picks up new values).
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentTarget {
    pub revision: Revision,
    /// The container environment with every `${...}` resolved (secrets included: never shown).
    pub environment: Vec<(String, String)>,
}

/// A change to a running service; `None` members stay as they are.
#[derive(Debug, Clone, Default)]
pub struct ServiceUpdate {
    /// Starts a new deployment of this target (the PRIMARY one from now on).
    pub deploy: Option<DeploymentTarget>,
    pub deployment_configuration: Option<DeploymentConfiguration>,
    pub health_check_grace_period: Option<Duration>,
    /// ECS's `availabilityZoneRebalancing` (ENABLED = `true`).
    pub availability_zone_rebalancing: Option<bool>,
    /// A new `desired-count` in `emulator.toml` (`tierlab apply`), shown as the configured one.
    pub configured_desired_count: Option<u32>,
}

/// One deployment of the service.
pub(super) struct Deployment {
    pub id: String,
    pub target: Arc<DeploymentTarget>,
    pub rollout: RolloutState,
    /// ECS's rolloutStateReason when it is not the plain one (circuit breaker, rollback).
    pub reason: Option<String>,
    /// Tasks of this deployment that failed to start or stopped before they were ever healthy.
    pub failed_tasks: u32,
    pub breaker: breaker::Counter,
    pub created_at: String,
    pub updated_at: String,
}

impl Deployment {
    pub fn new(target: Arc<DeploymentTarget>) -> Deployment {
        let now = super::now_rfc3339_millis();
        Deployment {
            id: lifecycle::new_deployment_id(),
            target,
            rollout: RolloutState::InProgress,
            reason: None,
            failed_tasks: 0,
            breaker: breaker::Counter::default(),
            created_at: now.clone(),
            updated_at: now,
        }
    }

    pub fn set_rollout(&mut self, rollout: RolloutState, reason: Option<String>) {
        self.rollout = rollout;
        self.reason = reason;
        self.updated_at = super::now_rfc3339_millis();
    }

    /// The deployment as `describe-services` lists it, with its task counts.
    pub fn status(&self, desired: u32, running: u32, pending: u32) -> DeploymentStatus {
        DeploymentStatus {
            id: self.id.clone(),
            task_definition: self.target.revision.name(),
            desired_count: desired,
            running_count: running,
            pending_count: pending,
            rollout_state: self.rollout,
            rollout_state_reason: self
                .reason
                .clone()
                .unwrap_or_else(|| lifecycle::rollout_reason(&self.id, self.rollout)),
            failed_tasks: self.failed_tasks,
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
        }
    }
}

/// ECS's rolloutStateReason of a deployment its circuit breaker failed.
pub const BREAKER_FAILED_REASON: &str = "ECS deployment circuit breaker: tasks failed to start.";

/// ECS's rolloutStateReason of the deployment that rolls back to `to`.
pub fn rollback_reason(to: &str) -> String {
    format!("ECS deployment circuit breaker: rolling back to deploymentId {to}.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ContainerDefinition, TaskDefinition};
    use crate::ecs::RevisionStatus;

    fn target(revision: u32) -> Arc<DeploymentTarget> {
        let definition = TaskDefinition {
            family: "web".into(),
            cpu: 256,
            memory_mib: 512,
            container: ContainerDefinition {
                name: "app".into(),
                image: "web:1".into(),
                build: None,
                container_port: 8000,
                command: None,
                environment: Default::default(),
                log_group: "/ecs/web".into(),
                log_stream_prefix: "ecs".into(),
                stop_timeout: None,
                secrets: Vec::new(),
            },
        };
        Arc::new(DeploymentTarget {
            revision: Revision {
                revision,
                status: RevisionStatus::Active,
                definition,
                registered_at: "2026-12-02T00:00:00Z".into(),
                deregistered_at: None,
            },
            environment: Vec::new(),
        })
    }

    #[test]
    fn a_deployment_reads_as_ecs_lists_it() {
        let d = Deployment::new(target(2));
        let s = d.status(2, 1, 1);
        assert_eq!(s.task_definition, "web:2");
        assert_eq!(
            (s.desired_count, s.running_count, s.pending_count),
            (2, 1, 1)
        );
        assert_eq!(
            s.rollout_state_reason,
            format!("ECS deployment {} in progress.", d.id)
        );
    }

    #[test]
    fn the_circuit_breaker_words_failure_and_rollback_as_ecs() {
        let mut failed = Deployment::new(target(3));
        failed.set_rollout(RolloutState::Failed, Some(BREAKER_FAILED_REASON.into()));
        let s = failed.status(2, 0, 0);
        assert_eq!(s.rollout_state, RolloutState::Failed);
        assert_eq!(
            s.rollout_state_reason,
            "ECS deployment circuit breaker: tasks failed to start."
        );
        let mut back = Deployment::new(target(1));
        back.reason = Some(rollback_reason("ecs-svc/1234"));
        assert_eq!(
            back.status(2, 2, 0).rollout_state_reason,
            "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1234."
        );
        // Completing clears it: the rollback reads as a completed deployment.
        back.set_rollout(RolloutState::Completed, None);
        assert_eq!(
            back.status(2, 2, 0).rollout_state_reason,
            format!("ECS deployment {} completed.", back.id)
        );
    }
}
