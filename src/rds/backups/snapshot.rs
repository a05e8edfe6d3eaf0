//! Taking a snapshot: a physical copy of the running instance (`copy::take`, in its own
//! container, which keeps serving) into `snapshots/<id>/data`, with `snapshot.json` saying what
//! it is, and the instance's passwords kept with it (in the state directory's secrets, 0600) so
//! that an instance restored from it can log in to the data it holds.

use crate::docker::DockerClient;
use crate::rds::{DbInstance, EventKind, copy};
use crate::state::StateDir;

use super::model::{SnapshotMeta, SnapshotSettings, SnapshotStatus, SnapshotType};
use super::store::{DATA, Store};
use super::{BackupError, now_secs};

/// Where a snapshot's copy is, relative to the storage (as `copy` takes it).
pub fn data_relative(id: &str) -> String {
    format!("snapshots/{id}/{DATA}")
}

/// The metadata of a snapshot about to be taken (status `creating`).
pub fn creating(db: &DbInstance, id: &str, kind: SnapshotType) -> SnapshotMeta {
    SnapshotMeta {
        id: id.to_string(),
        kind,
        status: SnapshotStatus::Creating,
        instance: db.identifier.clone(),
        started_at: now_secs(),
        completed_at: None,
        gtid: None,
        size_bytes: 0,
        instance_created_at: db
            .created_at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        settings: SnapshotSettings::of(&db.settings()),
    }
}

/// Takes the snapshot announced by `meta` (already stored as `creating`): the copy, the
/// passwords, then `available`. On failure the snapshot is removed (RDS keeps no failed
/// snapshot) and the error returned.
pub async fn take(
    docker: &DockerClient,
    db: &DbInstance,
    store: &Store,
    state: &StateDir,
    lab: &str,
    mut meta: SnapshotMeta,
) -> Result<SnapshotMeta, BackupError> {
    let automated = meta.kind == SnapshotType::Automated;
    db.state().record(&EventKind::SnapshotCreating {
        snapshot: meta.id.clone(),
        automated,
    });
    let taken = async {
        save_secrets(state, lab, &db.identifier, &meta.id)?;
        super::encryption::copy_key(state, lab, &db.identifier, &snapshot_owner(&meta.id))?;
        let seed = copy::take(
            docker,
            &db.container_id(),
            db.port,
            store.root(),
            &data_relative(&meta.id),
        )
        .await?;
        meta.completed_at = Some(now_secs());
        meta.gtid = Some(seed.gtid.clone());
        meta.size_bytes = Store::size_of(&seed.dir);
        meta.status = SnapshotStatus::Available;
        store.put_snapshot(&meta)?;
        Ok::<_, BackupError>(())
    }
    .await;
    if let Err(e) = taken {
        let _ = store.delete_snapshot(&meta.id);
        forget_secrets(state, lab, &meta.id);
        return Err(e);
    }
    db.state().record(&EventKind::SnapshotCreated {
        snapshot: meta.id.clone(),
        automated,
    });
    Ok(meta)
}

/// Deletes a snapshot: its copy, its metadata and its passwords.
pub fn delete(store: &Store, state: &StateDir, lab: &str, id: &str) -> Result<(), BackupError> {
    store.delete_snapshot(id)?;
    forget_secrets(state, lab, id);
    Ok(())
}

/// Secret names of an instance and of a snapshot (master, root).
fn secret_names(owner: &str) -> [String; 2] {
    [
        format!("{owner}-master-password"),
        format!("{owner}-root-password"),
    ]
}

fn snapshot_owner(id: &str) -> String {
    format!("snapshot.{id}")
}

/// Copies the instance's passwords to the snapshot's.
fn save_secrets(state: &StateDir, lab: &str, instance: &str, id: &str) -> Result<(), BackupError> {
    copy_secrets(state, lab, instance, &snapshot_owner(id))
}

/// Gives a new instance the passwords of the snapshot it is restored from.
pub fn restore_secrets(
    state: &StateDir,
    lab: &str,
    id: &str,
    instance: &str,
) -> Result<(), BackupError> {
    copy_secrets(state, lab, &snapshot_owner(id), instance)?;
    super::encryption::copy_key(state, lab, &snapshot_owner(id), instance)
}

fn copy_secrets(state: &StateDir, lab: &str, from: &str, to: &str) -> Result<(), BackupError> {
    for (src, dst) in secret_names(from).iter().zip(secret_names(to)) {
        let path = state.secret_path(lab, src);
        let value = std::fs::read(&path).map_err(|source| {
            BackupError::Secret(crate::state::StateError {
                path: path.clone(),
                action: "read secret",
                source,
            })
        })?;
        let target = state.secret_path(lab, &dst);
        if let Some(dir) = target.parent() {
            crate::state::create_private_dir(dir).map_err(BackupError::Secret)?;
        }
        crate::state::write_private_file(&target, &value).map_err(BackupError::Secret)?;
    }
    Ok(())
}

fn forget_secrets(state: &StateDir, lab: &str, id: &str) {
    for name in secret_names(&snapshot_owner(id)) {
        let _ = std::fs::remove_file(state.secret_path(lab, &name));
    }
    let _ = std::fs::remove_file(super::encryption::key_path(state, lab, &snapshot_owner(id)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_travel_from_instance_to_snapshot_to_restored_instance() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::at(dir.path());
        let master = state.secret("lab", "db-master-password").unwrap();
        let root = state.secret("lab", "db-root-password").unwrap();
        save_secrets(&state, "lab", "db", "rds:db-2026-12-02-05-36").unwrap();
        restore_secrets(&state, "lab", "rds:db-2026-12-02-05-36", "db-restored").unwrap();
        assert_eq!(
            state.secret("lab", "db-restored-master-password").unwrap(),
            master
        );
        assert_eq!(
            state.secret("lab", "db-restored-root-password").unwrap(),
            root
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(state.secret_path("lab", "db-restored-master-password"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        forget_secrets(&state, "lab", "rds:db-2026-12-02-05-36");
        assert!(restore_secrets(&state, "lab", "rds:db-2026-12-02-05-36", "x").is_err());
    }
}
