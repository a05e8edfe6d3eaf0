//! A Multi-AZ failover: the standby becomes the primary and the endpoint follows it.
//!
//! 1. `Multi-AZ instance failover started.` (RDS-EVENT-0013); status `rebooting`.
//! 2. The old primary is fenced: killed, so it takes no further write and every connection to it
//!    is cut (clients reconnect, as after an RDS failover). With `AFTER_SYNC` semi-sync, every
//!    commit a client was told about is already in the standby's relay log.
//! 3. (`failover = "aws"`: the wait RDS takes before its DNS name moves.)
//! 4. The standby stops receiving, applies its relay log, and is made a writable primary
//!    ([`replication::promote`]); it refuses rather than promote short of what it received.
//! 5. The endpoint's aliases move onto it: disconnect and reconnect on its network with the
//!    aliases and its address pinned (while a fault's proxy holds the endpoint, the proxy
//!    forwards to it instead: [`crate::rds::detour`]). `Multi-AZ failover to standby complete - DNS propagation
//!    may take a few minutes.` (RDS-EVENT-0015), status `available`, `Multi-AZ instance failover
//!    completed.` (RDS-EVENT-0049).
//! 6. The old primary's container and volume go, and a new standby is built in its
//!    availability zone from a fresh copy of the new primary (the simple, safe way: no
//!    question of whether the old primary had transactions the new one lacks).

use crate::config::FailoverTiming;
use crate::docker::DockerClient;
use crate::rds::DbInstance;
use crate::rds::events::EventKind;
use crate::rds::replication;
use crate::rds::sql::Node as Sql;
use crate::rds::state::InstanceStatus;
use crate::vpc::ZoneHealth;

use super::{APPLY_TIMEOUT, AWS_FAILOVER_DELAY, MultiAzError, standby};

/// Fails `db` over to its standby (which must exist: see [`super::decision::decide`]).
/// `possible_loss`: the standby was not in sync; an event says writes may be lost.
pub async fn fail_over(
    docker: &DockerClient,
    db: &DbInstance,
    zones: &ZoneHealth,
    possible_loss: bool,
) -> Result<(), MultiAzError> {
    let id = &db.identifier;
    let docker_err = |source| MultiAzError::Docker {
        identifier: id.clone(),
        source,
    };
    let started = std::time::Instant::now();
    let nodes = db.nodes.get();
    let old = nodes.primary.clone();
    let Some(new) = nodes.standby.clone() else {
        return Err(MultiAzError::Invalid {
            identifier: id.clone(),
            message: "no standby to fail over to".into(),
        });
    };
    // 1.
    db.state.set_status(InstanceStatus::Rebooting);
    db.state.record(&EventKind::FailoverStarted);
    if possible_loss {
        db.state.record(&EventKind::FailoverMayLoseWrites);
    }
    tracing::warn!(
        "database {id}: failing over from {} ({}) to {} ({})",
        old.name,
        old.subnet,
        new.name,
        new.subnet
    );
    // 2. Fence the old primary.
    docker
        .kill_container(&old.container_id)
        .await
        .map_err(docker_err)?;
    // 3.
    if db.settings().failover == FailoverTiming::Aws {
        tokio::time::sleep(AWS_FAILOVER_DELAY).await;
    }
    // 4. Promote.
    let new_sql = Sql {
        docker,
        container: &new.container_id,
        port: db.port,
    };
    let promoted = replication::promote(&new_sql, APPLY_TIMEOUT)
        .await
        .map_err(|source| MultiAzError::Replication {
            identifier: id.clone(),
            source,
        })?;
    // 5. Move the endpoint (or, while a fault's proxy holds it, point the proxy at the new
    // primary), and only then call it the primary: held still meanwhile, so a fault beginning
    // or ending sees either the old endpoint or the new one whole.
    let mut endpoint = db.detour.lock().await;
    endpoint
        .point_endpoint_at(docker, db, &new)
        .await
        .map_err(docker_err)?;
    db.nodes.update(|n| {
        n.primary = new.clone();
        n.standby = None;
        n.standby_in_sync = false;
    });
    drop(endpoint);
    db.state.set_container(&new.container_id);
    db.state.record(&EventKind::FailoverComplete);
    db.state.set_status(InstanceStatus::Available);
    db.state.record(&EventKind::FailoverCompleted);
    tracing::info!(
        "database {id}: failed over to {} in {:.2}s (promoted at GTID {})",
        new.subnet,
        started.elapsed().as_secs_f64(),
        promoted.gtid
    );
    // 6. The old primary goes; a standby is built where it was.
    standby::discard(docker, db, &old).await?;
    if let Err(e) = standby::build(docker, db, zones).await {
        // The supervisor builds it again at its next round.
        tracing::warn!(
            "database {id}: the new standby could not be built yet: {}",
            crate::error::chain(&e)
        );
    }
    Ok(())
}
