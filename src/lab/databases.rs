//! The lab's RDS tier at run time: the instances ([`rds::Fleet`]) and what starts and supervises
//! one, for those of the config at bring-up and for those created later through the API (a read
//! replica, a restored instance). Each instance's supervisor runs in its own group of the lab's
//! task tree, fed by the lab's event stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::{Config, Database};
use crate::docker::{DockerClient, labels};
use crate::error::Error;
use crate::rds::{self, DbInstance, Fleet, InstanceStatus, RdsError};
use crate::registry::Registry;
use crate::state::StateDir;

use super::events::EventRoutes;
use super::tasks::Tasks;

/// The lab's DB instances and how to start more. Cheap to clone; clones share everything.
#[derive(Clone, Default)]
pub struct Databases {
    fleet: Fleet,
    /// Backups, snapshots and deletions in progress (status shown meanwhile, one copy at a time).
    activity: rds::backups::Activity,
    /// Set once the lab has Docker (a lab without databases has none).
    launcher: Option<Launcher>,
}

#[derive(Clone)]
pub(super) struct Launcher {
    pub(super) docker: DockerClient,
    pub(super) config: Arc<Config>,
    pub(super) state: StateDir,
    pub(super) tasks: Tasks,
    routes: EventRoutes,
    /// RDS-style names (the endpoint address an instance also answers to).
    registry: Arc<Registry>,
    /// Each supervised instance's token, to stop supervising one that is deleted.
    supervisors: Arc<Mutex<HashMap<String, CancellationToken>>>,
    /// Which availability zones are up: supervisors do not restart or build nodes in one down.
    zones: crate::vpc::ZoneHealth,
}

impl Databases {
    /// Databases that can be started on `docker`, supervised in `tasks`.
    pub(super) fn new(
        docker: DockerClient,
        config: Arc<Config>,
        state: StateDir,
        tasks: Tasks,
        routes: EventRoutes,
        registry: Arc<Registry>,
        zones: crate::vpc::ZoneHealth,
    ) -> Databases {
        Databases {
            fleet: Fleet::default(),
            activity: rds::backups::Activity::default(),
            launcher: Some(Launcher {
                docker,
                config,
                state,
                tasks,
                routes,
                registry,
                supervisors: Arc::default(),
                zones,
            }),
        }
    }

    /// The instances as they are now.
    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    pub fn list(&self) -> Vec<DbInstance> {
        self.fleet.list()
    }

    pub fn get(&self, identifier: &str) -> Option<DbInstance> {
        self.fleet.get(identifier)
    }

    /// The Docker client the instances run on (`None` in a lab without databases).
    pub fn docker(&self) -> Option<&DockerClient> {
        self.launcher.as_ref().map(|l| &l.docker)
    }

    /// Starts `db`'s container (its volume is created, or reused with the data it holds) and adds
    /// the instance to the fleet, status `creating` or `starting`. Does not wait for the engine:
    /// see [`Databases::supervise_when_ready`] and [`rds::wait_ready`].
    pub async fn start(&self, db: &Database) -> Result<DbInstance, Error> {
        let launcher = self.launcher()?;
        let endpoint_host = launcher.registry.db_endpoint_host(&db.identifier);
        let _claim = self.fleet.claim_start(rds::container_name(
            &launcher.config.lab.name,
            &db.identifier,
        ));
        let instance = rds::start(
            &launcher.docker,
            &launcher.config,
            db,
            &launcher.state,
            Some(endpoint_host),
        )
        .await?;
        self.fleet.insert(instance.clone());
        Ok(instance)
    }

    /// Waits up to `timeout` for the engine to answer, then marks the instance `available` and
    /// supervises it. On a timeout the instance is `failed` (and stays listed, as RDS lists a
    /// failed instance).
    pub async fn wait_and_supervise(
        &self,
        instance: &DbInstance,
        timeout: Duration,
    ) -> Result<(), Error> {
        let launcher = self.launcher()?;
        if let Err(e) = rds::wait_ready(&launcher.docker, instance, timeout).await {
            instance.state().set_status(InstanceStatus::Failed);
            return Err(e.into());
        }
        instance.state().set_status(InstanceStatus::Available);
        self.supervise(instance);
        Ok(())
    }

