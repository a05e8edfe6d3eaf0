//! The Multi-AZ steps of an instance's supervisor: requested failovers and modifications,
//! failover when the primary is lost, and tending the standby (build it when wanted and
//! missing, rebuild it when its container is gone, remove it when no longer wanted, watch
//! whether the primary's commits wait for it).

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::docker::DockerClient;
use crate::rds::DbInstance;
use crate::rds::events::EventKind;
use crate::rds::reboot::FailoverError;
use crate::rds::recovery::Recovery;
use crate::rds::state::InstanceStatus;
use crate::vpc::ZoneHealth;

use super::decision::{Decision, Trigger, decide};
use super::{failover, standby};

/// Pause before building a standby again after a failed attempt.
const STANDBY_RETRY: Duration = Duration::from_secs(10);

/// `reboot-db-instance --force-failover`: refused unless available and the rules allow.
pub async fn requested_failover(
    docker: &DockerClient,
    db: &DbInstance,
    zones: &ZoneHealth,
    machine: &mut Recovery,
    reply: oneshot::Sender<Result<(), FailoverError>>,
) {
    if machine.status() != InstanceStatus::Available {
        let _ = reply.send(Err(FailoverError::NotAvailable(machine.status())));
        return;
    }
    // The primary is alive: read whether the standby is in sync now, not at the last round.
    standby::check(docker, db).await;
    let view = standby::view(docker, db).await;
    let possible_loss = match decide(Trigger::Requested, view.as_ref(), 0) {
        Decision::FailOver { possible_loss } => possible_loss,
        Decision::Refuse(why) => {
            let _ = reply.send(Err(why.into()));
            return;
        }
        Decision::RecoverInPlace => {
            let _ = reply.send(Err(FailoverError::NotAvailable(machine.status())));
            return;
        }
    };
    db.state.set_status(InstanceStatus::Rebooting);
    let _ = reply.send(Ok(()));
    if let Err(e) = failover::fail_over(docker, db, zones, possible_loss).await {
        tracing::warn!(
            "database {}: failover failed: {}",
            db.identifier,
            crate::error::chain(&e)
        );
    }
    *machine = Recovery::new(db.status());
}

/// The primary is lost (the recovery machine wants to act): fails over when the rules say so.
/// Returns whether it did (then the recovery machine starts afresh).
pub async fn failed_over(
    docker: &DockerClient,
    db: &DbInstance,
    zones: &ZoneHealth,
    machine: &mut Recovery,
) -> bool {
    if db.nodes.get().standby.is_none() {
        return false;
    }
    let view = standby::view(docker, db).await;
    let primary_subnet = db.nodes.get().primary.subnet.clone();
    let trigger = if zones.subnet_is_down(&primary_subnet) {
        Trigger::PrimaryZoneLost
    } else {
        Trigger::PrimaryLost
    };
    let Decision::FailOver { possible_loss } =
        decide(trigger, view.as_ref(), machine.failed_attempts())
    else {
        return false;
    };
    if let Err(e) = failover::fail_over(docker, db, zones, possible_loss).await {
        tracing::warn!(
            "database {}: failover failed: {}",
            db.identifier,
            crate::error::chain(&e)
        );
    }
    *machine = Recovery::new(db.status());
    true
}

/// `modify-db-instance --multi-az | --no-multi-az --apply-immediately`.
pub async fn set_multi_az(
    docker: &DockerClient,
    db: &DbInstance,
    zones: &ZoneHealth,
    machine: &Recovery,
    on: bool,
    reply: oneshot::Sender<Result<(), FailoverError>>,
) {
    if machine.status() != InstanceStatus::Available {
        let _ = reply.send(Err(FailoverError::NotAvailable(machine.status())));
        return;
    }
    let has_standby = db.nodes.get().standby.is_some();
    db.update_settings(|s| s.multi_az = on);
    if on == has_standby {
        let _ = reply.send(Ok(()));
        return;
    }
    db.state.set_status(InstanceStatus::Modifying);
    let _ = reply.send(Ok(()));
    let (starting, finished) = if on {
        (
            EventKind::ConvertingToMultiAz,
            EventKind::ConvertedToMultiAz,
        )
    } else {
        (
            EventKind::ConvertingToSingleAz,
            EventKind::ConvertedToSingleAz,
        )
    };
    db.state.record(&starting);
    let outcome = if on {
        standby::build(docker, db, zones).await
    } else {
        standby::remove(docker, db).await
    };
    match outcome {
        Ok(()) => db.state.record(&finished),
        Err(e) => tracing::warn!("database {}: {}", db.identifier, crate::error::chain(&e)),
    }
    db.state.set_status(InstanceStatus::Available);
}

/// One round of tending the standby of an available instance.
pub async fn tend(
    docker: &DockerClient,
    db: &DbInstance,
    zones: &ZoneHealth,
    machine: &Recovery,
    retry_at: &mut Option<Instant>,
) {
    if machine.status() != InstanceStatus::Available || db.status() != InstanceStatus::Available {
        return;
    }
    let wanted = db.settings().multi_az;
    let present = db.nodes.get().standby.clone();
    match (wanted, present) {
        (true, None) => {
            if retry_at.is_some_and(|at| Instant::now() < at) {
                return;
            }
            match standby::build(docker, db, zones).await {
                Ok(()) => *retry_at = None,
                Err(e) => {
                    tracing::warn!(
                        "database {}: cannot build the standby (retrying in {STANDBY_RETRY:?}): {}",
                        db.identifier,
                        crate::error::chain(&e)
                    );
                    *retry_at = Some(Instant::now() + STANDBY_RETRY);
                }
            }
        }
        (false, Some(_)) => {
            if let Err(e) = standby::remove(docker, db).await {
                tracing::warn!(
                    "database {}: cannot remove the standby: {}",
                    db.identifier,
                    crate::error::chain(&e)
                );
            }
        }
        (true, Some(node)) => {
            if !standby::check(docker, db).await {
                // Its container is gone or stopped: a new one is built from a fresh copy at the
                // next round (the primary stopped waiting for it after SEMI_SYNC_TIMEOUT).
                tracing::warn!(
                    "database {}: the standby's container is not running; rebuilding it",
                    db.identifier
                );
                let _ = standby::discard(docker, db, &node).await;
                db.nodes.update(|n| {
                    n.standby = None;
                    n.standby_in_sync = false;
                });
            }
        }
        (false, None) => {}
    }
}
