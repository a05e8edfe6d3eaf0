//! `lab.chaos()`: faults on a running lab, for tests. Each is the lab's own mechanism (the one
//! `tierlab chaos`, `stop-task` and `reboot-db-instance --force-failover` use), and each call
//! returns once the fault has begun; wait for the recovery with `wait_until_steady`.
//!
//! The seam for more faults is [`LabChaos::apply`]: every kind of [`Chaos`] the lab knows
//! (a variant and its arm in [`crate::lab::LabView::chaos`]) is reachable from a test
//! through it, without a method here.

use std::time::Duration;

use crate::ecs::TaskStatus;
use crate::lab::{Chaos, LabView, TierPath};
use crate::rds::InstanceStatus;

use super::HarnessError;

/// How long [`LabChaos::failover`] follows the instance to `available` in the other zone.
pub const FAILOVER_TIMEOUT: Duration = Duration::from_secs(120);

/// Faults on one lab (a cheap view of it; clone it into a task freely).
#[derive(Clone)]
pub struct LabChaos {
    pub(crate) view: LabView,
}

impl LabChaos {
    /// Applies any kind of chaos the lab knows; returns what it did, in a sentence.
    pub async fn apply(&self, chaos: &Chaos) -> Result<String, HarnessError> {
        Ok(self.view.chaos(chaos).await?)
    }

    /// Kills the container of one of `service`'s running tasks abruptly (`docker kill`: no
    /// draining, as `tierlab chaos kill-task` does); the service replaces it. Returns the task
    /// as it was.
    pub async fn kill_task(&self, service: &str) -> Result<TaskStatus, HarnessError> {
        let handle = self
            .view
            .service(service)
            .ok_or_else(|| HarnessError::Service {
                service: service.to_string(),
                why: "no such service in this lab".into(),
            })?;
        let task =
            handle
                .status()
                .tasks
                .into_iter()
                .next()
                .ok_or_else(|| HarnessError::Service {
                    service: service.to_string(),
                    why: "it runs no task to kill".into(),
                })?;
        let kill = Chaos::KillTask {
            task: Some(task.task_id.clone()),
        };
        self.apply(&kill).await?;
        Ok(task)
    }

    /// Stops the task `task` (an id or its prefix) as `aws ecs stop-task` does.
    pub async fn stop_task(&self, service: &str, task: &str) -> Result<TaskStatus, HarnessError> {
        let handle = self
            .view
            .service(service)
            .ok_or_else(|| HarnessError::Service {
                service: service.to_string(),
                why: "no such service in this lab".into(),
            })?;
        let id = handle
            .status()
            .tasks
            .iter()
            .map(|t| t.task_id.clone())
            .find(|id| id.starts_with(task))
            .ok_or_else(|| HarnessError::Service {
                service: service.to_string(),
                why: format!("runs no task `{task}`"),
            })?;
        handle
            .stop_task(&id, None)
            .await
            .map_err(|e| HarnessError::Service {
                service: service.to_string(),
                why: crate::error::chain(&e).to_string(),
            })
    }

    /// Fails a Multi-AZ instance over to its standby (`reboot-db-instance --force-failover`)
    /// and returns once it is `available` in the other availability zone.
    pub async fn failover(&self, database: &str) -> Result<(), HarnessError> {
        let db = self
            .view
            .database(database)
            .ok_or_else(|| HarnessError::Database {
                database: database.to_string(),
                why: "DBInstanceNotFound: no such instance in this lab".into(),
            })?;
        let zone_before = self.zone_of(database);
        db.fail_over()
            .await
            .map_err(|source| HarnessError::Failover {
                database: database.to_string(),
                source,
            })?;
        let deadline = tokio::time::Instant::now() + FAILOVER_TIMEOUT;
        loop {
            let now = self.zone_of(database);
            let available = self
                .view
                .database(database)
                .is_some_and(|db| db.state().status() == InstanceStatus::Available);
            if available && now != zone_before {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(HarnessError::Database {
                    database: database.to_string(),
                    why: format!(
                        "not available in another zone than {zone_before:?} within {FAILOVER_TIMEOUT:?} after the failover"
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Takes an availability zone down (`tierlab chaos az-outage`).
    pub async fn az_outage(&self, zone: &str) -> Result<String, HarnessError> {
        self.apply(&Chaos::AzOutage { zone: zone.into() }).await
    }

    /// Brings a zone back (`tierlab chaos az-restore`).
    pub async fn az_restore(&self, zone: &str) -> Result<String, HarnessError> {
        self.apply(&Chaos::AzRestore { zone: zone.into() }).await
    }

    /// Delays a read replica by `delay` (whole seconds; zero removes the delay).
    pub async fn replica_lag(
        &self,
        replica: &str,
        delay: Duration,
    ) -> Result<String, HarnessError> {
        self.apply(&Chaos::ReplicaLag {
            replica: replica.into(),
            delay,
        })
        .await
    }

    /// Adds `delay` to every answer of `database` to the tasks (`tierlab chaos latency
    /// task-db`), until [`clear`](Self::clear); the tasks' next connections go through the
    /// path's proxy.
    pub async fn database_latency(
        &self,
        database: &str,
        delay: Duration,
    ) -> Result<String, HarnessError> {
        self.apply(&Chaos::Latency {
            path: TierPath::TaskDb,
            delay,
            jitter: Duration::ZERO,
            database: Some(database.into()),
            lasting: None,
        })
        .await
    }

    /// Ends every active fault (`tierlab chaos clear`).
    pub async fn clear(&self) -> Result<String, HarnessError> {
        self.apply(&Chaos::Clear).await
    }

    /// The subnet the instance's primary is in now, from the lab's status.
    fn zone_of(&self, database: &str) -> Option<String> {
        self.view
            .status()
            .databases
            .into_iter()
            .find(|d| d.identifier == database)
            .map(|d| d.subnet)
    }
}