    /// [`Databases::wait_and_supervise`] in the background, in the lab's task tree (for an
    /// instance created through the API, whose caller gets `creating` at once).
    pub fn supervise_when_ready(&self, instance: DbInstance, timeout: Duration) {
        let Ok(launcher) = self.launcher() else {
            return;
        };
        let this = self.clone();
        launcher.tasks.spawn(
            format!("database start {}", instance.identifier),
            move |cancel| async move {
                let started = std::time::Instant::now();
                match cancel
                    .run_until_cancelled(this.wait_and_supervise(&instance, timeout))
                    .await
                {
                    Some(Ok(())) => tracing::info!(
                        "database {} available in {:.1}s",
                        instance.identifier,
                        started.elapsed().as_secs_f64()
                    ),
                    Some(Err(e)) => tracing::warn!(
                        "database {} did not become available: {}",
                        instance.identifier,
                        crate::error::chain(&e)
                    ),
                    None => {}
                }
            },
        );
    }

    /// Supervises an available instance until the lab stops or the instance is removed (and
    /// samples a read replica's replication, see [`rds::read_replica::sampler`]).
    pub(super) fn supervise(&self, instance: &DbInstance) {
        let Ok(launcher) = self.launcher() else {
            return;
        };
        let events = launcher
            .routes
            .add(labels::Role::Database, &instance.identifier);
        let (tracker, cancel) = launcher
            .tasks
            .group(format!("database supervisor {}", instance.identifier));
        launcher
            .supervisors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(instance.identifier.clone(), cancel.clone());
        if instance.settings().read_replica_source.is_some() {
            rds::read_replica::sampler::spawn(
                launcher.docker.clone(),
                instance.clone(),
                &tracker,
                cancel.child_token(),
            );
        }
        rds::spawn_supervisor(
            launcher.docker.clone(),
            instance.clone(),
            launcher.zones.clone(),
            events,
            &tracker,
            cancel.clone(),
        );
        // Automated backups (when its retention allows) stop with the supervisor.
        if let Some(backups) = self.backups() {
            tracker.spawn(rds::backups::scheduler::run(
                backups,
                instance.clone(),
                cancel,
            ));
        }
    }

    /// The lab's backups: store, Docker, state (`None` in a lab without databases).
    pub fn backups(&self) -> Option<rds::backups::Backups> {
        let launcher = self.launcher.as_ref()?;
        let config = &launcher.config;
        Some(rds::backups::Backups {
            docker: launcher.docker.clone(),
            store: rds::backups::Store::at(rds::storage_dir(&launcher.state, &config.lab.name)),
            state: launcher.state.clone(),
            lab: config.lab.name.clone(),
            region: config.lab.region.clone(),
            profile: config.lab.profile,
            activity: self.activity.clone(),
        })
    }

    /// The status word RDS shows for `db`: a backup's or deletion's while one runs, else the
    /// observed one.
    pub fn status_word(&self, db: &DbInstance) -> String {
        match self.activity.status_of(&db.identifier) {
            Some(word) if db.status() == InstanceStatus::Available => word.to_string(),
            _ => db.status().to_string(),
        }
    }

    /// Runs `task` in the lab's task tree (work an API call started and answers before it ends).
    pub fn spawn<F, Fut>(&self, name: impl Into<String>, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        if let Ok(launcher) = self.launcher() {
            launcher.tasks.spawn(name, task);
        }
    }

    /// Stops supervising `identifier` and takes it out of the fleet (the caller removes its
    /// containers). `None` when there is no such instance.
    pub fn remove(&self, identifier: &str) -> Option<DbInstance> {
        if let Ok(launcher) = self.launcher() {
            launcher.routes.remove(labels::Role::Database, identifier);
            if let Some(cancel) = launcher
                .supervisors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(identifier)
            {
                cancel.cancel();
            }
        }
        self.fleet.remove(identifier)
    }

    pub(super) fn launcher(&self) -> Result<&Launcher, Error> {
        self.launcher
            .as_ref()
            .ok_or_else(|| RdsError::NoDocker.into())
    }
}
