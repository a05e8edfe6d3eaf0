//! What tierlab does to a read replica's engine, through `docker exec` ([`crate::rds::sql`]):
//! read its replication state, delay it, promote it.

use std::time::Duration;

use crate::docker::DockerClient;
use crate::rds::replication::{self, ReplicationError};
use crate::rds::sql::{Node, SqlError};
use crate::rds::{DbInstance, EventKind, RdsError};

use super::status::{self, ReplicaObserved, SlaveStatus};

/// How long a promotion waits for the replica to apply what it had received.
pub const PROMOTE_APPLY_TIMEOUT: Duration = Duration::from_secs(60);

fn node<'a>(docker: &'a DockerClient, db: &DbInstance, container: &'a str) -> Node<'a> {
    Node {
        docker,
        container,
        port: db.port,
    }
}

fn failed(
    db: &DbInstance,
    step: &str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> RdsError {
    RdsError::ReadReplica {
        identifier: db.identifier.clone(),
        step: step.to_string(),
        source: Box::new(source),
    }
}

/// One sample of `db`'s replication.
pub async fn sample(docker: &DockerClient, db: &DbInstance) -> Result<ReplicaObserved, SqlError> {
    let container = db.container_id();
    let rows = node(docker, db, &container)
        .query_named("SHOW SLAVE STATUS")
        .await?;
    let slave = rows.first().map(SlaveStatus::from_row);
    Ok(status::classify(slave.as_ref()))
}

/// Delays `db`'s replication by `seconds` (`MASTER_DELAY`; 0 removes the delay). The replica
/// keeps receiving; it applies each change `seconds` after the source committed it.
pub async fn set_delay(
    docker: &DockerClient,
    db: &DbInstance,
    seconds: u64,
) -> Result<(), RdsError> {
    let container = db.container_id();
    // MariaDB changes MASTER_DELAY only with the replication threads stopped.
    let statements =
        format!("STOP SLAVE;\nCHANGE MASTER TO MASTER_DELAY = {seconds};\nSTART SLAVE;");
    node(docker, db, &container)
        .query(&statements)
        .await
        .map_err(|e| failed(db, &format!("setting its delay to {seconds}s"), e))?;
    Ok(())
}

/// Promotes `db`: its delay removed (what it received is applied at once), then
/// [`replication::promote`] (stop receiving, apply the relay log, `RESET SLAVE ALL`,
/// `read_only=OFF`). Records RDS's events for the stop and the end of replication.
pub async fn promote(docker: &DockerClient, db: &DbInstance) -> Result<(), RdsError> {
    let container = db.container_id();
    let replica = node(docker, db, &container);
    let delay = replica
        .query(
            "STOP SLAVE SQL_THREAD;\nCHANGE MASTER TO MASTER_DELAY = 0;\nSTART SLAVE SQL_THREAD;",
        )
        .await;
    if let Err(e) = delay {
        // A replica whose replication was never set up has no delay to remove.
        tracing::debug!(database = %db.identifier, "removing the delay before promotion: {e}");
    }
    db.state().record(&EventKind::ReplicationManuallyStopped);
    replication::promote(&replica, PROMOTE_APPLY_TIMEOUT)
        .await
        .map_err(|e: ReplicationError| failed(db, "promoting it", e))?;
    db.state().record(&EventKind::ReplicationTerminated);
    Ok(())
}
