//! Automated backups, snapshots and point-in-time restore of the RDS tier.
//!
//! The decisions are pure and tested without Docker: the backup window ([`window`]) and
//! schedule ([`schedule`]), retention pruning ([`retention`]) and point-in-time restore planning
//! ([`pitr`]). What is kept lives as files in the lab's RDS storage ([`store`]): the physical
//! copies with their `snapshot.json` ([`model`]) and the archived binary logs.

pub mod model;
pub mod pitr;
pub mod retention;
pub mod schedule;
pub mod store;
pub mod window;

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
