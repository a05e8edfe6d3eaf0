//! The service controller: the loop that keeps a service at its desired count. Decisions come
//! from [`super::reconcile::decide`] and [`super::lifecycle`]; this file only observes and
//! applies them. The desired count comes from a `watch` the handle writes (not the frozen
//! config), commands from the handle's channel; stops run in [`super::stopper`], off the loop.

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alb::{TargetGroupHandle, TargetState};
use crate::config::{Config, DeploymentConfiguration, Service};
use crate::docker::{ContainerEvent, DockerClient};
use crate::vpc;

use super::breaker;
use super::claims::Claims;
use super::deployment::{self, Deployment, DeploymentTarget, ServiceUpdate};
use super::handle::{Command, ServiceHandle, StopTaskError};
use super::history;
use super::lifecycle::{self, DesiredStatus, HealthStatus, LastStatus, RolloutState, SteadyEvent};
use super::logs;
use super::messages;
use super::reconcile::{Action, Bounds, ObservedTask, Phase, StopReason, decide};
use super::revisions::Revision;
use super::status::{DeploymentStatus, ServiceEvent, ServiceStatus, TaskStatus};
use super::stopper::{self, StopJob, StopProgress};
use super::task_secrets;
use super::task_spec;
use super::throttle::{Delay, Policy, Throttle};

mod spread;

/// How often the controller looks again without being woken by an event.
const RECONCILE_INTERVAL: Duration = Duration::from_secs(1);
/// Every this many ticks, containers are inspected in case a Docker event was missed.
const INSPECT_EVERY_TICKS: u32 = 5;
/// ECS's `healthCheckGracePeriodSeconds`: how long after launch a task that has never been
/// healthy is not stopped for failing ELB health checks. ECS defaults to 0, but ALB itself takes
/// `unhealthy-threshold × interval` (a minute with AWS's defaults) to call a new target
/// unhealthy; tierlab checks a new target at once and the fast profile's checks are seconds
/// apart, so an app still starting (slowly, on a loaded machine) would be stopped after a second
/// or two and counted as a failed start.
pub const HEALTH_CHECK_GRACE: Duration = Duration::from_secs(20);
/// A task of a service without a load balancer counts as started well (healthy, for the
/// throttle and for steadiness) once its container has run this long.
const STARTED_WITHOUT_LOAD_BALANCER: Duration = Duration::from_secs(5);
/// Service events kept (ECS shows the latest 100).
const EVENTS_KEPT: usize = 100;
/// Commands queued for the controller before senders wait.
const COMMAND_QUEUE: usize = 32;
/// How long a lab's shutdown waits for stops in progress (they skip to removal on cancel).
const STOPPERS_WAIT: Duration = Duration::from_secs(10);

/// Everything a controller needs; built by the lab.
pub struct ServiceSetup {
    pub docker: DockerClient,
    pub config: Arc<Config>,
    pub service: Service,
    /// The revision the service starts with (revision 1, from `emulator.toml`).
    pub revision: Revision,
    pub target_group: Option<TargetGroupHandle>,
    /// Its ARN, for ECS's "registered N targets in (target-group ARN)" events.
    pub target_group_arn: Option<String>,
    /// The task environment with every `${...}` already resolved.
    pub environment: Vec<(String, String)>,
    /// Where the task definition's `secrets` are read from at each launch.
    pub secrets: crate::secrets::SecretStore,
    pub logs_dir: PathBuf,
    /// Task ids the lab's controllers own (shared with the orphan sweep).
    pub claims: Claims,
    /// The security groups as they are now: a task is launched on the networks they allow.
    pub security_groups: crate::vpc::LiveGroups,
    /// Which availability zones are up: no task is placed in one that is down.
    pub zones: crate::vpc::ZoneHealth,
}

/// One task the controller launched.
struct TaskRecord {
    /// The deployment that launched it (it may be adopted by a rollback to its revision).
    deployment: String,
    /// What it runs.
    runs: Arc<DeploymentTarget>,
    container_id: String,
    container_name: String,
    subnet: String,
    launched: u64,
    target: Option<SocketAddr>,
    exited: Option<Option<i64>>,
    created_at: String,
    started_at: String,
    /// Its address on its subnet's network, from Docker's inspect.
    private_ipv4: Option<String>,
    launched_at: Instant,
    /// When the target (or, without a load balancer, the container) was first seen healthy.
    healthy_since: Option<Instant>,
    /// The throttle was told this task's start was good.
    stable_reported: bool,
    log_path: PathBuf,
}

/// A task being stopped (desired status STOPPED) by [`stopper::run`].
struct StoppingTask {
    record: TaskRecord,
    reason: StopReason,
    stage: LastStatus,
    stopping_at: String,
}

/// A stopped task as `describe-tasks` shows it, and when it stopped (for the age bound).
struct StoppedTask {
    status: TaskStatus,
    at: Instant,
}

