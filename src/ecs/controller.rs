//! The service controller: the loop that keeps a service at its desired count. Decisions come
//! from [`super::reconcile::decide`]; this file only observes and applies them.

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alb::{TargetGroupHandle, TargetState};
use crate::config::{Config, Service, TaskDefinition};
use crate::docker::{ContainerEvent, DockerClient};
use crate::vpc;

use super::claims::Claims;
use super::history;
use super::logs;
use super::reconcile::{Action, ObservedTask, Phase, StopReason, decide};
use super::status::{ServiceEvent, ServiceStatus, TaskStatus};
use super::task_spec;
use super::throttle::{Delay, Policy, Throttle};

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
const HEALTH_CHECK_GRACE: Duration = Duration::from_secs(20);
/// A task of a service without a load balancer counts as started well (healthy, for the
/// throttle and for steadiness) once its container has run this long.
const STARTED_WITHOUT_LOAD_BALANCER: Duration = Duration::from_secs(5);
/// Service events kept (ECS shows the latest 100).
const EVENTS_KEPT: usize = 100;

/// Everything a controller needs; built by the lab.
pub struct ServiceSetup {
    pub docker: DockerClient,
    pub config: Arc<Config>,
    pub service: Service,
    pub task_definition: TaskDefinition,
    pub target_group: Option<TargetGroupHandle>,
    /// The task environment with every `${...}` already resolved.
    pub environment: Vec<(String, String)>,
    pub logs_dir: PathBuf,
    /// Task ids the lab's controllers own (shared with the orphan sweep).
    pub claims: Claims,
}

/// A handle on a running controller.
#[derive(Clone)]
pub struct ServiceHandle {
    name: String,
    status: watch::Receiver<ServiceStatus>,
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

    pub fn status(&self) -> ServiceStatus {
        self.status.borrow().clone()
    }

    /// A receiver that sees every status change.
    pub fn watch(&self) -> watch::Receiver<ServiceStatus> {
        self.status.clone()
    }

