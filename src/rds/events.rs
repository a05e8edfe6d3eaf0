//! RDS events of a DB instance: one typed model, with RDS's event ids, categories and messages,
//! kept in a bounded ring on the instance.
//!
//! The ids and wording are those of the "DB instance events" table in the Amazon RDS User Guide
//! (`USER_Events.Messages`). The fields are those of `aws rds describe-events` (`Date`,
//! `SourceIdentifier`, `SourceType`, `EventCategories`, `Message`) plus the `EventID` that RDS
//! puts in its EventBridge and SNS notifications, so a later `describe-events` can serve this
//! ring as it is.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// How many events an instance keeps (RDS keeps 14 days; a lab keeps the latest ones).
pub const EVENTS_KEPT: usize = 50;

/// What happened to a DB instance, as RDS names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// RDS-EVENT-0005: the instance was created (a new data volume was initialised).
    Created,
    /// RDS-EVENT-0088: the instance was started on existing data.
    Started,
    /// RDS-EVENT-0087: the instance was stopped.
    Stopped,
    /// RDS-EVENT-0004: the engine went down without being asked to (its container died).
    Shutdown,
    /// RDS-EVENT-0006: the engine is running and answering again.
    Restarted,
    /// RDS-EVENT-0022: a restart attempt failed, with the reason.
    RestartError(String),
    /// RDS-EVENT-0020: recovery of a failed instance began.
    RecoveryStarted,
    /// RDS-EVENT-0021: recovery finished; the instance is available.
    RecoveryComplete,
    /// RDS-EVENT-0031: recovery keeps failing; the instance is put into the `failed` state.
    Failed,
    /// RDS-EVENT-0013: Multi-AZ failover started (for the Multi-AZ work that builds on this).
    FailoverStarted,
    /// RDS-EVENT-0015: Multi-AZ failover to the standby completed (the endpoint moved).
    FailoverComplete,
    /// RDS-EVENT-0001: an automated backup began.
    BackupStarted,
    /// RDS-EVENT-0002: the automated backup finished.
    BackupFinished,
    /// RDS-EVENT-0003: the instance was deleted.
    Deleted,
    /// RDS-EVENT-0008: the instance was created from a snapshot.
    RestoredFromSnapshot(String),
    /// RDS-EVENT-0019: the instance was created from another one at a point in time
    /// (source, time).
    RestoredToPointInTime(String, String),
    /// A snapshot (of this instance) is being created: RDS-EVENT-0090 automated,
    /// RDS-EVENT-0040 manual. Its source is the snapshot.
    SnapshotCreating { snapshot: String, automated: bool },
    /// The snapshot was created: RDS-EVENT-0091 automated, RDS-EVENT-0042 manual.
    SnapshotCreated { snapshot: String, automated: bool },
    /// RDS-EVENT-0041: a manual snapshot was deleted.
    SnapshotDeleted { snapshot: String },
    /// RDS-EVENT-0049: the Multi-AZ failover is over; the instance is available.
    FailoverCompleted,
    /// RDS-EVENT-0024: `modify-db-instance --multi-az`: the standby is being built.
    ConvertingToMultiAz,
    /// RDS-EVENT-0025: the standby has joined.
    ConvertedToMultiAz,
    /// RDS-EVENT-0030: `modify-db-instance --no-multi-az`: the standby is being removed.
    ConvertingToSingleAz,
    /// RDS-EVENT-0029: the standby is gone.
    ConvertedToSingleAz,
    /// The standby stopped acknowledging commits: semi-synchronous replication fell back to
    /// asynchronous. RDS has no event for this (its standby is synchronous at the storage
    /// level), so the id is tierlab's own and the wording in RDS's style.
    StandbyNotInSync,
    /// The standby acknowledges commits again.
    StandbyInSync,
    /// A failover to a standby that was not in sync when the primary was lost: writes
    /// acknowledged after replication fell back to asynchronous may be missing (tierlab's id).
    FailoverMayLoseWrites,
    /// RDS-EVENT-0046: a read replica replicates (first after its creation, or again after
    /// [`EventKind::ReplicationStopped`]).
    ReplicationResumed,
    /// RDS-EVENT-0045: a read replica's replication stopped on an error.
    ReplicationStopped,
    /// RDS-EVENT-0062: a read replica's replication was stopped on request (its promotion).
    ReplicationManuallyStopped,
    /// RDS-EVENT-0057: a read replica's replication ended for good (its promotion).
    ReplicationTerminated,
    /// RDS-EVENT-0202: a read replica could not be created.
    ReplicaCreationFailed,
}

