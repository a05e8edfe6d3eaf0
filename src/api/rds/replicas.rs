//! CreateDBInstanceReadReplica and PromoteReadReplica: read replicas as separate instances of
//! the lab's fleet (see `crate::rds::read_replica`). The checks are RDS's, in RDS's order and
//! wording, as pure functions of the request and the instances that exist.

use crate::api::query::Params;
use crate::api::xml::Xml;
use crate::api::{ApiContext, ApiError};
use crate::config::{INSTANCE_CLASSES, MAX_READ_REPLICAS, check_db_identifier};
use crate::rds::{DbInstance, InstanceStatus, read_replica};

use super::instance_not_found;
use super::model::{instance_model, render_instance};

/// Parameters of CreateDBInstanceReadReplica that tierlab takes. The others (another subnet
/// group, port, storage type, a cross-region source, ...) are refused rather than ignored.
const CREATE_PARAMETERS: [&str; 6] = [
    "DBInstanceIdentifier",
    "SourceDBInstanceIdentifier",
    "DBInstanceClass",
    "MultiAZ",
    "PubliclyAccessible",
    "AutoMinorVersionUpgrade",
];
/// Parameters of PromoteReadReplica that tierlab takes.
const PROMOTE_PARAMETERS: [&str; 3] = [
    "DBInstanceIdentifier",
    "BackupRetentionPeriod",
    "PreferredBackupWindow",
];
/// RDS's default `BackupRetentionPeriod` of a promoted replica.
const PROMOTED_BACKUP_RETENTION: u32 = 1;

/// A CreateDBInstanceReadReplica request, read and checked on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateRequest {
    /// The replica's identifier, lower-cased as RDS stores it.
    pub identifier: String,
    /// The source's identifier (from an identifier or this region's ARN of it).
    pub source: String,
    pub class: Option<String>,
}

impl CreateRequest {
    pub fn read(params: &Params, region: &str) -> Result<CreateRequest, ApiError> {
        refuse_others(params, "CreateDBInstanceReadReplica", &CREATE_PARAMETERS)?;
        let identifier = params
            .required("DBInstanceIdentifier")?
            .to_ascii_lowercase();
        check_db_identifier(&identifier).map_err(|_| invalid_identifier("DBInstanceIdentifier"))?;
        let source = source_identifier(params.required("SourceDBInstanceIdentifier")?, region)?;
        let class = params.get("DBInstanceClass").map(str::to_string);
        if let Some(class) = &class
            && !INSTANCE_CLASSES.iter().any(|(name, ..)| name == class)
        {
            return Err(ApiError::new(
                "InvalidParameterValue",
                format!("Invalid DB Instance class: {class}"),
            ));
        }
        if params.parse_bool("MultiAZ")? == Some(true) {
            return Err(not_taken(
                "MultiAZ=true",
                "a read replica is Single-AZ in tierlab",
            ));
        }
        if params.parse_bool("PubliclyAccessible")? == Some(true) {
            return Err(not_taken(
                "PubliclyAccessible=true",
                "DB instances are reachable only inside the VPC",
            ));
        }
        params.parse_bool("AutoMinorVersionUpgrade")?;
        Ok(CreateRequest {
            identifier,
            source,
            class,
        })
    }
}

/// What the checks need to know of an existing instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Existing {
    pub identifier: String,
    pub status: InstanceStatus,
    pub backup_retention_days: u32,
    pub read_replica_source: Option<String>,
}

impl Existing {
    fn of(db: &DbInstance) -> Existing {
        let settings = db.settings();
        Existing {
            identifier: db.identifier.clone(),
            status: db.status(),
            backup_retention_days: settings.backup_retention_days,
            read_replica_source: settings.read_replica_source.clone(),
        }
    }
}

/// RDS's checks of a create request against the instances that exist, in RDS's order.
pub fn check_create(request: &CreateRequest, instances: &[Existing]) -> Result<(), ApiError> {
    let source = instances
        .iter()
        .find(|db| db.identifier == request.source)
        .ok_or_else(|| instance_not_found(&request.source))?;
    if instances
        .iter()
        .any(|db| db.identifier == request.identifier)
    {
        return Err(ApiError::new(
            "DBInstanceAlreadyExists",
            "DB instance already exists",
        ));
    }
    if source.backup_retention_days == 0 {
        return Err(ApiError::new(
            "InvalidDBInstanceState",
            "Automated backups are not enabled for this database instance. To enable automated backups, use ModifyDBInstance to set the backup retention period to a non-zero value.",
        ));
    }
    if source.status != InstanceStatus::Available {
        return Err(ApiError::new(
            "InvalidDBInstanceState",
            format!(
                "DB instance {} is not in available state.",
                source.identifier
            ),
        ));
    }
    let replicas = instances
        .iter()
        .filter(|db| db.read_replica_source.as_deref() == Some(&request.source))
        .count();
    if replicas >= MAX_READ_REPLICAS {
        return Err(ApiError::new(
            "InvalidDBInstanceState",
            format!(
                "DB instance {} already has {replicas} read replicas, the most RDS allows for a source DB instance.",
                source.identifier
            ),
        ));
    }
    Ok(())
}

