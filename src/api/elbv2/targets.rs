//! `DescribeTargetHealth`, `RegisterTargets` and `DeregisterTargets`, with targets named as
//! the AWS API names them (see [`crate::alb::ip_targets`]).

use crate::alb::ip_targets::{AwsTargetHealth, TargetError, TargetRequest};
use crate::api::query::Params;
use crate::api::xml::Xml;
use crate::api::{ApiContext, ApiError};

use super::lookup;

/// `TargetGroupArn`, optionally `Targets.member.N.Id/Port`.
pub fn describe_target_health(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let tg = lookup::target_group(ctx, params.required("TargetGroupArn")?)?;
    let requests = target_requests(params)?;
    let (_, tasks) = lookup::tasks(ctx);
    let rows = if requests.is_empty() {
        tg.describe_aws(&tasks)
    } else {
        tg.describe_aws_targets(&requests, &tasks)
            .map_err(target_error)?
    };
    Ok(target_health(&rows))
}

/// `<TargetHealthDescriptions>`: each target with its health check port (the traffic port:
/// the target's own) and health.
pub fn target_health(rows: &[AwsTargetHealth]) -> Xml {
    let mut xml = Xml::new();
    xml.list("TargetHealthDescriptions", "member", rows, |x, row| {
        let health = &row.health;
        x.open("Target")
            .leaf("Id", &row.target.id)
            .leaf("Port", row.target.port)
            .opt("AvailabilityZone", row.target.availability_zone.as_deref())
            .close("Target")
            .leaf("HealthCheckPort", row.target.port)
            .open("TargetHealth")
            .leaf("State", health.state)
            .opt("Reason", health.reason)
            .opt("Description", health.description.as_deref())
            .close("TargetHealth");
    });
    xml
}

/// `TargetGroupArn`, `Targets.member.N.Id/Port`: every target resolved first, then registered.
pub fn register_targets(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let tg = lookup::target_group(ctx, params.required("TargetGroupArn")?)?;
    let requests = required_targets(params)?;
    let (running, _) = lookup::tasks(ctx);
    tg.register_targets(&requests, &running)
        .map_err(target_error)?;
    Ok(Xml::new())
}

/// `TargetGroupArn`, `Targets.member.N.Id/Port`: every target must be registered; each drains.
pub fn deregister_targets(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let tg = lookup::target_group(ctx, params.required("TargetGroupArn")?)?;
    let requests = required_targets(params)?;
    let (_, tasks) = lookup::tasks(ctx);
    tg.deregister_targets(&requests, &tasks)
        .map_err(target_error)?;
    Ok(Xml::new())
}

/// `Targets.member.N`: `Id` required, `Port` optional (1-65535).
pub fn target_requests(params: &Params) -> Result<Vec<TargetRequest>, ApiError> {
    params
        .structs("Targets")
        .into_iter()
        .map(|t| {
            let id = t.required("Id")?.to_string();
            let port = match t.parse_u32("Port")? {
                None => None,
                Some(p @ 1..=65535) => Some(p as u16),
                Some(p) => {
                    return Err(ApiError::validation(format!(
                        "1 validation error detected: Value '{p}' at 'targets.member.port' \
                         failed to satisfy constraint: Member must have value between 1 and 65535"
                    )));
                }
            };
            Ok(TargetRequest { id, port })
        })
        .collect()
}

fn required_targets(params: &Params) -> Result<Vec<TargetRequest>, ApiError> {
    let requests = target_requests(params)?;
    if requests.is_empty() {
        return Err(ApiError::validation(
            "1 validation error detected: Value null at 'targets' failed to satisfy \
             constraint: Member must not be null",
        ));
    }
    Ok(requests)
}

fn target_error(e: TargetError) -> ApiError {
    ApiError::new(e.aws_code(), e.message)
}
