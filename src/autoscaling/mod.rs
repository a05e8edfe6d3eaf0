//! Application Auto Scaling for the lab's ECS services: scalable targets, target tracking
//! policies and their alarms, scaling activities, and the CloudWatch metrics they track.
//!
//! Map:
//! - [`model`]: the typed resources (targets, policies, activities, metrics) shared by the AWS
//!   API, `status` and the control API.
//! - [`store`]: [`AutoScaling`], the lab's state of them, checked and changed whole.
//! - [`alarm`]: the managed alarms (3 of 3 above the target, 15 of 15 below 90 % of it), pure.
//! - [`decision`]: target tracking's decision (proportional capacity, bounds, cooldowns,
//!   several policies, scale-in paused during deployments), pure.
//! - [`metrics`]: CPU, memory and requests per target from samples (pure), and their
//!   Prometheus text.
//! - [`scaler`]: the loop that measures each service once a datapoint period and applies the
//!   decision through the service's handle.

pub mod alarm;
pub mod decision;
pub mod metrics;
pub mod model;
pub mod scaler;
pub mod store;

pub use model::{
    AutoScalingStatus, ScalableTarget, ScalingActivity, ScalingPolicy, ServiceMetrics,
};
pub use store::{AutoScaling, PolicySpec, Registration, ScalingError};