/// RDS's checks of a promote request: the instance is a read replica and available.
pub fn check_promote(replica: &Existing, promoting: bool) -> Result<(), ApiError> {
    if replica.read_replica_source.is_none() {
        return Err(ApiError::new(
            "InvalidDBInstanceState",
            "DB Instance is not a read replica.",
        ));
    }
    if replica.status != InstanceStatus::Available || promoting {
        return Err(ApiError::new(
            "InvalidDBInstanceState",
            format!(
                "DB instance {} is not in available state.",
                replica.identifier
            ),
        ));
    }
    Ok(())
}

pub async fn create_db_instance_read_replica(
    ctx: &ApiContext,
    params: &Params,
) -> Result<Xml, ApiError> {
    let request = CreateRequest::read(params, ctx.registry.region())?;
    let instances: Vec<Existing> = ctx.lab.databases().iter().map(Existing::of).collect();
    check_create(&request, &instances)?;
    let source = ctx
        .lab
        .database(&request.source)
        .ok_or_else(|| instance_not_found(&request.source))?;
    let settings = read_replica::replica_settings(
        &source.settings(),
        &request.identifier,
        request.class.as_deref(),
    )
    .expect("the class was checked");
    let replica = ctx
        .lab
        .rds()
        .create_read_replica(&source, settings)
        .await
        .map_err(|e| ApiError::internal(crate::error::chain(&e).to_string()))?;
    Ok(one_instance(ctx, &replica))
}

pub async fn promote_read_replica(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    refuse_others(params, "PromoteReadReplica", &PROMOTE_PARAMETERS)?;
    let id = params
        .required("DBInstanceIdentifier")?
        .to_ascii_lowercase();
    let retention = match params.parse_u32("BackupRetentionPeriod")? {
        None => PROMOTED_BACKUP_RETENTION,
        Some(days @ 0..=35) => days,
        Some(days) => {
            return Err(ApiError::new(
                "InvalidParameterValue",
                format!("Invalid backup retention period: {days}. Must be a value from 0 to 35."),
            ));
        }
    };
    let replica = ctx
        .lab
        .database(&id)
        .ok_or_else(|| instance_not_found(&id))?;
    check_promote(&Existing::of(&replica), replica.replica().is_promoting())?;
    ctx.lab
        .rds()
        .promote_read_replica(&replica, retention)
        .map_err(|e| {
            ApiError::new(
                "InvalidDBInstanceState",
                crate::error::chain(&e).to_string(),
            )
        })?;
    Ok(one_instance(ctx, &replica))
}

/// `<DBInstance>...</DBInstance>` of `db` as it is now.
fn one_instance(ctx: &ApiContext, db: &DbInstance) -> Xml {
    let mut x = Xml::new();
    x.open("DBInstance");
    render_instance(&mut x, &instance_model(ctx, db));
    x.close("DBInstance");
    x
}

/// The source's identifier from an identifier or an ARN of this region (a cross-region source
/// is a replica in another region, which a lab does not have).
fn source_identifier(value: &str, region: &str) -> Result<String, ApiError> {
    let Some(arn) = value.strip_prefix("arn:") else {
        check_db_identifier(value).map_err(|_| invalid_identifier("SourceDBInstanceIdentifier"))?;
        return Ok(value.to_ascii_lowercase());
    };
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        [_, "rds", r, _, "db", id] if *r == region => Ok(id.to_ascii_lowercase()),
        [_, "rds", r, _, "db", _] => Err(not_taken(
            &format!("a source in region {r}"),
            &format!(
                "a lab is one region ({region}); cross-region read replicas have no second region to live in"
            ),
        )),
        _ => Err(ApiError::new(
            "InvalidParameterValue",
            format!("Invalid source DB instance ARN: {value}"),
        )),
    }
}

fn invalid_identifier(name: &str) -> ApiError {
    ApiError::new(
        "InvalidParameterValue",
        format!(
            "The parameter {name} is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens."
        ),
    )
}

/// An option RDS has and tierlab does not do: AWS's error for an unsupported combination.
fn not_taken(what: &str, why: &str) -> ApiError {
    ApiError::new(
        "InvalidParameterCombination",
        format!("tierlab does not support {what}: {why}."),
    )
}

