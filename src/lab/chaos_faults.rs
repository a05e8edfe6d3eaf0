//! The faults of `tierlab chaos` that act on tasks and on the paths between tiers (kill,
//! pause, latency, resets, bandwidth, error answers), the record of every active fault (`list`), and
//! their end: by themselves after `--for`, or all at once with `clear`.

use std::net::SocketAddr;
use std::time::Duration;

use crate::chaos::{Fault, FaultKind, Route, path_toxics_of, toxics_of};
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
    #[error("--database names the instance of a `task-db` fault; `lb-task` has none")]
    DatabaseOffThePath,
    #[error("DBInstanceNotFound: DBInstance {0} not found.")]
    NoDatabase(String),
    #[error("the lab runs no database, so there is no task → database path")]
    NoDatabases,
    #[error(transparent)]
    Path(#[from] Box<crate::rds::detour::DetourError>),
    #[error(
        "InvalidDBInstanceState: Reboot with failover is not supported for DB instance {0}: it is not a Multi-AZ instance."
    )]
    NotMultiAz(String),
    #[error("InvalidDBInstanceState: {0}")]
    Failover(#[from] crate::rds::FailoverError),
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
                | FaultError::DatabaseOffThePath
                | FaultError::NoDatabase(_)
                | FaultError::NoDatabases
                | FaultError::NotMultiAz(_)
                | FaultError::Failover(_)
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
        self.begin(kind, description, lasting).await?;
        Ok(format!(
            "task {} of service {} paused (every process frozen, as by SIGSTOP){}; the target group's health checks time out on it",
            task.task_id,
            task.service,
            how_long(lasting)
        ))
    }

    /// The path `path` names: for `task-db`, to `database` or the lab's first instance that
    /// is not a read replica.
    pub(super) fn route(
        &self,
        path: TierPath,
        database: Option<&str>,
    ) -> Result<Route, FaultError> {
        match (path, database) {
            (TierPath::LbTask, None) => Ok(Route::LbTask),
            (TierPath::LbTask, Some(_)) => Err(FaultError::DatabaseOffThePath),
            (TierPath::TaskDb, given) => Ok(Route::TaskDb(self.chosen_database(given)?.identifier)),
        }
    }

    /// The DB instance `given` names, or the lab's first one that is not a read replica (the
    /// one the app writes to).
    fn chosen_database(&self, given: Option<&str>) -> Result<crate::rds::DbInstance, FaultError> {
        match given {
            Some(id) => self
                .rds()
                .get(id)
                .ok_or_else(|| FaultError::NoDatabase(id.to_string())),
            None => self
                .rds()
                .list()
                .into_iter()
                .find(|db| db.settings().read_replica_source.is_none())
                .ok_or(FaultError::NoDatabases),
        }
    }

    /// `tierlab chaos db-failover [--database DB]`: RDS's reboot with failover.
    pub(super) async fn db_failover(&self, database: Option<&str>) -> Result<String, FaultError> {
        let db = self.chosen_database(database)?;
        let id = db.identifier.clone();
        if !db.settings().multi_az {
            return Err(FaultError::NotMultiAz(id));
        }
        db.fail_over().await?;
        tracing::warn!("chaos: database {id} failing over to its standby");
        Ok(format!(
            "DB instance {id} is failing over to its standby (Multi-AZ instance failover started)"
        ))
    }

    /// `tierlab chaos latency PATH DELAY [--jitter J] [--database DB] [--for D]`.
    pub(super) async fn latency(
        &self,
        route: Route,
        delay: Duration,
        jitter: Duration,
        lasting: Option<Duration>,
    ) -> Result<String, FaultError> {
        let shown = |d: Duration| humantime::format_duration(d).to_string();
        let description = format!(
            "{}: +{} latency (jitter {})",
            route.describe(),
            shown(delay),
            shown(jitter)
        );
        let said = match &route {
            Route::LbTask => format!(
                "every request from the load balancer to its targets now waits {} more (plus up to {} jitter){}",
                shown(delay),
                shown(jitter),
                how_long(lasting)
            ),
            Route::TaskDb(db) => format!(
                "every answer of database {db} to the tasks now waits {} more (plus up to {} jitter){}; the tasks' new connections go through the path's proxy",
                shown(delay),
                shown(jitter),
                how_long(lasting)
            ),
        };
        let kind = FaultKind::Latency {
            route,
            delay,
            jitter,
        };
        self.begin(kind, description, lasting).await?;
        Ok(said)
    }

    /// `tierlab chaos reset PATH [--rate R] [--database DB] [--for D]`.
    pub(super) async fn reset(
        &self,
        route: Route,
        rate: f64,
        lasting: Option<Duration>,
    ) -> Result<String, FaultError> {
        let percent = rate * 100.0;
        let description = format!("{}: {percent:.0}% of connections reset", route.describe());
        let said = match &route {
            Route::LbTask => format!(
                "{percent:.0}% of the load balancer's connections to its targets are now reset before a response{}",
                how_long(lasting)
            ),
            Route::TaskDb(db) => format!(
                "{percent:.0}% of the tasks' new connections to database {db} are now reset as they open{}",
                how_long(lasting)
            ),
        };
        self.begin(FaultKind::Reset { route, rate }, description, lasting)
            .await?;
        Ok(said)
    }

    /// `tierlab chaos bandwidth PATH RATE [--database DB] [--for D]`.
    pub(super) async fn bandwidth(
        &self,
        route: Route,
        bytes_per_second: u64,
        lasting: Option<Duration>,
    ) -> Result<String, FaultError> {
        let rate = super::chaos::format_bandwidth(bytes_per_second);
        let description = format!("{}: at most {rate}", route.describe());
        let said = match &route {
            Route::LbTask => format!(
                "the targets' answers to the load balancer now go at most {rate}{}",
                how_long(lasting)
            ),
            Route::TaskDb(db) => format!(
                "the tasks' connections to database {db} now go at most {rate} each way{}; their new connections go through the path's proxy",
                how_long(lasting)
            ),
        };
        let kind = FaultKind::Bandwidth {
            route,
            bytes_per_second,
        };
        self.begin(kind, description, lasting).await?;
        Ok(said)
    }

    /// `tierlab chaos http-errors [TASK] [--rate R] [--status S] [--for D]`.
    pub(super) async fn http_errors(
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
        self.begin(kind, description, lasting).await?;
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

    /// Records a fault, applies it if it is a toxic (the load balancer's, or a database path's
    /// proxy), and ends it after `lasting`. A path that cannot take it leaves no record.
    async fn begin(
        &self,
        kind: FaultKind,
        description: String,
        lasting: Option<Duration>,
    ) -> Result<(), FaultError> {
        let toxic = kind.is_toxic();
        let database = kind.database_path().map(str::to_string);
        let (fault, _replaced) = self.chaos.add(kind, description, lasting);
        if toxic {
            self.apply_toxics();
        }
        if let Some(database) = database
            && let Err(e) = self.apply_path(&database).await
        {
            self.chaos.remove(fault.id);
            let _ = self.apply_path(&database).await;
            return Err(e);
        }
        if let Some(lasting) = lasting {
            let view = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(lasting).await;
                if let Some(fault) = view.chaos.remove(fault.id)
                    && let Err(e) = view.undo(fault).await
                {
                    tracing::warn!(
                        "chaos: a fault could not be ended: {}",
                        crate::error::chain(&e)
                    );
                }
            });
        }
        Ok(())
    }

    /// Ends `fault` (already out of the record).
    async fn undo(&self, fault: Fault) -> Result<(), FaultError> {
        tracing::info!("chaos: fault #{} ended ({})", fault.id, fault.description);
        match fault.kind {
            FaultKind::Latency { .. }
            | FaultKind::Reset { .. }
            | FaultKind::Bandwidth { .. }
            | FaultKind::HttpErrors { .. } => {
                self.apply_toxics();
                if let Some(database) = fault.kind.database_path() {
                    self.apply_path(database).await?;
                }
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

    /// Sets database `identifier`'s task → database path to what the active faults on it add
    /// up to (a proxy in while any is, out when none is).
    async fn apply_path(&self, identifier: &str) -> Result<(), FaultError> {
        let Some(db) = self.rds().get(identifier) else {
            // The instance was deleted: its path went with it.
            return Ok(());
        };
        let docker = self.docker_client()?;
        crate::rds::detour::set_path_toxics(docker, &db, || {
            path_toxics_of(&self.chaos.faults(), identifier)
        })
        .await
        .map_err(Box::new)?;
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
