//! Read replicas in the running lab: made from a physical copy of their source (the config's at
//! `up`, others through the AWS API at run time), supervised like any instance with a sampler
//! of their replication, delayed on request (`tierlab chaos replica-lag`), promoted to
//! standalone instances.
//!
//! Creation, step by step ([`Databases::create_read_replica`]):
//! 1. the source's master and root passwords (and its encryption key, if any) are copied under
//!    the replica's name (the copy holds the source's accounts and opens with its key);
//! 2. the replication account is ensured on the source (so the copy has it too);
//! 3. a physical copy of the source is taken while it serves, and restored into the replica's
//!    new volume; the replica's option file says `read_only`;
//! 4. the replica's container starts on that volume (status `creating`);
//! 5. in the background (or awaited, at `up`): once the engine answers it follows the source by
//!    GTID from the copy's position, asynchronously; then `available`, supervised and sampled.

use std::time::Duration;

use crate::config::Database;
use crate::error::Error;
use crate::rds::copy::{self, Seed};
use crate::rds::replication::{self, PASSWORD_SECRET};
use crate::rds::sql::Node;
use crate::rds::{self, DbInstance, EventKind, InstanceStatus, RdsError, read_replica};

use super::databases::{Databases, Launcher};

/// Secrets a replica shares with its source (its data is a copy of the source's).
const SHARED_SECRETS: [&str; 2] = ["master-password", "root-password"];

impl Databases {
    /// Creates read replica `settings.identifier` of `source` (steps 1–4 above) and returns it
    /// at status `creating`; replication is set up in the background, in the lab's task tree.
    pub async fn create_read_replica(
        &self,
        source: &DbInstance,
        settings: Database,
    ) -> Result<DbInstance, Error> {
        let (replica, seed) = self.seed_and_start(source, &settings).await?;
        let this = self.clone();
        let (source, task_replica) = (source.clone(), replica.clone());
        let launcher = self.launcher()?;
        launcher.tasks.spawn(
            format!("read replica start {}", replica.identifier),
            move |cancel| async move {
                let finish =
                    this.finish_replica(&task_replica, &source, &seed, rds::RECOVERY_TIMEOUT);
                if let Some(Err(e)) = cancel.run_until_cancelled(finish).await {
                    tracing::warn!(
                        "read replica {} was not created: {}",
                        task_replica.identifier,
                        crate::error::chain(&e)
                    );
                }
            },
        );
        Ok(replica)
    }

    /// Creates read replica `settings.identifier` of `source` and waits until it replicates
    /// (the config's replicas, at `up`).
    pub async fn start_read_replica(
        &self,
        source: &DbInstance,
        settings: &Database,
        timeout: Duration,
    ) -> Result<DbInstance, Error> {
        let (replica, seed) = self.seed_and_start(source, settings).await?;
        self.finish_replica(&replica, source, &seed, timeout)
            .await?;
        Ok(replica)
    }

    /// Promotes `replica`: status `modifying` at once; in the background its replication stops
    /// after it applied what it received, it becomes writable, standalone (no longer listed by
    /// its source) with `backup_retention_days`, then `available`.
    pub fn promote_read_replica(
        &self,
        replica: &DbInstance,
        backup_retention_days: u32,
    ) -> Result<(), Error> {
        let launcher = self.launcher()?;
        if !replica.replica().begin_promotion() {
            return Err(replica_error(
                replica,
                "promoting it",
                "a promotion is already running",
            ));
        }
        replica.state().hold(InstanceStatus::Modifying);
        let (docker, storage) = (launcher.docker.clone(), storage(launcher));
        let replica = replica.clone();
        launcher.tasks.spawn(
            format!("read replica promotion {}", replica.identifier),
            move |cancel| async move {
                let promotion = promote(&docker, &storage, &replica, backup_retention_days);
                match cancel.run_until_cancelled(promotion).await {
                    Some(Ok(())) => {
                        tracing::info!(
                            "read replica {} promoted: standalone and writable",
                            replica.identifier
                        );
                    }
                    Some(Err(e)) => tracing::warn!(
                        "read replica {} was not promoted (it still replicates, read-only): {}",
                        replica.identifier,
                        crate::error::chain(&e)
                    ),
                    None => {}
                }
                replica.replica().end_promotion();
                replica.state().release(InstanceStatus::Available);
            },
        );
        Ok(())
    }

