//! [`ApiContext`]: what every operation reads the live lab through.

use crate::lab::LabView;

/// Shared by every call of the API server (behind an `Arc`); cheap handles only, so an
/// operation never blocks another.
#[derive(Clone)]
pub struct ApiContext {
    /// The running lab: config, target groups, services, databases, load balancers, state dir.
    pub lab: LabView,
    // TODO(registry): `pub registry: Arc<crate::registry::Registry>` (ARNs and stable ids) once
    // the coordinator's registry lands on main.
}

impl ApiContext {
    pub fn new(lab: LabView) -> ApiContext {
        ApiContext { lab }
    }
}
