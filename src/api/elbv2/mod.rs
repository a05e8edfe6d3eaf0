//! Elastic Load Balancing v2 (Query, `Version=2015-12-01`): one entry point, one function per action.

use crate::api::query::Params;
use crate::api::xml::Xml;
use crate::api::{ApiContext, ApiError};

/// Answers `action` with the inside of its `<{Action}Result>`, or the service's error.
pub async fn call(_ctx: &ApiContext, action: &str, _params: &Params) -> Result<Xml, ApiError> {
    Err(ApiError::invalid_action(action))
}