impl EventKind {
    /// RDS's event id, e.g. `RDS-EVENT-0004`.
    pub fn id(&self) -> &'static str {
        match self {
            EventKind::Created => "RDS-EVENT-0005",
            EventKind::Started => "RDS-EVENT-0088",
            EventKind::Stopped => "RDS-EVENT-0087",
            EventKind::Shutdown => "RDS-EVENT-0004",
            EventKind::Restarted => "RDS-EVENT-0006",
            EventKind::RestartError(_) => "RDS-EVENT-0022",
            EventKind::RecoveryStarted => "RDS-EVENT-0020",
            EventKind::RecoveryComplete => "RDS-EVENT-0021",
            EventKind::Failed => "RDS-EVENT-0031",
            EventKind::FailoverStarted => "RDS-EVENT-0013",
            EventKind::FailoverComplete => "RDS-EVENT-0015",
            EventKind::BackupStarted => "RDS-EVENT-0001",
            EventKind::BackupFinished => "RDS-EVENT-0002",
            EventKind::Deleted => "RDS-EVENT-0003",
            EventKind::RestoredFromSnapshot(_) => "RDS-EVENT-0008",
            EventKind::RestoredToPointInTime(..) => "RDS-EVENT-0019",
            EventKind::SnapshotCreating {
                automated: true, ..
            } => "RDS-EVENT-0090",
            EventKind::SnapshotCreating { .. } => "RDS-EVENT-0040",
            EventKind::SnapshotCreated {
                automated: true, ..
            } => "RDS-EVENT-0091",
            EventKind::SnapshotCreated { .. } => "RDS-EVENT-0042",
            EventKind::SnapshotDeleted { .. } => "RDS-EVENT-0041",
            EventKind::FailoverCompleted => "RDS-EVENT-0049",
            EventKind::ConvertingToMultiAz => "RDS-EVENT-0024",
            EventKind::ConvertedToMultiAz => "RDS-EVENT-0025",
            EventKind::ConvertingToSingleAz => "RDS-EVENT-0030",
            EventKind::ConvertedToSingleAz => "RDS-EVENT-0029",
            EventKind::StandbyNotInSync => "TIERLAB-EVENT-0001",
            EventKind::StandbyInSync => "TIERLAB-EVENT-0002",
            EventKind::FailoverMayLoseWrites => "TIERLAB-EVENT-0003",
            EventKind::ReplicationResumed => "RDS-EVENT-0046",
            EventKind::ReplicationStopped => "RDS-EVENT-0045",
            EventKind::ReplicationManuallyStopped => "RDS-EVENT-0062",
            EventKind::ReplicationTerminated => "RDS-EVENT-0057",
            EventKind::ReplicaCreationFailed => "RDS-EVENT-0202",
        }
    }

    /// RDS's event category.
    pub fn category(&self) -> &'static str {
        match self {
            EventKind::Created => "creation",
            EventKind::Started | EventKind::Stopped => "notification",
            EventKind::Shutdown | EventKind::Restarted | EventKind::RestartError(_) => {
                "availability"
            }
            EventKind::RecoveryStarted | EventKind::RecoveryComplete => "recovery",
            EventKind::Failed => "failure",
            EventKind::BackupStarted | EventKind::BackupFinished => "backup",
            EventKind::Deleted | EventKind::SnapshotDeleted { .. } => "deletion",
            EventKind::RestoredFromSnapshot(_) | EventKind::RestoredToPointInTime(..) => {
                "restoration"
            }
            EventKind::SnapshotCreating { .. } | EventKind::SnapshotCreated { .. } => "creation",
            EventKind::FailoverStarted
            | EventKind::FailoverComplete
            | EventKind::FailoverCompleted
            | EventKind::FailoverMayLoseWrites => "failover",
            EventKind::ConvertingToMultiAz
            | EventKind::ConvertedToMultiAz
            | EventKind::ConvertingToSingleAz
            | EventKind::ConvertedToSingleAz => "configuration change",
            EventKind::StandbyNotInSync | EventKind::StandbyInSync => "availability",
            EventKind::ReplicationResumed
            | EventKind::ReplicationStopped
            | EventKind::ReplicationManuallyStopped
            | EventKind::ReplicationTerminated
            | EventKind::ReplicaCreationFailed => "read replica",
        }
    }

    /// RDS's message for the event.
    pub fn message(&self) -> String {
        match self {
            EventKind::Created => "DB instance created.".into(),
            EventKind::Started => "DB instance started.".into(),
            EventKind::Stopped => "DB instance stopped.".into(),
            EventKind::Shutdown => "DB instance shutdown.".into(),
            EventKind::Restarted => "DB instance restarted.".into(),
            EventKind::RestartError(reason) => format!("Error restarting mysql: {reason}."),
            EventKind::RecoveryStarted => "Recovery of the DB instance has started. Recovery time will vary with the amount of data to be recovered.".into(),
            EventKind::RecoveryComplete => "Recovery of the DB instance is complete.".into(),
            EventKind::Failed => "DB instance put into failed state. RDS recommends that you initiate a point-in-time-restore.".into(),
            EventKind::FailoverStarted => "Multi-AZ instance failover started.".into(),
            EventKind::FailoverComplete => {
                "Multi-AZ failover to standby complete - DNS propagation may take a few minutes."
                    .into()
            }
            EventKind::BackupStarted => "Backing up DB instance".into(),
            EventKind::BackupFinished => "Finished DB Instance backup".into(),
            EventKind::Deleted => "DB instance deleted".into(),
            EventKind::RestoredFromSnapshot(snapshot) => {
                format!("Restored from snapshot {snapshot}")
            }
            EventKind::RestoredToPointInTime(source, time) => {
                format!("Restored from DB instance {source} to {time}")
            }
            EventKind::SnapshotCreating { automated: true, .. } => {
                "Creating automated snapshot".into()
            }
            EventKind::SnapshotCreating { .. } => "Creating manual snapshot".into(),
            EventKind::SnapshotCreated { automated: true, .. } => {
                "Automated snapshot created".into()
            }
            EventKind::SnapshotCreated { .. } => "Manual snapshot created".into(),
            EventKind::SnapshotDeleted { .. } => "Deleted manual snapshot".into(),
            EventKind::FailoverCompleted => "Multi-AZ instance failover completed.".into(),
            EventKind::ConvertingToMultiAz => {
                "Applying modification to convert to a Multi-AZ DB instance.".into()
            }
            EventKind::ConvertedToMultiAz => {
                "Finished applying modification to convert to a Multi-AZ DB instance.".into()
            }
            EventKind::ConvertingToSingleAz => {
                "Applying modification to convert to a standard (Single-AZ) DB instance.".into()
            }
            EventKind::ConvertedToSingleAz => {
                "Finished applying modification to convert to a standard (Single-AZ) DB instance."
                    .into()
            }
            EventKind::StandbyNotInSync => "The Multi-AZ standby is not acknowledging commits; replication to the standby is asynchronous until it catches up, and writes committed meanwhile could be lost in a failover.".into(),
            EventKind::StandbyInSync => "The Multi-AZ standby is acknowledging commits again; replication to the standby is synchronous.".into(),
            EventKind::FailoverMayLoseWrites => "Multi-AZ failover to a standby that was not in sync: writes committed after replication to the standby became asynchronous may be lost.".into(),
            EventKind::ReplicationResumed => "Replication for the Read Replica resumed.".into(),
            EventKind::ReplicationStopped => "Replication has stopped.".into(),
            EventKind::ReplicationManuallyStopped => {
                "Replication for the Read Replica has been manually stopped.".into()
            }
            EventKind::ReplicationTerminated => "Replication streaming has been terminated.".into(),
            EventKind::ReplicaCreationFailed => "Read replica creation failed.".into(),
        }
    }

    /// The event's source when it is not the instance: `(SourceType, SourceIdentifier)`.
    pub fn source(&self) -> Option<(&'static str, &str)> {
        match self {
            EventKind::SnapshotCreating { snapshot, .. }
            | EventKind::SnapshotCreated { snapshot, .. }
            | EventKind::SnapshotDeleted { snapshot } => Some(("db-snapshot", snapshot)),
            _ => None,
        }
    }

    /// Events that report trouble are logged at warn, the rest at info.
    pub fn is_trouble(&self) -> bool {
        matches!(
            self,
            EventKind::Shutdown
                | EventKind::RestartError(_)
                | EventKind::Failed
                | EventKind::RecoveryStarted
                | EventKind::FailoverStarted
                | EventKind::StandbyNotInSync
                | EventKind::FailoverMayLoseWrites
                | EventKind::ReplicationStopped
                | EventKind::ReplicaCreationFailed
        )
    }
}

