//! GetLogEvents.

use serde::{Deserialize, Serialize};

use super::{Store, check_limit, group_name, not_found};
use crate::api::ApiError;
use crate::logs::paging::{self, DEFAULT_LIMIT, PageRequest, Position};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetLogEventsRequest {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name: String,
    start_time: Option<i64>,
    end_time: Option<i64>,
    next_token: Option<String>,
    limit: Option<u32>,
    start_from_head: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetLogEventsResponse {
    events: Vec<OutputLogEvent>,
    next_forward_token: String,
    next_backward_token: String,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OutputLogEvent {
    timestamp: i64,
    message: String,
    ingestion_time: i64,
}

pub fn get_log_events(
    store: &Store,
    input: GetLogEventsRequest,
) -> Result<GetLogEventsResponse, ApiError> {
    check_limit(input.limit, DEFAULT_LIMIT)?;
    let token = input
        .next_token
        .as_deref()
        .map(Position::parse)
        .transpose()
        .map_err(|e| ApiError::validation(e.to_string()))?;
    let group = group_name(input.log_group_name, input.log_group_identifier)?;
    let events = store
        .logs
        .events(&group, &input.log_stream_name)
        .map_err(not_found)?;
    let request = PageRequest {
        start_time: input.start_time,
        end_time: input.end_time,
        limit: input.limit,
        start_from_head: input.start_from_head.unwrap_or(false),
        token,
    };
    let page = paging::page(&events, &request);
    Ok(GetLogEventsResponse {
        events: page
            .events
            .iter()
            .map(|e| OutputLogEvent {
                timestamp: e.timestamp,
                message: e.message.clone(),
                ingestion_time: e.ingestion_time,
            })
            .collect(),
        next_forward_token: page.next_forward.to_string(),
        next_backward_token: page.next_backward.to_string(),
    })
}
