//! [`ServiceHandle`]: what the lab, the CLI and the AWS API hold of a running service. It reads
//! the controller's status and writes its desired state: the desired count (a `watch` the
//! controller reads each round, so the newest value wins) and commands such as stopping a task.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::deployment::ServiceUpdate;
use super::reconcile::StopReason;
use super::status::{ServiceStatus, TaskStatus};

/// The most tasks one service runs (the same bound as `desired-count` in `emulator.toml`; ECS's
/// own quota is 5,000, far beyond one machine).
pub const MAX_DESIRED_COUNT: u32 = 100;

/// A command for the controller, answered on `reply`.
pub(super) enum Command {
    StopTask {
        task_id: String,
        reason: StopReason,
        reply: oneshot::Sender<Result<TaskStatus, StopTaskError>>,
    },
    Update {
        update: Box<ServiceUpdate>,
        reply: oneshot::Sender<ServiceStatus>,
    },
}

/// Why a task could not be stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StopTaskError {
    /// Neither running nor among the stopped tasks kept.
    #[error("service `{service}` has no task `{task_id}`")]
    NoSuchTask { service: String, task_id: String },
    /// The lab is shutting down.
    #[error("the controller of service `{service}` has stopped")]
    ControllerStopped { service: String },
}

/// Why a desired count was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DesiredCountError {
    #[error(
        "desired count {requested} is more than tierlab runs for one service ({MAX_DESIRED_COUNT})"
    )]
    TooMany { requested: u32 },
}

/// A handle on a running controller; cheap to clone.
#[derive(Clone)]
pub struct ServiceHandle {
    pub(super) name: String,
    pub(super) status: watch::Receiver<ServiceStatus>,
    pub(super) desired: Arc<watch::Sender<u32>>,
    pub(super) commands: mpsc::Sender<Command>,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "service `{service}` did not reach {desired} healthy tasks within {waited:?} (running {running}, pending {pending}); the tasks' own logs say why (`tierlab logs`). Last events:\n{events}"
)]
pub struct NotSteady {
    pub service: String,
    pub desired: u32,
    pub running: u32,
    pub pending: u32,
    pub waited: Duration,
    pub events: String,
}

impl ServiceHandle {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The service as the controller last published it, with the desired count as it is now:
    /// a count just set must show at once, or `running == desired` would look steady (and
    /// `aws ecs wait services-stable` return) before the controller has launched anything.
    pub fn status(&self) -> ServiceStatus {
        let mut status = self.status.borrow().clone();
        status.desired_count = self.desired_count();
        status
    }

    /// A receiver that sees every status change.
    pub fn watch(&self) -> watch::Receiver<ServiceStatus> {
        self.status.clone()
    }

    /// The desired count now (the config's until something sets it).
    pub fn desired_count(&self) -> u32 {
        *self.desired.borrow()
    }

    /// Sets the desired count; the controller launches or stops tasks at once. Lasts until the
    /// lab stops (never written to `emulator.toml`). Returns the previous count.
    pub fn set_desired_count(&self, count: u32) -> Result<u32, DesiredCountError> {
        if count > MAX_DESIRED_COUNT {
            return Err(DesiredCountError::TooMany { requested: count });
        }
        Ok(self.desired.send_replace(count))
    }

    /// Stops task `task_id` as ECS's `StopTask` does: out of its target group (draining), then
    /// SIGTERM, SIGKILL after the stop timeout; the service launches a replacement meanwhile.
    /// Returns the task as it is once the stop has begun (desired status STOPPED). A task that
    /// is already stopping or stopped is returned as it is.
    pub async fn stop_task(
        &self,
        task_id: &str,
        reason: Option<&str>,
    ) -> Result<TaskStatus, StopTaskError> {
        let stopped = || StopTaskError::ControllerStopped {
            service: self.name.clone(),
        };
        let (reply, answer) = oneshot::channel();
        let command = Command::StopTask {
            task_id: task_id.to_string(),
            reason: StopReason::user(reason),
            reply,
        };
        self.commands.send(command).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Applies `update` (`update-service`): new deployment bounds, grace period, and with
    /// `deploy` a new PRIMARY deployment that replaces the tasks in a rolling deployment.
    /// Returns the service as it is right after (the new deployment listed, IN_PROGRESS).
    pub async fn update(&self, update: ServiceUpdate) -> Result<ServiceStatus, StopTaskError> {
        let stopped = || StopTaskError::ControllerStopped {
            service: self.name.clone(),
        };
        let (reply, answer) = oneshot::channel();
        let command = Command::Update {
            update: Box::new(update),
            reply,
        };
        self.commands.send(command).await.map_err(|_| stopped())?;
        let mut status = answer.await.map_err(|_| stopped())?;
        status.desired_count = self.desired_count();
        Ok(status)
    }

    /// Waits until the desired number of tasks are running and healthy.
    pub async fn wait_steady(&self, timeout: Duration) -> Result<(), NotSteady> {
        let mut rx = self.status.clone();
        // Steady for the desired count now, not the one the controller last published.
        let desired = self.desired.clone();
        let steady = move |s: &ServiceStatus| s.is_steady() && s.desired_count == *desired.borrow();
        let waited = tokio::time::timeout(timeout, rx.wait_for(steady)).await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            _ => {
                let status = self.status();
                let events = status
                    .events
                    .iter()
                    .rev()
                    .take(5)
                    .rev()
                    .map(|e| format!("  {} {}", e.created_at, e.message))
                    .collect::<Vec<_>>()
                    .join("\n");
                Err(NotSteady {
                    service: self.name.clone(),
                    desired: status.desired_count,
                    running: status.running_count,
                    pending: status.pending_count,
                    waited: timeout,
                    events,
                })
            }
        }
    }
}
