//! DescribeScalingActivities: the lab's scaling activities, newest first.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiContext, ApiError, json::input};
use crate::autoscaling::ScalingActivity;
use crate::autoscaling::model::{DESIRED_COUNT, ECS_NAMESPACE, resource_id};

use super::resource;
use super::{epoch, page, with_token};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeInput {
    service_namespace: String,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    /// Activities that did not scale are not recorded, so there are none to include.
    #[allow(dead_code)]
    include_not_scaled_activities: Option<bool>,
}

pub fn describe(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: DescribeInput = input(body)?;
    let ecs = resource::namespace(&input.service_namespace)?;
    let dimension_ok = input
        .scalable_dimension
        .as_deref()
        .is_none_or(|d| d == DESIRED_COUNT);
    let activities: Vec<Value> = ctx
        .lab
        .autoscaling()
        .activities()
        .iter()
        .filter(|_| ecs && dimension_ok)
        .filter(|a| {
            input
                .resource_id
                .as_ref()
                .is_none_or(|id| *id == resource_id(&a.cluster, &a.service))
        })
        .map(render)
        .collect();
    let (activities, next) = page(activities, input.max_results, input.next_token.as_deref())?;
    Ok(with_token(json!({ "ScalingActivities": activities }), next))
}

/// A `ScalingActivity` of the API.
fn render(a: &ScalingActivity) -> Value {
    let mut v = json!({
        "ActivityId": a.id,
        "ServiceNamespace": ECS_NAMESPACE,
        "ResourceId": resource_id(&a.cluster, &a.service),
        "ScalableDimension": DESIRED_COUNT,
        "Description": a.description,
        "Cause": a.cause,
        "StartTime": epoch(&a.start_time),
        "StatusCode": a.status_code,
        "StatusMessage": a.status_message,
    });
    if let Some(end) = &a.end_time {
        v["EndTime"] = json!(epoch(end));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_activity_renders_in_aws_shape() {
        let a = crate::autoscaling::store::activity(
            "flask-app-cluster",
            "flask-app-service",
            3,
            "monitor alarm A in state ALARM triggered policy cpu",
            "2026-12-02T13:00:00.000Z".into(),
        );
        let v = render(&a);
        assert_eq!(
            v["ResourceId"],
            "service/flask-app-cluster/flask-app-service"
        );
        assert_eq!(v["StatusCode"], "Successful");
        assert_eq!(v["Description"], "Setting desired count to 3.");
        assert_eq!(v["StartTime"], json!(1_796_216_400.0));
        assert!(v["EndTime"].is_f64());
    }
}
