//! CreateDBSnapshot, DescribeDBSnapshots, DeleteDBSnapshot: the lab's snapshots as RDS lists
//! them, read from the RDS storage (`rds::backups::Store`), so they outlive the instance and
//! the run.

use std::time::{Duration, UNIX_EPOCH};

use crate::api::query::Params;
use crate::api::xml::{Xml, timestamp};
use crate::api::{ApiContext, ApiError};
use crate::rds::InstanceStatus;
use crate::rds::backups::{Backups, SnapshotMeta, SnapshotStatus, SnapshotType, snapshot};

use super::{instance_not_found, page};

/// `arn:aws:rds:<region>:<account>:snapshot:<id>` (automated ids keep their `rds:` prefix).
pub fn snapshot_arn(ctx: &ApiContext, id: &str) -> String {
    format!(
        "arn:aws:rds:{}:{}:snapshot:{id}",
        ctx.registry.region(),
        ctx.registry.account()
    )
}

/// The lab's backups, or RDS's answer for a lab without a database tier.
pub(super) fn backups(ctx: &ApiContext) -> Result<Backups, ApiError> {
    ctx.lab
        .rds()
        .backups()
        .ok_or_else(|| ApiError::new("InvalidParameterValue", "This lab runs no DB instances."))
}

/// RDS's error for an unknown snapshot (HTTP 404).
pub(super) fn snapshot_not_found(id: &str) -> ApiError {
    ApiError::new("DBSnapshotNotFound", format!("DBSnapshot {id} not found.")).with_status(404)
}

pub(super) fn snapshot_exists(id: &str) -> ApiError {
    ApiError::new(
        "DBSnapshotAlreadyExists",
        format!(
            "Cannot create the snapshot because a snapshot with the identifier {id} already exists."
        ),
    )
}

/// RDS's rule for snapshot identifiers (1-255 letters, digits, hyphens; a letter first; no
/// trailing or double hyphen).
pub(super) fn check_identifier(name: &str, value: &str, max: usize) -> Result<(), ApiError> {
    let ok = value.starts_with(|c: char| c.is_ascii_alphabetic())
        && value.len() <= max
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !value.ends_with('-')
        && !value.contains("--");
    ok.then_some(()).ok_or_else(|| {
        ApiError::new(
            "InvalidParameterValue",
            format!(
                "The parameter {name} is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens."
            ),
        )
    })
}

pub async fn create_db_snapshot(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let instance = params.required("DBInstanceIdentifier")?;
    let id = params.required("DBSnapshotIdentifier")?;
    check_identifier("DBSnapshotIdentifier", id, 255)?;
    let db = ctx
        .lab
        .database(instance)
        .ok_or_else(|| instance_not_found(instance))?;
    let backups = backups(ctx)?;
    if backups.store.snapshot(id).is_some() {
        return Err(snapshot_exists(id));
    }
    if db.status() != InstanceStatus::Available {
        return Err(ApiError::new(
            "InvalidDBInstanceState",
            format!(
                "Cannot create a snapshot because the database instance {instance} is not currently in the available state."
            ),
        ));
    }
    let meta = snapshot::creating(&db, id, SnapshotType::Manual);
    backups
        .store
        .put_snapshot(&meta)
        .map_err(|e| ApiError::internal(crate::error::chain(&e).to_string()))?;
    let reply = meta.clone();
    ctx.lab
        .rds()
        .spawn(format!("snapshot {id}"), move |cancel| async move {
            let taken = cancel
                .run_until_cancelled(backups.manual_snapshot(&db, meta))
                .await;
            if let Some(Err(e)) = taken {
                tracing::warn!(
                    "snapshot of database {}: {}",
                    db.identifier,
                    crate::error::chain(&e)
                );
            }
        });
    let mut x = Xml::new();
    x.open("DBSnapshot");
    render_snapshot(&mut x, ctx, &reply);
    x.close("DBSnapshot");
    Ok(x)
}

pub fn describe_db_snapshots(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let filters = Filters::read(params)?;
    let id = params.get("DBSnapshotIdentifier");
    let instance = params.get("DBInstanceIdentifier");
    let kind = params.get("SnapshotType");
    if let Some(k) = kind
        && !matches!(
            k,
            "automated" | "manual" | "shared" | "public" | "awsbackup"
        )
    {
        return Err(ApiError::new(
            "InvalidParameterValue",
            format!("Invalid snapshot type: {k}"),
        ));
    }
    let all = ctx
        .lab
        .rds()
        .backups()
        .map(|b| b.store.snapshots())
        .unwrap_or_default();
    let found: Vec<SnapshotMeta> = all
        .into_iter()
        .filter(|s| id.is_none_or(|i| s.id == i || snapshot_arn(ctx, &s.id) == i))
        .filter(|s| {
            instance.is_none_or(|i| s.instance == i || ctx.registry.db_arn(&s.instance) == i)
        })
        .filter(|s| kind.is_none_or(|k| s.kind.as_str() == k))
        .filter(|s| filters.admit(ctx, s))
        .collect();
    if let Some(id) = id
        && found.is_empty()
    {
        return Err(snapshot_not_found(id));
    }
    let (found, marker) = page(found, params)?;
    let mut x = Xml::new();
    x.list("DBSnapshots", "DBSnapshot", found, |x, s| {
        render_snapshot(x, ctx, &s);
    });
    x.opt("Marker", marker);
    Ok(x)
}

