//! What a service reports about itself: one typed model for `status`, `--json`, the control API
//! and the AWS API (`describe-services`, `describe-tasks`).

use serde::{Deserialize, Serialize};

use super::lifecycle::{DesiredStatus, HealthStatus, LastStatus, RolloutState, StopCode};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ServiceStatus {
    pub name: String,
    pub cluster: String,
    /// The PRIMARY deployment's task definition revision (`family:revision`).
    pub task_definition: String,
    /// The desired count now: the config's, or what `scale` / `update-service` set since `up`.
    pub desired_count: u32,
    /// `desired-count` in `emulator.toml` (a run-time change is never written back).
    pub configured_desired_count: u32,
    pub running_count: u32,
    pub pending_count: u32,
    /// The PRIMARY deployment: what the service runs, or is rolling out.
    pub deployment: DeploymentStatus,
    /// Older deployments whose tasks are still being replaced (ECS's `ACTIVE`), newest first.
    #[serde(default)]
    pub active_deployments: Vec<DeploymentStatus>,
    /// Bounds of a rolling deployment and the circuit breaker.
    #[serde(default)]
    pub deployment_configuration: crate::config::DeploymentConfiguration,
    /// ECS's `healthCheckGracePeriodSeconds` as the controller applies it.
    #[serde(default)]
    pub health_check_grace_period_seconds: u64,
    /// ECS's `availabilityZoneRebalancing`: ENABLED (`true`) or DISABLED.
    #[serde(default)]
    pub availability_zone_rebalancing: bool,
    /// When the controller started (RFC 3339), ECS's service `createdAt`.
    pub created_at: String,
    /// Tasks whose desired status is RUNNING.
    pub tasks: Vec<TaskStatus>,
    /// Tasks being stopped (desired status STOPPED, not yet STOPPED): draining, stopping, removed.
    #[serde(default)]
    pub stopping_tasks: Vec<TaskStatus>,
    /// While the service throttle delays launches: when the next may happen (RFC 3339).
    pub launches_delayed_until: Option<String>,
    /// Stopped tasks, newest first, with why they stopped (at most
    /// [`super::history::STOPPED_TASKS_KEPT`], none older than an hour, as ECS keeps them).
    pub stopped_tasks: Vec<TaskStatus>,
    /// Most recent service events, newest last (`describe-services` lists them newest first).
    pub events: Vec<ServiceEvent>,
}

/// ECS's deployment as `describe-services` lists it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DeploymentStatus {
    /// `ecs-svc/<19 digits>`.
    pub id: String,
    /// `family:revision` its tasks run.
    #[serde(default)]
    pub task_definition: String,
    #[serde(default)]
    pub desired_count: u32,
    #[serde(default)]
    pub running_count: u32,
    #[serde(default)]
    pub pending_count: u32,
    pub rollout_state: RolloutState,
    /// ECS's words: "ECS deployment ecs-svc/… in progress." / "… completed."
    pub rollout_state_reason: String,
    /// Tasks of this deployment that failed to start or stopped before they were ever healthy.
    pub failed_tasks: u32,
    pub created_at: String,
    pub updated_at: String,
}

/// One task, as `describe-tasks` shows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TaskStatus {
    /// 32 hex digits; the task ARN is `task/<cluster>/<task_id>`.
    pub task_id: String,
    pub cluster: String,
    /// The service that started it (ECS's `group` is `service:<name>`).
    pub service: String,
    /// Task definition family and revision the task runs.
    pub task_definition_family: String,
    pub task_definition_revision: u32,
    /// The container image of that revision.
    #[serde(default)]
    pub image: String,
    /// The deployment that started it (ECS's `startedBy`, `ecs-svc/…`).
    #[serde(default)]
    pub started_by: String,
    pub container_id: String,
    pub container_name: String,
    pub subnet: String,
    /// The subnet's availability zone.
    pub availability_zone: String,
    /// The task's address on its subnet's network (Docker's IPAM within the subnet CIDR). Only
    /// for display: the host never connects to it.
    pub private_ipv4_address: Option<String>,
    /// Task size from the task definition (CPU units, MiB).
    pub cpu: u32,
    pub memory_mib: u32,
    pub desired_status: DesiredStatus,
    /// ECS's lastStatus: PENDING until the target is healthy, then RUNNING; DEACTIVATING,
    /// STOPPING, DEPROVISIONING while it is stopped; STOPPED.
    pub last_status: LastStatus,
    /// ECS's task healthStatus, from container health checks: UNKNOWN, since tierlab's task
    /// definitions define none (ECS ignores an image's own HEALTHCHECK too). Target health is
    /// [`TaskStatus::health`].
    pub health_status: HealthStatus,
    /// Target health as the load balancer sees it (`initial`, `healthy`, `unhealthy`, ...).
    pub health: Option<String>,
    /// `127.0.0.1:<port>`: where the load balancer reaches the task.
    pub target_address: Option<String>,
    pub log_stream: String,
    /// When the task was created (RFC 3339, milliseconds).
    pub created_at: String,
    /// When its container started.
    pub started_at: String,
    /// When it was told to stop (desired status STOPPED).
    pub stopping_at: Option<String>,
    pub stopped_at: Option<String>,
    /// ECS's `stoppedReason` ("Essential container in task exited", "Task stopped by user", ...).
    pub stopped_reason: Option<String>,
    pub stop_code: Option<StopCode>,
    /// The essential container's exit code, when it exited.
    pub exit_code: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceEvent {
    /// ECS's event id (a UUID).
    #[serde(default)]
    pub id: String,
    pub created_at: String,
    pub message: String,
}

impl ServiceStatus {
    /// All desired tasks are running and healthy, and nothing else is.
    pub fn is_steady(&self) -> bool {
        self.running_count == self.desired_count
            && self.pending_count == 0
            && self.active_deployments.is_empty()
    }

    /// Every task the service knows of: running, being stopped, stopped.
    pub fn all_tasks(&self) -> impl Iterator<Item = &TaskStatus> {
        self.tasks
            .iter()
            .chain(&self.stopping_tasks)
            .chain(&self.stopped_tasks)
    }
}
