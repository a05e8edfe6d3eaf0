//! The supervisor of one DB instance: watches its container (Docker events, and an inspect plus a
//! `mysqladmin ping` every [`PROBE_INTERVAL`]), feeds what it sees to the pure
//! [`Recovery`](super::recovery::Recovery) machine, and carries out what it decides: start the
//! container again, recreate it on its volume, or restart a hung engine.

use std::time::Duration;

use bollard::query_parameters::{
    InspectContainerOptions, RestartContainerOptions, StartContainerOptions, StopContainerOptions,
};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::docker::{ContainerEvent, DockerClient, DockerError};
use crate::vpc::ZoneHealth;

use super::events::EventKind;
use super::instance::recreate_spec;
use super::multi_az::supervise as multi_az_steps;
use super::readiness::{PING_TIMEOUT, ping};
use super::reboot::{Command, RebootError, SHUTDOWN_GRACE_SECS};
use super::recovery::{Action, Observation, Recovery};
use super::{DbInstance, RdsError};

/// How often the container is inspected and the engine pinged when no event arrives.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(2);
/// How long one recovery attempt may take, from the action to the engine answering (crash
/// recovery of a large data set takes longer than a fresh start).
pub const RECOVERY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a hung engine is given to stop on SIGTERM before a restart kills it.
const RESTART_GRACE_SECS: i32 = 2;

/// Starts supervising `db` on `tracker` until `cancel` fires. `events` carries the Docker events
/// of the instance's containers (`die`, `start`, `destroy`, `oom`).
pub fn spawn_supervisor(
    docker: DockerClient,
    db: DbInstance,
    zones: ZoneHealth,
    events: mpsc::Receiver<ContainerEvent>,
    tracker: &TaskTracker,
    cancel: CancellationToken,
) {
    tracker.spawn(run(docker, db, zones, events, cancel));
}

async fn run(
    docker: DockerClient,
    db: DbInstance,
    zones: ZoneHealth,
    mut events: mpsc::Receiver<ContainerEvent>,
    cancel: CancellationToken,
) {
    let mut ticks = interval(PROBE_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut machine = Recovery::new(db.status());
    // Taken once; a closed channel (a second supervisor, which the lab never starts) disables
    // the branch below.
    let mut commands = db.commands.take().unwrap_or_else(|| mpsc::channel(1).1);
    let mut standby_retry: Option<Instant> = None;
    let mut zone_wait = ZoneWait::default();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ticks.tick() => {}
            Some(command) = commands.recv() => {
                let round = async {
                    match command {
                        Command::Reboot(reply) => reboot(&docker, &db, &mut machine, reply).await,
                        Command::Failover(reply) => {
                            multi_az_steps::requested_failover(&docker, &db, &zones, &mut machine, reply).await
                        }
                        Command::SetMultiAz(on, reply) => {
                            multi_az_steps::set_multi_az(&docker, &db, &zones, &machine, on, reply).await
                        }
                    }
                };
                if cancel.run_until_cancelled(round).await.is_none() {
                    break;
                }
                continue;
            }
            Some(event) = events.recv() => {
                tracing::debug!(database = %db.identifier, action = %event.action, exit_code = ?event.exit_code, "container event");
                // Our own `start` needs no second look; a death does, at once.
                if event.action == "start" {
                    continue;
                }
            }
        }
        let round = async {
            supervise_once(&docker, &db, &zones, &mut zone_wait, &mut machine).await;
            multi_az_steps::tend(&docker, &db, &zones, &machine, &mut standby_retry).await;
        };
        if cancel.run_until_cancelled(round).await.is_none() {
            break;
        }
    }
    tracing::debug!(database = %db.identifier, "database supervisor stopped");
}

/// Whether the supervisor is holding off because the primary's availability zone is down (said
/// once per outage, not every round).
#[derive(Default)]
struct ZoneWait {
    zone: Option<String>,
}

/// One observation and whatever it calls for, with the observed status kept up to date.
async fn supervise_once(
    docker: &DockerClient,
    db: &DbInstance,
    zones: &ZoneHealth,
    zone_wait: &mut ZoneWait,
    machine: &mut Recovery,
) {
    let seen = match observe(docker, db).await {
        Ok(seen) => seen,
        Err(e) => {
            // tierlab could not ask Docker: that says nothing about the instance.
            tracing::warn!(
                "database {}: cannot inspect its container: {}",
                db.identifier,
                crate::error::chain(&e)
            );
            return;
        }
    };
    let step = machine.observe(&seen, Instant::now());
    // A Multi-AZ instance whose primary is lost fails over instead, when the rules allow.
    if step.action.is_some() && multi_az_steps::failed_over(docker, db, zones, machine).await {
        return;
    }
    publish(db, machine, &step.events);
    let Some(action) = step.action else {
        zone_wait.zone = None;
        return;
    };
    // Nothing is started in a zone that is down: the instance waits for it (a Single-AZ
    // instance is unavailable for the length of its zone's outage, as on RDS).
    let primary_subnet = db.nodes.get().primary.subnet.clone();
    if let Some(zone) = zones.zone_of(&primary_subnet).filter(|z| zones.is_down(z)) {
        if zone_wait.zone.as_deref() != Some(zone) {
            tracing::warn!(
                "database {}: its availability zone {zone} is unavailable; it is started again when the zone is back",
                db.identifier
            );
            zone_wait.zone = Some(zone.to_string());
        }
        return;
    }
    zone_wait.zone = None;
    let started = std::time::Instant::now();
    let outcome = act(docker, db, action)
        .await
        .map_err(|e| crate::error::chain(&e).to_string());
    if outcome.is_ok() {
        tracing::info!(
            "database {}: available again {:.1}s after the {action:?}",
            db.identifier,
            started.elapsed().as_secs_f64()
        );
    }
    let events = machine.attempted(outcome, Instant::now());
    publish(db, machine, &events);
}