pub fn delete_db_snapshot(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let id = params.required("DBSnapshotIdentifier")?;
    let backups = backups(ctx)?;
    let meta = backups
        .store
        .snapshot(id)
        .ok_or_else(|| snapshot_not_found(id))?;
    if meta.kind == SnapshotType::Automated {
        return Err(ApiError::new(
            "InvalidDBSnapshotState",
            "Only manual snapshots may be deleted.",
        ));
    }
    if meta.status != SnapshotStatus::Available {
        return Err(ApiError::new(
            "InvalidDBSnapshotState",
            format!("Cannot delete the snapshot {id} because it is not in the available state."),
        ));
    }
    snapshot::delete(&backups.store, &backups.state, &backups.lab, id)
        .map_err(|e| ApiError::internal(crate::error::chain(&e).to_string()))?;
    if let Some(db) = ctx.lab.database(&meta.instance) {
        db.state().record(&crate::rds::EventKind::SnapshotDeleted {
            snapshot: id.to_string(),
        });
    }
    let mut x = Xml::new();
    x.open("DBSnapshot");
    render_snapshot_as(&mut x, ctx, &meta, "deleted");
    x.close("DBSnapshot");
    Ok(x)
}

/// DescribeDBInstanceAutomatedBackups: one entry per instance with automated backups, `active`
/// while it exists, `retained` when it was deleted with `DeleteAutomatedBackups=false`, with its
/// restore window.
pub fn describe_automated_backups(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    if params.get("Filters.Filter.1.Name").is_some() {
        return Err(ApiError::unsupported(
            "RDS",
            "DescribeDBInstanceAutomatedBackups with Filters",
            "a later change (DBInstanceIdentifier works)",
        ));
    }
    let wanted = params.get("DBInstanceIdentifier");
    let Some(backups) = ctx.lab.rds().backups() else {
        return Ok(Xml::new());
    };
    let mut latest: Vec<SnapshotMeta> = Vec::new();
    for s in backups.store.snapshots() {
        if s.kind != SnapshotType::Automated || wanted.is_some_and(|w| w != s.instance) {
            continue;
        }
        latest.retain(|l| l.instance != s.instance);
        latest.push(s);
    }
    if let Some(id) = wanted
        && latest.is_empty()
    {
        return Err(ApiError::new(
            "DBInstanceAutomatedBackupNotFound",
            format!("No automated backup found for DB instance {id}."),
        )
        .with_status(404));
    }
    let (latest, marker) = page(latest, params)?;
    let mut x = Xml::new();
    x.list(
        "DBInstanceAutomatedBackups",
        "DBInstanceAutomatedBackup",
        latest,
        |x, s| {
            let status = if ctx.lab.database(&s.instance).is_some() {
                "active"
            } else {
                "retained"
            };
            let window = backups.restorable(&s.instance);
            x.leaf("DBInstanceArn", ctx.registry.db_arn(&s.instance))
                .leaf("DbiResourceId", ctx.registry.db_resource_id(&s.instance))
                .leaf("Region", ctx.registry.region())
                .leaf("DBInstanceIdentifier", &s.instance)
                .open("RestoreWindow")
                .opt("EarliestTime", window.map(|w| time(w.0)))
                .opt("LatestTime", window.map(|w| time(w.1)))
                .close("RestoreWindow")
                .leaf("AllocatedStorage", s.settings.allocated_storage_gib)
                .leaf("Status", status)
                .leaf("Port", s.settings.port)
                .leaf("InstanceCreateTime", time(s.instance_created_at))
                .leaf("MasterUsername", &s.settings.master_username)
                .leaf("Engine", &s.settings.engine)
                .leaf("EngineVersion", &s.settings.engine_version)
                .leaf("LicenseModel", "general-public-license")
                .leaf("StorageType", "gp2")
                .leaf("Encrypted", s.settings.storage_encrypted)
                .leaf("BackupRetentionPeriod", s.settings.backup_retention_days);
        },
    );
    x.opt("Marker", marker);
    Ok(x)
}

/// DescribeDBSnapshots' `Filters` tierlab applies.
struct Filters(Vec<(String, Vec<String>)>);

