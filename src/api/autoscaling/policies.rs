//! PutScalingPolicy, DescribeScalingPolicies, DeleteScalingPolicy (target tracking).

use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiContext, ApiError, json::input};
use crate::autoscaling::PolicySpec;
use crate::autoscaling::model::{
    DESIRED_COUNT, ECS_NAMESPACE, ScalingMetric, ScalingPolicy, request_count_labels,
};
use crate::config::{DEFAULT_COOLDOWN, MAX_COOLDOWN};

use super::resource::{self, from_scaling, validation};
use super::{epoch, page, with_token};

const TARGET_TRACKING: &str = "TargetTrackingScaling";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutInput {
    policy_name: String,
    service_namespace: String,
    resource_id: String,
    scalable_dimension: String,
    policy_type: Option<String>,
    target_tracking_scaling_policy_configuration: Option<TargetTrackingInput>,
    step_scaling_policy_configuration: Option<Value>,
    predictive_scaling_policy_configuration: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TargetTrackingInput {
    target_value: f64,
    predefined_metric_specification: Option<PredefinedInput>,
    customized_metric_specification: Option<Value>,
    scale_out_cooldown: Option<i64>,
    scale_in_cooldown: Option<i64>,
    disable_scale_in: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PredefinedInput {
    predefined_metric_type: String,
    resource_label: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeInput {
    service_namespace: String,
    policy_names: Option<Vec<String>>,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteInput {
    policy_name: String,
    service_namespace: String,
    resource_id: String,
    scalable_dimension: String,
}

pub fn put(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: PutInput = input(body)?;
    let (cluster, service) = resource::ecs_service(
        &input.service_namespace,
        &input.resource_id,
        &input.scalable_dimension,
    )?;
    let spec = spec(ctx, service, &input)?;
    let policy = ctx
        .lab
        .autoscaling()
        .put_policy(cluster, service, spec)
        .map_err(from_scaling)?;
    Ok(json!({ "PolicyARN": policy.arn, "Alarms": alarms(&policy) }))
}

/// The checked policy of a PutScalingPolicy request.
fn spec(ctx: &ApiContext, service: &str, input: &PutInput) -> Result<PolicySpec, ApiError> {
    let name = &input.policy_name;
    if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
        return Err(validation(format!(
            "1 validation error detected: Value '{name}' at 'policyName' failed to satisfy constraint: Member must have length between 1 and 256 printable characters"
        )));
    }
    match input.policy_type.as_deref() {
        Some(TARGET_TRACKING) => {}
        None if input.target_tracking_scaling_policy_configuration.is_some() => {}
        other => {
            let kind = other.unwrap_or(if input.step_scaling_policy_configuration.is_some() {
                "StepScaling"
            } else if input.predictive_scaling_policy_configuration.is_some() {
                "PredictiveScaling"
            } else {
                "(none)"
            });
            return Err(validation(format!(
                "tierlab scales with TargetTrackingScaling policies only; policy type {kind} is not supported (nothing was changed)"
            )));
        }
    }
    let tt = input
        .target_tracking_scaling_policy_configuration
        .as_ref()
        .ok_or_else(|| {
            validation("TargetTrackingScalingPolicyConfiguration is required for a policy of type TargetTrackingScaling")
        })?;
    if tt.customized_metric_specification.is_some() {
        return Err(validation(
            "tierlab tracks predefined metrics only (ECSServiceAverageCPUUtilization, ECSServiceAverageMemoryUtilization, ALBRequestCountPerTarget); CustomizedMetricSpecification is not supported",
        ));
    }
    let predefined = tt.predefined_metric_specification.as_ref().ok_or_else(|| {
        validation("Either PredefinedMetricSpecification or CustomizedMetricSpecification must be specified")
    })?;
    let metric = ScalingMetric::parse(&predefined.predefined_metric_type).ok_or_else(|| {
        validation(format!(
            "Unsupported predefined metric type '{}' for service namespace 'ecs': use ECSServiceAverageCPUUtilization, ECSServiceAverageMemoryUtilization or ALBRequestCountPerTarget",
            predefined.predefined_metric_type
        ))
    })?;
    let resource_label =
        resource_label(ctx, service, metric, predefined.resource_label.as_deref())?;
    if !(tt.target_value.is_finite() && tt.target_value > 0.0) {
        return Err(validation(format!(
            "The target value must be greater than 0: {}",
            tt.target_value
        )));
    }
    Ok(PolicySpec {
        name: name.clone(),
        metric,
        resource_label,
        target_value: tt.target_value,
        scale_out_cooldown_seconds: cooldown("scaleOutCooldown", tt.scale_out_cooldown)?,
        scale_in_cooldown_seconds: cooldown("scaleInCooldown", tt.scale_in_cooldown)?,
        disable_scale_in: tt.disable_scale_in.unwrap_or(false),
    })
}

/// `ResourceLabel`: required for `ALBRequestCountPerTarget` (a load balancer forwarding to the
/// service's target group), refused for the others.
fn resource_label(
    ctx: &ApiContext,
    service: &str,
    metric: ScalingMetric,
    given: Option<&str>,
) -> Result<Option<String>, ApiError> {
    match (metric, given) {
        (ScalingMetric::AlbRequestCountPerTarget, None) => Err(validation(
            "ResourceLabel is required for predefined metric type ALBRequestCountPerTarget",
        )),
        (ScalingMetric::AlbRequestCountPerTarget, Some(label)) => {
            let known = request_count_labels(ctx.lab.config(), service);
            if known.iter().any(|k| k == label) {
                Ok(Some(label.to_string()))
            } else {
                Err(validation(format!(
                    "ResourceLabel '{label}' does not name a load balancer and the target group of service {service}; it can be: {}",
                    if known.is_empty() {
                        "none (the service has no load balancer)".to_string()
                    } else {
                        known.join(", ")
                    }
                )))
            }
        }
        (_, Some(_)) => Err(validation(format!(
            "ResourceLabel is only valid for predefined metric type ALBRequestCountPerTarget, not {}",
            metric.as_str()
        ))),
        (_, None) => Ok(None),
    }
}

/// A cooldown in seconds: 300 when absent, 0..=31536000.
fn cooldown(name: &str, value: Option<i64>) -> Result<u32, ApiError> {
    let max = MAX_COOLDOWN.as_secs() as i64;
    match value {
        None => Ok(DEFAULT_COOLDOWN.as_secs() as u32),
        Some(v) if (0..=max).contains(&v) => Ok(v as u32),
        Some(v) => Err(validation(format!(
            "1 validation error detected: Value '{v}' at 'targetTrackingScalingPolicyConfiguration.{name}' failed to satisfy constraint: Member must be between 0 and {max}"
        ))),
    }
}

pub fn describe(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: DescribeInput = input(body)?;
    let ecs = resource::namespace(&input.service_namespace)?;
    let names = input.policy_names.unwrap_or_default();
    let dimension_ok = input
        .scalable_dimension
        .as_deref()
        .is_none_or(|d| d == DESIRED_COUNT);
    let policies: Vec<Value> = ctx
        .lab
        .autoscaling()
        .targets()
        .into_iter()
        .filter(|_| ecs && dimension_ok)
        .filter(|t| {
            input
                .resource_id
                .as_ref()
                .is_none_or(|id| *id == t.resource_id())
        })
        .flat_map(|t| {
            let id = t.resource_id();
            t.policies.into_iter().map(move |p| (id.clone(), p))
        })
        .filter(|(_, p)| names.is_empty() || names.contains(&p.name))
        .map(|(id, p)| render(&id, &p))
        .collect();
    let (policies, next) = page(policies, input.max_results, input.next_token.as_deref())?;
    Ok(with_token(json!({ "ScalingPolicies": policies }), next))
}

pub fn delete(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: DeleteInput = input(body)?;
    let (cluster, service) = resource::ecs_service(
        &input.service_namespace,
        &input.resource_id,
        &input.scalable_dimension,
    )?;
    ctx.lab
        .autoscaling()
        .delete_policy(cluster, service, &input.policy_name)
        .map_err(from_scaling)?;
    Ok(json!({}))
}

fn alarms(p: &ScalingPolicy) -> Value {
    p.alarms
        .iter()
        .map(|a| json!({ "AlarmName": a.name, "AlarmARN": a.arn }))
        .collect()
}

/// A `ScalingPolicy` of the API.
fn render(id: &str, p: &ScalingPolicy) -> Value {
    let mut predefined = json!({ "PredefinedMetricType": p.metric.as_str() });
    if let Some(label) = &p.resource_label {
        predefined["ResourceLabel"] = json!(label);
    }
    json!({
        "PolicyARN": p.arn,
        "PolicyName": p.name,
        "ServiceNamespace": ECS_NAMESPACE,
        "ResourceId": id,
        "ScalableDimension": DESIRED_COUNT,
        "PolicyType": TARGET_TRACKING,
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": p.target_value,
            "PredefinedMetricSpecification": predefined,
            "ScaleOutCooldown": p.scale_out_cooldown_seconds,
            "ScaleInCooldown": p.scale_in_cooldown_seconds,
            "DisableScaleIn": p.disable_scale_in,
        },
        "Alarms": alarms(p),
        "CreationTime": epoch(&p.created_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscaling::model::resource_id;

    #[test]
    fn cooldowns_default_to_300_seconds_and_are_bounded() {
        assert_eq!(cooldown("scaleOutCooldown", None).unwrap(), 300);
        assert_eq!(cooldown("scaleOutCooldown", Some(60)).unwrap(), 60);
        let e = cooldown("scaleInCooldown", Some(-1)).unwrap_err();
        assert_eq!(e.code, "ValidationException");
        assert!(e.message.contains("scaleInCooldown"), "{}", e.message);
        assert!(cooldown("scaleInCooldown", Some(31_536_001)).is_err());
    }

    #[test]
    fn a_policy_renders_as_describe_scaling_policies_shows_it() {
        let p = ScalingPolicy {
            name: "cpu".into(),
            arn: "arn:x".into(),
            metric: ScalingMetric::Cpu,
            resource_label: None,
            target_value: 70.0,
            scale_out_cooldown_seconds: 60,
            scale_in_cooldown_seconds: 60,
            disable_scale_in: false,
            alarms: [
                crate::autoscaling::model::AlarmRef {
                    name: "h".into(),
                    arn: "ha".into(),
                },
                crate::autoscaling::model::AlarmRef {
                    name: "l".into(),
                    arn: "la".into(),
                },
            ],
            created_at: "2026-12-02T13:00:00.000Z".into(),
        };
        let v = render(&resource_id("c", "s"), &p);
        assert_eq!(v["PolicyType"], "TargetTrackingScaling");
        assert_eq!(
            v["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"],
            json!({"PredefinedMetricType": "ECSServiceAverageCPUUtilization"})
        );
        assert_eq!(v["Alarms"][1], json!({"AlarmName": "l", "AlarmARN": "la"}));
        assert_eq!(v["ResourceId"], "service/c/s");
    }
}
