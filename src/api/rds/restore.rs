//! RestoreDBInstanceFromDBSnapshot, RestoreDBInstanceToPointInTime and DeleteDBInstance. A
//! restore always makes a NEW instance (status `creating`, then `available`), as RDS does.

use crate::api::query::Params;
use crate::api::xml::Xml;
use crate::api::{ApiContext, ApiError};
use crate::rds::DbInstance;
use crate::rds::backups::pitr::{self, PitrError};
use crate::rds::backups::restore::{self, Origin};
use crate::rds::backups::{SnapshotStatus, SnapshotType, snapshot};

use super::instance_not_found;
use super::model::{instance_model, render_instance};
use super::snapshots::{backups, check_identifier, snapshot_exists, snapshot_not_found};

pub async fn restore_from_snapshot(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let target = params.required("DBInstanceIdentifier")?;
    let id = params.required("DBSnapshotIdentifier")?;
    check_target(ctx, target).await?;
    refuse_multi_az(params)?;
    let backups = backups(ctx)?;
    let snap = backups
        .store
        .snapshot(id)
        .ok_or_else(|| snapshot_not_found(id))?;
    if snap.status != SnapshotStatus::Available {
        return Err(ApiError::new(
            "InvalidDBSnapshotState",
            format!("Snapshot {id} is not in the available state."),
        ));
    }
    let db = restore::restore(ctx.lab.rds(), &backups, &snap, target, Origin::Snapshot)
        .await
        .map_err(internal)?;
    Ok(answer(ctx, &db))
}

pub async fn restore_to_point_in_time(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let source = params.required("SourceDBInstanceIdentifier")?;
    let target = params.required("TargetDBInstanceIdentifier")?;
    let latest = params.parse_bool("UseLatestRestorableTime")? == Some(true);
    let time = params.get("RestoreTime");
    let t = match (time, latest) {
        (Some(_), true) => {
            return Err(ApiError::new(
                "InvalidParameterCombination",
                "Cannot specify both RestoreTime and UseLatestRestorableTime.",
            ));
        }
        (None, false) => {
            return Err(ApiError::new(
                "InvalidParameterCombination",
                "Either RestoreTime or UseLatestRestorableTime must be specified.",
            ));
        }
        (Some(text), false) => Some(parse_time(text)?),
        (None, true) => None,
    };
    let src = ctx
        .lab
        .database(source)
        .ok_or_else(|| instance_not_found(source))?;
    if src.settings().backup_retention_days == 0 {
        return Err(ApiError::new(
            "PointInTimeRestoreNotEnabled",
            format!(
                "Point-in-time restore is not enabled for DB instance {source}: its backup retention period is 0."
            ),
        ));
    }
    if src.settings().storage_encrypted {
        // Its archived binary logs are encrypted, and `mariadb-binlog` reads only plain ones.
        return Err(ApiError::unsupported(
            "RDS",
            "RestoreDBInstanceToPointInTime of a storage-encrypted instance",
            "a later change (restore-db-instance-from-db-snapshot works)",
        ));
    }
    check_target(ctx, target).await?;
    refuse_multi_az(params)?;
    let backups = backups(ctx)?;
    let bases = backups.bases(source);
    let archive = backups.store.archive(source);
    let t = match t {
        Some(t) => t,
        None => {
            backups
                .restorable(source)
                .ok_or_else(|| pitr_error(PitrError::NoBackups))?
                .1
        }
    };
    let plan = pitr::plan(&bases, &archive.logs, archive.archived_until, t).map_err(pitr_error)?;
    let snap = backups
        .store
        .snapshot(&plan.snapshot)
        .ok_or_else(|| snapshot_not_found(&plan.snapshot))?;
    let origin = Origin::PointInTime {
        source: source.to_string(),
        plan,
    };
    let db = restore::restore(ctx.lab.rds(), &backups, &snap, target, origin)
        .await
        .map_err(internal)?;
    Ok(answer(ctx, &db))
}