impl Filters {
    fn read(params: &Params) -> Result<Filters, ApiError> {
        let mut filters = Vec::new();
        for f in params.structs("Filters.Filter") {
            let name = f.required("Name")?.to_string();
            if !matches!(
                name.as_str(),
                "db-instance-id" | "db-snapshot-id" | "snapshot-type" | "engine"
            ) {
                return Err(ApiError::new(
                    "InvalidParameterValue",
                    format!(
                        "Unrecognized filter name: {name}. tierlab supports db-instance-id, db-snapshot-id, snapshot-type and engine."
                    ),
                ));
            }
            filters.push((name, f.list("Values.Value")));
        }
        Ok(Filters(filters))
    }

    fn admit(&self, ctx: &ApiContext, s: &SnapshotMeta) -> bool {
        self.0.iter().all(|(name, values)| {
            values.iter().any(|v| match name.as_str() {
                "db-instance-id" => *v == s.instance || *v == ctx.registry.db_arn(&s.instance),
                "db-snapshot-id" => *v == s.id || *v == snapshot_arn(ctx, &s.id),
                "snapshot-type" => v == s.kind.as_str(),
                _ => *v == s.settings.engine,
            })
        })
    }
}

fn time(secs: u64) -> String {
    timestamp(UNIX_EPOCH + Duration::from_secs(secs))
}

/// The members of a `<DBSnapshot>`, in RDS's order.
pub fn render_snapshot(x: &mut Xml, ctx: &ApiContext, s: &SnapshotMeta) {
    render_snapshot_as(x, ctx, s, s.status.as_str());
}

fn render_snapshot_as(x: &mut Xml, ctx: &ApiContext, s: &SnapshotMeta, status: &str) {
    let config = ctx.lab.config();
    let zone = s
        .settings
        .subnets
        .first()
        .and_then(|n| config.vpc.subnets.get(n))
        .map(|n| n.availability_zone.clone())
        .unwrap_or_default();
    let progress = if s.status == SnapshotStatus::Creating {
        0
    } else {
        100
    };
    x.leaf("DBSnapshotIdentifier", &s.id)
        .leaf("DBInstanceIdentifier", &s.instance)
        .opt(
            "SnapshotCreateTime",
            s.completed_at.map(|_| time(s.started_at)),
        )
        .leaf("Engine", &s.settings.engine)
        .leaf("AllocatedStorage", s.settings.allocated_storage_gib)
        .leaf("Status", status)
        .leaf("Port", s.settings.port)
        .leaf("AvailabilityZone", zone)
        .leaf("VpcId", ctx.registry.vpc_id(&config.vpc.name))
        .leaf("InstanceCreateTime", time(s.instance_created_at))
        .leaf("MasterUsername", &s.settings.master_username)
        .leaf("EngineVersion", &s.settings.engine_version)
        .leaf("LicenseModel", "general-public-license")
        .leaf("SnapshotType", s.kind.as_str())
        .leaf("OptionGroupName", format!("default:{}", major(&s.settings)))
        .leaf("PercentProgress", progress)
        .leaf("StorageType", "gp2")
        .leaf("Encrypted", s.settings.storage_encrypted)
        .leaf("DBSnapshotArn", snapshot_arn(ctx, &s.id))
        .leaf("IAMDatabaseAuthenticationEnabled", false)
        .leaf("DbiResourceId", ctx.registry.db_resource_id(&s.instance))
        .leaf("OriginalSnapshotCreateTime", time(s.started_at))
        .leaf("SnapshotTarget", "region");
}

/// `mysql-8-0` for the default option group name.
fn major(s: &crate::rds::backups::SnapshotSettings) -> String {
    let version: Vec<&str> = s.engine_version.split('.').take(2).collect();
    format!("{}-{}", s.engine, version.join("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_identifiers_follow_rds_rules() {
        for ok in ["my-snapshot-id", "a", "final1"] {
            assert!(
                check_identifier("DBSnapshotIdentifier", ok, 255).is_ok(),
                "{ok}"
            );
        }
        for bad in ["1abc", "a--b", "a-", "rds:x", "a_b", ""] {
            let e = check_identifier("DBSnapshotIdentifier", bad, 255).unwrap_err();
            assert_eq!(e.code, "InvalidParameterValue", "{bad}");
            assert!(
                e.message
                    .starts_with("The parameter DBSnapshotIdentifier is not a valid identifier.")
            );
        }
        assert!(check_identifier("DBSnapshotIdentifier", &"a".repeat(256), 255).is_err());
    }

    #[test]
    fn not_found_is_rds_404() {
        let e = snapshot_not_found("nope");
        assert_eq!((e.code.as_str(), e.status), ("DBSnapshotNotFound", 404));
        assert_eq!(e.message, "DBSnapshot nope not found.");
    }
}