fn publish(db: &DbInstance, machine: &Recovery, events: &[EventKind]) {
    // Status first: whoever reads an event sees the status it led to.
    db.state.set_status(machine.status());
    for event in events {
        if *event == EventKind::RecoveryComplete {
            db.state.count_recovery();
        }
        db.state.record(event);
    }
}

/// A requested reboot: refused unless the instance is available; else `rebooting` at once (and
/// the caller told), then a clean shutdown (`DB instance shutdown`), a start on the same
/// container and volume, and `available` with `DB instance restarted` once the engine answers.
async fn reboot(
    docker: &DockerClient,
    db: &DbInstance,
    machine: &mut Recovery,
    reply: tokio::sync::oneshot::Sender<Result<(), RebootError>>,
) {
    if let Err(status) = machine.reboot_requested() {
        let _ = reply.send(Err(RebootError::NotAvailable(status)));
        return;
    }
    publish(db, machine, &[]);
    let _ = reply.send(Ok(()));
    tracing::info!("database {}: rebooting on request", db.identifier);
    let started = std::time::Instant::now();
    let outcome = restart_engine(docker, db)
        .await
        .map_err(|e| crate::error::chain(&e).to_string());
    if outcome.is_ok() {
        tracing::info!(
            "database {}: rebooted in {:.1}s",
            db.identifier,
            started.elapsed().as_secs_f64()
        );
    }
    let events = machine.attempted(outcome, Instant::now());
    publish(db, machine, &events);
}

/// Stops the engine cleanly (SIGTERM, then [`SHUTDOWN_GRACE_SECS`]), records the shutdown, starts
/// the same container again and waits until the engine answers.
async fn restart_engine(docker: &DockerClient, db: &DbInstance) -> Result<(), RdsError> {
    let docker_err = |source| RdsError::Docker {
        identifier: db.identifier.clone(),
        source,
    };
    let container_id = db.container_id();
    let stop = StopContainerOptions {
        t: Some(SHUTDOWN_GRACE_SECS),
        signal: None,
    };
    match docker
        .bollard()
        .stop_container(&container_id, Some(stop))
        .await
    {
        // 304: already stopped.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 304, ..
        })
        | Ok(()) => {}
        Err(e) => {
            return Err(docker_err(
                DockerError::op("stop container", &container_id)(e),
            ));
        }
    }
    db.state.record_expected(&EventKind::Shutdown);
    docker
        .bollard()
        .start_container(&container_id, None::<StartContainerOptions>)
        .await
        .map_err(DockerError::op("start container", &container_id))
        .map_err(docker_err)?;
    super::wait_ready(docker, db, RECOVERY_TIMEOUT).await
}

/// What the container and the engine say right now.
async fn observe(docker: &DockerClient, db: &DbInstance) -> Result<Observation, DockerError> {
    let container_id = db.container_id();
    let inspect = match docker
        .bollard()
        .inspect_container(&container_id, None::<InspectContainerOptions>)
        .await
    {
        Ok(inspect) => inspect,
        Err(e) if crate::docker::is_not_found(&e) => return Ok(Observation::Gone),
        Err(e) => return Err(DockerError::op("inspect container", &container_id)(e)),
    };
    let state = inspect.state.unwrap_or_default();
    if !state.running.unwrap_or(false) {
        return Ok(Observation::Exited {
            exit_code: state.exit_code,
        });
    }
    // A frozen (paused) container answers nothing, and an exec into it can wedge the runtime
    // (runc joining a frozen cgroup): count it as unanswered without asking.
    if state.paused.unwrap_or(false) {
        return Ok(Observation::Running { answers: false });
    }
    let answered = tokio::time::timeout(PING_TIMEOUT, ping(docker, &container_id, db.port)).await;
    Ok(Observation::Running {
        answers: matches!(answered, Ok(Ok(()))),
    })
}

/// Carries out one recovery action and waits until the engine answers.
async fn act(docker: &DockerClient, db: &DbInstance, action: Action) -> Result<(), RdsError> {
    let docker_err = |source| RdsError::Docker {
        identifier: db.identifier.clone(),
        source,
    };
    let container_id = db.container_id();
    match action {
        Action::Start => match docker
            .bollard()
            .start_container(&container_id, None::<StartContainerOptions>)
            .await
        {
            // 304: already running (started by someone else meanwhile).
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            })
            | Ok(()) => {}
            Err(e) => {
                return Err(docker_err(DockerError::op(
                    "start container",
                    &container_id,
                )(e)));
            }
        },
        Action::Restart => {
            let options = RestartContainerOptions {
                t: Some(RESTART_GRACE_SECS),
                signal: None,
            };
            docker
                .bollard()
                .restart_container(&container_id, Some(options))
                .await
                .map_err(DockerError::op("restart container", &container_id))
                .map_err(docker_err)?
        }
        Action::Recreate => {
            // A leftover of the same name (exited, or half-removed) would block the name.
            let name = db.nodes.get().primary.name.clone();
            docker
                .remove_container(&name, true)
                .await
                .map_err(docker_err)?;
            let id = super::credentials::run_node(docker, &recreate_spec(db), &db.passwords())
                .await
                .map_err(docker_err)?;
            db.state.set_container(&id);
            db.nodes.update(|n| n.primary.container_id = id.clone());
        }
    }
    super::wait_ready(docker, db, RECOVERY_TIMEOUT).await
}
