//! RDS (Query, `Version=2014-10-31`): one entry point, one file per group of actions, answers
//! from the running instances. List members are named after their type, as RDS names them
//! (`<DBInstances><DBInstance>`, `<Events><Event>`).
//!
//! Instances come from `emulator.toml` or from actions on running ones (read replicas, restores);
//! creating one from nothing, stopping and starting instances and editing subnet groups answer an
//! error that says so, never a fake success.

pub mod client;
mod events;
mod instances;
mod model;
mod replicas;
mod restore;
mod snapshots;
mod subnet_groups;

use crate::api::query::Params;
use crate::api::xml::Xml;
use crate::api::{ApiContext, ApiError};

/// What tierlab offers instead of the actions it does not support.
const DECLARE_IN_CONFIG: &str = "a later version; meanwhile declare instances and their subnets in emulator.toml ([databases.ID])";

/// Answers `action` with the inside of its `<{Action}Result>`, or the service's error.
pub async fn call(ctx: &ApiContext, action: &str, params: &Params) -> Result<Xml, ApiError> {
    match action {
        "DescribeDBInstances" => instances::describe_db_instances(ctx, params),
        "RebootDBInstance" => instances::reboot_db_instance(ctx, params).await,
        "ModifyDBInstance" => instances::modify_db_instance(ctx, params).await,
        "DescribeDBSubnetGroups" => subnet_groups::describe_db_subnet_groups(ctx, params),
        "DescribeEvents" => events::describe_events(ctx, params),
        "CreateDBSnapshot" => snapshots::create_db_snapshot(ctx, params).await,
        "DescribeDBSnapshots" => snapshots::describe_db_snapshots(ctx, params),
        "DeleteDBSnapshot" => snapshots::delete_db_snapshot(ctx, params),
        "RestoreDBInstanceFromDBSnapshot" => restore::restore_from_snapshot(ctx, params).await,
        "RestoreDBInstanceToPointInTime" => restore::restore_to_point_in_time(ctx, params).await,
        "DeleteDBInstance" => restore::delete_db_instance(ctx, params).await,
        "DescribeDBInstanceAutomatedBackups" => snapshots::describe_automated_backups(ctx, params),
        "CreateDBInstanceReadReplica" => {
            replicas::create_db_instance_read_replica(ctx, params).await
        }
        "PromoteReadReplica" => replicas::promote_read_replica(ctx, params).await,
        "StartDBInstance"
        | "StopDBInstance"
        | "CreateDBInstance"
        | "CreateDBSubnetGroup"
        | "DeleteDBSubnetGroup" => Err(ApiError::unsupported("RDS", action, DECLARE_IN_CONFIG)),
        _ => Err(ApiError::invalid_action(action)),
    }
}

/// RDS's error for an identifier that names no instance (HTTP 404).
fn instance_not_found(identifier: &str) -> ApiError {
    ApiError::new(
        "DBInstanceNotFound",
        format!("DBInstance {identifier} not found."),
    )
    .with_status(404)
}

/// `MaxRecords` within RDS's 20..=100 (default 100).
fn max_records(params: &Params) -> Result<usize, ApiError> {
    match params.parse_u32("MaxRecords")? {
        None => Ok(100),
        Some(n) if (20..=100).contains(&n) => Ok(n as usize),
        Some(n) => Err(ApiError::new(
            "InvalidParameterValue",
            format!("Invalid value {n} for MaxRecords. Must be between 20 and 100"),
        )),
    }
}

/// One page of `items` from `Marker` (an offset this API gave out), and the next marker.
fn page<T>(items: Vec<T>, params: &Params) -> Result<(Vec<T>, Option<String>), ApiError> {
    let max = max_records(params)?;
    let from = match params.get("Marker") {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| ApiError::new("InvalidParameterValue", format!("Invalid marker: {m}")))?,
    };
    Ok(crate::api::paging::offset_page(items, from, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn markers_page_through_the_records() {
        let items: Vec<u32> = (0..45).collect();
        let (first, marker) = page(items.clone(), &params(&[("MaxRecords", "20")])).unwrap();
        assert_eq!((first.len(), marker.as_deref()), (20, Some("20")));
        let (last, marker) = page(
            items.clone(),
            &params(&[("MaxRecords", "20"), ("Marker", "40")]),
        )
        .unwrap();
        assert_eq!((last, marker), (vec![40, 41, 42, 43, 44], None));
        assert_eq!(page(items.clone(), &params(&[])).unwrap().0.len(), 45);
        assert_eq!(
            page(items, &params(&[("MaxRecords", "5")]))
                .unwrap_err()
                .code,
            "InvalidParameterValue"
        );
    }

    #[test]
    fn not_found_is_rds_404() {
        let e = instance_not_found("nope");
        assert_eq!((e.code.as_str(), e.status), ("DBInstanceNotFound", 404));
        assert_eq!(e.message, "DBInstance nope not found.");
    }
}
