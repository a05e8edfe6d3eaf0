//! FilterLogEvents.

use serde::{Deserialize, Serialize};

use super::{Store, check_limit, group_name, not_found};
use crate::api::ApiError;
use crate::logs::paging::DEFAULT_LIMIT;
use crate::logs::search::{self, SearchRequest};
use crate::logs::{FilterPattern, LogEvent};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterLogEventsRequest {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_names: Option<Vec<String>>,
    log_stream_name_prefix: Option<String>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    filter_pattern: Option<String>,
    next_token: Option<String>,
    limit: Option<u32>,
    /// Deprecated by AWS: results are always interleaved.
    #[serde(rename = "interleaved")]
    _interleaved: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterLogEventsResponse {
    events: Vec<FilteredLogEvent>,
    searched_log_streams: Vec<SearchedLogStream>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FilteredLogEvent {
    log_stream_name: String,
    timestamp: i64,
    message: String,
    ingestion_time: i64,
    event_id: String,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SearchedLogStream {
    log_stream_name: String,
    searched_completely: bool,
}

pub fn filter_log_events(
    store: &Store,
    input: FilterLogEventsRequest,
) -> Result<FilterLogEventsResponse, ApiError> {
    check_limit(input.limit, DEFAULT_LIMIT)?;
    if input.log_stream_names.is_some() && input.log_stream_name_prefix.is_some() {
        return Err(ApiError::validation(
            "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
        ));
    }
    let pattern = FilterPattern::parse(input.filter_pattern.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::validation(e.to_string()))?;
    let group = group_name(input.log_group_name, input.log_group_identifier)?;
    let names: Vec<String> = store
        .logs
        .streams(&group)
        .map_err(not_found)?
        .into_iter()
        .map(|s| s.name)
        .filter(
            |name| match (&input.log_stream_names, &input.log_stream_name_prefix) {
                (Some(names), _) => names.contains(name),
                (None, Some(prefix)) => name.starts_with(prefix.as_str()),
                (None, None) => true,
            },
        )
        .collect();
    // A stream pruned between the listing and the read is simply not searched.
    let streams: Vec<(String, Vec<LogEvent>)> = names
        .into_iter()
        .filter_map(|name| Some((name.clone(), store.logs.events(&group, &name).ok()?)))
        .collect();
    let request = SearchRequest {
        start_time: input.start_time,
        end_time: input.end_time,
        pattern,
        limit: input.limit,
        token: input.next_token,
    };
    let found =
        search::search(&streams, &request).map_err(|e| ApiError::validation(e.to_string()))?;
    Ok(FilterLogEventsResponse {
        events: found
            .events
            .iter()
            .map(|f| FilteredLogEvent {
                log_stream_name: f.stream.to_string(),
                timestamp: f.event.timestamp,
                message: f.event.message.clone(),
                ingestion_time: f.event.ingestion_time,
                event_id: f.event_id(),
            })
            .collect(),
        searched_log_streams: streams
            .iter()
            .map(|(name, _)| SearchedLogStream {
                log_stream_name: name.clone(),
                searched_completely: true,
            })
            .collect(),
        next_token: found.next_token,
    })
}
