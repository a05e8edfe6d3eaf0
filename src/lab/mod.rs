//! [`Lab`]: the whole architecture running, started from a config and stopped again.
//!
//! `Lab::start` brings the tiers up bottom to top, each step waiting on a condition:
//! 1. state directory (writable, checked first) and local CA;
//! 2. Docker: clear leftovers, networks, images;
//! 3. databases, until they accept connections, then their read replicas; bastions start
//!    alongside (they need only the networks of step 2), so they add nothing to the start's time;
//! 4. target groups and health checks;
//! 5. load balancers;
//! 6. services, until their tasks are healthy (and the orphan sweep, see `orphans`);
//! 7. the AWS API endpoint (`aws_api`).
//!
//! A failure at any step removes what the earlier steps made.
//!
//! Every loop the lab spawns runs in one named task tree ([`Tasks`]) under the caller's
//! `shutdown` token. Stopping is one path ([`teardown`]): cancel the tree (by `Lab::shutdown` or
//! by cancelling the caller's token), drain it with a deadline, remove the containers. `Drop`
//! removes the lab's containers and networks as a fallback, and a lab that runs containers has a
//! reaper process that removes them if this process dies ([`reaper`]).

pub mod apply;
mod aws_api;
mod chaos;
mod chaos_faults;
mod cleanup;
mod commands;
mod databases;
pub mod db_access;
mod events;
mod images;
mod orphans;
mod progress;
pub mod reaper;
mod replicas;
mod run_lock;
pub mod secret_seeds;
mod status;
mod task_networks;
pub mod tasks;
mod teardown;
mod zone_outage;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::alb::{LoadBalancerHandle, LocalCa, TargetGroupHandle};
use crate::bastion::BastionHandle;
use crate::config::{self, Config};
use crate::docker::{DockerClient, labels};
use crate::ecs::{self, ServiceHandle, ServiceSetup};
use crate::error::Error;
use crate::rds::{self, DbInstance};
use crate::registry::Registry;
use crate::state::StateDir;
use crate::vpc;

pub use chaos::{Chaos, ChaosError, TierPath};
pub use cleanup::{Removed, remove_lab, remove_lab_within};
pub use commands::CommandError;
pub use databases::Databases;
pub use progress::{LogProgress, Progress};
pub use reaper::Reaper;
pub use replicas::ReplicaDelayError;
pub use status::{
    AlbStatus, AwsStatus, DashboardStatus, DatabaseStatus, LabStatus, LabView, ListenerStatus,
    Orphan, OrphanStatus, ReplicationStatus, StandbyState, StandbyStatus, SubnetStatus,
    TargetGroupStatus, VpcStatus, ZoneStatus,
};
pub use tasks::{Straggler, Tasks};

/// How long a start waits for the run lock of an earlier run of the lab (its reaper removes
/// what a crashed run left within 10 s).
const RUN_LOCK_WAIT: Duration = Duration::from_secs(15);
/// Pause between the two cleanup sweeps of the `Drop` fallback.
const DROP_SWEEP_PAUSE: Duration = Duration::from_millis(750);

/// Options of [`Lab::start`].
pub struct StartOptions {
    pub progress: Arc<dyn Progress>,
    /// Overrides the state directory (tests use a temp dir); else config / env / default.
    pub state_dir: Option<PathBuf>,
    /// Wait until every service has its desired number of healthy tasks (default). Off, `start`
    /// returns once the controllers run: for a service that is not expected to get steady.
    pub wait_for_steady_services: bool,
    /// The watchdog that removes the lab's containers if this process dies (default: find the
    /// `tierlab` binary, see [`reaper`]).
    pub reaper: Reaper,
    /// Throw the lab's data away (a test's lab on a temporary state directory): its volumes
    /// are removed with its containers (by the stop, `Drop` and the reaper), and the reaper
    /// also removes the state directory. Default: volumes are kept, as `tierlab down` keeps them.
    pub ephemeral: bool,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            progress: Arc::new(LogProgress),
            state_dir: None,
            wait_for_steady_services: true,
            reaper: Reaper::Auto,
            ephemeral: false,
        }
    }
}