    /// Delays read replica `identifier` by `seconds` (`MASTER_DELAY`; 0 removes the delay).
    pub async fn set_replica_delay(
        &self,
        identifier: &str,
        seconds: u64,
    ) -> Result<(), ReplicaDelayError> {
        let replica = self
            .get(identifier)
            .ok_or_else(|| ReplicaDelayError::NoSuchInstance {
                identifier: identifier.to_string(),
                known: self
                    .list()
                    .iter()
                    .map(|db| db.identifier.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        if replica.settings().read_replica_source.is_none() {
            return Err(ReplicaDelayError::NotAReplica(identifier.to_string()));
        }
        if replica.status() != InstanceStatus::Available || replica.replica().is_promoting() {
            return Err(ReplicaDelayError::NotAvailable {
                identifier: identifier.to_string(),
                status: replica.status(),
            });
        }
        let launcher = self
            .launcher()
            .map_err(|e| ReplicaDelayError::Failed(Box::new(e)))?;
        read_replica::ops::set_delay(&launcher.docker, &replica, seconds)
            .await
            .map_err(|e| ReplicaDelayError::Failed(Box::new(e.into())))
    }

    /// Steps 1–4: secrets, replication account, copy restored into a new volume, container.
    async fn seed_and_start(
        &self,
        source: &DbInstance,
        settings: &Database,
    ) -> Result<(DbInstance, Seed), Error> {
        let launcher = self.launcher()?;
        let (docker, lab) = (&launcher.docker, launcher.config.lab.name.as_str());
        let id = settings.identifier.as_str();

        // 1. The source's passwords, under the replica's name.
        for secret in SHARED_SECRETS {
            let value = launcher
                .state
                .secret(lab, &format!("{}-{secret}", source.identifier))?;
            crate::state::write_private_file(
                &launcher.state.secret_path(lab, &format!("{id}-{secret}")),
                value.as_bytes(),
            )?;
        }
        // An encrypted source's copy opens only with its key.
        rds::backups::encryption::copy_key(&launcher.state, lab, &source.identifier, id)
            .map_err(at(id, "copying its source's encryption key".into()))?;
        // 2. The replication account on the source.
        let password = launcher.state.secret(lab, PASSWORD_SECRET)?;
        let source_container = source.container_id();
        let source_node = Node {
            docker,
            container: &source_container,
            port: source.port,
        };
        replication::ensure_user(&source_node, &password)
            .await
            .map_err(at(
                id,
                format!(
                    "creating the replication account on `{}`",
                    source.identifier
                ),
            ))?;
        // 3. A fresh volume (a replica of the same name from an earlier run is stale), the copy.
        let volume = rds::volume_name(lab, id);
        docker
            .remove_container(&rds::container_name(lab, id), true)
            .await?;
        docker.remove_volume(&volume).await?;
        let storage = storage(launcher);
        let started = std::time::Instant::now();
        let seed = copy::take(
            docker,
            &source_container,
            source.port,
            &storage,
            &format!("seeds/{id}"),
        )
        .await
        .map_err(at(id, format!("copying `{}`", source.identifier)))?;
        let restore = copy::Restore {
            lab,
            identifier: id,
            image: &settings.image,
            storage: &storage,
            volume: &volume,
        };
        copy::restore_into_volume(docker, &seed, &restore)
            .await
            .map_err(at(id, "restoring the copy into its volume".into()))?;
        read_replica::role::write(&storage, id, true)
            .map_err(at(id, "writing its option file".into()))?;
        tracing::info!(
            "read replica {id}: copy of {} at GTID {:?} restored in {:.1}s",
            source.identifier,
            seed.gtid,
            started.elapsed().as_secs_f64()
        );
        // 4. Its container, on the restored volume.
        let replica = self.start(settings).await?;
        Ok((replica, seed))
    }

    /// Step 5: wait for the engine, follow the source, then available and supervised.
    async fn finish_replica(
        &self,
        replica: &DbInstance,
        source: &DbInstance,
        seed: &Seed,
        timeout: Duration,
    ) -> Result<(), Error> {
        let result = self.follow(replica, source, seed, timeout).await;
        let _ = seed.remove();
        if let Err(e) = result {
            replica.state().set_status(InstanceStatus::Failed);
            replica.state().record(&EventKind::ReplicaCreationFailed);
            return Err(e);
        }
        replica
            .replica()
            .set(read_replica::ReplicaObserved::starting());
        replica.state().set_status(InstanceStatus::Available);
        self.supervise(replica);
        Ok(())
    }

    async fn follow(
        &self,
        replica: &DbInstance,
        source: &DbInstance,
        seed: &Seed,
        timeout: Duration,
    ) -> Result<(), Error> {
        let launcher = self.launcher()?;
        let docker = &launcher.docker;
        rds::wait_ready(docker, replica, timeout).await?;
        let password = launcher
            .state
            .secret(&launcher.config.lab.name, PASSWORD_SECRET)?;
        let container = replica.container_id();
        let node = Node {
            docker,
            container: &container,
            port: replica.port,
        };
        // The source's endpoint: it follows the source wherever that name points.
        let from = replication::Source {
            host: &source.endpoint,
            port: source.port,
            password: &password,
        };
        replication::follow(&node, &from, &seed.gtid, false)
            .await
            .map_err(|e| {
                replica_error_with(
                    &replica.identifier,
                    format!("following `{}`", source.identifier),
                    e,
                )
            })?;
        Ok(())
    }
}

/// The promotion itself: engine, option file, settings.
async fn promote(
    docker: &crate::docker::DockerClient,
    storage: &std::path::Path,
    replica: &DbInstance,
    backup_retention_days: u32,
) -> Result<(), RdsError> {
    read_replica::ops::promote(docker, replica).await?;
    read_replica::role::write(storage, &replica.identifier, false).map_err(|e| {
        replica_error_with(&replica.identifier, "writing its option file".into(), e)
    })?;
    replica.update_settings(|s| {
        s.read_replica_source = None;
        s.backup_retention_days = backup_retention_days;
    });
    replica.replica().clear();
    Ok(())
}

/// Maps an error of `step` of replica `identifier` to the lab's error.
fn at<E>(identifier: &str, step: String) -> impl FnOnce(E) -> Error + '_
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    move |e| replica_error_with(identifier, step, e).into()
}

fn storage(launcher: &Launcher) -> std::path::PathBuf {
    rds::storage_dir(&launcher.state, &launcher.config.lab.name)
}

fn replica_error_with(
    identifier: &str,
    step: String,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> RdsError {
    RdsError::ReadReplica {
        identifier: identifier.to_string(),
        step,
        source: source.into(),
    }
}

fn replica_error(replica: &DbInstance, step: &str, why: &str) -> Error {
    replica_error_with(&replica.identifier, step.to_string(), why.to_string()).into()
}

/// Why a replica's delay could not be set.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaDelayError {
    #[error("the lab has no DB instance `{identifier}` (instances: {known})")]
    NoSuchInstance { identifier: String, known: String },
    #[error("DB instance `{0}` is not a read replica")]
    NotAReplica(String),
    #[error("read replica `{identifier}` is {status}, not available")]
    NotAvailable {
        identifier: String,
        status: InstanceStatus,
    },
    #[error(transparent)]
    Failed(Box<Error>),
}
