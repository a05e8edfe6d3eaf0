//! What is kept of a backup, as files under the lab's RDS storage: `snapshot.json` next to each
//! snapshot's physical copy, and the index of an instance's archived binary logs. Times are Unix
//! seconds (UTC).

use serde::{Deserialize, Serialize};

use crate::config::Database;

/// RDS's `SnapshotType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotType {
    Automated,
    Manual,
}

impl SnapshotType {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotType::Automated => "automated",
            SnapshotType::Manual => "manual",
        }
    }
}

/// RDS's snapshot `Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotStatus {
    Creating,
    Available,
    Failed,
}

impl SnapshotStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotStatus::Creating => "creating",
            SnapshotStatus::Available => "available",
            SnapshotStatus::Failed => "failed",
        }
    }
}

/// `snapshots/<id>/snapshot.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SnapshotMeta {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: SnapshotType,
    pub status: SnapshotStatus,
    /// The instance it was taken of.
    pub instance: String,
    /// When the copy began (RDS's `SnapshotCreateTime`).
    pub started_at: u64,
    /// When the copy was complete: it holds every transaction committed before this.
    pub completed_at: Option<u64>,
    /// The GTID position the copy is consistent at (`gtid_binlog_pos`), where a point-in-time
    /// restore starts replaying.
    pub gtid: Option<String>,
    /// Bytes of the physical copy.
    pub size_bytes: u64,
    /// The instance's `InstanceCreateTime`.
    pub instance_created_at: u64,
    pub settings: SnapshotSettings,
}

/// The instance's settings at the time, to restore it as it was (RDS keeps engine, class,
/// storage, port, master user name with the snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SnapshotSettings {
    pub engine: String,
    pub engine_version: String,
    pub instance_class: String,
    pub image: String,
    pub db_name: String,
    pub master_username: String,
    pub port: u16,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub allocated_storage_gib: u32,
    pub backup_retention_days: u32,
    pub multi_az: bool,
    pub cpu: u32,
    pub memory_mib: u32,
    #[serde(default)]
    pub storage_encrypted: bool,
}

impl SnapshotSettings {
    pub fn of(db: &Database) -> SnapshotSettings {
        SnapshotSettings {
            engine: db.engine.clone(),
            engine_version: db.engine_version.clone(),
            instance_class: db.instance_class.clone(),
            image: db.image.clone(),
            db_name: db.db_name.clone(),
            master_username: db.master_username.clone(),
            port: db.port,
            subnets: db.subnets.clone(),
            security_groups: db.security_groups.clone(),
            allocated_storage_gib: db.allocated_storage_gib.get(),
            backup_retention_days: db.backup_retention_days,
            multi_az: db.multi_az,
            cpu: db.cpu,
            memory_mib: db.memory_mib,
            storage_encrypted: db.storage_encrypted,
        }
    }

    /// The settings of a new instance `identifier` restored from this snapshot (single-AZ,
    /// as RDS restores unless asked otherwise).
    pub fn to_database(&self, identifier: &str) -> Database {
        Database {
            identifier: identifier.to_string(),
            engine: self.engine.clone(),
            engine_version: self.engine_version.clone(),
            instance_class: self.instance_class.clone(),
            image: self.image.clone(),
            build: None,
            db_name: self.db_name.clone(),
            master_username: self.master_username.clone(),
            port: self.port,
            subnets: self.subnets.clone(),
            security_groups: self.security_groups.clone(),
            allocated_storage_gib: std::num::NonZeroU32::new(self.allocated_storage_gib)
                .unwrap_or(std::num::NonZeroU32::MIN),
            backup_retention_days: self.backup_retention_days,
            multi_az: false,
            failover: Default::default(),
            cpu: self.cpu,
            memory_mib: self.memory_mib,
            preferred_backup_window: None,
            storage_encrypted: self.storage_encrypted,
            read_replicas: Vec::new(),
            read_replica_source: None,
        }
    }
}

/// One closed binary log copied to `binlogs/<instance>/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ArchivedLog {
    /// `mysql-bin.000007`.
    pub name: String,
    /// When it was closed (`FLUSH BINARY LOGS`): it holds no event after this.
    pub closed_at: u64,
    pub size_bytes: u64,
}

impl ArchivedLog {
    /// The file's sequence number (`mysql-bin.000007` → 7), for ordering.
    pub fn sequence(&self) -> u64 {
        self.name
            .rsplit('.')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

/// `binlogs/<instance>/index.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ArchiveIndex {
    pub logs: Vec<ArchivedLog>,
    /// Every transaction committed before this time is in the archived logs (the last
    /// archiving's flush): the instance's `LatestRestorableTime`.
    pub archived_until: Option<u64>,
}

/// A snapshot as the backup logic sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    pub id: String,
    pub started_at: u64,
    /// Restorable from here on (the copy was complete).
    pub completed_at: u64,
    pub gtid: String,
}

impl Base {
    /// An available snapshot with a GTID position, as a base for restores.
    pub fn of(meta: &SnapshotMeta) -> Option<Base> {
        Some(Base {
            id: meta.id.clone(),
            started_at: meta.started_at,
            completed_at: meta.completed_at?,
            gtid: meta.gtid.clone()?,
        })
        .filter(|_| meta.status == SnapshotStatus::Available)
    }
}

/// RDS's automated snapshot name: `rds:<instance>-<yyyy-mm-dd-hh-mm>` (UTC).
pub fn automated_snapshot_id(instance: &str, at: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(at);
    let text = humantime::format_rfc3339_seconds(time).to_string(); // 2026-12-02T05:36:01Z
    let stamp = text[..16].replace(['T', ':'], "-");
    format!("rds:{instance}-{stamp}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automated_snapshots_are_named_as_rds_names_them() {
        let at = humantime::parse_rfc3339("2026-12-02T05:36:01Z").unwrap();
        let secs = at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(
            automated_snapshot_id("flask-crud-db", secs),
            "rds:flask-crud-db-2026-12-02-05-36"
        );
    }

    #[test]
    fn logs_order_by_their_sequence_number() {
        let log = |name: &str| ArchivedLog {
            name: name.into(),
            closed_at: 0,
            size_bytes: 0,
        };
        assert_eq!(log("mysql-bin.000010").sequence(), 10);
        assert!(log("mysql-bin.000009").sequence() < log("mysql-bin.000010").sequence());
    }
}