struct Controller {
    setup: ServiceSetup,
    tasks: BTreeMap<String, TaskRecord>,
    stopping: BTreeMap<String, StoppingTask>,
    /// The desired count: the config's until the handle sets another.
    desired: watch::Receiver<u32>,
    /// The PRIMARY deployment.
    deployment: Deployment,
    /// Older deployments with tasks still to replace (ECS's ACTIVE ones), newest first.
    older: Vec<Deployment>,
    /// The last deployment that completed, which a circuit breaker's rollback redeploys.
    last_completed: Option<(String, Arc<DeploymentTarget>)>,
    deployment_configuration: DeploymentConfiguration,
    /// ECS's healthCheckGracePeriodSeconds as applied.
    grace: Duration,
    /// Steady at the last look (for the "reached a steady state" event).
    was_steady: bool,
    created_at: String,
    launched: u64,
    /// Back-off for launches that fail and tasks that stop before they were ever healthy.
    throttle: Throttle,
    /// When a delayed launch is due (the loop wakes for it).
    wake_at: Option<Instant>,
    /// Stopped tasks, oldest first, bounded by [`history::stopped_to_drop`].
    stopped: VecDeque<StoppedTask>,
    /// Log files of stopped tasks, oldest first, bounded by [`history::logs_to_delete`].
    stopped_logs: VecDeque<PathBuf>,
    events: VecDeque<ServiceEvent>,
    status: watch::Sender<ServiceStatus>,
    log_shippers: TaskTracker,
    log_cancel: CancellationToken,
    stoppers: TaskTracker,
    /// Cancelled with the controller: stops in progress skip to removing the container.
    stop_cancel: CancellationToken,
    stop_progress: mpsc::UnboundedSender<StopProgress>,
    /// An `availabilityZoneRebalancing` under way (see [`spread`]).
    rebalancing: Option<super::placement::Rebalancing>,
}

/// Starts the controller loop. `container_events` carries Docker events of this service's
/// containers. On `cancel`, every task is deregistered and its container removed before the
/// spawned task ends (track it with `tracker`).
pub fn spawn(
    setup: ServiceSetup,
    container_events: mpsc::Receiver<ContainerEvent>,
    tracker: &TaskTracker,
    cancel: CancellationToken,
) -> ServiceHandle {
    let now = now_rfc3339_millis();
    let deployment = Deployment::new(Arc::new(DeploymentTarget {
        revision: setup.revision.clone(),
        environment: setup.environment.clone(),
    }));
    let deployment_configuration = setup.service.deployment;
    let grace = setup
        .service
        .health_check_grace_period
        .unwrap_or(HEALTH_CHECK_GRACE);
    let (status, status_rx) = watch::channel(ServiceStatus::default());
    let desired = Arc::new(watch::Sender::new(setup.service.desired_count));
    let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
    let handle = ServiceHandle {
        name: setup.service.name.clone(),
        status: status_rx,
        desired: desired.clone(),
        commands,
    };
    let throttle = Throttle::new(Policy::for_profile(setup.config.lab.profile));
    // Streams of tasks from earlier runs count as stopped tasks' logs: pruned with the rest.
    let streams_dir = logs::stream_path(
        &setup.logs_dir,
        &setup.revision.definition.container.log_group,
        &task_spec::log_stream(&setup.revision.definition, "x"),
    );
    let earlier = streams_dir
        .parent()
        .map(|dir| logs::earlier_streams(dir, std::time::SystemTime::now()))
        .unwrap_or_default();
    let (stop_progress, stop_progress_rx) = mpsc::unbounded_channel();
    let controller = Controller {
        setup,
        tasks: BTreeMap::new(),
        stopping: BTreeMap::new(),
        desired: desired.subscribe(),
        deployment,
        older: Vec::new(),
        last_completed: None,
        deployment_configuration,
        grace,
        was_steady: false,
        created_at: now,
        launched: 0,
        throttle,
        wake_at: None,
        stopped: VecDeque::new(),
        stopped_logs: earlier.into(),
        events: VecDeque::new(),
        status,
        log_shippers: TaskTracker::new(),
        log_cancel: CancellationToken::new(),
        stoppers: TaskTracker::new(),
        stop_cancel: cancel.child_token(),
        stop_progress,
        rebalancing: None,
    };
    controller.publish_status();
    let inputs = Inputs {
        container_events,
        commands: command_rx,
        stop_progress: stop_progress_rx,
    };
    tracker.spawn(controller.run(inputs, cancel));
    handle
}

/// What wakes the controller besides its tick.
struct Inputs {
    container_events: mpsc::Receiver<ContainerEvent>,
    commands: mpsc::Receiver<Command>,
    stop_progress: mpsc::UnboundedReceiver<StopProgress>,
}

impl Controller {
    async fn run(mut self, mut inputs: Inputs, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(RECONCILE_INTERVAL);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut target_changes = self
            .setup
            .target_group
            .as_ref()
            .map(TargetGroupHandle::changes);
        let mut ticks = 0u32;
        loop {
            self.reconcile().await;
            self.note_steadiness();
            self.publish_status();
            tokio::select! {
                _ = cancel.cancelled() => break,
                Some(event) = inputs.container_events.recv() => self.on_container_event(event),
                Some(command) = inputs.commands.recv() => self.on_command(command),
                Some(progress) = inputs.stop_progress.recv() => self.on_stop_progress(progress),
                Ok(()) = self.desired.changed() => {}
                _ = tick.tick() => {
                    ticks = ticks.wrapping_add(1);
                    if ticks % INSPECT_EVERY_TICKS == 0 {
                        self.inspect_containers().await;
                    }
                }
                Ok(()) = changed(&mut target_changes) => {}
                () = wake(self.wake_at) => {}
            }
        }
        self.stop_all(&mut inputs.stop_progress).await;
        self.publish_status();
    }

