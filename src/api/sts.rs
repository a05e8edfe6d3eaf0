//! STS (Query, `Version=2011-06-15`): who the caller is.

use crate::api::query::Params;
use crate::api::xml::Xml;
use crate::api::{ApiContext, ApiError};

/// Answers `action` with the inside of its `<{Action}Result>`.
pub async fn call(_ctx: &ApiContext, action: &str, _params: &Params) -> Result<Xml, ApiError> {
    Err(ApiError::invalid_action(action))
}