    /// Waits until the desired number of tasks are running and healthy.
    pub async fn wait_steady(&self, timeout: Duration) -> Result<(), NotSteady> {
        let mut rx = self.status.clone();
        let waited = tokio::time::timeout(timeout, rx.wait_for(ServiceStatus::is_steady)).await;
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

/// One task the controller launched.
struct TaskRecord {
    container_id: String,
    container_name: String,
    subnet: String,
    launched: u64,
    target: Option<SocketAddr>,
    exited: Option<Option<i64>>,
    started_at: String,
    launched_at: Instant,
    /// When the target (or, without a load balancer, the container) was first seen healthy.
    healthy_since: Option<Instant>,
    /// The throttle was told this task's start was good.
    stable_reported: bool,
    log_path: PathBuf,
}

/// A stopped task as `describe-tasks` shows it, and when it stopped (for the age bound).
struct StoppedTask {
    status: TaskStatus,
    at: Instant,
}

struct Controller {
    setup: ServiceSetup,
    tasks: BTreeMap<String, TaskRecord>,
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
    let initial = ServiceStatus {
        name: setup.service.name.clone(),
        cluster: setup.service.cluster.clone(),
        task_definition: setup.service.task_definition.clone(),
        desired_count: setup.service.desired_count,
        ..Default::default()
    };
    let (status, status_rx) = watch::channel(initial);
    let handle = ServiceHandle {
        name: setup.service.name.clone(),
        status: status_rx,
    };
    let throttle = Throttle::new(Policy::for_profile(setup.config.lab.profile));
    // Streams of tasks from earlier runs count as stopped tasks' logs: pruned with the rest.
    let streams_dir = logs::stream_path(
        &setup.logs_dir,
        &setup.task_definition.container.log_group,
        &task_spec::log_stream(&setup.task_definition, "x"),
    );
    let earlier = streams_dir
        .parent()
        .map(|dir| logs::earlier_streams(dir, std::time::SystemTime::now()))
        .unwrap_or_default();
    let controller = Controller {
        setup,
        tasks: BTreeMap::new(),
        launched: 0,
        throttle,
        wake_at: None,
        stopped: VecDeque::new(),
        stopped_logs: earlier.into(),
        events: VecDeque::new(),
        status,
        log_shippers: TaskTracker::new(),
        log_cancel: CancellationToken::new(),
    };
    tracker.spawn(controller.run(container_events, cancel));
    handle
}

impl Controller {
    async fn run(
        mut self,
        mut container_events: mpsc::Receiver<ContainerEvent>,
        cancel: CancellationToken,
    ) {
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
            self.publish_status();
            tokio::select! {
                _ = cancel.cancelled() => break,
                Some(event) = container_events.recv() => self.on_container_event(event),
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
        self.stop_all().await;
        self.publish_status();
    }

    async fn reconcile(&mut self) {
        self.note_health(Instant::now());
        self.wake_at = None;
        let observed: Vec<ObservedTask> = self
            .tasks
            .iter()
            .map(|(id, task)| ObservedTask {
                task_id: id.clone(),
                launched: task.launched,
                phase: self.phase_of(id, task),
            })
            .collect();
        for action in decide(self.setup.service.desired_count, &observed) {
            match action {
                Action::Stop { task_id, reason } => self.stop_task(&task_id, &reason).await,
                Action::Launch { count } => {
                    for _ in 0..count {
                        if let Delay::Until(at) = self.throttle.next_launch(Instant::now()) {
                            self.wake_at = Some(at);
                            break;
                        }
                        if !self.launch_task().await {
                            break;
                        }
                    }
                }
            }
        }
        self.prune_history(Instant::now()).await;
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
    fn start_failed(&mut self, now: Instant) {
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
        let running: std::collections::HashSet<PathBuf> =
            self.tasks.values().map(|t| t.log_path.clone()).collect();
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
                    if task.healthy_since.is_none()
                        && task.launched_at.elapsed() < HEALTH_CHECK_GRACE =>
                {
                    Phase::Starting
                }
                Some(TargetState::Unhealthy) => Phase::Unhealthy,
                _ => Phase::Starting,
            },
        }
    }

    /// Launches one task; false (and a back-off) when it could not be started.
    async fn launch_task(&mut self) -> bool {
        let setup = &self.setup;
        let task_id = task_spec::new_task_id();
        // Claimed before the container exists, so the orphan sweep never takes it for one.
        setup.claims.claim(&task_id);
        let subnet = vpc::task_subnet(&setup.service, self.launched).to_string();
        let spec = task_spec::container_spec(
            &setup.config,
            &setup.service,
            &setup.task_definition,
            &task_id,
            &subnet,
            setup.environment.clone(),
        );
        let started = match setup.docker.run_container(&spec).await {
            Ok(id) => setup
                .docker
                .inspect_container(&id)
                .await
                .map(|info| (id, info)),
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
                self.start_failed(Instant::now());
                return false;
            }
        };
        self.throttle.launched(Instant::now());
        self.launched += 1;
        let target = info
            .as_ref()
            .and_then(|i| i.host_port)
            .map(|port| SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
        if let (Some(tg), Some(addr)) = (&setup.target_group, target) {
            tg.register(&task_id, addr);
        }
        let stream = task_spec::log_stream(&setup.task_definition, &task_id);
        let path = logs::stream_path(
            &setup.logs_dir,
            &setup.task_definition.container.log_group,
            &stream,
        );
        self.log_shippers.spawn(logs::ship(
            setup.docker.clone(),
            container_id.clone(),
            path.clone(),
            self.log_cancel.clone(),
        ));
        let message = format!(
            "(service {}) has started 1 tasks: (task {task_id}).",
            setup.service.name
        );
        tracing::info!(
            "{message} Subnet {subnet}, target {}.",
            target.map_or("-".to_string(), |t| t.to_string())
        );
        self.record_event(message);
        self.tasks.insert(
            task_id,
            TaskRecord {
                container_id,
                container_name: spec.name,
                subnet,
                launched: self.launched,
                target,
                exited: info.is_none().then_some(None),
                started_at: now_rfc3339(),
                launched_at: Instant::now(),
                healthy_since: None,
                stable_reported: false,
                log_path: path,
            },
        );
        true
    }

    /// Deregisters the task's target at once, then removes its container. A container that
    /// cannot be removed is released to the orphan sweep, which retries until it is gone.
    async fn stop_task(&mut self, task_id: &str, reason: &StopReason) {
        let Some(task) = self.tasks.remove(task_id) else {
            return;
        };
        let now = Instant::now();
        if let Some(tg) = &self.setup.target_group {
            tg.deregister(task_id);
        }
        // PENDING → STOPPED: it never turned healthy (a task that did is replaced at once).
        if *reason != StopReason::ScaledIn {
            match task.healthy_since {
                None => self.start_failed(now),
                Some(_) => self.throttle.lost_healthy(),
            }
        }
        if let Err(e) = self
            .setup
            .docker
            .remove_container(&task.container_id, true)
            .await
        {
            tracing::warn!(
                task = task_id,
                "could not remove the task's container (the orphan sweep retries): {e}",
                e = crate::error::chain(&e)
            );
        }
        self.setup.claims.release(task_id);
        self.remember_stopped(task_id, &task, reason, now);
        let message = match reason {
            StopReason::FailedElbHealthChecks => {
                let tg = self
                    .setup
                    .target_group
                    .as_ref()
                    .map(|t| t.name())
                    .unwrap_or("-");
                format!(
                    "(service {}) (task {task_id}) failed ELB health checks in (target-group {tg}); stopped it.",
                    self.setup.service.name
                )
            }
            _ => format!(
                "(service {}) has stopped 1 running tasks: (task {task_id}). Reason: {reason}.",
                self.setup.service.name
            ),
        };
        tracing::warn!("{message}");
        self.record_event(message);
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

    fn remember_stopped(
        &mut self,
        task_id: &str,
        task: &TaskRecord,
        reason: &StopReason,
        now: Instant,
    ) {
        let exit_code = match (reason, task.exited) {
            (StopReason::EssentialContainerExited { exit_code }, _) => *exit_code,
            (_, Some(code)) => code,
            _ => None,
        };
        let mut status = self.task_status(task_id, task);
        status.last_status = "STOPPED".into();
        status.health = None;
        status.stopped_reason = Some(reason.to_string());
        status.exit_code = exit_code;
        status.stopped_at = Some(now_rfc3339());
        self.stopped.push_back(StoppedTask { status, at: now });
        self.stopped_logs.push_back(task.log_path.clone());
    }

    async fn stop_all(&mut self) {
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

    fn task_status(&self, task_id: &str, task: &TaskRecord) -> TaskStatus {
        let last_status = match self.phase_of(task_id, task) {
            Phase::Healthy | Phase::Unhealthy => "RUNNING",
            Phase::Starting => "PENDING",
            Phase::Exited { .. } => "STOPPED",
        };
        TaskStatus {
            task_id: task_id.to_string(),
            container_id: task.container_id.clone(),
            container_name: task.container_name.clone(),
            subnet: task.subnet.clone(),
            last_status: last_status.to_string(),
            health: self
                .setup
                .target_group
                .as_ref()
                .and_then(|tg| tg.state_of(task_id))
                .map(|s| s.as_str().to_string()),
            target_address: task.target.map(|a| a.to_string()),
            log_stream: task_spec::log_stream(&self.setup.task_definition, task_id),
            started_at: task.started_at.clone(),
            stopped_reason: None,
            exit_code: None,
            stopped_at: None,
        }
    }

    fn record_event(&mut self, message: String) {
        if self.events.len() == EVENTS_KEPT {
            self.events.pop_front();
        }
        self.events.push_back(ServiceEvent {
            created_at: now_rfc3339(),
            message,
        });
    }

    fn publish_status(&self) {
        let mut status = ServiceStatus {
            name: self.setup.service.name.clone(),
            cluster: self.setup.service.cluster.clone(),
            task_definition: self.setup.service.task_definition.clone(),
            desired_count: self.setup.service.desired_count,
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
            ..Default::default()
        };
        for (task_id, task) in &self.tasks {
            match self.phase_of(task_id, task) {
                Phase::Healthy => status.running_count += 1,
                Phase::Starting => status.pending_count += 1,
                Phase::Unhealthy | Phase::Exited { .. } => {}
            }
            status.tasks.push(self.task_status(task_id, task));
        }
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