    async fn reconcile(&mut self) {
        self.note_health(Instant::now());
        let observed: Vec<ObservedTask> = self
            .tasks
            .iter()
            .map(|(id, task)| ObservedTask {
                task_id: id.clone(),
                launched: task.launched,
                phase: self.phase_of(id, task),
                primary: task.deployment == self.deployment.id,
            })
            .collect();
        let config = self.deployment_configuration;
        // One task more while an availability-zone rebalancing moves one (see `spread`).
        let surge = self.rebalancing_surge();
        let bounds = Bounds {
            desired: *self.desired.borrow_and_update() + surge,
            minimum_healthy_percent: config.minimum_healthy_percent,
            maximum_percent: config.maximum_percent,
            // A deployment its circuit breaker failed launches no more tasks.
            launch: self.deployment.rollout != RolloutState::Failed,
        };
        let actions = decide(&bounds, &observed);
        let primary = self.deployment.id.clone();
        // Stops first, so the events read as ECS's: stopped, then started.
        let mut scaled_in = Vec::new();
        for action in &actions {
            if let Action::Stop { task_id, reason } = action {
                if *reason == StopReason::ScaledIn
                    && let Some(task) = self.tasks.get(task_id)
                {
                    scaled_in.push((task_id.clone(), task.deployment.clone()));
                }
                self.begin_stop(task_id, reason.clone());
            }
        }
        if !scaled_in.is_empty() {
            let ids: Vec<String> = scaled_in.iter().map(|(id, _)| id.clone()).collect();
            let message = messages::stopped(&self.setup.service.name, &ids);
            tracing::info!("{message}");
            self.record_event(message);
            self.record_draining(&scaled_in);
        }
        // Launches can take seconds: show the stops (and the new desired count) meanwhile.
        // The launch delay is cleared only after that, so a status taken meanwhile still says
        // until when launches are delayed (a throttled launch below sets it again).
        self.publish_status();
        self.wake_at = None;
        // A stop above may have tripped the circuit breaker: the launches were meant for the
        // deployment that failed; the next round decides for the one that replaced it.
        let still_primary = self.deployment.id == primary;
        for action in actions.into_iter().filter(|_| still_primary) {
            if let Action::Launch { count } = action {
                self.launch(count).await;
            }
        }
        self.rebalance_round();
        self.prune_history(Instant::now()).await;
    }

    /// Launches up to `count` tasks (the throttle may delay some), then records one event for
    /// those started, as ECS does.
    async fn launch(&mut self, count: u32) {
        let mut started = Vec::new();
        for _ in 0..count {
            // The lab is stopping: a container created now could land after teardown's sweep.
            if self.stop_cancel.is_cancelled() {
                break;
            }
            // The circuit breaker failed the deployment during this round.
            if self.deployment.rollout == RolloutState::Failed {
                break;
            }
            if let Delay::Until(at) = self.throttle.next_launch(Instant::now()) {
                self.wake_at = Some(at);
                break;
            }
            match self.launch_task().await {
                Some(task_id) => started.push(task_id),
                None => break,
            }
        }
        if !started.is_empty() {
            let message = messages::started(&self.setup.service.name, &started);
            self.record_event(message);
            if let Some(arn) = self.setup.target_group_arn.clone() {
                let message =
                    messages::registered_targets(&self.setup.service.name, started.len(), &arn);
                self.record_event(message);
            }
        }
    }

    /// ECS's events for tasks taken out of the load balancer to be stopped: their targets
    /// deregistered, then draining, per deployment (ECS's task set) they belong to.
    fn record_draining(&mut self, tasks: &[(String, String)]) {
        let Some(arn) = self.setup.target_group_arn.clone() else {
            return;
        };
        let service = self.setup.service.name.clone();
        self.record_event(messages::deregistered_targets(&service, tasks.len(), &arn));
        let mut sets: Vec<&str> = tasks.iter().map(|(_, d)| d.as_str()).collect();
        sets.sort_unstable();
        sets.dedup();
        for set in sets {
            let count = tasks.iter().filter(|(_, d)| d == set).count();
            self.record_event(messages::draining(&service, set, count));
        }
    }

