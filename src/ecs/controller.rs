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

use super::logs;
use super::reconcile::{Action, ObservedTask, Phase, StopReason, decide};
use super::status::{ServiceEvent, ServiceStatus, TaskStatus};
use super::task_spec;

/// How often the controller looks again without being woken by an event.
const RECONCILE_INTERVAL: Duration = Duration::from_secs(1);
/// Every this many ticks, containers are inspected in case a Docker event was missed.
const INSPECT_EVERY_TICKS: u32 = 5;
/// Launch back-off after a failed launch: doubles up to the maximum.
const LAUNCH_BACKOFF_MIN: Duration = Duration::from_secs(1);
const LAUNCH_BACKOFF_MAX: Duration = Duration::from_secs(30);
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
}

struct Controller {
    setup: ServiceSetup,
    tasks: BTreeMap<String, TaskRecord>,
    launched: u64,
    next_launch_at: Instant,
    backoff: Duration,
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
    let controller = Controller {
        setup,
        tasks: BTreeMap::new(),
        launched: 0,
        next_launch_at: Instant::now(),
        backoff: LAUNCH_BACKOFF_MIN,
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
            }
        }
        self.stop_all().await;
        self.publish_status();
    }

    async fn reconcile(&mut self) {
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
                        if Instant::now() < self.next_launch_at || !self.launch_task().await {
                            break;
                        }
                    }
                }
            }
        }
    }

    fn phase_of(&self, task_id: &str, task: &TaskRecord) -> Phase {
        if let Some(exit_code) = task.exited {
            return Phase::Exited { exit_code };
        }
        match &self.setup.target_group {
            None => Phase::Healthy,
            Some(tg) => match tg.state_of(task_id) {
                Some(TargetState::Healthy) => Phase::Healthy,
                Some(TargetState::Unhealthy) => Phase::Unhealthy,
                _ => Phase::Starting,
            },
        }
    }

    /// Launches one task; false (and a back-off) when it could not be started.
    async fn launch_task(&mut self) -> bool {
        let setup = &self.setup;
        let task_id = task_spec::new_task_id();
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
                self.record_event(message);
                self.next_launch_at = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(LAUNCH_BACKOFF_MAX);
                return false;
            }
        };
        self.backoff = LAUNCH_BACKOFF_MIN;
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
            path,
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
            },
        );
        true
    }

    /// Deregisters the task's target at once, then removes its container.
    async fn stop_task(&mut self, task_id: &str, reason: &StopReason) {
        let Some(task) = self.tasks.remove(task_id) else {
            return;
        };
        if let Some(tg) = &self.setup.target_group {
            tg.deregister(task_id);
        }
        if let Err(e) = self
            .setup
            .docker
            .remove_container(&task.container_id, true)
            .await
        {
            tracing::warn!(
                task = task_id,
                "could not remove the task's container: {e}",
                e = crate::error::chain(&e)
            );
        }
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
        }
        // The log streams end with their containers; give them a moment to flush.
        self.log_shippers.close();
        if tokio::time::timeout(Duration::from_secs(2), self.log_shippers.wait())
            .await
            .is_err()
        {
            self.log_cancel.cancel();
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
            ..Default::default()
        };
        for (task_id, task) in &self.tasks {
            let phase = self.phase_of(task_id, task);
            let health = self
                .setup
                .target_group
                .as_ref()
                .and_then(|tg| tg.state_of(task_id))
                .map(|s| s.as_str().to_string());
            let last_status = match phase {
                Phase::Healthy => {
                    status.running_count += 1;
                    "RUNNING"
                }
                Phase::Starting => {
                    status.pending_count += 1;
                    "PENDING"
                }
                Phase::Unhealthy => "RUNNING",
                Phase::Exited { .. } => "STOPPED",
            };
            status.tasks.push(TaskStatus {
                task_id: task_id.clone(),
                container_id: task.container_id.clone(),
                container_name: task.container_name.clone(),
                subnet: task.subnet.clone(),
                last_status: last_status.to_string(),
                health,
                target_address: task.target.map(|a| a.to_string()),
                log_stream: task_spec::log_stream(&self.setup.task_definition, task_id),
                started_at: task.started_at.clone(),
            });
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

/// The current time as RFC 3339 (seconds), as AWS prints times.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}
