//! The automated backups of one instance: a loop in the lab's task tree (in the instance's
//! supervisor group, so it stops when the instance is deleted or the lab stops) that archives the
//! binary logs every `archive_every`, takes the automated snapshot when the schedule says it is
//! due, and prunes what retention no longer needs.

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::rds::{DbInstance, EventKind, InstanceStatus};

use super::model::{Base, SnapshotStatus, SnapshotType, automated_snapshot_id};
use super::schedule::Schedule;
use super::{BackupError, Backups, archive, now_secs, prune, snapshot, window_of};

/// Runs until `cancel`.
pub async fn run(backups: Backups, db: DbInstance, cancel: CancellationToken) {
    backups.clear_unfinished(&db.identifier);
    let window = window_of(&db.settings(), &backups.region);
    let schedule = Schedule::for_profile(backups.profile, window);
    let mut tick = tokio::time::interval(schedule.archive_every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut failing = false;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        if db.settings().backup_retention_days == 0 || db.status() != InstanceStatus::Available {
            continue;
        }
        match cancel
            .run_until_cancelled(cycle(&backups, &db, &schedule))
            .await
        {
            None => return,
            Some(Ok(())) => failing = false,
            // Once per run of failures: the next tick tries again.
            Some(Err(e)) if !failing => {
                failing = true;
                tracing::warn!(
                    "database {}: automated backup: {}",
                    db.identifier,
                    crate::error::chain(&e)
                );
            }
            Some(Err(_)) => {}
        }
    }
}

/// One round: the backup if due, the logs, then pruning.
async fn cycle(backups: &Backups, db: &DbInstance, schedule: &Schedule) -> Result<(), BackupError> {
    let now = now_secs();
    let last = backups
        .store
        .snapshots()
        .into_iter()
        .filter(|s| s.instance == db.identifier && s.kind == SnapshotType::Automated)
        .filter(|s| s.status == SnapshotStatus::Available)
        .map(|s| s.started_at)
        .max();
    if schedule.next_backup(last, now) <= now {
        automated_backup(backups, db, now).await?;
    }
    archive::archive(&backups.docker, db, &backups.store).await?;
    prune_now(backups, db, schedule)
}

/// The automated snapshot `rds:<id>-<yyyy-mm-dd-hh-mm>`, with RDS's backup events.
async fn automated_backup(backups: &Backups, db: &DbInstance, now: u64) -> Result<(), BackupError> {
    let id = automated_snapshot_id(&db.identifier, now);
    if backups.store.snapshot(&id).is_some() {
        return Ok(());
    }
    let lock = backups.activity.lock(&db.identifier);
    let _held = lock.lock().await;
    let _shown = backups.activity.show(&db.identifier, "backing-up");
    db.state().record(&EventKind::BackupStarted);
    let meta = snapshot::creating(db, &id, SnapshotType::Automated);
    backups.store.put_snapshot(&meta)?;
    let started = std::time::Instant::now();
    let meta = backups.take(db, meta).await?;
    db.state().record(&EventKind::BackupFinished);
    tracing::info!(
        "database {}: automated backup {} ({} bytes) in {:.1}s",
        db.identifier,
        meta.id,
        meta.size_bytes,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Deletes the automated snapshots and archived logs retention no longer needs.
fn prune_now(backups: &Backups, db: &DbInstance, schedule: &Schedule) -> Result<(), BackupError> {
    let automated: Vec<Base> = backups
        .store
        .snapshots()
        .iter()
        .filter(|s| s.instance == db.identifier && s.kind == SnapshotType::Automated)
        .filter_map(Base::of)
        .collect();
    let mut index = backups.store.archive(&db.identifier);
    let retention = schedule.retention(db.settings().backup_retention_days);
    let pruning = prune(&automated, &index.logs, now_secs(), retention);
    for id in &pruning.snapshots {
        snapshot::delete(&backups.store, &backups.state, &backups.lab, id)?;
        tracing::info!(
            "database {}: automated snapshot {id} expired",
            db.identifier
        );
    }
    if !pruning.logs.is_empty() {
        backups.store.delete_logs(&db.identifier, &pruning.logs)?;
        index.logs.retain(|l| !pruning.logs.contains(&l.name));
        backups.store.put_archive(&db.identifier, &index)?;
    }
    Ok(())
}
