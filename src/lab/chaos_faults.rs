//! The faults of `tierlab chaos` that act on tasks and on the load balancer's path (kill,
//! pause, latency, resets, error answers), the record of every active fault (`list`), and
//! their end: by themselves after `--for`, or all at once with `clear`.

use std::net::SocketAddr;
use std::time::Duration;

use crate::chaos::{Fault, FaultKind, toxics_of};
use crate::docker::DockerError;
use crate::ecs::TaskStatus;

use super::LabView;
use super::chaos::TierPath;

/// Why a fault could not be applied or ended.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error(transparent)]
    NoTask(#[from] crate::ecs::lookup::TaskLookupError),
    #[error("the lab runs no task to {0}")]
    NoRunningTask(&'static str),
    #[error(
        "task {0} has no load balancer target, so no requests reach it through the load balancer"
    )]
    NoTarget(String),
    #[error(
        "faults on the task → database path are not supported yet: this kernel has no netem for `tc`, and tierlab puts no proxy on that path (the load balancer → task path, `lb-task`, takes latency and resets)"
    )]
    TaskDbPath,
    #[error("the lab runs no containers (no Docker)")]
    NoDocker,
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Zone(#[from] Box<super::zone_outage::ZoneChaosError>),
    #[error(transparent)]
    ReplicaLag(#[from] Box<super::replicas::ReplicaDelayError>),
}

impl FaultError {
    /// Whether the request was wrong (HTTP 400) rather than the lab failing (500).
    pub fn is_request_error(&self) -> bool {
        matches!(
            self,
            FaultError::NoTask(_)
                | FaultError::NoRunningTask(_)
                | FaultError::NoTarget(_)
                | FaultError::TaskDbPath
        )
    }
}

/// " for 30s" or " until `tierlab chaos clear`".
fn how_long(lasting: Option<Duration>) -> String {
    match lasting {
        Some(d) => format!(" for {}", humantime::format_duration(d)),
        None => " until `tierlab chaos clear`".to_string(),
    }
}

impl LabView {
    /// The running task `given` names, or the first running one of the first service.
    fn chosen_task(&self, given: Option<&str>, to: &'static str) -> Result<TaskStatus, FaultError> {
        let tasks: Vec<TaskStatus> = self
            .services()
            .iter()
            .flat_map(|s| s.status().tasks)
            .collect();
        let Some(given) = given else {
            return tasks
                .into_iter()
                .find(|t| t.target_address.is_some() || !t.container_id.is_empty())
                .ok_or(FaultError::NoRunningTask(to));
        };
        let (_, id) = crate::ecs::lookup::resolve(
            given,
            tasks
                .iter()
                .map(|t| (t.service.as_str(), t.task_id.as_str())),
        )?;
        let id = id.to_string();
        Ok(tasks
            .into_iter()
            .find(|t| t.task_id == id)
            .expect("resolved among these tasks"))
    }

    fn docker_client(&self) -> Result<&crate::docker::DockerClient, FaultError> {
        self.docker.as_ref().ok_or(FaultError::NoDocker)
    }

    /// `tierlab chaos kill-task [TASK]`.
    pub(super) async fn kill_task(&self, task: Option<&str>) -> Result<String, FaultError> {
        let task = self.chosen_task(task, "kill")?;
        self.docker_client()?
            .kill_container(&task.container_id)
            .await?;
        tracing::warn!("chaos: task {} killed (SIGKILL)", task.task_id);
        Ok(format!(
            "task {} of service {} killed (SIGKILL, no draining); the service starts a replacement",
            task.task_id, task.service
        ))
    }

    /// `tierlab chaos pause-task [TASK] [--for D]`.
    pub(super) async fn pause_task(
        &self,
        task: Option<&str>,
        lasting: Option<Duration>,
    ) -> Result<String, FaultError> {
        let task = self.chosen_task(task, "pause")?;
        self.docker_client()?
            .pause_container(&task.container_id)
            .await?;
        let description = format!(
            "task {} of service {}: every process frozen",
            task.task_id, task.service
        );
        let kind = FaultKind::PausedTask {
            task_id: task.task_id.clone(),
            container_id: task.container_id.clone(),
        };
        self.begin(kind, description, lasting);
        Ok(format!(
            "task {} of service {} paused (every process frozen, as by SIGSTOP){}; the target group's health checks time out on it",
            task.task_id,
            task.service,
            how_long(lasting)
        ))
    }

    /// `tierlab chaos latency lb-task DELAY [--jitter J] [--for D]`.
    pub(super) fn latency(
        &self,
        path: TierPath,
        delay: Duration,
        jitter: Duration,
        lasting: Option<Duration>,
    ) -> Result<String, FaultError> {
        if path == TierPath::TaskDb {
            return Err(FaultError::TaskDbPath);
        }
        let shown = |d: Duration| humantime::format_duration(d).to_string();
        let description = format!(
            "load balancer → tasks: +{} latency (jitter {})",
            shown(delay),
            shown(jitter)
        );
        self.begin(FaultKind::Latency { delay, jitter }, description, lasting);
        Ok(format!(
            "every request from the load balancer to its targets now waits {} more (plus up to {} jitter){}",
            shown(delay),
            shown(jitter),
            how_long(lasting)
        ))
    }

    /// `tierlab chaos reset lb-task [--rate R] [--for D]`.
    pub(super) fn reset(
        &self,
        path: TierPath,
        rate: f64,
        lasting: Option<Duration>,
    ) -> Result<String, FaultError> {
        if path == TierPath::TaskDb {
            return Err(FaultError::TaskDbPath);
        }
        let percent = rate * 100.0;
        let description = format!("load balancer → tasks: {percent:.0}% of connections reset");
        self.begin(FaultKind::Reset { rate }, description, lasting);
        Ok(format!(
            "{percent:.0}% of the load balancer's connections to its targets are now reset before a response{}",
            how_long(lasting)
        ))
    }

    /// `tierlab chaos http-errors [TASK] [--rate R] [--status S] [--for D]`.
    pub(super) fn http_errors(
        &self,
        task: Option<&str>,
        rate: f64,
        status: u16,
        lasting: Option<Duration>,
    ) -> Result<String, FaultError> {
        let task = self.chosen_task(task, "fail")?;
        let target: SocketAddr = task
            .target_address
            .as_deref()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| FaultError::NoTarget(task.task_id.clone()))?;
        let percent = rate * 100.0;
        let description = format!(
            "task {} answers {status} to {percent:.0}% of its requests",
            task.task_id
        );
        let kind = FaultKind::HttpErrors {
            task_id: task.task_id.clone(),
            target,
            rate,
            status,
        };
        self.begin(kind, description, lasting);
        Ok(format!(
            "task {} of service {} now answers {status} to {percent:.0}% of its requests{}",
            task.task_id,
            task.service,
            how_long(lasting)
        ))
    }

    /// `tierlab chaos list`: the active faults, a line each.
    pub(super) fn list_faults(&self) -> String {
        let faults = self.chaos.faults();
        if faults.is_empty() {
            return "no fault is active".to_string();
        }
        faults
            .iter()
            .map(|f| {
                let until = f.ends_at.as_deref().unwrap_or("cleared");
                format!(
                    "#{} {} since {} until {}: {}",
                    f.id,
                    f.kind.name(),
                    f.started_at,
                    until,
                    f.description
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `tierlab chaos clear`: ends every active fault.
    pub(super) async fn clear_faults(&self) -> Result<String, FaultError> {
        let faults = self.chaos.remove_where(|_| true);
        let count = faults.len();
        for fault in faults {
            self.undo(fault).await?;
        }
        Ok(match count {
            0 => "no fault was active".to_string(),
            1 => "1 fault ended".to_string(),
            n => format!("{n} faults ended"),
        })
    }

    /// A read replica's lag, recorded (0 seconds ends it).
    pub(super) fn record_replica_lag(&self, replica: &str, seconds: u64) {
        let kind = FaultKind::ReplicaLag {
            replica: replica.to_string(),
        };
        if seconds == 0 {
            self.chaos.remove_where(|k| *k == kind);
        } else {
            let description = format!("read replica {replica} applies changes {seconds}s late");
            self.chaos.add(kind, description, None);
        }
    }

    /// A zone outage, recorded.
    pub(super) fn record_az_outage(&self, zone: &str) {
        let kind = FaultKind::AzOutage {
            zone: zone.to_string(),
        };
        self.chaos
            .add(kind, format!("availability zone {zone} down"), None);
    }

    /// A zone restored: its outage is over.
    pub(super) fn forget_az_outage(&self, zone: &str) {
        self.chaos
            .remove_where(|k| matches!(k, FaultKind::AzOutage { zone: z } if z == zone));
    }

    /// Records a fault, applies the load balancer's toxics if it is one, and ends it after
    /// `lasting`.
    fn begin(&self, kind: FaultKind, description: String, lasting: Option<Duration>) {
        let toxic = kind.is_toxic();
        let (fault, _replaced) = self.chaos.add(kind, description, lasting);
        if toxic {
            self.apply_toxics();
        }
        if let Some(lasting) = lasting {
            let view = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(lasting).await;
                if let Some(fault) = view.chaos.remove(fault.id)
                    && let Err(e) = view.undo(fault).await
                {
                    tracing::warn!("chaos: a fault could not be ended: {e}");
                }
            });
        }
    }

    /// Ends `fault` (already out of the record).
    async fn undo(&self, fault: Fault) -> Result<(), FaultError> {
        tracing::info!("chaos: fault #{} ended ({})", fault.id, fault.description);
        match fault.kind {
            FaultKind::Latency { .. } | FaultKind::Reset { .. } | FaultKind::HttpErrors { .. } => {
                self.apply_toxics();
            }
            FaultKind::PausedTask { container_id, .. } => {
                self.docker_client()?
                    .unpause_container(&container_id)
                    .await?;
            }
            FaultKind::ReplicaLag { replica } => {
                self.rds()
                    .set_replica_delay(&replica, 0)
                    .await
                    .map_err(Box::new)?;
            }
            FaultKind::AzOutage { zone } => {
                self.az_restore(&zone).await.map_err(Box::new)?;
            }
        }
        Ok(())
    }

    /// Sets every target group's toxics to what the active faults add up to.
    fn apply_toxics(&self) {
        let toxics = toxics_of(&self.chaos.faults());
        for group in &self.target_groups {
            group.set_toxics(Some(toxics.clone()));
        }
    }
}
