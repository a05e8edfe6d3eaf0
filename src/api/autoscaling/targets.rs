//! RegisterScalableTarget, DescribeScalableTargets, DeregisterScalableTarget.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiContext, ApiError, json::input};
use crate::autoscaling::model::{DESIRED_COUNT, ECS_NAMESPACE, ScalableTarget, SuspendedState};
use crate::autoscaling::{Registration, ScalingError};
use crate::ecs::MAX_DESIRED_COUNT;

use super::resource::{self, from_scaling, validation};
use super::{epoch, page, with_token};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RegisterInput {
    service_namespace: String,
    resource_id: String,
    scalable_dimension: String,
    min_capacity: Option<i64>,
    max_capacity: Option<i64>,
    /// Ignored: a lab has no IAM; the service-linked role is what AWS would use.
    #[serde(rename = "RoleARN")]
    #[allow(dead_code)]
    role_arn: Option<String>,
    suspended_state: Option<SuspendedInput>,
    /// Tags are not kept (`TagResource` is not served either).
    #[allow(dead_code)]
    tags: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SuspendedInput {
    dynamic_scaling_in_suspended: Option<bool>,
    dynamic_scaling_out_suspended: Option<bool>,
    scheduled_scaling_suspended: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeInput {
    service_namespace: String,
    resource_ids: Option<Vec<String>>,
    scalable_dimension: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeregisterInput {
    service_namespace: String,
    resource_id: String,
    scalable_dimension: String,
}

pub fn register(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: RegisterInput = input(body)?;
    let (cluster, service) = resource::ecs_service(
        &input.service_namespace,
        &input.resource_id,
        &input.scalable_dimension,
    )?;
    if ctx
        .lab
        .service(service)
        .is_none_or(|s| s.status().cluster != cluster)
    {
        return Err(resource::no_such_service(&input.resource_id));
    }
    let capacity = |name: &str, value: Option<i64>| -> Result<Option<u32>, ApiError> {
        match value {
            None => Ok(None),
            Some(v) if v < 0 => Err(validation(format!(
                "1 validation error detected: Value '{v}' at '{name}' failed to satisfy constraint: Member must have value greater than or equal to 0"
            ))),
            Some(v) if v > i64::from(MAX_DESIRED_COUNT) => Err(validation(format!(
                "{name} {v} is more than tierlab runs for one service ({MAX_DESIRED_COUNT})"
            ))),
            Some(v) => Ok(Some(v as u32)),
        }
    };
    let registration = Registration {
        min_capacity: capacity("minCapacity", input.min_capacity)?,
        max_capacity: capacity("maxCapacity", input.max_capacity)?,
        suspended: input.suspended_state.map(|s| {
            let now = ctx
                .lab
                .autoscaling()
                .target(cluster, service)
                .map(|t| t.suspended)
                .unwrap_or_default();
            SuspendedState {
                dynamic_scaling_in_suspended: s
                    .dynamic_scaling_in_suspended
                    .unwrap_or(now.dynamic_scaling_in_suspended),
                dynamic_scaling_out_suspended: s
                    .dynamic_scaling_out_suspended
                    .unwrap_or(now.dynamic_scaling_out_suspended),
                scheduled_scaling_suspended: s
                    .scheduled_scaling_suspended
                    .unwrap_or(now.scheduled_scaling_suspended),
            }
        }),
    };
    let arn = ctx
        .lab
        .autoscaling()
        .register(cluster, service, &registration)
        .map_err(from_scaling)?;
    Ok(json!({ "ScalableTargetARN": arn }))
}

pub fn describe(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: DescribeInput = input(body)?;
    let ecs = resource::namespace(&input.service_namespace)?;
    let wanted_dimension = input.scalable_dimension.as_deref().unwrap_or(DESIRED_COUNT);
    let ids = input.resource_ids.unwrap_or_default();
    let targets: Vec<Value> = ctx
        .lab
        .autoscaling()
        .targets()
        .into_iter()
        .filter(|_| ecs && wanted_dimension == DESIRED_COUNT)
        .filter(|t| ids.is_empty() || ids.contains(&t.resource_id()))
        .map(|t| render(&t, ctx.registry.account()))
        .collect();
    let (targets, next) = page(targets, input.max_results, input.next_token.as_deref())?;
    Ok(with_token(json!({ "ScalableTargets": targets }), next))
}

pub fn deregister(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: DeregisterInput = input(body)?;
    let (cluster, service) = resource::ecs_service(
        &input.service_namespace,
        &input.resource_id,
        &input.scalable_dimension,
    )?;
    ctx.lab
        .autoscaling()
        .deregister(cluster, service)
        .map_err(|e: ScalingError| from_scaling(e))?;
    Ok(json!({}))
}

/// The service-linked role Application Auto Scaling uses for ECS.
fn role_arn(account: &str) -> String {
    format!(
        "arn:aws:iam::{account}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"
    )
}

/// A `ScalableTarget` of the API.
fn render(t: &ScalableTarget, account: &str) -> Value {
    json!({
        "ServiceNamespace": ECS_NAMESPACE,
        "ResourceId": t.resource_id(),
        "ScalableDimension": DESIRED_COUNT,
        "MinCapacity": t.min_capacity,
        "MaxCapacity": t.max_capacity,
        "RoleARN": role_arn(account),
        "CreationTime": epoch(&t.created_at),
        "SuspendedState": {
            "DynamicScalingInSuspended": t.suspended.dynamic_scaling_in_suspended,
            "DynamicScalingOutSuspended": t.suspended.dynamic_scaling_out_suspended,
            "ScheduledScalingSuspended": t.suspended.scheduled_scaling_suspended,
        },
        "ScalableTargetARN": t.arn,
    })
}