/// A running lab. Stop it with [`Lab::shutdown`] (or by cancelling the token given to
/// [`Lab::start`]); dropping it cleans up as a fallback.
pub struct Lab {
    config: Arc<Config>,
    state: StateDir,
    docker: Option<DockerClient>,
    ca: LocalCa,
    /// ARNs and AWS-style ids of the lab's resources (kept in the state directory).
    registry: Arc<Registry>,
    /// Secrets Manager and Parameter Store (kept in the state directory, sealed).
    secrets: crate::secrets::SecretStore,
    tasks: Tasks,
    target_groups: HashMap<String, TargetGroupHandle>,
    load_balancers: Vec<LoadBalancerHandle>,
    services: Vec<ServiceHandle>,
    /// The DB instances (of the config, and those created at run time).
    databases: Databases,
    /// Where the Docker event stream sends each container's events.
    routes: events::EventRoutes,
    /// Bastion hosts (step 3b, started alongside the databases).
    bastions: Vec<BastionHandle>,
    /// The security groups as they are now (the config's, changed through the EC2 API).
    security_groups: vpc::LiveGroups,
    /// Task definition revisions (revision 1 from the config; more registered at run time).
    task_definitions: ecs::TaskDefinitions,
    /// Which availability zones are up (`tierlab chaos az-outage` takes one down).
    zones: vpc::ZoneHealth,
    /// What the orphan sweep last found (empty until it runs).
    orphans: tokio::sync::watch::Receiver<OrphanStatus>,
    /// The AWS API endpoint (step 7; `None` until it runs).
    aws_api: Option<aws_api::AwsApi>,
    /// Application Auto Scaling of the services (the config's targets registered at step 6).
    autoscaling: crate::autoscaling::AutoScaling,
    /// The config as declared now: the one started from, then each `tierlab apply`.
    applied: apply::AppliedConfig,
    /// The faults active now (`tierlab chaos`).
    chaos: crate::chaos::ChaosBook,
    /// Run lock and reaper, while the lab runs containers.
    guard: Arc<Mutex<Option<teardown::RunGuard>>>,
    /// Set once a stop completed: nothing left for `Drop`.
    stopped: Arc<AtomicBool>,
    /// True once a stop finished.
    done: Arc<tokio::sync::watch::Sender<bool>>,
    /// The task that stops the lab when the root token is cancelled.
    stopper: Option<tokio::task::JoinHandle<Result<(), Error>>>,
    /// Its volumes go with it (see [`StartOptions::ephemeral`]).
    ephemeral: bool,
    /// What the test harness added (tunnels, the VPC block claim, a temporary state dir).
    pub(crate) harness: crate::harness::Extras,
}

impl Lab {
    /// Loads `path` and starts the lab it describes.
    pub async fn from_file(path: impl AsRef<Path>) -> Result<Lab, Error> {
        let config = config::load(path.as_ref())?;
        Lab::start(config, StartOptions::default(), CancellationToken::new()).await
    }

    /// Parses a TOML string (relative paths resolve against `base_dir`) and starts the lab.
    pub async fn from_toml(text: &str, base_dir: impl AsRef<Path>) -> Result<Lab, Error> {
        let base_dir = base_dir.as_ref();
        let config = config::parse(text, &base_dir.join("<inline>.toml"), base_dir)?;
        Lab::start(config, StartOptions::default(), CancellationToken::new()).await
    }

