//! EC2 (Query, `Version=2016-11-15`, EC2's flavour): the lab's VPC, subnets, security groups
//! and route tables, built from the config and the Docker networks.

use crate::api::query::Params;
use crate::api::xml::Xml;
use crate::api::{ApiContext, ApiError};

/// Answers `action` with the inside of its `<{Action}Response>` (EC2 has no Result wrapper).
pub async fn call(_ctx: &ApiContext, action: &str, _params: &Params) -> Result<Xml, ApiError> {
    Err(ApiError::invalid_action(action))
}
