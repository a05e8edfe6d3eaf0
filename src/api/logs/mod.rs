//! CloudWatch Logs (`Logs_20140328.*`) over JSON 1.1: one entry point, one file per operation,
//! all read from the lab's log store ([`crate::logs`]).
//!
//! Timestamps are milliseconds since the epoch (Logs models them as longs, unlike ECS's
//! floating-point seconds). Errors: `ResourceNotFoundException` for a group or stream that does
//! not exist, `InvalidParameterException` for the rest (the dispatcher gives the generic
//! validation error that name).

mod events;
mod filter;
mod groups;
mod paging;
mod streams;

use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::api::{ApiContext, ApiError, json};
use crate::logs::{LogStore, StoreError};
use crate::registry::Registry;

/// Code of a group or stream that does not exist.
const RESOURCE_NOT_FOUND: &str = "ResourceNotFoundException";

/// Answers operation `op` with its output, or the service's error.
pub async fn call(ctx: &ApiContext, op: &str, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    let store = Store {
        logs: store(ctx),
        registry: ctx.registry.clone(),
    };
    match op {
        "DescribeLogGroups" => run(store, body, groups::describe_log_groups).await,
        "DescribeLogStreams" => run(store, body, streams::describe_log_streams).await,
        "GetLogEvents" => run(store, body, events::get_log_events).await,
        "FilterLogEvents" => run(store, body, filter::filter_log_events).await,
        "CreateLogGroup" | "CreateLogStream" | "PutLogEvents" | "DeleteLogGroup"
        | "DeleteLogStream" | "PutRetentionPolicy" | "PutMetricFilter" | "StartQuery"
        | "GetQueryResults" | "StartLiveTail" | "TagLogGroup" | "TagResource" => {
            Err(ApiError::unsupported(
                "CloudWatch Logs",
                op,
                "a later issue (tierlab's log groups are those of the task definitions, written by the tasks)",
            ))
        }
        _ => Err(ApiError::unknown_operation(op)),
    }
}

/// The lab's log store: its task definitions' groups, under its state directory.
fn store(ctx: &ApiContext) -> LogStore {
    let config = ctx.lab.config();
    LogStore::of_config(ctx.lab.state_dir().logs_dir(&config.lab.name), config)
}

/// What an operation reads: the log store, and the registry for ARNs.
pub struct Store {
    logs: LogStore,
    registry: Arc<Registry>,
}

/// Decodes the input and runs the operation off the async workers (it reads files).
async fn run<I, O>(
    store: Store,
    body: &[u8],
    op: fn(&Store, I) -> Result<O, ApiError>,
) -> Result<serde_json::Value, ApiError>
where
    I: DeserializeOwned + Send + 'static,
    O: serde::Serialize + Send + 'static,
{
    let input: I = json::input(body)?;
    let output = tokio::task::spawn_blocking(move || op(&store, input))
        .await
        .map_err(|e| ApiError::internal(format!("reading the log store failed: {e}")))??;
    serde_json::to_value(output)
        .map_err(|e| ApiError::internal(format!("cannot render the answer: {e}")))
}

/// A store error as CloudWatch answers it.
fn not_found(e: StoreError) -> ApiError {
    ApiError::new(RESOURCE_NOT_FOUND, e.to_string())
}

/// The group named by `logGroupName`, or by `logGroupIdentifier` (a name or an ARN); one of
/// them is required.
fn group_name(name: Option<String>, identifier: Option<String>) -> Result<String, ApiError> {
    match (name, identifier) {
        (Some(_), Some(_)) => Err(ApiError::validation(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        )),
        (Some(name), None) => Ok(name),
        (None, Some(id)) => Ok(group_of_identifier(&id)),
        (None, None) => Err(ApiError::validation(
            "Either LogGroup name or LogGroup ARN must be specified.",
        )),
    }
}

/// `arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]` → `NAME`; a name stays as it is.
fn group_of_identifier(id: &str) -> String {
    match id.split_once(":log-group:") {
        Some((_, rest)) => rest.strip_suffix(":*").unwrap_or(rest).to_string(),
        None => id.to_string(),
    }
}

