//! DescribeLogGroups.

use serde::{Deserialize, Serialize};

use super::{Store, check_limit, paging};
use crate::api::ApiError;
use crate::logs::LogGroup;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogGroupsRequest {
    log_group_name_prefix: Option<String>,
    log_group_name_pattern: Option<String>,
    next_token: Option<String>,
    limit: Option<u32>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogGroupsResponse {
    log_groups: Vec<LogGroupOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// A group as DescribeLogGroups shows it. No `retentionInDays`: the lab keeps a group's events
/// until its streams are pruned (a bounded number per service), not for a number of days.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LogGroupOut {
    log_group_name: String,
    creation_time: i64,
    metric_filter_count: u32,
    /// The group's ARN with `:*` (as AWS gives `arn`); `logGroupArn` is without it.
    arn: String,
    log_group_arn: String,
    stored_bytes: u64,
    log_group_class: &'static str,
}

pub fn describe_log_groups(
    store: &Store,
    input: DescribeLogGroupsRequest,
) -> Result<DescribeLogGroupsResponse, ApiError> {
    check_limit(input.limit, paging::DESCRIBE_LIMIT)?;
    if input.log_group_name_prefix.is_some() && input.log_group_name_pattern.is_some() {
        return Err(ApiError::validation(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
        ));
    }
    let groups: Vec<LogGroup> = store
        .logs
        .groups()
        .into_iter()
        .filter(|g| {
            input
                .log_group_name_prefix
                .as_deref()
                .is_none_or(|p| g.name.starts_with(p))
                && input
                    .log_group_name_pattern
                    .as_deref()
                    .is_none_or(|p| g.name.contains(p))
        })
        .collect();
    let (groups, next_token) = paging::page(
        groups,
        |g| (0, g.name.clone()),
        false,
        input.limit,
        input.next_token.as_deref(),
    )?;
    Ok(DescribeLogGroupsResponse {
        log_groups: groups.iter().map(|g| render(store, g)).collect(),
        next_token,
    })
}

fn render(store: &Store, g: &LogGroup) -> LogGroupOut {
    let arn = store.registry.log_group_arn(&g.name);
    LogGroupOut {
        log_group_name: g.name.clone(),
        creation_time: g.creation_time,
        metric_filter_count: 0,
        arn: format!("{arn}:*"),
        log_group_arn: arn,
        stored_bytes: g.stored_bytes,
        log_group_class: "STANDARD",
    }
}