    /// Starts every tier of `config` and returns once all services have their desired number of
    /// healthy tasks (or fails, leaving nothing behind).
    ///
    /// `shutdown` is the root of the lab's task tree: cancelling it stops the lab as
    /// [`Lab::shutdown`] does (a cancel during the start ends it with [`Error::Interrupted`],
    /// after removing what it made).
    pub async fn start(
        config: Config,
        options: StartOptions,
        shutdown: CancellationToken,
    ) -> Result<Lab, Error> {
        let state = StateDir::resolve(
            options
                .state_dir
                .as_deref()
                .or(config.lab.state_dir.as_deref()),
        );
        // 0. As many descriptors as the hard limit allows (client connections, health checks,
        //    Docker and the upstream pool all need them).
        crate::alb::limits::raise_nofile_limit();
        // 1. A writable state directory (checked before anything is created), and the local
        //    CA (trusted once, shared by labs).
        state.check_writable(&config.lab.name)?;
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }
        let ca = LocalCa::load_or_create(&state.ca_dir())?;
        let registry = Arc::new(Registry::load_or_create(
            &state.lab_dir(&config.lab.name),
            &config.lab.region,
            &config,
        )?);
        let secrets = crate::secrets::SecretStore::open(
            &state,
            &config.lab.name,
            registry.region(),
            registry.account(),
        )?;
        let security_groups = vpc::LiveGroups::new(config.security_groups.clone());
        let task_definitions = ecs::TaskDefinitions::from_config(&config);
        let autoscaling =
            crate::autoscaling::AutoScaling::new(registry.region(), registry.account());
        let zones = vpc::ZoneHealth::new(&config);
        let config = Arc::new(config);
        let mut lab = Lab {
            applied: apply::AppliedConfig::new(config.clone()),
            chaos: crate::chaos::ChaosBook::default(),
            config,
            state,
            docker: None,
            ca,
            registry,
            secrets,
            tasks: Tasks::new(shutdown.clone()),
            target_groups: HashMap::new(),
            load_balancers: Vec::new(),
            services: Vec::new(),
            databases: Databases::default(),
            routes: events::EventRoutes::default(),
            bastions: Vec::new(),
            security_groups,
            task_definitions,
            zones,
            orphans: tokio::sync::watch::channel(OrphanStatus::default()).1,
            aws_api: None,
            autoscaling,
            guard: Arc::default(),
            stopped: Arc::default(),
            done: Arc::new(tokio::sync::watch::channel(false).0),
            stopper: None,
            ephemeral: options.ephemeral,
            harness: crate::harness::Extras::default(),
        };
        let wait = options.wait_for_steady_services;
        let started = tokio::select! {
            started = lab.bring_up(&options, wait) => started,
            () = shutdown.cancelled() => Err(Error::Interrupted {
                lab: lab.config.lab.name.clone(),
            }),
        };
        match started {
            Ok(()) => {
                let teardown = lab.teardown();
                lab.stopper = Some(tokio::spawn(async move {
                    teardown.tasks.root().cancelled().await;
                    teardown.run().await
                }));
                Ok(lab)
            }
            Err(e) => {
                if let Err(cleanup) = lab.teardown().run().await {
                    tracing::error!(
                        "cleanup after a failed start also failed: {cleanup}",
                        cleanup = crate::error::chain(&cleanup)
                    );
                }
                Err(e)
            }
        }
    }

    /// What stopping this lab needs, as it is now.
    fn teardown(&self) -> teardown::Teardown {
        teardown::Teardown {
            lab: self.config.lab.name.clone(),
            tasks: self.tasks.clone(),
            docker: self.docker.clone(),
            databases: self.databases.fleet().clone(),
            guard: self.guard.clone(),
            stopped: self.stopped.clone(),
            done: self.done.clone(),
            volumes: self.ephemeral,
        }
    }

    async fn bring_up(&mut self, options: &StartOptions, wait_steady: bool) -> Result<(), Error> {
        let progress = options.progress.as_ref();
        let config = self.config.clone();
        let lab = config.lab.name.clone();
        let deadline = tokio::time::Instant::now() + config.lab.start_timeout;

        // 2. Docker, only when something runs in containers (a load-balancer-only lab needs none):
        //    the run lock (an earlier run's reaper may still be at work) and this run's reaper
        //    before anything is created.
        if !config.services.is_empty()
            || !config.databases.is_empty()
            || !config.bastions.is_empty()
        {
            self.guard_run(&options.reaper).await?;
            let docker = DockerClient::connect().await?;
            self.docker = Some(docker.clone());
            let leftovers = remove_lab(&docker, &lab, false).await?;
            if leftovers.containers > 0 {
                tracing::warn!(
                    containers = leftovers.containers,
                    "removed containers an earlier run of lab `{lab}` left behind"
                );
            }
            for subnet in vpc::subnets_in_use(&config) {
                docker
                    .ensure_network(&vpc::subnet_network(&config, &subnet))
                    .await?;
            }
            images::ensure_images(&docker, &config, progress).await?;
            self.databases = Databases::new(
                docker.clone(),
                config.clone(),
                self.state.clone(),
                self.tasks.clone(),
                self.routes.clone(),
                self.registry.clone(),
                self.zones.clone(),
            );
            let routes = self.routes.clone();
            self.tasks.spawn("Docker event pump", |cancel| {
                events::pump(docker, lab.clone(), routes, cancel)
            });
        }

        // 3b starts now, in the lab's task tree (a failed start drains it before cleaning up).
        let bastions = self.spawn_bastion_starts();

        // 3. Databases, until each accepts connections; then each is supervised (restarted on
        //    its volume if its engine dies or hangs), fed by the lab's Docker event stream.
        for db in config.databases.values() {
            progress.begin(&format!(
                "starting database {} ({})",
                db.identifier, db.image
            ));
            let started = std::time::Instant::now();
            let instance = self.databases.start(db).await?;
            self.databases
                .wait_and_supervise(&instance, remaining(deadline))
                .await?;
            // Its master password in Secrets Manager, as ManageMasterUserPassword keeps it.
            secret_seeds::master_secret(&self.secrets, &self.registry, &instance)?;
            progress.finish(&format!(
                "database {} available in {:.1}s",
                db.identifier,
                started.elapsed().as_secs_f64()
            ));
        }

        // 3b. Bastions, on the networks their security groups allow (kept so as the rules
        //     change); sshd needs no waiting for.
        self.finish_bastions(bastions, progress).await?;

        // 3c. The config's read replicas, each from a copy of its (available) source, replicating
        //     before the services start (their environment may name a replica).
        for db in config.databases.values() {
            for id in &db.read_replicas {
                let source = self
                    .databases
                    .get(&db.identifier)
                    .expect("the source was started above");
                let settings = rds::read_replica::replica_settings(&source.settings(), id, None)
                    .expect("the source's own class is known");
                progress.begin(&format!("creating read replica {id} of {}", db.identifier));
                let started = std::time::Instant::now();
                self.databases
                    .start_read_replica(&source, &settings, remaining(deadline))
                    .await?;
                progress.finish(&format!(
                    "read replica {id} replicating in {:.1}s",
                    started.elapsed().as_secs_f64()
                ));
            }
        }

        // 4. Target groups with their static targets and health checks.
        for tg in config.target_groups.values() {
            let handle = TargetGroupHandle::new(tg.clone());
            for addr in &tg.static_targets {
                handle.register(&addr.to_string(), *addr);
            }
            let (tracker, cancel) = self
                .tasks
                .group(format!("target group {} (health checks, drains)", tg.name));
            handle.spawn_health_checks(&tracker, cancel);
            self.target_groups.insert(tg.name.clone(), handle);
        }

        // 5. Load balancers.
        for lb in config.load_balancers.values() {
            let access_logs = self.state.lab_dir(&lab).join("access-logs");
            let (tracker, cancel) = self.tasks.group(format!(
                "load balancer {} (listeners, connections, access log)",
                lb.name
            ));
            let handle = LoadBalancerHandle::start_with(
                lb,
                &self.target_groups,
                &self.ca,
                &tracker,
                cancel,
                Some(&access_logs),
            )
            .await
            .map_err(|source| Error::LoadBalancer {
                name: lb.name.clone(),
                source: Box::new(source),
            })?;
            self.load_balancers.push(handle);
        }

        // 5b. Secrets: those emulator.toml declares are created when missing; task definitions'
        //     secrets must name something that exists (values are read at each task launch).
        for name in secret_seeds::seed(&config, &self.secrets, &self.databases.list(), &self.state)?
        {
            tracing::info!(
                "created secret {name} (declared in [secrets]) in the lab's Secrets Manager"
            );
        }
        secret_seeds::check_task_secrets(&config, &self.secrets)?;

        // 6. Services: one controller each, fed by one Docker event stream; and the orphan sweep,
        //    which removes what carries the lab's labels but no controller owns.
        let claims = ecs::Claims::default();
        if let Some(docker) = &self.docker {
            let (sweep, orphans) = orphans::Sweep::new(
                docker.clone(),
                &config,
                claims.clone(),
                self.databases.fleet().clone(),
            );
            self.orphans = orphans;
            self.tasks.spawn("orphan sweep", |cancel| sweep.run(cancel));
        }
        if !config.services.is_empty() {
            let docker = self
                .docker
                .clone()
                .expect("docker is connected when services exist");
            for service in config.services.values() {
                let rx = self.routes.add(labels::Role::Task, &service.name);
                let family = &config.task_definitions[&service.task_definition].family;
                let revision = self
                    .task_definitions
                    .get(family, Some(1))
                    .expect("revision 1 of every config task definition is registered");
                let environment = ecs::environment::resolve(
                    &revision.definition,
                    &self.databases.list(),
                    &self.state,
                    &lab,
                )?;
                let setup = ServiceSetup {
                    docker: docker.clone(),
                    config: config.clone(),
                    service: service.clone(),
                    target_group: service
                        .load_balancer
                        .as_ref()
                        .map(|l| self.target_groups[&l.target_group].clone()),
                    target_group_arn: service
                        .load_balancer
                        .as_ref()
                        .map(|l| self.registry.target_group_arn(&l.target_group)),
                    revision,
                    environment,
                    secrets: self.secrets.clone(),
                    logs_dir: self.state.logs_dir(&lab),
                    claims: claims.clone(),
                    security_groups: self.security_groups.clone(),
                    zones: self.zones.clone(),
                };
                let (tracker, cancel) = self
                    .tasks
                    .group(format!("service controller {}", service.name));
                self.services.push(ecs::spawn(setup, rx, &tracker, cancel));
            }
            // Application Auto Scaling: the config's scalable targets and their policies.
            if let Err(e) = self.autoscaling.register_config(&config) {
                tracing::warn!("cannot register the config's auto scaling: {e}");
            }
            let scaler = crate::autoscaling::scaler::ScalerSetup {
                docker: docker.clone(),
                config: config.clone(),
                services: self.services.clone(),
                target_groups: self.target_groups.values().cloned().collect(),
                load_balancers: self
                    .load_balancers
                    .iter()
                    .map(LoadBalancerHandle::metrics)
                    .collect(),
                autoscaling: self.autoscaling.clone(),
            };
            self.tasks
                .spawn("auto scaling (metrics, target tracking)", |cancel| {
                    crate::autoscaling::scaler::run(scaler, cancel)
                });
            // Running tasks follow security group changes made through the EC2 API.
            let groups = self.security_groups.clone();
            self.tasks
                .spawn("task networks (security groups)", |cancel| {
                    task_networks::follow(docker.clone(), config.clone(), groups, cancel)
                });
            // Unless told not to wait (a service that is not expected to get steady).
            for service in self.services.iter().filter(|_| wait_steady) {
                progress.begin(&format!(
                    "waiting for {} healthy tasks of {}",
                    service.status().desired_count,
                    service.name()
                ));
                service.wait_steady(remaining(deadline)).await?;
                progress.finish(&format!("service {} is steady", service.name()));
            }
        }
        // 7. The AWS API, once every handle it answers from exists.
        self.start_aws_api().await
    }

    /// Step 3b, first half: starts each bastion's container in a task of the lab's tree, while
    /// the databases start.
    fn spawn_bastion_starts(&self) -> Option<BastionStarts> {
        let config = self.config.clone();
        if config.bastions.is_empty() {
            return None;
        }
        let docker = self
            .docker
            .clone()
            .expect("docker is connected when bastions exist");
        let (groups, state) = (self.security_groups.snapshot(), self.state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Not cancelled half-way: a container being created is better finished and removed by
        // the teardown (which waits for this task) than left to Docker's timing.
        self.tasks
            .spawn("bastion start", move |_cancel| async move {
                let mut started = Vec::new();
                for bastion in config.bastions.values() {
                    let at = std::time::Instant::now();
                    let handle =
                        crate::bastion::start(&docker, &config, bastion, &groups, &state).await;
                    started.push(handle.map(|h| (h, at.elapsed())));
                }
                let _ = tx.send(started);
            });
        Some(rx)
    }

    /// Step 3b, second half: the started bastions, each with the loop that keeps its networks in
    /// line with the security groups.
    async fn finish_bastions(
        &mut self,
        starts: Option<BastionStarts>,
        progress: &dyn Progress,
    ) -> Result<(), Error> {
        let Some(starts) = starts else { return Ok(()) };
        let started = starts.await.map_err(|_| Error::Interrupted {
            lab: self.config.lab.name.clone(),
        })?;
        for result in started {
            let (handle, took) = result?;
            let docker = self
                .docker
                .clone()
                .expect("docker is connected when bastions exist");
            let (tracker, cancel) = self
                .tasks
                .group(format!("bastion {} (network attachments)", handle.name));
            crate::bastion::spawn_attachments(
                docker,
                self.config.clone(),
                handle.clone(),
                self.security_groups.clone(),
                databases_now(&self.databases),
                &tracker,
                cancel,
            );
            progress.finish(&format!(
                "bastion {} on 127.0.0.1:{} (ssh) in {:.1}s",
                handle.name,
                handle.ssh_port(),
                took.as_secs_f64()
            ));
            self.bastions.push(handle);
        }
        Ok(())
    }

    /// Takes the lab's run lock (waiting for an earlier run's reaper) and starts this run's
    /// reaper.
    async fn guard_run(&self, reaper: &Reaper) -> Result<(), Error> {
        let lab = &self.config.lab.name;
        let path = run_lock::RunLock::path_in(&self.state.lab_dir(lab));
        let lock_error = |source| {
            Error::Run(RunError::Lock {
                path: path.clone(),
                source,
            })
        };
        let lock = match run_lock::RunLock::try_acquire(&path).map_err(lock_error)? {
            Some(lock) => lock,
            None => {
                tracing::info!(
                    "lab `{lab}` is locked by another run (or its reaper); waiting up to {RUN_LOCK_WAIT:?}"
                );
                run_lock::RunLock::acquire_within(&path, RUN_LOCK_WAIT)
                    .await
                    .map_err(lock_error)?
                    .ok_or_else(|| Error::Run(RunError::Busy { lab: lab.clone() }))?
            }
        };
        let watchdog = match reaper::Watchdog::start(reaper, lab, &self.state, self.ephemeral).await
        {
            Ok(Some(watchdog)) => Some(watchdog),
            Ok(None) => {
                if *reaper != Reaper::Off {
                    tracing::warn!(
                        "no `tierlab` binary found for the reaper (set ${}): if this process dies, lab `{lab}`'s containers keep running until the next start or `tierlab down`",
                        reaper::BIN_ENV
                    );
                }
                None
            }
            Err(e) => {
                tracing::warn!(
                    "cannot start the reaper: {e}; if this process dies, lab `{lab}`'s containers keep running until the next start or `tierlab down`"
                );
                None
            }
        };
        if let Some(w) = &watchdog {
            tracing::debug!(pid = w.pid(), "reaper of lab `{lab}` watching");
        }
        let mut guard = self.guard.lock().unwrap_or_else(|e| e.into_inner());
        *guard = Some(teardown::RunGuard {
            lock: Some(lock),
            watchdog,
        });
        Ok(())
    }

    /// The lab's named task tree (for tasks of its own, like `up`'s control endpoint, and for
    /// tests that check nothing is left running).
    pub fn tasks(&self) -> &Tasks {
        &self.tasks
    }

    /// Waits until the lab has stopped (after [`Lab::shutdown`] or a cancel of the token given
    /// to [`Lab::start`]).
    pub async fn stopped(&self) {
        let mut done = self.done.subscribe();
        let _ = done.wait_for(|done| *done).await;
    }

    /// The validated configuration this lab runs.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The state directory (secrets, CA, logs).
    pub fn state_dir(&self) -> &StateDir {
        &self.state
    }

    /// ARNs and AWS-style ids of the lab's resources.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The Docker client (`None` for a load-balancer-only lab).
    pub fn docker(&self) -> Option<&DockerClient> {
        self.docker.as_ref()
    }

    /// The CA certificate (PEM file) that HTTPS listeners' certificates chain to.
    pub fn ca_cert_path(&self) -> PathBuf {
        self.ca.cert_path()
    }

    /// The CA certificate as PEM text.
    pub fn ca_cert_pem(&self) -> &str {
        self.ca.cert_pem()
    }

    /// The running load balancers.
    pub fn load_balancers(&self) -> &[LoadBalancerHandle] {
        &self.load_balancers
    }

    /// Where access log files of this lab go (`<state>/labs/<lab>/access-logs`).
    pub fn access_log_dir(&self) -> PathBuf {
        self.state
            .lab_dir(&self.config.lab.name)
            .join("access-logs")
    }

    /// URL of the first load balancer's HTTP listener.
    pub fn http_url(&self) -> Option<String> {
        self.load_balancers.first().and_then(|lb| lb.http_url())
    }

    /// URL of the first load balancer's HTTPS listener.
    pub fn https_url(&self) -> Option<String> {
        self.load_balancers.first().and_then(|lb| lb.https_url())
    }

    pub fn service(&self, name: &str) -> Option<&ServiceHandle> {
        self.services.iter().find(|s| s.name() == name)
    }

    pub fn target_group(&self, name: &str) -> Option<&TargetGroupHandle> {
        self.target_groups.get(name)
    }

    /// The DB instances as they are now.
    pub fn databases(&self) -> Vec<DbInstance> {
        self.databases.list()
    }

    /// The RDS tier: its instances, and starting more.
    pub fn rds(&self) -> &Databases {
        &self.databases
    }

    /// The running bastion hosts.
    pub fn bastions(&self) -> &[BastionHandle] {
        &self.bastions
    }

    /// The security groups as they are now (changed at run time through the EC2 API).
    pub fn security_groups(&self) -> &vpc::LiveGroups {
        &self.security_groups
    }

    /// Everything about the running lab, as `tierlab status` shows it.
    pub fn status(&self) -> LabStatus {
        self.view().status()
    }

    /// A cheap, cloneable view that computes the status on demand (for the control endpoint).
    pub fn view(&self) -> LabView {
        let load_balancers = self
            .load_balancers
            .iter()
            .map(|lb| AlbStatus {
                name: lb.name().to_string(),
                http_url: lb.http_url(),
                https_url: lb.https_url(),
                listeners: lb
                    .endpoints()
                    .iter()
                    .map(|e| ListenerStatus {
                        protocol: e.protocol.scheme().to_uppercase(),
                        address: e.addr.to_string(),
                        url: e.url.clone(),
                    })
                    .collect(),
            })
            .collect();
        LabView {
            config: self.config.clone(),
            registry: self.registry.clone(),
            secrets: self.secrets.clone(),
            state: self.state.clone(),
            metrics: self
                .load_balancers
                .iter()
                .map(LoadBalancerHandle::metrics)
                .collect(),
            load_balancers,
            target_groups: self.target_groups.values().cloned().collect(),
            services: self.services.clone(),
            databases: self.databases.clone(),
            bastions: self.bastions.clone(),
            security_groups: self.security_groups.clone(),
            task_definitions: self.task_definitions.clone(),
            zones: self.zones.clone(),
            docker: self.docker.clone(),
            orphans: self.orphans.clone(),
            aws: self.aws_status(),
            autoscaling: self.autoscaling.clone(),
            applied: self.applied.clone(),
            chaos: self.chaos.clone(),
        }
    }

    /// Stops the lab: services (tasks deregistered and removed), load balancers, health checks,
    /// then databases and networks. Volumes are kept, so data survives the next start. The same
    /// as cancelling the token given to [`Lab::start`], then waiting for the stop's result.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        self.harness.close_tunnels();
        self.tasks.root().cancel();
        match self.stopper.take() {
            Some(stopper) => match stopper.await {
                Ok(result) => result,
                // The stopper panicked or was aborted: stop here instead.
                Err(_) => self.teardown().run().await,
            },
            None => self.teardown().run().await,
        }
    }
}

