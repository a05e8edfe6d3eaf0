//! What a service reports about itself (for `status`, `--json` and the control API).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ServiceStatus {
    pub name: String,
    pub cluster: String,
    pub task_definition: String,
    pub desired_count: u32,
    pub running_count: u32,
    pub pending_count: u32,
    pub tasks: Vec<TaskStatus>,
    /// While the service throttle delays launches: when the next may happen (RFC 3339).
    pub launches_delayed_until: Option<String>,
    /// Stopped tasks, newest first, with why they stopped (at most
    /// [`super::history::STOPPED_TASKS_KEPT`], none older than an hour, as ECS keeps them).
    pub stopped_tasks: Vec<TaskStatus>,
    /// Most recent service events, newest last (as `aws ecs describe-services` lists them).
    pub events: Vec<ServiceEvent>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskStatus {
    pub task_id: String,
    pub container_id: String,
    pub container_name: String,
    pub subnet: String,
    /// ECS's lastStatus: `PENDING` until the target is healthy, then `RUNNING`.
    pub last_status: String,
    /// Target health as the load balancer sees it (`initial`, `healthy`, `unhealthy`, ...).
    pub health: Option<String>,
    /// `127.0.0.1:<port>`: where the load balancer reaches the task.
    pub target_address: Option<String>,
    pub log_stream: String,
    pub started_at: String,
    /// ECS's `stoppedReason` ("Essential container in task exited", ...); stopped tasks only.
    pub stopped_reason: Option<String>,
    /// The essential container's exit code, when it exited.
    pub exit_code: Option<i64>,
    pub stopped_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceEvent {
    pub created_at: String,
    pub message: String,
}

impl ServiceStatus {
    /// All desired tasks are running and healthy, and nothing else is.
    pub fn is_steady(&self) -> bool {
        self.running_count == self.desired_count && self.pending_count == 0
    }
}
