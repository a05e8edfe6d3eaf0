//! DescribeDBInstances and RebootDBInstance.

use crate::api::query::Params;
use crate::api::xml::Xml;
use crate::api::{ApiContext, ApiError};
use crate::rds::{DbInstance, FailoverError, RebootError};

use super::model::{instance_model, render_instance};
use super::{instance_not_found, page};

pub fn describe_db_instances(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let filters = Filters::read(params)?;
    let wanted = params.get("DBInstanceIdentifier");
    let instances: Vec<DbInstance> = ctx
        .lab
        .databases()
        .into_iter()
        .filter(|db| wanted.is_none_or(|id| db.identifier == id))
        .filter(|db| filters.admit(ctx, db))
        .collect();
    if let Some(id) = wanted
        && instances.is_empty()
    {
        return Err(instance_not_found(id));
    }
    let (instances, marker) = page(instances, params)?;
    let mut x = Xml::new();
    x.list("DBInstances", "DBInstance", instances, |x, db| {
        render_instance(x, &instance_model(ctx, &db));
    });
    x.opt("Marker", marker);
    Ok(x)
}

/// DescribeDBInstances' `Filters` that tierlab applies: `db-instance-id` (identifier or ARN)
/// and `engine`. Others are refused rather than ignored.
struct Filters(Vec<(String, Vec<String>)>);

impl Filters {
    fn read(params: &Params) -> Result<Filters, ApiError> {
        let mut filters = Vec::new();
        for f in params.structs("Filters.Filter") {
            let name = f.required("Name")?.to_string();
            if !matches!(name.as_str(), "db-instance-id" | "engine") {
                return Err(ApiError::new(
                    "InvalidParameterValue",
                    format!(
                        "Unrecognized filter name: {name}. tierlab supports db-instance-id and engine."
                    ),
                ));
            }
            filters.push((name, f.list("Values.Value")));
        }
        Ok(Filters(filters))
    }

    fn admit(&self, ctx: &ApiContext, db: &DbInstance) -> bool {
        self.0.iter().all(|(name, values)| {
            let arn = ctx.registry.db_arn(&db.identifier);
            let engine = &db.settings().engine;
            values.iter().any(|v| match name.as_str() {
                "db-instance-id" => *v == db.identifier || *v == arn,
                _ => v == engine,
            })
        })
    }
}

pub async fn reboot_db_instance(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let id = params.required("DBInstanceIdentifier")?;
    let db = ctx.lab.database(id).ok_or_else(|| instance_not_found(id))?;
    let multi_az = db.settings().multi_az;
    if params.parse_bool("ForceFailover")? == Some(true) {
        if !multi_az {
            return Err(ApiError::new(
                "InvalidParameterCombination",
                format!(
                    "Reboot with failover is not supported for DB instance {id}: it is not a Multi-AZ instance."
                ),
            ));
        }
        db.fail_over().await.map_err(failover_error)?;
    } else {
        db.reboot().await.map_err(|e| match e {
            RebootError::NotAvailable(_) | RebootError::NotSupervised => {
                ApiError::new("InvalidDBInstanceState", e.to_string())
            }
        })?;
    }
    let mut x = Xml::new();
    x.open("DBInstance");
    render_instance(&mut x, &instance_model(ctx, &db));
    x.close("DBInstance");
    Ok(x)
}

/// RDS's answer to a failover or Multi-AZ change the instance cannot take now.
fn failover_error(e: FailoverError) -> ApiError {
    ApiError::new("InvalidDBInstanceState", e.to_string())
}

/// Parameters of ModifyDBInstance tierlab applies; any other is refused by name.
const MODIFIABLE: [&str; 3] = ["DBInstanceIdentifier", "MultiAZ", "ApplyImmediately"];

/// ModifyDBInstance: `--multi-az` / `--no-multi-az` with `--apply-immediately` (the standby is
/// built or removed now; status `modifying` → `available`). Other modifications answer an
/// error naming them, never a fake success.
pub async fn modify_db_instance(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let id = params.required("DBInstanceIdentifier")?;
    let db = ctx.lab.database(id).ok_or_else(|| instance_not_found(id))?;
    if let Some(other) = params.iter().map(|(name, _)| name).find(|name| {
        let top = name.split('.').next().unwrap_or(name);
        !MODIFIABLE.contains(&top) && !["Action", "Version"].contains(&top)
    }) {
        return Err(ApiError::unsupported(
            "RDS",
            &format!(
                "ModifyDBInstance with {}",
                other.split('.').next().unwrap_or(other)
            ),
            "a later issue (tierlab modifies only MultiAZ now)",
        ));
    }
    if let Some(multi_az) = params.parse_bool("MultiAZ")? {
        if params.parse_bool("ApplyImmediately")? != Some(true) {
            return Err(ApiError::new(
                "InvalidParameterCombination",
                "tierlab applies modifications immediately only: add --apply-immediately (there is no maintenance window to defer them to).",
            ));
        }
        if multi_az && db.settings().subnets.len() < 2 {
            return Err(ApiError::new(
                "InvalidParameterCombination",
                "A Multi-AZ DB instance needs a DB subnet group with subnets in at least two Availability Zones.",
            ));
        }
        db.set_multi_az(multi_az).await.map_err(failover_error)?;
    }
    let mut x = Xml::new();
    x.open("DBInstance");
    render_instance(&mut x, &instance_model(ctx, &db));
    x.close("DBInstance");
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_read_as_the_cli_sends_them() {
        let params = Params::from_pairs([
            ("Filters.Filter.1.Name", "db-instance-id"),
            ("Filters.Filter.1.Values.Value.1", "a"),
            ("Filters.Filter.1.Values.Value.2", "b"),
            ("Filters.Filter.2.Name", "engine"),
            ("Filters.Filter.2.Values.Value.1", "mysql"),
        ]);
        let Filters(filters) = Filters::read(&params).unwrap();
        assert_eq!(
            filters,
            [
                (
                    "db-instance-id".to_string(),
                    vec!["a".to_string(), "b".to_string()]
                ),
                ("engine".to_string(), vec!["mysql".to_string()]),
            ]
        );
        let unknown = Params::from_pairs([("Filters.Filter.1.Name", "dbi-resource-id")]);
        assert_eq!(
            Filters::read(&unknown).err().unwrap().code,
            "InvalidParameterValue"
        );
    }
}