/// One recorded event, shaped like an entry of `aws rds describe-events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RdsEvent {
    /// RFC 3339, seconds.
    pub date: String,
    pub event_id: String,
    pub source_identifier: String,
    /// `db-instance`, or `db-snapshot` for a snapshot's events (kept with its instance's).
    pub source_type: String,
    pub event_categories: Vec<String>,
    pub message: String,
}

impl RdsEvent {
    pub fn new(identifier: &str, kind: &EventKind, date: String) -> RdsEvent {
        let (source_type, source) = kind.source().unwrap_or(("db-instance", identifier));
        RdsEvent {
            date,
            event_id: kind.id().to_string(),
            source_identifier: source.to_string(),
            source_type: source_type.into(),
            event_categories: vec![kind.category().to_string()],
            message: kind.message(),
        }
    }
}

/// The latest [`EVENTS_KEPT`] events, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventRing(VecDeque<RdsEvent>);

impl EventRing {
    pub fn push(&mut self, event: RdsEvent) {
        if self.0.len() == EVENTS_KEPT {
            self.0.pop_front();
        }
        self.0.push_back(event);
    }

    pub fn iter(&self) -> impl Iterator<Item = &RdsEvent> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_rds_ids_categories_and_wording() {
        let e = RdsEvent::new("db", &EventKind::Shutdown, "2026-12-02T00:00:00Z".into());
        assert_eq!(e.event_id, "RDS-EVENT-0004");
        assert_eq!(e.event_categories, ["availability"]);
        assert_eq!(e.message, "DB instance shutdown.");
        assert_eq!(e.source_type, "db-instance");
        let e = RdsEvent::new("db", &EventKind::RestartError("boom".into()), String::new());
        assert_eq!(
            (e.event_id.as_str(), e.message.as_str()),
            ("RDS-EVENT-0022", "Error restarting mysql: boom.")
        );
        assert_eq!(EventKind::RecoveryComplete.id(), "RDS-EVENT-0021");
        assert_eq!(EventKind::Failed.category(), "failure");
        assert_eq!(
            (
                EventKind::FailoverCompleted.id(),
                EventKind::FailoverCompleted.message()
            ),
            (
                "RDS-EVENT-0049",
                "Multi-AZ instance failover completed.".to_string()
            )
        );
        assert_eq!(
            EventKind::FailoverStarted.message(),
            "Multi-AZ instance failover started."
        );
        assert_eq!(EventKind::ConvertedToMultiAz.id(), "RDS-EVENT-0025");
        let e = RdsEvent::new("r", &EventKind::ReplicationResumed, String::new());
        assert_eq!(
            (
                e.event_id.as_str(),
                e.event_categories[0].as_str(),
                e.message.as_str()
            ),
            (
                "RDS-EVENT-0046",
                "read replica",
                "Replication for the Read Replica resumed."
            )
        );
        assert_eq!(
            EventKind::ReplicationStopped.message(),
            "Replication has stopped."
        );
        assert!(EventKind::ReplicationStopped.is_trouble());
    }

