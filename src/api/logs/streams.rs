//! DescribeLogStreams.

use serde::{Deserialize, Serialize};

use super::{Store, check_limit, group_name, not_found, paging};
use crate::api::ApiError;
use crate::logs::LogStream;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogStreamsRequest {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name_prefix: Option<String>,
    order_by: Option<String>,
    descending: Option<bool>,
    next_token: Option<String>,
    limit: Option<u32>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogStreamsResponse {
    log_streams: Vec<LogStreamOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// A stream as DescribeLogStreams shows it (no `uploadSequenceToken`: AWS no longer needs it,
/// and nothing outside the lab writes here).
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LogStreamOut {
    log_stream_name: String,
    creation_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_event_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_event_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_ingestion_time: Option<i64>,
    arn: String,
    stored_bytes: u64,
}

/// How the streams are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrderBy {
    LogStreamName,
    LastEventTime,
}

pub fn describe_log_streams(
    store: &Store,
    input: DescribeLogStreamsRequest,
) -> Result<DescribeLogStreamsResponse, ApiError> {
    check_limit(input.limit, paging::DESCRIBE_LIMIT)?;
    let order = match input.order_by.as_deref() {
        None | Some("LogStreamName") => OrderBy::LogStreamName,
        Some("LastEventTime") => OrderBy::LastEventTime,
        Some(other) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{other}' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]"
            )));
        }
    };
    if order == OrderBy::LastEventTime && input.log_stream_name_prefix.is_some() {
        return Err(ApiError::validation(
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        ));
    }
    let group = group_name(input.log_group_name, input.log_group_identifier)?;
    let descending = input.descending.unwrap_or(false);
    let streams: Vec<LogStream> = store
        .logs
        .streams(&group)
        .map_err(not_found)?
        .into_iter()
        .filter(|s| {
            input
                .log_stream_name_prefix
                .as_deref()
                .is_none_or(|p| s.name.starts_with(p))
        })
        .collect();
    let (streams, next_token) = paging::page(
        sorted(streams, order, descending),
        |s| key(s, order),
        descending,
        input.limit,
        input.next_token.as_deref(),
    )?;
    Ok(DescribeLogStreamsResponse {
        log_streams: streams
            .into_iter()
            .map(|s| LogStreamOut {
                arn: store.registry.log_stream_arn(&group, &s.name),
                log_stream_name: s.name,
                creation_time: s.creation_time,
                first_event_timestamp: s.first_event_timestamp,
                last_event_timestamp: s.last_event_timestamp,
                last_ingestion_time: s.last_ingestion_time,
                stored_bytes: s.stored_bytes,
            })
            .collect(),
        next_token,
    })
}

/// The sort key: the name, or the last event's time (a stream without events sorts first, as
/// it has the oldest possible time) then the name.
fn key(s: &LogStream, order: OrderBy) -> paging::Key {
    match order {
        OrderBy::LogStreamName => (0, s.name.clone()),
        OrderBy::LastEventTime => (s.last_event_timestamp.unwrap_or(0), s.name.clone()),
    }
}

fn sorted(mut streams: Vec<LogStream>, order: OrderBy, descending: bool) -> Vec<LogStream> {
    streams.sort_by_key(|s| key(s, order));
    if descending {
        streams.reverse();
    }
    streams
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(name: &str, last: Option<i64>) -> LogStream {
        LogStream {
            name: name.into(),
            creation_time: 0,
            first_event_timestamp: last,
            last_event_timestamp: last,
            last_ingestion_time: last,
            stored_bytes: 0,
        }
    }

    #[test]
    fn streams_order_by_last_event_time_newest_first_when_descending() {
        let streams = vec![
            stream("a", Some(30)),
            stream("b", Some(10)),
            stream("c", None),
        ];
        let names = |v: Vec<LogStream>| v.into_iter().map(|s| s.name).collect::<Vec<_>>();
        assert_eq!(
            names(sorted(streams.clone(), OrderBy::LastEventTime, true)),
            ["a", "b", "c"]
        );
        assert_eq!(
            names(sorted(streams.clone(), OrderBy::LastEventTime, false)),
            ["c", "b", "a"]
        );
        assert_eq!(
            names(sorted(streams, OrderBy::LogStreamName, true)),
            ["c", "b", "a"]
        );
    }
}