impl Drop for Lab {
    /// Fallback when a lab is dropped without `shutdown` (a panicking test, say): remove its
    /// containers and networks from a separate thread with its own runtime, since `Drop` cannot
    /// await and may run inside another runtime.
    fn drop(&mut self) {
        if self.stopped.load(Ordering::SeqCst) {
            return;
        }
        // The stopper would tear the lab down too, concurrently with this and past the release
        // of the run lock below: only one teardown.
        if let Some(stopper) = self.stopper.take() {
            stopper.abort();
        }
        self.tasks.root().cancel();
        let teardown = self.teardown();
        let Some(docker) = self.docker.take() else {
            teardown.release_guard_blocking();
            return;
        };
        let lab = self.config.lab.name.clone();
        let volumes = self.ephemeral;
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(rt) => rt.block_on(async {
                    // The bollard client is bound to the old runtime's connection pool; connect anew.
                    let docker = DockerClient::connect().await.unwrap_or(docker);
                    // Twice: a create request that was in flight when the lab was dropped (an
                    // interrupted start) lands after the first sweep.
                    for pass in 0..2 {
                        if pass > 0 {
                            tokio::time::sleep(DROP_SWEEP_PAUSE).await;
                        }
                        if let Err(e) = remove_lab(&docker, &lab, volumes).await {
                            eprintln!(
                                "tierlab: cleaning up lab `{lab}` on drop failed: {e}",
                                e = crate::error::chain(&e)
                            );
                        }
                    }
                }),
                Err(e) => eprintln!("tierlab: cannot clean up lab `{lab}` on drop: {e}"),
            }
        });
        let _ = cleanup.join();
        // Removed (or tried): the reaper need not do it again.
        teardown.release_guard_blocking();
    }
}

/// Why a lab could not get or keep its run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot take the run lock {path}")]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "lab `{lab}` is running in another process (its run lock stayed held for {RUN_LOCK_WAIT:?}); stop it first (`tierlab down`)"
    )]
    Busy { lab: String },
    /// `tierlab reap` itself failed (it could not talk to the lab that started it).
    #[error("the reaper failed")]
    Reaper(#[source] std::io::Error),
}

/// The lab's DB instances now, by their settings (a bastion follows those created at run time).
fn databases_now(databases: &Databases) -> crate::bastion::DatabasesNow {
    let databases = databases.clone();
    Arc::new(move || databases.list().iter().map(DbInstance::settings).collect())
}

/// What the bastion start task hands back: each bastion, and how long it took.
type BastionStarts = tokio::sync::oneshot::Receiver<
    Vec<Result<(BastionHandle, Duration), crate::bastion::BastionError>>,
>;

fn remaining(deadline: tokio::time::Instant) -> Duration {
    deadline.saturating_duration_since(tokio::time::Instant::now())
}