/// A `limit` within `1..=max`, worded as AWS's validation.
fn check_limit(limit: Option<u32>, max: u32) -> Result<(), ApiError> {
    match limit {
        Some(0) => Err(ApiError::validation(
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
        )),
        Some(n) if n > max => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to {max}"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_named_by_name_or_arn() {
        assert_eq!(group_name(Some("/ecs/a".into()), None).unwrap(), "/ecs/a");
        assert_eq!(
            group_name(
                None,
                Some("arn:aws:logs:us-east-1:000000000000:log-group:/ecs/a:*".into())
            )
            .unwrap(),
            "/ecs/a"
        );
        assert!(group_name(None, None).is_err());
        assert!(group_name(Some("a".into()), Some("a".into())).is_err());
    }

    fn lab_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let stream = dir.path().join("ecs/flask-app/ecs/flask-app/abc.log");
        std::fs::create_dir_all(stream.parent().unwrap()).unwrap();
        std::fs::write(
            &stream,
            "2026-12-02T00:00:01Z Booting worker\n2026-12-02T00:00:02Z \"GET /items HTTP/1.1\" 200\n",
        )
        .unwrap();
        let store = Store {
            logs: LogStore::new(dir.path(), ["/ecs/flask-app".to_string()]),
            registry: Arc::new(Registry::in_memory("us-east-1")),
        };
        (dir, store)
    }

    fn output<I: DeserializeOwned, O: serde::Serialize>(
        store: &Store,
        op: fn(&Store, I) -> Result<O, ApiError>,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, ApiError> {
        let input = json::input(input.to_string().as_bytes())?;
        Ok(serde_json::to_value(op(store, input)?).unwrap())
    }

    #[test]
    fn operations_render_cloudwatch_shapes() {
        let (_dir, store) = lab_store();
        let groups = output(&store, groups::describe_log_groups, serde_json::json!({})).unwrap();
        let group = &groups["logGroups"][0];
        assert_eq!(group["logGroupName"], "/ecs/flask-app");
        assert_eq!(
            group["arn"],
            "arn:aws:logs:us-east-1:000000000000:log-group:/ecs/flask-app:*"
        );
        assert!(group["creationTime"].is_i64() && group["storedBytes"].as_u64() > Some(0));

        let streams = output(
            &store,
            streams::describe_log_streams,
            serde_json::json!({"logGroupName": "/ecs/flask-app", "orderBy": "LastEventTime", "descending": true}),
        )
        .unwrap();
        let stream = &streams["logStreams"][0];
        assert_eq!(stream["logStreamName"], "ecs/flask-app/abc");
        assert_eq!(stream["lastEventTimestamp"], 1_796_169_602_000_i64);
        assert!(stream.get("uploadSequenceToken").is_none());

        let events = output(
            &store,
            events::get_log_events,
            serde_json::json!({"logGroupName": "/ecs/flask-app", "logStreamName": "ecs/flask-app/abc", "limit": 1}),
        )
        .unwrap();
        assert_eq!(
            events,
            serde_json::json!({
                "events": [{"timestamp": 1_796_169_602_000_i64, "message": "\"GET /items HTTP/1.1\" 200", "ingestionTime": 1_796_169_602_000_i64}],
                "nextForwardToken": "f/2",
                "nextBackwardToken": "b/1"
            })
        );

        let found = output(
            &store,
            filter::filter_log_events,
            serde_json::json!({"logGroupName": "/ecs/flask-app", "filterPattern": "\"GET /items\""}),
        )
        .unwrap();
        assert_eq!(found["events"].as_array().unwrap().len(), 1);
        assert_eq!(found["events"][0]["logStreamName"], "ecs/flask-app/abc");
        assert_eq!(found["searchedLogStreams"][0]["searchedCompletely"], true);
    }

    #[test]
    fn missing_groups_and_streams_and_bad_requests_answer_as_cloudwatch() {
        let (_dir, store) = lab_store();
        let e = output(
            &store,
            events::get_log_events,
            serde_json::json!({"logGroupName": "/nope", "logStreamName": "x"}),
        )
        .unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            (
                "ResourceNotFoundException",
                "The specified log group does not exist."
            )
        );
        let e = output(
            &store,
            events::get_log_events,
            serde_json::json!({"logGroupName": "/ecs/flask-app", "logStreamName": "x"}),
        )
        .unwrap_err();
        assert_eq!(e.message, "The specified log stream does not exist.");
        let e = output(
            &store,
            streams::describe_log_streams,
            serde_json::json!({"logGroupName": "/ecs/flask-app", "orderBy": "LastEventTime", "logStreamNamePrefix": "ecs"}),
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "Cannot order by LastEventTime with a logStreamNamePrefix."
        );
        let e = output(
            &store,
            filter::filter_log_events,
            serde_json::json!({"logGroupName": "/ecs/flask-app", "filterPattern": "{ $.level = 1 }"}),
        )
        .unwrap_err();
        assert!(e.message.contains("does not support JSON filter patterns"));
    }

    #[test]
    fn limits_are_checked_as_aws_words_it() {
        assert!(check_limit(None, 50).is_ok());
        assert!(check_limit(Some(50), 50).is_ok());
        assert!(
            check_limit(Some(0), 50)
                .unwrap_err()
                .message
                .contains("greater than or equal to 1")
        );
        assert!(
            check_limit(Some(51), 50)
                .unwrap_err()
                .message
                .contains("less than or equal to 50")
        );
    }
}
