//! Stopping one task in ECS's order, off the controller's loop (so the replacement launches
//! meanwhile): wait for its target to drain (it was deregistered already), SIGTERM and SIGKILL
//! after the stop timeout, then remove the container. Each stage is reported back, so the task
//! shows DEACTIVATING, STOPPING, DEPROVISIONING and finally STOPPED with its exit code.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::alb::TargetGroupHandle;
use crate::docker::DockerClient;

use super::lifecycle::LastStatus;

/// ECS's default `stopTimeout`: SIGKILL this long after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Extra time past the deregistration delay before giving up on the drain.
const DRAIN_SLACK: Duration = Duration::from_secs(1);

/// One stop to carry out.
pub struct StopJob {
    pub task_id: String,
    pub container_id: String,
    pub docker: DockerClient,
    /// The group the task was deregistered from (to wait for its drain), if any.
    pub target_group: Option<TargetGroupHandle>,
    /// The container has exited already: nothing to drain or signal.
    pub exited: bool,
    /// SIGKILL this long after SIGTERM (the task definition's `stopTimeout`).
    pub stop_timeout: Duration,
}

/// Progress of a stop, sent to the controller.
#[derive(Debug)]
pub enum StopProgress {
    Stage {
        task_id: String,
        stage: LastStatus,
    },
    /// Container gone (or left to the orphan sweep, with the error).
    Done {
        task_id: String,
        exit_code: Option<i64>,
        removal_error: Option<String>,
    },
}

/// Runs `job`. On `cancel` (the lab stops) it skips what is left and removes the container.
pub async fn run(
    job: StopJob,
    progress: mpsc::UnboundedSender<StopProgress>,
    cancel: CancellationToken,
) {
    let stage = |stage| StopProgress::Stage {
        task_id: job.task_id.clone(),
        stage,
    };
    if !job.exited {
        if let Some(tg) = &job.target_group {
            let _ = progress.send(stage(LastStatus::Deactivating));
            wait_drained(tg, &job.task_id, &cancel).await;
        }
        let _ = progress.send(stage(LastStatus::Stopping));
        let grace = if cancel.is_cancelled() {
            Duration::ZERO
        } else {
            job.stop_timeout
        };
        tokio::select! {
            result = job.docker.stop_container(&job.container_id, grace) => {
                if let Err(e) = result {
                    tracing::warn!(task = %job.task_id, "stopping the task's container failed: {e}", e = crate::error::chain(&e));
                }
            }
            _ = cancel.cancelled() => {}
        }
    }
    let _ = progress.send(stage(LastStatus::Deprovisioning));
    let exit_code = match job.docker.inspect_container(&job.container_id).await {
        Ok(Some(info)) => info.exit_code,
        _ => None,
    };
    let removal_error = job
        .docker
        .remove_container(&job.container_id, true)
        .await
        .err()
        .map(|e| crate::error::chain(&e).to_string());
    let _ = progress.send(StopProgress::Done {
        task_id: job.task_id,
        exit_code,
        removal_error,
    });
}

/// Waits until the target no longer shows (drained), at most the group's deregistration delay.
async fn wait_drained(tg: &TargetGroupHandle, task_id: &str, cancel: &CancellationToken) {
    let deadline = tokio::time::Instant::now() + tg.config().deregistration_delay + DRAIN_SLACK;
    let mut changes = tg.changes();
    while tg.state_of(task_id).is_some() {
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep_until(deadline) => return,
            _ = cancel.cancelled() => return,
        }
    }
}
