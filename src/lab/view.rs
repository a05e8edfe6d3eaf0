//! Read access to a [`LabView`] for the AWS API's operations (`crate::api`): the live handles,
//! looked up by the names the config gives them.

use std::sync::Arc;

use super::status::{AlbStatus, LabView};
use crate::alb::TargetGroupHandle;
use crate::config::Config;
use crate::ecs::ServiceHandle;
use crate::rds::DbInstance;
use crate::state::StateDir;

impl LabView {
    /// The validated configuration the lab was started from (desired state that commands change
    /// lives in the handles, not here).
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The state directory (secrets, logs, resource ids).
    pub fn state_dir(&self) -> &StateDir {
        &self.state
    }

    /// The load balancers as they run (names, listener addresses).
    pub fn load_balancers(&self) -> &[AlbStatus] {
        &self.load_balancers
    }

    pub fn target_groups(&self) -> &[TargetGroupHandle] {
        &self.target_groups
    }

    pub fn target_group(&self, name: &str) -> Option<&TargetGroupHandle> {
        self.target_groups.iter().find(|tg| tg.name() == name)
    }

    pub fn services(&self) -> &[ServiceHandle] {
        &self.services
    }

    pub fn service(&self, name: &str) -> Option<&ServiceHandle> {
        self.services.iter().find(|s| s.name() == name)
    }

    pub fn databases(&self) -> &[DbInstance] {
        &self.databases
    }

    pub fn database(&self, identifier: &str) -> Option<&DbInstance> {
        self.databases.iter().find(|db| db.identifier == identifier)
    }
}
