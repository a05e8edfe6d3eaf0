//! Restores, as RDS does them: always a NEW instance (its own volume, container and endpoint
//! alias), from a snapshot, and for a point in time with the source's archived binary logs
//! replayed on it up to T inside the new instance's container, before it is `available`.

use std::time::Duration;

use crate::lab::Databases;
use crate::rds::copy::{self, Restore, Seed};
use crate::rds::{DbInstance, EventKind, InstanceStatus, STORAGE_MOUNT, volume_name};

use super::model::SnapshotMeta;
use super::pitr::Plan;
use super::snapshot::{data_relative, restore_secrets};
use super::store::DATA;
use super::{BackupError, Backups};

/// How long a restored instance may take to answer, and to replay its logs.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Replays archived logs: `$1` their directory, `$2` start GTID (empty: from the first event),
/// `$3` stop datetime, `$4` port, then the files. The password comes from root's password file
/// in the container.
const REPLAY: &str = r#"set -e
dir="$1"; gtid="$2"; stop="$3"; port="$4"; shift 4
cd "$dir"
out=/tmp/tierlab-replay.sql
if [ -n "$gtid" ]; then start="--start-position=$gtid"; else start=""; fi
if ! mariadb-binlog --no-defaults $start --stop-datetime="$stop" "$@" >"$out" 2>/tmp/tierlab-replay.err; then
  cat /tmp/tierlab-replay.err >&2; rm -f "$out"; exit 1
fi
MYSQL_PWD="$(cat /run/tierlab/rds/root-password)" mariadb --user=root --protocol=tcp --host=127.0.0.1 --port="$port" <"$out"
rm -f "$out" /tmp/tierlab-replay.err
"#;

/// How the new instance comes to be.
#[derive(Debug, Clone)]
pub enum Origin {
    /// restore-db-instance-from-db-snapshot.
    Snapshot,
    /// restore-db-instance-to-point-in-time: the source instance and the plan to T.
    PointInTime { source: String, plan: Plan },
}

/// Creates instance `target` from `snapshot`: its volume filled with the copy, its passwords
/// those of the snapshot, its container started (status `creating`); the rest (log replay,
/// then `available` and supervision) continues in the lab's task tree.
pub async fn restore(
    dbs: &Databases,
    backups: &Backups,
    snapshot: &SnapshotMeta,
    target: &str,
    origin: Origin,
) -> Result<DbInstance, BackupError> {
    let volume = volume_name(&backups.lab, target);
    let created = async {
        restore_secrets(&backups.state, &backups.lab, &snapshot.id, target)?;
        let seed = Seed {
            relative: data_relative(&snapshot.id),
            dir: backups.store.snapshot_dir(&snapshot.id).join(DATA),
            gtid: snapshot.gtid.clone().unwrap_or_default(),
            binlog_file: String::new(),
            binlog_position: 0,
        };
        let into = Restore {
            lab: &backups.lab,
            identifier: target,
            image: &snapshot.settings.image,
            storage: backups.store.root(),
            volume: &volume,
        };
        copy::restore_into_volume(&backups.docker, &seed, &into).await?;
        let settings = snapshot.settings.to_database(target);
        dbs.start(&settings)
            .await
            .map_err(|e| BackupError::Lab(Box::new(e)))
    }
    .await;
    let instance = match created {
        Ok(instance) => instance,
        Err(e) => {
            let _ = backups.docker.remove_volume(&volume).await;
            return Err(e);
        }
    };
    instance.state().set_status(InstanceStatus::Creating);
    instance.state().record(&match &origin {
        Origin::Snapshot => EventKind::RestoredFromSnapshot(snapshot.id.clone()),
        Origin::PointInTime { source, plan } => {
            EventKind::RestoredToPointInTime(source.clone(), super::pitr::iso(plan.restore_time))
        }
    });
    let (dbs2, backups2, ready) = (dbs.clone(), backups.clone(), instance.clone());
    dbs.spawn(
        format!("database restore {target}"),
        move |cancel| async move {
            let started = std::time::Instant::now();
            let finish = async {
                if let Origin::PointInTime { source, plan } = &origin {
                    crate::rds::wait_ready(&backups2.docker, &ready, READY_TIMEOUT)
                        .await
                        .map_err(|e| BackupError::Lab(Box::new(e.into())))?;
                    replay(&backups2, &ready, source, plan).await?;
                }
                dbs2.wait_and_supervise(&ready, READY_TIMEOUT)
                    .await
                    .map_err(|e| BackupError::Lab(Box::new(e)))
            };
            match cancel.run_until_cancelled(finish).await {
                Some(Ok(())) => tracing::info!(
                    "database {} restored and available in {:.1}s",
                    ready.identifier,
                    started.elapsed().as_secs_f64()
                ),
                Some(Err(e)) => {
                    ready.state().set_status(InstanceStatus::Failed);
                    tracing::warn!(
                        "database {}: restore failed: {}",
                        ready.identifier,
                        crate::error::chain(&e)
                    );
                }
                None => {}
            }
        },
    );
    Ok(instance)
}

/// Replays `plan`'s logs of `source` into `db` (which runs on the restored copy).
async fn replay(
    backups: &Backups,
    db: &DbInstance,
    source: &str,
    plan: &Plan,
) -> Result<(), BackupError> {
    if plan.logs.is_empty() {
        return Ok(());
    }
    let dir = format!("{STORAGE_MOUNT}/binlogs/{source}");
    let port = db.port.to_string();
    let mut command = vec![
        "sh",
        "-c",
        REPLAY,
        "sh",
        dir.as_str(),
        plan.start_gtid.as_str(),
        plan.stop_datetime.as_str(),
        port.as_str(),
    ];
    command.extend(plan.logs.iter().map(String::as_str));
    let output = backups
        .docker
        .exec_with_input(&db.container_id(), &command, b"")
        .await?;
    if output.exit_code != 0 {
        return Err(BackupError::Replay {
            identifier: db.identifier.clone(),
            message: output.stderr.trim().to_string(),
        });
    }
    Ok(())
}

/// Deletes instance `db`: optionally a final (manual) snapshot first, then its supervisor,
/// containers and volume, and (RDS's default) its automated backups and archived logs.
pub async fn delete_instance(
    dbs: &Databases,
    backups: &Backups,
    db: &DbInstance,
    final_snapshot: Option<SnapshotMeta>,
    delete_automated: bool,
) -> Result<(), BackupError> {
    let _shown = backups.activity.show(&db.identifier, "deleting");
    if let Some(meta) = final_snapshot {
        backups.manual_snapshot(db, meta).await?;
    }
    dbs.remove(&db.identifier);
    for name in db.container_names() {
        backups.docker.remove_container(&name, true).await?;
    }
    for volume in db.volume_names() {
        backups.docker.remove_volume(&volume).await?;
    }
    if delete_automated {
        for s in backups.store.snapshots() {
            if s.instance == db.identifier && s.kind == super::SnapshotType::Automated {
                super::snapshot::delete(&backups.store, &backups.state, &backups.lab, &s.id)?;
            }
        }
        backups.store.delete_archive(&db.identifier)?;
    }
    db.state().record(&EventKind::Deleted);
    Ok(())
}
