//! The ECS tier: task definitions become containers, and a controller per service keeps the
//! desired number of healthy tasks registered with the service's target group. The desired
//! count and commands (stop a task) reach a running controller through its [`ServiceHandle`].

pub mod breaker;
mod claims;
mod controller;
mod deployment;
pub mod environment;
mod handle;
pub mod history;
pub mod lifecycle;
pub mod logs;
pub mod lookup;
pub mod messages;
pub mod placement;
pub mod reconcile;
pub mod revisions;
mod status;
mod stopper;
pub mod task_secrets;
pub mod task_spec;
pub mod throttle;

pub use claims::Claims;
pub use controller::{HEALTH_CHECK_GRACE, ServiceSetup, now_rfc3339, now_rfc3339_millis, spawn};
pub use deployment::{DeploymentTarget, ServiceUpdate};
pub use handle::{DesiredCountError, MAX_DESIRED_COUNT, NotSteady, ServiceHandle, StopTaskError};
pub use lifecycle::{DesiredStatus, HealthStatus, LastStatus, RolloutState, StopCode};
pub use reconcile::STOPPED_BY_USER;
pub use revisions::{Revision, RevisionError, RevisionStatus, TaskDefinitions};
pub use status::{DeploymentStatus, ServiceEvent, ServiceStatus, TaskStatus};
pub use stopper::STOP_TIMEOUT;
