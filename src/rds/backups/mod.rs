//! Automated backups, snapshots and point-in-time restore of the RDS tier.
//!
//! The decisions are pure and tested without Docker: the backup window ([`window`]) and
//! schedule ([`schedule`]), retention pruning ([`retention`]) and point-in-time restore planning
//! ([`pitr`]). What is kept lives as files in the lab's RDS storage ([`store`]): the physical
//! copies with their `snapshot.json` ([`model`]) and the archived binary logs.

mod activity;
mod archive;
pub mod encryption;
pub mod model;
pub mod pitr;
pub mod restore;
pub mod retention;
pub mod schedule;
pub mod scheduler;
pub mod snapshot;
pub mod store;
pub mod window;

pub use activity::Activity;
pub use model::{
    ArchiveIndex, ArchivedLog, Base, SnapshotMeta, SnapshotSettings, SnapshotStatus, SnapshotType,
    automated_snapshot_id,
};
pub use pitr::{PitrError, Plan};
pub use retention::{Pruning, prune, restorable_window};
pub use schedule::Schedule;
pub use store::{Store, StoreError};
pub use window::BackupWindow;

/// The weekly maintenance window tierlab reports for every instance.
pub const MAINTENANCE_WINDOW: &str = "sun:05:00-sun:05:30";

/// Unix seconds now.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The instance's backup window: its configured one, else RDS's default for the region.
pub fn window_of(db: &crate::config::Database, region: &str) -> BackupWindow {
    db.preferred_backup_window
        .as_deref()
        .and_then(|w| BackupWindow::parse(w).ok())
        .unwrap_or_else(|| BackupWindow::default_for(region, &db.identifier))
}

/// Errors of taking, archiving, restoring and deleting.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("physical copy")]
    Copy(#[source] Box<crate::rds::copy::CopyError>),
    #[error("SQL")]
    Sql(#[source] Box<crate::rds::sql::SqlError>),
    #[error("snapshot store")]
    Store(#[from] StoreError),
    #[error("Docker")]
    Docker(#[from] crate::docker::DockerError),
    #[error("snapshot passwords")]
    Secret(#[source] crate::state::StateError),
    #[error("archiving the binary logs of `{identifier}`: {message}")]
    Archive { identifier: String, message: String },
    #[error("replaying the binary logs into `{identifier}`: {message}")]
    Replay { identifier: String, message: String },
    #[error("starting the restored instance")]
    Lab(#[source] Box<crate::error::Error>),
}

impl From<crate::rds::copy::CopyError> for BackupError {
    fn from(e: crate::rds::copy::CopyError) -> Self {
        BackupError::Copy(Box::new(e))
    }
}

impl From<crate::rds::sql::SqlError> for BackupError {
    fn from(e: crate::rds::sql::SqlError) -> Self {
        BackupError::Sql(Box::new(e))
    }
}

/// What the backup machinery of one lab works with. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Backups {
    pub docker: crate::docker::DockerClient,
    pub store: Store,
    pub state: crate::state::StateDir,
    pub lab: String,
    pub region: String,
    pub profile: crate::config::TimingProfile,
    pub activity: Activity,
}

impl Backups {
    /// Takes the snapshot announced by `meta` (see [`snapshot::take`]).
    pub async fn take(
        &self,
        db: &crate::rds::DbInstance,
        meta: SnapshotMeta,
    ) -> Result<SnapshotMeta, BackupError> {
        snapshot::take(&self.docker, db, &self.store, &self.state, &self.lab, meta).await
    }

    /// A manual snapshot (create-db-snapshot, a final snapshot), under the instance's lock.
    pub async fn manual_snapshot(
        &self,
        db: &crate::rds::DbInstance,
        meta: SnapshotMeta,
    ) -> Result<SnapshotMeta, BackupError> {
        let lock = self.activity.lock(&db.identifier);
        let _held = lock.lock().await;
        self.take(db, meta).await
    }

    /// Removes snapshots of `instance` left `creating` by a run that stopped mid-copy.
    pub fn clear_unfinished(&self, instance: &str) {
        for s in self.store.snapshots() {
            if s.instance == instance && s.status == SnapshotStatus::Creating {
                let _ = snapshot::delete(&self.store, &self.state, &self.lab, &s.id);
            }
        }
    }

    /// The instance's automated snapshots usable as restore bases.
    pub fn bases(&self, instance: &str) -> Vec<Base> {
        self.store
            .snapshots()
            .iter()
            .filter(|s| s.instance == instance && s.kind == SnapshotType::Automated)
            .filter_map(Base::of)
            .collect()
    }

    /// `(EarliestRestorableTime, LatestRestorableTime)` of `instance`, Unix seconds.
    pub fn restorable(&self, instance: &str) -> Option<(u64, u64)> {
        restorable_window(
            &self.bases(instance),
            self.store.archive(instance).archived_until,
        )
    }
}