    /// Records a change of steadiness: the first steady state completes the deployment.
    fn note_steadiness(&mut self) {
        // Older deployments leave the list once none of their tasks runs.
        let tasks = &self.tasks;
        self.older
            .retain(|d| tasks.values().any(|t| t.deployment == d.id));
        let (running, pending) = self.counts();
        let steady = running == *self.desired.borrow()
            && pending == 0
            && self.stopping.is_empty()
            && self.older.is_empty();
        let (rollout, events) =
            lifecycle::on_steadiness(self.was_steady, steady, self.deployment.rollout);
        self.was_steady = steady;
        if rollout != self.deployment.rollout {
            self.deployment.set_rollout(rollout, None);
            if rollout == RolloutState::Completed {
                self.last_completed =
                    Some((self.deployment.id.clone(), self.deployment.target.clone()));
            }
        }
        let service = self.setup.service.name.clone();
        for event in events {
            let message = match event {
                SteadyEvent::DeploymentCompleted => {
                    messages::deployment_completed(&service, &self.deployment.id)
                }
                SteadyEvent::ReachedSteadyState => messages::steady(&service),
            };
            tracing::info!("{message}");
            self.record_event(message);
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::StopTask {
                task_id,
                reason,
                reply,
            } => self.on_stop_task(task_id, reason, reply),
            Command::Update { update, reply } => {
                self.on_update(*update);
                self.publish_status();
                let _ = reply.send(self.status.borrow().clone());
            }
        }
    }

    /// `update-service`: new bounds, grace period and rebalancing apply from the next round; a new
    /// deployment becomes PRIMARY and the one before it ACTIVE (its tasks are replaced).
    fn on_update(&mut self, update: ServiceUpdate) {
        if let Some(config) = update.deployment_configuration {
            self.deployment_configuration = config;
        }
        if let Some(grace) = update.health_check_grace_period {
            self.grace = grace;
        }
        if let Some(enabled) = update.availability_zone_rebalancing {
            self.setup.service.availability_zone_rebalancing = enabled;
        }
        if let Some(count) = update.configured_desired_count {
            self.setup.service.desired_count = count;
        }
        if let Some(target) = update.deploy {
            let next = Deployment::new(Arc::new(target));
            tracing::info!(
                service = %self.setup.service.name,
                "new deployment {} of {}",
                next.id,
                next.target.revision.name()
            );
            self.replace_primary(next);
        }
    }

    /// Makes `next` the PRIMARY deployment; the current one joins the older ones if it still
    /// has tasks (ECS's ACTIVE), and the service is no longer steady.
    fn replace_primary(&mut self, next: Deployment) {
        let previous = std::mem::replace(&mut self.deployment, next);
        if self.tasks.values().any(|t| t.deployment == previous.id) {
            self.older.insert(0, previous);
        }
        self.was_steady = false;
        // A new deployment starts with a clean slate: launches are not held back by the
        // failures of the one before.
        self.throttle = Throttle::new(*self.throttle.policy());
        self.wake_at = None;
    }

    /// Counts a failed task of the PRIMARY deployment for its circuit breaker; trips it (and
    /// rolls back, if configured) at the threshold.
    fn breaker_failure(&mut self, failure: breaker::Failure) {
        let watching = self.deployment_configuration.circuit_breaker.enable
            && self.deployment.rollout == RolloutState::InProgress;
        if !watching {
            return;
        }
        let desired = *self.desired.borrow();
        if !self.deployment.breaker.failed(failure, desired) {
            return;
        }
        let service = self.setup.service.name.clone();
        let failed_id = self.deployment.id.clone();
        self.deployment.set_rollout(
            RolloutState::Failed,
            Some(deployment::BREAKER_FAILED_REASON.to_string()),
        );
        let message = messages::deployment_failed(&service, &failed_id);
        tracing::warn!("{message}");
        self.record_event(message);
        let rollback = self.last_completed.clone().filter(|(id, _)| {
            self.deployment_configuration.circuit_breaker.rollback && *id != failed_id
        });
        let Some((to, target)) = rollback else {
            return;
        };
        let mut next = Deployment::new(target);
        next.reason = Some(deployment::rollback_reason(&to));
        // The tasks of the deployment rolled back to are the rollback's own: they keep serving
        // and are not replaced by copies of themselves.
        for task in self.tasks.values_mut().filter(|t| t.deployment == to) {
            task.deployment = next.id.clone();
        }
        self.older.retain(|d| d.id != to);
        let message = messages::rolling_back(&service, &to);
        tracing::warn!("{message}");
        self.record_event(message);
        self.replace_primary(next);
    }

    /// `stop-task`: begins the stop of a live task; a task already stopping or stopped is
    /// answered as it is (as ECS answers StopTask on a stopped task).
    fn on_stop_task(
        &mut self,
        task_id: String,
        reason: StopReason,
        reply: oneshot::Sender<Result<TaskStatus, StopTaskError>>,
    ) {
        if self.tasks.contains_key(&task_id) {
            self.begin_stop(&task_id, reason);
            let message =
                messages::stopped(&self.setup.service.name, std::slice::from_ref(&task_id));
            tracing::info!("{message}");
            self.record_event(message);
            // Shown at once; the next round launches the replacement.
            self.publish_status();
        }
        let answer = self
            .stopping
            .get(&task_id)
            .map(|s| self.stopping_status(&task_id, s))
            .or_else(|| {
                self.stopped
                    .iter()
                    .find(|s| s.status.task_id == task_id)
                    .map(|s| s.status.clone())
            })
            .ok_or_else(|| StopTaskError::NoSuchTask {
                service: self.setup.service.name.clone(),
                task_id,
            });
        let _ = reply.send(answer);
    }

