//! The sampler of one read replica: every [`SAMPLE_INTERVAL`] it reads the replica's
//! `SHOW SLAVE STATUS`, keeps the result on the instance ([`DbInstance::replica`]) for `status`,
//! `/metrics` and `describe-db-instances`, and records RDS's event when replication stops or
//! resumes. Runs in the instance's supervisor group; ends when the replica is promoted.

use std::time::Duration;

use tokio::time::{MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::docker::DockerClient;
use crate::rds::{DbInstance, InstanceStatus};

use super::ops;
use super::status::{self, ReplicaObserved, ReplicationState};

/// How often a replica's replication is sampled (RDS publishes ReplicaLag every minute; a lab
/// wants to see a lag demo move).
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// Starts sampling `db` on `tracker` until `cancel` fires or `db` is no longer a replica.
pub fn spawn(
    docker: DockerClient,
    db: DbInstance,
    tracker: &TaskTracker,
    cancel: CancellationToken,
) {
    tracker.spawn(async move {
        cancel.run_until_cancelled(run(docker, db)).await;
    });
}

async fn run(docker: DockerClient, db: DbInstance) {
    let mut ticks = interval(SAMPLE_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut before: Option<ReplicationState> = None;
    loop {
        ticks.tick().await;
        if db.settings().read_replica_source.is_none() {
            break;
        }
        if db.replica().is_promoting() {
            continue;
        }
        let sample = match db.status() {
            // Only an engine that answers can say; a restarting replica is not replicating.
            InstanceStatus::Available => ops::sample(&docker, &db).await.unwrap_or_else(|e| {
                tracing::debug!(database = %db.identifier, "cannot read replication status: {e}");
                ReplicaObserved::starting()
            }),
            _ => ReplicaObserved::starting(),
        };
        if let Some(event) = status::transition(before, sample.state) {
            db.state().record(&event);
        }
        if sample.state == ReplicationState::Error && before != Some(ReplicationState::Error) {
            tracing::warn!(
                "read replica {}: replication stopped: {}",
                db.identifier,
                sample.error.as_deref().unwrap_or("no error given")
            );
        }
        before = Some(sample.state);
        // A promotion that began during the sample has cleared the state: leave it cleared.
        if db.replica().is_promoting() || db.settings().read_replica_source.is_none() {
            continue;
        }
        db.replica().set(sample);
    }
    tracing::debug!(database = %db.identifier, "replica sampler stopped");
}
