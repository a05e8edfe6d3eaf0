//! The ECS tier: task definitions become containers, and a controller per service keeps the
//! desired number of healthy tasks registered with the service's target group.

mod claims;
mod controller;
pub mod environment;
pub mod history;
pub mod logs;
pub mod reconcile;
mod status;
pub mod task_spec;
pub mod throttle;

pub use claims::Claims;
pub use controller::{NotSteady, ServiceHandle, ServiceSetup, now_rfc3339, spawn};
pub use status::{ServiceEvent, ServiceStatus, TaskStatus};