pub async fn delete_db_instance(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let id = params.required("DBInstanceIdentifier")?;
    let db = ctx.lab.database(id).ok_or_else(|| instance_not_found(id))?;
    let skip = params.parse_bool("SkipFinalSnapshot")?.unwrap_or(false);
    let final_id = params.get("FinalDBSnapshotIdentifier");
    let delete_automated = params.parse_bool("DeleteAutomatedBackups")?.unwrap_or(true);
    match (skip, final_id) {
        (false, None) => {
            return Err(ApiError::new(
                "InvalidParameterCombination",
                "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.",
            ));
        }
        (true, Some(_)) => {
            return Err(ApiError::new(
                "InvalidParameterCombination",
                "FinalDBSnapshotIdentifier can not be specified when SkipFinalSnapshot is enabled.",
            ));
        }
        _ => {}
    }
    if ctx.lab.rds().status_word(&db) == "deleting" {
        return Err(ApiError::new(
            "InvalidDBInstanceState",
            format!("Instance {id} is already being deleted."),
        ));
    }
    let backups = backups(ctx)?;
    let final_snapshot = match final_id {
        Some(f) => {
            check_identifier("FinalDBSnapshotIdentifier", f, 255)?;
            if backups.store.snapshot(f).is_some() {
                return Err(snapshot_exists(f));
            }
            let meta = snapshot::creating(&db, f, SnapshotType::Manual);
            backups.store.put_snapshot(&meta).map_err(internal)?;
            Some(meta)
        }
        None => None,
    };
    let guard = backups.activity.show(id, "deleting");
    let mut x = Xml::new();
    x.open("DBInstance");
    render_instance(&mut x, &instance_model(ctx, &db));
    x.close("DBInstance");
    let dbs = ctx.lab.rds().clone();
    dbs.clone()
        .spawn(format!("delete database {id}"), move |_cancel| async move {
            // Not cancelled half-way: a deletion that began finishes (or fails) as a whole.
            let result =
                restore::delete_instance(&dbs, &backups, &db, final_snapshot, delete_automated)
                    .await;
            drop(guard);
            match result {
                Ok(()) => tracing::info!("database {} deleted", db.identifier),
                Err(e) => tracing::warn!(
                    "deleting database {}: {}",
                    db.identifier,
                    crate::error::chain(&e)
                ),
            }
        });
    Ok(x)
}

/// The new instance's identifier: valid, and not in use (by an instance, or by a volume left by
/// one, which would hold someone else's data).
async fn check_target(ctx: &ApiContext, target: &str) -> Result<(), ApiError> {
    check_identifier("DBInstanceIdentifier", target, 63)?;
    let exists = ApiError::new("DBInstanceAlreadyExists", "DB instance already exists");
    if ctx.lab.database(target).is_some() {
        return Err(exists);
    }
    let backups = backups(ctx)?;
    let volume = crate::rds::volume_name(&backups.lab, target);
    if backups
        .docker
        .volume_exists(&volume)
        .await
        .map_err(internal)?
    {
        return Err(exists);
    }
    Ok(())
}

/// tierlab restores single-AZ instances.
fn refuse_multi_az(params: &Params) -> Result<(), ApiError> {
    if params.parse_bool("MultiAZ")? == Some(true) {
        return Err(ApiError::unsupported(
            "RDS",
            "a restore with MultiAZ",
            "a later change: restore, then modify-db-instance --multi-az",
        ));
    }
    Ok(())
}

fn parse_time(text: &str) -> Result<u64, ApiError> {
    humantime::parse_rfc3339_weak(text)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .ok_or_else(|| {
            ApiError::new(
                "InvalidParameterValue",
                format!(
                    "Invalid RestoreTime: {text}. Use ISO 8601 UTC, e.g. 2009-09-07T23:45:00Z."
                ),
            )
        })
}

fn pitr_error(e: PitrError) -> ApiError {
    ApiError::new("InvalidParameterValue", e.to_string())
}

fn internal(e: impl std::error::Error + 'static) -> ApiError {
    ApiError::internal(crate::error::chain(&e).to_string())
}

fn answer(ctx: &ApiContext, db: &DbInstance) -> Xml {
    let mut x = Xml::new();
    x.open("DBInstance");
    render_instance(&mut x, &instance_model(ctx, db));
    x.close("DBInstance");
    x
}
