//! Application Auto Scaling (`AnyScaleFrontendService.*`) over JSON 1.1, for the lab's ECS
//! services: one entry point, one function per operation, answered from the lab's
//! [`crate::autoscaling::AutoScaling`].
//!
//! - [`resource`]: namespaces, resource ids and dimensions, and the service's errors.
//! - `targets`: register / describe / deregister scalable targets.
//! - `policies`: put / describe / delete target tracking scaling policies.
//! - `activities`: describe scaling activities.

mod activities;
mod policies;
pub mod resource;
mod targets;

use serde_json::Value;

use crate::api::{ApiContext, ApiError};

/// Answers operation `op` with its output, or the service's error.
pub async fn call(ctx: &ApiContext, op: &str, body: &[u8]) -> Result<Value, ApiError> {
    match op {
        "RegisterScalableTarget" => targets::register(ctx, body),
        "DescribeScalableTargets" => targets::describe(ctx, body),
        "DeregisterScalableTarget" => targets::deregister(ctx, body),
        "PutScalingPolicy" => policies::put(ctx, body),
        "DescribeScalingPolicies" => policies::describe(ctx, body),
        "DeleteScalingPolicy" => policies::delete(ctx, body),
        "DescribeScalingActivities" => activities::describe(ctx, body),
        op if NOT_YET.contains(&op) => Err(ApiError::unsupported(
            "Application Auto Scaling",
            op,
            "a later issue (tierlab does target tracking of ECS services; scheduled scaling, predictive scaling and tags are not there yet)",
        )),
        op => Err(ApiError::unknown_operation(op)),
    }
}

/// Real operations tierlab does not serve: they get an error that says so.
const NOT_YET: &[&str] = &[
    "PutScheduledAction",
    "DeleteScheduledAction",
    "DescribeScheduledActions",
    "GetPredictiveScalingForecast",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
];

/// Application Auto Scaling's `MaxResults` bound (and default) for describe operations.
const MAX_RESULTS: i64 = 50;

/// One page of `items`; `next_token` is the offset the previous page handed out.
fn page<T>(
    items: Vec<T>,
    max_results: Option<i64>,
    next_token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let size = match max_results {
        None => MAX_RESULTS,
        Some(n) if (1..=MAX_RESULTS).contains(&n) => n,
        Some(n) => {
            return Err(resource::validation(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must be between 1 and {MAX_RESULTS}"
            )));
        }
    } as usize;
    let start = match next_token.filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => token
            .parse::<usize>()
            .map_err(|_| ApiError::new("InvalidNextTokenException", "Invalid token"))?,
    };
    Ok(crate::api::paging::offset_page(items, start, size))
}

/// Adds `NextToken` to a describe answer when there is another page.
fn with_token(mut value: Value, next: Option<String>) -> Value {
    if let (Some(next), Some(map)) = (next, value.as_object_mut()) {
        map.insert("NextToken".into(), Value::String(next));
    }
    value
}

/// An RFC 3339 time of the model as JSON 1.1's epoch seconds.
fn epoch(text: &str) -> f64 {
    humantime::parse_rfc3339(text)
        .map(crate::api::json::epoch)
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_offsets_and_bad_tokens_are_refused() {
        let items: Vec<u32> = (0..5).collect();
        let (first, next) = page(items.clone(), Some(2), None).unwrap();
        assert_eq!((first, next.as_deref()), (vec![0, 1], Some("2")));
        assert_eq!(
            page(items.clone(), Some(2), Some("4")).unwrap(),
            (vec![4], None)
        );
        assert_eq!(
            page(items.clone(), Some(51), None).unwrap_err().code,
            "ValidationException"
        );
        assert_eq!(
            page(items, None, Some("x")).unwrap_err().code,
            "InvalidNextTokenException"
        );
    }

    #[test]
    fn times_are_epoch_seconds() {
        assert_eq!(epoch("2026-12-02T13:00:00.250Z"), 1_796_216_400.25);
    }
}