    /// Notes when tasks turn healthy (which lifts launch delays until the next failure), and
    /// tells the throttle once one has stayed healthy long enough to end the episode.
    fn note_health(&mut self, now: Instant) {
        let stable_after = self.throttle.policy().stable_after;
        let healthy: Vec<bool> = self
            .tasks
            .iter()
            .map(|(id, t)| self.phase_of(id, t) == Phase::Healthy)
            .collect();
        let mut stable = false;
        for (task, healthy) in self.tasks.values_mut().zip(healthy) {
            if !healthy {
                continue;
            }
            if task.healthy_since.is_none() {
                self.throttle.healthy(now);
                // ECS's resetOnHealthyTask (true by default).
                if task.deployment == self.deployment.id {
                    self.deployment.breaker.healthy();
                }
            }
            let since = *task.healthy_since.get_or_insert(now);
            if !task.stable_reported && now.saturating_duration_since(since) >= stable_after {
                task.stable_reported = true;
                stable = true;
            }
        }
        if stable && self.throttle.failures() > 0 {
            tracing::info!(
                service = %self.setup.service.name,
                "a task has been healthy for {stable_after:?}; the launch throttle is reset"
            );
        }
        if stable {
            self.throttle.stable();
        }
    }

    /// A launch failed or a task stopped before it was ever healthy: count it, and record the
    /// throttle event when an episode starts.
    fn start_failed(&mut self, now: Instant, deployment_id: &str) {
        let deployment = std::iter::once(&mut self.deployment)
            .chain(self.older.iter_mut())
            .find(|d| d.id == deployment_id);
        if let Some(deployment) = deployment {
            deployment.failed_tasks += 1;
        }
        if self.throttle.failed(now) {
            let message = format!(
                "(service {}) is unable to consistently start tasks successfully.",
                self.setup.service.name
            );
            tracing::warn!(
                "{message} Launches are now delayed, up to {:?} apart.",
                self.throttle.policy().cap
            );
            self.record_event(message);
        }
    }

