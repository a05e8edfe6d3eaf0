//! The lab's backups on the host, under its RDS storage (`rds::storage_dir`, mounted in every DB
//! container at `rds::STORAGE_MOUNT`): `snapshots/<id>/` (the physical copy in `data/` and
//! `snapshot.json`) and `binlogs/<instance>/` (archived logs and `index.json`). The storage is
//! in the state directory, so it survives `down` and `down --volumes`.

use std::path::{Path, PathBuf};

use super::model::{ArchiveIndex, SnapshotMeta};

const META: &str = "snapshot.json";
const INDEX: &str = "index.json";
/// The physical copy inside a snapshot's directory.
pub const DATA: &str = "data";

/// Snapshots and archived logs of one lab.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("RDS storage {path}: {action}")]
pub struct StoreError {
    pub path: PathBuf,
    pub action: &'static str,
    #[source]
    pub source: std::io::Error,
}

impl Store {
    /// The store at `root` (the lab's RDS storage on the host).
    pub fn at(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `snapshots/<id>` on the host.
    pub fn snapshot_dir(&self, id: &str) -> PathBuf {
        self.root.join("snapshots").join(id)
    }

    /// `binlogs/<instance>` on the host.
    pub fn binlog_dir(&self, instance: &str) -> PathBuf {
        self.root.join("binlogs").join(instance)
    }

    /// Every snapshot, oldest first (unreadable entries are skipped with a warning).
    pub fn snapshots(&self) -> Vec<SnapshotMeta> {
        let Ok(entries) = std::fs::read_dir(self.root.join("snapshots")) else {
            return Vec::new();
        };
        let mut all: Vec<SnapshotMeta> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let path = e.path().join(META);
                let text = std::fs::read_to_string(&path).ok()?;
                serde_json::from_str(&text)
                    .map_err(|err| tracing::warn!("ignoring {}: {err}", path.display()))
                    .ok()
            })
            .collect();
        all.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
        all
    }

    pub fn snapshot(&self, id: &str) -> Option<SnapshotMeta> {
        let text = std::fs::read_to_string(self.snapshot_dir(id).join(META)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes `snapshot.json` (creating the snapshot's directory, 0700).
    pub fn put_snapshot(&self, meta: &SnapshotMeta) -> Result<(), StoreError> {
        let dir = self.snapshot_dir(&meta.id);
        private_dir(&dir)?;
        let json = serde_json::to_vec_pretty(meta).expect("snapshot metadata serialises");
        write(&dir.join(META), &json)
    }

    /// Removes a snapshot and its copy.
    pub fn delete_snapshot(&self, id: &str) -> Result<(), StoreError> {
        remove_dir(&self.snapshot_dir(id))
    }

    pub fn archive(&self, instance: &str) -> ArchiveIndex {
        std::fs::read_to_string(self.binlog_dir(instance).join(INDEX))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    pub fn put_archive(&self, instance: &str, index: &ArchiveIndex) -> Result<(), StoreError> {
        let dir = self.binlog_dir(instance);
        private_dir(&dir)?;
        let json = serde_json::to_vec_pretty(index).expect("archive index serialises");
        write(&dir.join(INDEX), &json)
    }

    /// Removes archived log files (not the index).
    pub fn delete_logs(&self, instance: &str, names: &[String]) -> Result<(), StoreError> {
        for name in names {
            let path = self.binlog_dir(instance).join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StoreError {
                        path,
                        action: "remove archived log",
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    /// Removes an instance's whole log archive.
    pub fn delete_archive(&self, instance: &str) -> Result<(), StoreError> {
        remove_dir(&self.binlog_dir(instance))
    }

    /// Bytes under `path` (a snapshot's copy).
    pub fn size_of(path: &Path) -> u64 {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return 0;
        };
        if !meta.is_dir() {
            return meta.len();
        }
        std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| Store::size_of(&e.path()))
                    .sum()
            })
            .unwrap_or(0)
    }
}

fn private_dir(dir: &Path) -> Result<(), StoreError> {
    crate::state::create_private_dir(dir).map_err(|e| StoreError {
        path: e.path,
        action: e.action,
        source: e.source,
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    crate::state::write_private_file(path, bytes).map_err(|e| StoreError {
        path: e.path,
        action: e.action,
        source: e.source,
    })
}

fn remove_dir(dir: &Path) -> Result<(), StoreError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError {
            path: dir.to_path_buf(),
            action: "remove directory",
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::*;
    use super::*;

    pub fn meta(id: &str, instance: &str, kind: SnapshotType, at: u64) -> SnapshotMeta {
        SnapshotMeta {
            id: id.into(),
            kind,
            status: SnapshotStatus::Available,
            instance: instance.into(),
            started_at: at,
            completed_at: Some(at + 2),
            gtid: Some("0-1-5".into()),
            size_bytes: 10,
            instance_created_at: 0,
            settings: SnapshotSettings {
                engine: "mysql".into(),
                engine_version: "8.0".into(),
                instance_class: "db.t3.micro".into(),
                image: "tierlab/mysql:8.0-compat".into(),
                db_name: "app".into(),
                master_username: "admin".into(),
                port: 3306,
                subnets: vec!["a".into(), "b".into()],
                security_groups: vec!["db-sg".into()],
                allocated_storage_gib: 20,
                backup_retention_days: 7,
                multi_az: false,
                cpu: 2048,
                memory_mib: 1024,
                storage_encrypted: false,
            },
        }
    }

    #[test]
    fn snapshots_and_archives_round_trip_through_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        assert!(store.snapshots().is_empty());
        let auto = meta("rds:db-2026-12-02-05-36", "db", SnapshotType::Automated, 20);
        let manual = meta("before-change", "db", SnapshotType::Manual, 10);
        store.put_snapshot(&auto).unwrap();
        store.put_snapshot(&manual).unwrap();
        assert_eq!(
            store.snapshots(),
            [manual.clone(), auto.clone()],
            "oldest first"
        );
        assert_eq!(store.snapshot(&auto.id), Some(auto.clone()));
        let text = std::fs::read_to_string(store.snapshot_dir(&auto.id).join(META)).unwrap();
        assert!(text.contains("\"type\": \"automated\""), "{text}");
        store.delete_snapshot(&auto.id).unwrap();
        store.delete_snapshot(&auto.id).unwrap();
        assert_eq!(store.snapshots(), [manual]);

        let index = ArchiveIndex {
            logs: vec![ArchivedLog {
                name: "mysql-bin.000001".into(),
                closed_at: 5,
                size_bytes: 100,
            }],
            archived_until: Some(5),
        };
        store.put_archive("db", &index).unwrap();
        assert_eq!(store.archive("db"), index);
        assert_eq!(store.archive("other"), ArchiveIndex::default());
    }
}
