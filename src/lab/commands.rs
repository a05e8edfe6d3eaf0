//! Commands on a running lab, the same ones the AWS API and the CLI carry: scale a service,
//! stop a task.

use crate::ecs::lookup::{self, TaskLookupError};
use crate::ecs::{DesiredCountError, StopTaskError, TaskStatus};

use super::Lab;

/// Why a command on a running lab failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("lab `{lab}` has no service `{service}` (services: {known})")]
    NoSuchService {
        lab: String,
        service: String,
        known: String,
    },
    #[error(transparent)]
    DesiredCount(#[from] DesiredCountError),
    #[error(transparent)]
    TaskLookup(#[from] TaskLookupError),
    #[error(transparent)]
    StopTask(#[from] StopTaskError),
}

impl Lab {
    /// Sets a service's desired count (as `aws ecs update-service --desired-count`); it lasts
    /// until the lab stops. Returns the previous count. Does not wait: see
    /// [`crate::ecs::ServiceHandle::wait_steady`].
    pub fn scale(&self, service: &str, count: u32) -> Result<u32, CommandError> {
        let handle = self
            .service(service)
            .ok_or_else(|| CommandError::NoSuchService {
                lab: self.config.lab.name.clone(),
                service: service.to_string(),
                known: self
                    .services
                    .iter()
                    .map(|s| s.name().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        Ok(handle.set_desired_count(count)?)
    }

    /// Stops the task whose id is `task` or starts with it (as `aws ecs stop-task`, with
    /// ECS's "Task stopped by user"); its service replaces it. Returns the task as its stop
    /// begins.
    pub async fn stop_task(&self, task: &str) -> Result<TaskStatus, CommandError> {
        let statuses: Vec<_> = self.services.iter().map(|s| s.status()).collect();
        let candidates = statuses.iter().flat_map(|s| {
            s.all_tasks()
                .map(move |t| (s.name.as_str(), t.task_id.as_str()))
        });
        let (service, task_id) = lookup::resolve(task, candidates)?;
        let handle = self
            .service(service)
            .expect("the service was found in the lab's own status");
        Ok(handle.stop_task(task_id, None).await?)
    }
}
