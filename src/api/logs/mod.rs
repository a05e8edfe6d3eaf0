//! CloudWatch Logs (`Logs_20140328.*`) over JSON 1.1: one entry point, one function per operation.

use crate::api::{ApiContext, ApiError};

/// Answers operation `op` with its output, or the service's error.
pub async fn call(
    _ctx: &ApiContext,
    op: &str,
    _body: &[u8],
) -> Result<serde_json::Value, ApiError> {
    Err(ApiError::unknown_operation(op))
}