/// Refuses parameters of `action` outside `taken` (besides the protocol's own).
fn refuse_others(params: &Params, action: &str, taken: &[&str]) -> Result<(), ApiError> {
    let other = params
        .iter()
        .map(|(key, _)| key.split('.').next().unwrap_or(key))
        .find(|key| !matches!(*key, "Action" | "Version") && !taken.contains(key));
    match other {
        Some(key) => Err(not_taken(
            &format!("{key} on {action}"),
            &format!("it takes {}", taken.join(", ")),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn request(pairs: &[(&str, &str)]) -> Result<CreateRequest, ApiError> {
        CreateRequest::read(&params(pairs), "us-east-1")
    }

    fn existing(id: &str, retention: u32, source: Option<&str>) -> Existing {
        Existing {
            identifier: id.into(),
            status: InstanceStatus::Available,
            backup_retention_days: retention,
            read_replica_source: source.map(str::to_string),
        }
    }

    const REFERENCE: [(&str, &str); 3] = [
        ("DBInstanceIdentifier", "flask-crud-db-replica"),
        ("SourceDBInstanceIdentifier", "flask-crud-db"),
        ("DBInstanceClass", "db.t3.micro"),
    ];

    #[test]
    fn the_references_command_reads_and_passes() {
        let r = request(&REFERENCE).unwrap();
        assert_eq!(
            r,
            CreateRequest {
                identifier: "flask-crud-db-replica".into(),
                source: "flask-crud-db".into(),
                class: Some("db.t3.micro".into()),
            }
        );
        assert!(check_create(&r, &[existing("flask-crud-db", 7, None)]).is_ok());
        // By ARN, upper case: RDS stores identifiers lower-cased.
        let arn = request(&[
            ("DBInstanceIdentifier", "Replica-1"),
            (
                "SourceDBInstanceIdentifier",
                "arn:aws:rds:us-east-1:000000000000:db:flask-crud-db",
            ),
        ])
        .unwrap();
        assert_eq!(
            (arn.identifier.as_str(), arn.source.as_str()),
            ("replica-1", "flask-crud-db")
        );
    }

    #[test]
    fn bad_requests_get_rds_errors() {
        let code = |pairs: &[(&str, &str)]| request(pairs).unwrap_err().code;
        assert_eq!(code(&REFERENCE[1..]), "MissingParameter");
        let bad_id = request(&[REFERENCE[1], ("DBInstanceIdentifier", "replica--1")]).unwrap_err();
        assert_eq!(bad_id.code, "InvalidParameterValue");
        assert!(
            bad_id.message.contains("not a valid identifier"),
            "{}",
            bad_id.message
        );
        let class = request(&[
            REFERENCE[0],
            REFERENCE[1],
            ("DBInstanceClass", "db.x9.huge"),
        ])
        .unwrap_err();
        assert_eq!(class.message, "Invalid DB Instance class: db.x9.huge");
        let other_region = request(&[
            REFERENCE[0],
            (
                "SourceDBInstanceIdentifier",
                "arn:aws:rds:eu-west-1:000000000000:db:flask-crud-db",
            ),
        ])
        .unwrap_err();
        assert_eq!(other_region.code, "InvalidParameterCombination");
        let port = request(&[REFERENCE[0], REFERENCE[1], ("Port", "3307")]).unwrap_err();
        assert_eq!(port.code, "InvalidParameterCombination");
        assert!(
            port.message.contains("Port on CreateDBInstanceReadReplica"),
            "{}",
            port.message
        );
        assert_eq!(
            code(&[REFERENCE[0], REFERENCE[1], ("MultiAZ", "true")]),
            "InvalidParameterCombination"
        );
    }

    #[test]
    fn the_source_must_exist_have_backups_be_available_and_have_room() {
        let r = request(&REFERENCE).unwrap();
        let err = |instances: &[Existing]| check_create(&r, instances).unwrap_err();
        let e = err(&[]);
        assert_eq!((e.code.as_str(), e.status), ("DBInstanceNotFound", 404));
        assert_eq!(e.message, "DBInstance flask-crud-db not found.");
        let e = err(&[
            existing("flask-crud-db", 7, None),
            existing("flask-crud-db-replica", 0, None),
        ]);
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("DBInstanceAlreadyExists", "DB instance already exists")
        );
        let e = err(&[existing("flask-crud-db", 0, None)]);
        assert_eq!(e.code, "InvalidDBInstanceState");
        assert!(
            e.message
                .starts_with("Automated backups are not enabled for this database instance.")
        );
        let mut rebooting = existing("flask-crud-db", 7, None);
        rebooting.status = InstanceStatus::Rebooting;
        assert_eq!(err(&[rebooting]).code, "InvalidDBInstanceState");
        let mut full = vec![existing("flask-crud-db", 7, None)];
        full.extend((0..15).map(|i| existing(&format!("r{i}"), 0, Some("flask-crud-db"))));
        let e = err(&full);
        assert_eq!(e.code, "InvalidDBInstanceState");
        assert!(e.message.contains("15 read replicas"), "{}", e.message);
        full.pop();
        assert!(check_create(&r, &full).is_ok());
    }

    #[test]
    fn only_an_available_read_replica_is_promoted() {
        let replica = existing("r", 0, Some("db"));
        assert!(check_promote(&replica, false).is_ok());
        let e = check_promote(&existing("db", 7, None), false).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            (
                "InvalidDBInstanceState",
                "DB Instance is not a read replica."
            )
        );
        assert_eq!(
            check_promote(&replica, true).unwrap_err().code,
            "InvalidDBInstanceState"
        );
        let mut creating = replica;
        creating.status = InstanceStatus::Creating;
        assert_eq!(
            check_promote(&creating, false).unwrap_err().code,
            "InvalidDBInstanceState"
        );
    }
}