    #[test]
    fn backup_and_snapshot_events_carry_rds_ids_and_sources() {
        let e = RdsEvent::new("db", &EventKind::BackupFinished, String::new());
        assert_eq!(
            (
                e.event_id.as_str(),
                e.message.as_str(),
                e.event_categories[0].as_str()
            ),
            ("RDS-EVENT-0002", "Finished DB Instance backup", "backup")
        );
        let created = EventKind::SnapshotCreated {
            snapshot: "rds:db-2026-12-02-05-36".into(),
            automated: true,
        };
        let e = RdsEvent::new("db", &created, String::new());
        assert_eq!(e.event_id, "RDS-EVENT-0091");
        assert_eq!(e.source_type, "db-snapshot");
        assert_eq!(e.source_identifier, "rds:db-2026-12-02-05-36");
        assert_eq!(e.message, "Automated snapshot created");
        let manual = EventKind::SnapshotCreated {
            snapshot: "mine".into(),
            automated: false,
        };
        assert_eq!(manual.id(), "RDS-EVENT-0042");
    }

    #[test]
    fn the_ring_keeps_the_latest_events() {
        let mut ring = EventRing::default();
        for i in 0..EVENTS_KEPT + 5 {
            ring.push(RdsEvent::new("db", &EventKind::Restarted, i.to_string()));
        }
        assert_eq!(ring.len(), EVENTS_KEPT);
        assert_eq!(ring.iter().next().unwrap().date, "5");
        assert_eq!(
            ring.iter().last().unwrap().date,
            (EVENTS_KEPT + 4).to_string()
        );
    }
}
