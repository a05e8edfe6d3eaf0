//! [`ApiContext`]: what every operation reads the live lab through.

use std::sync::Arc;

use crate::lab::LabView;
use crate::registry::Registry;

/// Shared by every call of the API server (behind an `Arc`); cheap handles only, so an
/// operation never blocks another.
#[derive(Clone)]
pub struct ApiContext {
    /// The running lab: config, target groups, services, databases, load balancers, state dir.
    pub lab: LabView,
    /// ARNs and AWS-style ids of the lab's resources (stable across `down`/`up`).
    pub registry: Arc<Registry>,
}

impl ApiContext {
    pub fn new(lab: LabView) -> ApiContext {
        let registry = lab.registry().clone();
        ApiContext { lab, registry }
    }
}