    /// Drops stopped tasks beyond the bounds and deletes old stopped tasks' log files.
    async fn prune_history(&mut self, now: Instant) {
        let times: Vec<Instant> = self.stopped.iter().map(|s| s.at).collect();
        let drop = history::stopped_to_drop(
            &times,
            now,
            history::STOPPED_TASKS_KEPT,
            history::STOPPED_TASK_MAX_AGE,
        );
        self.stopped.drain(..drop);
        let running: std::collections::HashSet<PathBuf> = self
            .tasks
            .values()
            .chain(self.stopping.values().map(|s| &s.record))
            .map(|t| t.log_path.clone())
            .collect();
        let stopped: Vec<PathBuf> = self.stopped_logs.iter().cloned().collect();
        let delete = history::logs_to_delete(&stopped, &running, history::STOPPED_LOG_FILES_KEPT);
        for path in &delete {
            match tokio::fs::remove_file(path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(path = %path.display(), "could not delete an old task log file: {e}")
                }
            }
        }
        self.stopped_logs.retain(|p| !delete.contains(p));
    }

    fn phase_of(&self, task_id: &str, task: &TaskRecord) -> Phase {
        if let Some(exit_code) = task.exited {
            return Phase::Exited { exit_code };
        }
        match &self.setup.target_group {
            // Without a load balancer, nothing but time says a task started well: one that
            // exits within its first seconds is a failed start (and throttled), not a task
            // that was healthy.
            None if task.launched_at.elapsed() < STARTED_WITHOUT_LOAD_BALANCER => Phase::Starting,
            None => Phase::Healthy,
            Some(tg) => match tg.state_of(task_id) {
                Some(TargetState::Healthy) => Phase::Healthy,
                Some(TargetState::Unhealthy)
                    if task.healthy_since.is_none() && task.launched_at.elapsed() < self.grace =>
                {
                    Phase::Starting
                }
                Some(TargetState::Unhealthy) => Phase::Unhealthy,
                // Registered by this controller, and gone or draining while the task is still
                // ours: someone deregistered it (`aws elbv2 deregister-targets`). ECS leaves such
                // a task running, out of the load balancer; it is neither started again nor
                // replaced, and the service can still be steady.
                None | Some(TargetState::Draining) if task.target.is_some() => Phase::Healthy,
                _ => Phase::Starting,
            },
        }
    }

    /// Launches one task and returns its id; `None` (and a back-off) when it could not start.
    async fn launch_task(&mut self) -> Option<String> {
        let Some(subnet) = self.place_task() else {
            let message = format!(
                "(service {}) was unable to place a task: every availability zone of its subnets is unavailable.",
                self.setup.service.name
            );
            if self.events.back().is_none_or(|e| e.message != message) {
                tracing::warn!("{message}");
                self.record_event(message);
            }
            return None;
        };
        let setup = &self.setup;
        let runs = self.deployment.target.clone();
        let definition = &runs.revision.definition;
        let task_id = task_spec::new_task_id();
        // Claimed before the container exists, so the orphan sweep never takes it for one.
        setup.claims.claim(&task_id);
        let mut spec = task_spec::container_spec(
            &setup.config,
            &setup.service,
            definition,
            &task_id,
            &subnet,
            runs.environment.clone(),
        );
        // The rules as they are now (authorize/revoke through the EC2 API), not the file's.
        let groups = setup.security_groups.snapshot();
        spec.networks = vpc::task_networks_under(&setup.config, &groups, &setup.service, &subnet);
        let created_at = now_rfc3339_millis();
        // Secrets are resolved now, at each launch (see task_secrets).
        let started =
            match task_secrets::run(&setup.docker, &spec, definition, &setup.secrets).await {
                Ok(id) => setup
                    .docker
                    .inspect_container(&id)
                    .await
                    .map(|info| (id, info))
                    .map_err(task_secrets::LaunchError::from),
                Err(e) => Err(e),
            };
        let (container_id, info) = match started {
            Ok((id, info)) => (id, info),
            Err(e) => {
                let message = format!(
                    "(service {}) was unable to place a task: {}",
                    setup.service.name,
                    crate::error::chain(&e)
                );
                tracing::error!("{message}");
                // run_container removes what it made; if that failed too, the sweep retries.
                setup.claims.release(&task_id);
                self.record_event(message);
                let primary = self.deployment.id.clone();
                self.start_failed(Instant::now(), &primary);
                self.breaker_failure(breaker::Failure::NeverRan);
                return None;
            }
        };
        self.throttle.launched(Instant::now());
        self.launched += 1;
        let target = info
            .as_ref()
            .and_then(|i| i.host_port)
            .map(|port| SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
        let network = vpc::network_name(&setup.config.lab.name, &subnet);
        let private_ipv4 = info
            .as_ref()
            .and_then(|i| i.ipv4_addresses.get(&network).cloned());
        if let (Some(tg), Some(addr)) = (&setup.target_group, target) {
            tg.register(&task_id, addr);
        }
        let stream = task_spec::log_stream(definition, &task_id);
        let path = logs::stream_path(&setup.logs_dir, &definition.container.log_group, &stream);
        self.log_shippers.spawn(logs::ship(
            setup.docker.clone(),
            container_id.clone(),
            path.clone(),
            self.log_cancel.clone(),
        ));
        tracing::info!(
            "(service {}) started task {task_id}: subnet {subnet}, address {}, target {}.",
            setup.service.name,
            private_ipv4.as_deref().unwrap_or("-"),
            target.map_or("-".to_string(), |t| t.to_string())
        );
        self.tasks.insert(
            task_id.clone(),
            TaskRecord {
                deployment: self.deployment.id.clone(),
                runs: runs.clone(),
                container_id,
                container_name: spec.name,
                subnet,
                launched: self.launched,
                target,
                exited: info.is_none().then_some(None),
                created_at,
                started_at: now_rfc3339_millis(),
                private_ipv4,
                launched_at: Instant::now(),
                healthy_since: None,
                stable_reported: false,
                log_path: path,
            },
        );
        Some(task_id)
    }

    /// Begins stopping a task in ECS's order: out of the target group at once (its in-flight
    /// requests drain), then [`stopper::run`] waits for the drain, stops and removes the
    /// container while the loop goes on (and launches the replacement).
    fn begin_stop(&mut self, task_id: &str, reason: StopReason) {
        let Some(task) = self.tasks.remove(task_id) else {
            return;
        };
        let now = Instant::now();
        if let Some(tg) = &self.setup.target_group {
            tg.deregister(task_id);
        }
        // PENDING → STOPPED: it never turned healthy (a task that did is replaced at once).
        if !reason.is_deliberate() {
            match task.healthy_since {
                None => self.start_failed(now, &task.deployment),
                Some(_) => self.throttle.lost_healthy(),
            }
        }
        // The circuit breaker watches the PRIMARY deployment's tasks: stage 1, those that never
        // ran; stage 2, health-check failures.
        let failure = match (&reason, task.healthy_since) {
            (StopReason::FailedElbHealthChecks, _) => Some(breaker::Failure::HealthCheck),
            (StopReason::EssentialContainerExited { .. }, None) => Some(breaker::Failure::NeverRan),
            _ => None,
        };
        let counts = failure.filter(|_| task.deployment == self.deployment.id);
        match &reason {
            StopReason::FailedElbHealthChecks => {
                let tg = self
                    .setup
                    .target_group
                    .as_ref()
                    .map(|t| t.name())
                    .unwrap_or("-");
                let message = format!(
                    "(service {}) (task {task_id}) failed ELB health checks in (target-group {tg}); stopped it.",
                    self.setup.service.name
                );
                tracing::warn!("{message}");
                self.record_event(message);
            }
            StopReason::EssentialContainerExited { .. } => {
                let message = format!(
                    "(service {}) has stopped 1 running tasks: (task {task_id}). Reason: {}.",
                    self.setup.service.name,
                    reason.stopped_reason(&task.deployment)
                );
                tracing::warn!("{message}");
                self.record_event(message);
            }
            // Recorded by the caller, as one event for all (ECS's wording has no reason).
            StopReason::ScaledIn | StopReason::UserInitiated { .. } => {}
        }
        let job = StopJob {
            task_id: task_id.to_string(),
            container_id: task.container_id.clone(),
            docker: self.setup.docker.clone(),
            target_group: self.setup.target_group.clone(),
            exited: task.exited.is_some(),
            stop_timeout: task
                .runs
                .revision
                .definition
                .container
                .stop_timeout
                .unwrap_or(stopper::STOP_TIMEOUT),
        };
        self.stoppers.spawn(stopper::run(
            job,
            self.stop_progress.clone(),
            self.stop_cancel.clone(),
        ));
        self.stopping.insert(
            task_id.to_string(),
            StoppingTask {
                record: task,
                reason,
                stage: LastStatus::Deactivating,
                stopping_at: now_rfc3339_millis(),
            },
        );
        if let Some(failure) = counts {
            self.breaker_failure(failure);
        }
    }

    /// A stop moved on a stage, or ended: the task joins the stopped tasks.
    fn on_stop_progress(&mut self, progress: StopProgress) {
        match progress {
            StopProgress::Stage { task_id, stage } => {
                if let Some(s) = self.stopping.get_mut(&task_id) {
                    s.stage = stage;
                }
            }
            StopProgress::Done {
                task_id,
                exit_code,
                removal_error,
            } => {
                let Some(stopping) = self.stopping.remove(&task_id) else {
                    return;
                };
                if let Some(e) = removal_error {
                    tracing::warn!(
                        task = %task_id,
                        "could not remove the task's container (the orphan sweep retries): {e}"
                    );
                }
                self.setup.claims.release(&task_id);
                let mut status = self.stopping_status(&task_id, &stopping);
                status.last_status = LastStatus::Stopped;
                status.health = None;
                status.exit_code = match (&stopping.reason, stopping.record.exited) {
                    (StopReason::EssentialContainerExited { exit_code }, _) => *exit_code,
                    (_, Some(code)) => code,
                    _ => exit_code,
                };
                status.stopped_at = Some(now_rfc3339_millis());
                self.stopped.push_back(StoppedTask {
                    status,
                    at: Instant::now(),
                });
                self.stopped_logs.push_back(stopping.record.log_path);
            }
        }
    }

    fn on_container_event(&mut self, event: ContainerEvent) {
        if !matches!(event.action.as_str(), "die" | "destroy") {
            return;
        }
        for (task_id, task) in &mut self.tasks {
            if task.container_id == event.container_id && task.exited.is_none() {
                tracing::warn!(task = %task_id, exit_code = ?event.exit_code, "task container stopped ({})", event.action);
                // Out of rotation now, not at the next health check.
                if let Some(tg) = &self.setup.target_group {
                    tg.deregister(task_id);
                }
                task.exited = Some(event.exit_code);
            }
        }
    }

    /// Catches containers that stopped without an event reaching us.
    async fn inspect_containers(&mut self) {
        let ids: Vec<(String, String)> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.exited.is_none())
            .map(|(id, t)| (id.clone(), t.container_id.clone()))
            .collect();
        for (task_id, container_id) in ids {
            match self.setup.docker.inspect_container(&container_id).await {
                Ok(Some(info)) if info.running => {}
                Ok(info) => {
                    if let Some(task) = self.tasks.get_mut(&task_id) {
                        task.exited = Some(info.and_then(|i| i.exit_code));
                    }
                }
                Err(e) => {
                    tracing::debug!(task = %task_id, "inspect failed: {e}", e = crate::error::chain(&e))
                }
            }
        }
    }

    /// On cancel: live tasks are deregistered and removed at once; stops in progress skip to
    /// removal (their token is a child of the controller's).
    async fn stop_all(&mut self, progress: &mut mpsc::UnboundedReceiver<StopProgress>) {
        let ids: Vec<String> = self.tasks.keys().cloned().collect();
        for task_id in ids {
            if let Some(tg) = &self.setup.target_group {
                tg.deregister(&task_id);
            }
            if let Some(task) = self.tasks.remove(&task_id)
                && let Err(e) = self
                    .setup
                    .docker
                    .remove_container(&task.container_id, true)
                    .await
            {
                tracing::warn!(task = %task_id, "could not remove the task's container: {e}", e = crate::error::chain(&e));
            }
            self.setup.claims.release(&task_id);
        }
        self.stop_cancel.cancel();
        self.stoppers.close();
        if tokio::time::timeout(STOPPERS_WAIT, self.stoppers.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                service = %self.setup.service.name,
                "gave up waiting for task stops after {STOPPERS_WAIT:?}; the lab's cleanup removes their containers"
            );
        }
        while let Ok(p) = progress.try_recv() {
            self.on_stop_progress(p);
        }
        // The log streams end with their containers; give them a moment to flush.
        self.log_shippers.close();
        if tokio::time::timeout(Duration::from_secs(2), self.log_shippers.wait())
            .await
            .is_err()
        {
            self.log_cancel.cancel();
            // They stop at once now; waiting keeps them inside this task, so the lab's tree.
            self.log_shippers.wait().await;
        }
    }

    /// Tasks running (healthy) and pending (starting), as ECS counts them.
    fn counts(&self) -> (u32, u32) {
        let (mut running, mut pending) = (0, 0);
        for (task_id, task) in &self.tasks {
            match self.phase_of(task_id, task) {
                Phase::Healthy => running += 1,
                Phase::Starting => pending += 1,
                Phase::Unhealthy | Phase::Exited { .. } => {}
            }
        }
        (running, pending)
    }

    fn task_status(&self, task_id: &str, task: &TaskRecord) -> TaskStatus {
        let setup = &self.setup;
        let td = &task.runs.revision.definition;
        TaskStatus {
            task_id: task_id.to_string(),
            cluster: setup.service.cluster.clone(),
            service: setup.service.name.clone(),
            task_definition_family: td.family.clone(),
            task_definition_revision: task.runs.revision.revision,
            image: td.container.image.clone(),
            started_by: task.deployment.clone(),
            container_id: task.container_id.clone(),
            container_name: task.container_name.clone(),
            availability_zone: setup
                .config
                .vpc
                .subnets
                .get(&task.subnet)
                .map(|s| s.availability_zone.clone())
                .unwrap_or_default(),
            subnet: task.subnet.clone(),
            private_ipv4_address: task.private_ipv4.clone(),
            cpu: td.cpu,
            memory_mib: td.memory_mib,
            desired_status: DesiredStatus::Running,
            last_status: lifecycle::last_status(&self.phase_of(task_id, task)),
            health_status: HealthStatus::Unknown,
            health: setup
                .target_group
                .as_ref()
                .and_then(|tg| tg.state_of(task_id))
                .map(|s| s.as_str().to_string()),
            target_address: task.target.map(|a| a.to_string()),
            log_stream: task_spec::log_stream(td, task_id),
            created_at: task.created_at.clone(),
            started_at: task.started_at.clone(),
            stopping_at: None,
            stopped_at: None,
            stopped_reason: None,
            stop_code: None,
            exit_code: task.exited.flatten(),
        }
    }

    /// A task being stopped: desired STOPPED, its stage, and why (ECS shows the reason at once).
    fn stopping_status(&self, task_id: &str, stopping: &StoppingTask) -> TaskStatus {
        let mut status = self.task_status(task_id, &stopping.record);
        status.desired_status = DesiredStatus::Stopped;
        status.last_status = stopping.stage;
        status.stopping_at = Some(stopping.stopping_at.clone());
        status.stopped_reason = Some(stopping.reason.stopped_reason(&stopping.record.deployment));
        status.stop_code = Some(lifecycle::stop_code(&stopping.reason));
        status
    }

    /// One deployment with its task counts; an older one's desired count is what it still
    /// runs (ECS scales it in as the PRIMARY one scales out).
    fn deployment_status(&self, d: &Deployment, desired: Option<u32>) -> DeploymentStatus {
        let (mut running, mut pending) = (0, 0);
        for (task_id, task) in self.tasks.iter().filter(|(_, t)| t.deployment == d.id) {
            match self.phase_of(task_id, task) {
                Phase::Healthy => running += 1,
                Phase::Starting => pending += 1,
                Phase::Unhealthy | Phase::Exited { .. } => {}
            }
        }
        d.status(desired.unwrap_or(running + pending), running, pending)
    }

    fn record_event(&mut self, message: String) {
        if self.events.len() == EVENTS_KEPT {
            self.events.pop_front();
        }
        self.events.push_back(ServiceEvent {
            id: lifecycle::new_uuid_v4(),
            created_at: now_rfc3339_millis(),
            message,
        });
    }

    fn publish_status(&self) {
        let (running_count, pending_count) = self.counts();
        let desired = *self.desired.borrow();
        let status = ServiceStatus {
            name: self.setup.service.name.clone(),
            cluster: self.setup.service.cluster.clone(),
            task_definition: self.deployment.target.revision.name(),
            desired_count: desired,
            configured_desired_count: self.setup.service.desired_count,
            running_count,
            pending_count,
            deployment: self.deployment_status(&self.deployment, Some(desired)),
            active_deployments: self
                .older
                .iter()
                .map(|d| self.deployment_status(d, None))
                .collect(),
            deployment_configuration: self.deployment_configuration,
            health_check_grace_period_seconds: self.grace.as_secs(),
            availability_zone_rebalancing: self.setup.service.availability_zone_rebalancing,
            created_at: self.created_at.clone(),
            tasks: self
                .tasks
                .iter()
                .map(|(id, t)| self.task_status(id, t))
                .collect(),
            stopping_tasks: self
                .stopping
                .iter()
                .map(|(id, s)| self.stopping_status(id, s))
                .collect(),
            events: self.events.iter().cloned().collect(),
            launches_delayed_until: self.wake_at.map(|at| {
                let wall = SystemTime::now() + at.saturating_duration_since(Instant::now());
                humantime::format_rfc3339_seconds(wall).to_string()
            }),
            stopped_tasks: self
                .stopped
                .iter()
                .rev()
                .map(|s| s.status.clone())
                .collect(),
        };
        self.status.send_if_modified(|old| {
            let changed = *old != status;
            if changed {
                *old = status;
            }
            changed
        });
    }
}

/// Waits for the next change of an optional watch; pends forever without one.
async fn changed(rx: &mut Option<watch::Receiver<u64>>) -> Result<(), watch::error::RecvError> {
    match rx {
        Some(rx) => rx.changed().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `at`; pends forever without one.
async fn wake(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The current time as RFC 3339 (seconds), as AWS prints times.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// The current time as RFC 3339 with milliseconds (ECS's task and event times have them).
pub fn now_rfc3339_millis() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}
