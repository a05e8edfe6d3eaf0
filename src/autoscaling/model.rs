//! Application Auto Scaling's resources as one typed model, shared by the AWS API
//! (`describe-scalable-targets`, `describe-scaling-policies`, `describe-scaling-activities`),
//! `tierlab status` and its `--json`, and the control API.

use serde::{Deserialize, Serialize};

pub use crate::config::ScalingMetric;

use super::alarm::Alarms;

/// The only service namespace tierlab scales.
pub const ECS_NAMESPACE: &str = "ecs";
/// The only scalable dimension of an ECS service.
pub const DESIRED_COUNT: &str = "ecs:service:DesiredCount";

/// `service/CLUSTER/SERVICE`: an ECS service's `ResourceId`.
pub fn resource_id(cluster: &str, service: &str) -> String {
    format!("service/{cluster}/{service}")
}

/// A registered scalable target: an ECS service's desired count between min and max.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScalableTarget {
    pub cluster: String,
    pub service: String,
    pub min_capacity: u32,
    pub max_capacity: u32,
    /// `arn:aws:application-autoscaling:REGION:ACCOUNT:scalable-target/…`.
    pub arn: String,
    /// RFC 3339 with milliseconds.
    pub created_at: String,
    pub suspended: SuspendedState,
    /// Its scaling policies, in the order they were put.
    pub policies: Vec<ScalingPolicy>,
}

impl ScalableTarget {
    pub fn resource_id(&self) -> String {
        resource_id(&self.cluster, &self.service)
    }
}

/// `SuspendedState`: scaling a target is not doing, by direction.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SuspendedState {
    pub dynamic_scaling_in_suspended: bool,
    pub dynamic_scaling_out_suspended: bool,
    pub scheduled_scaling_suspended: bool,
}

/// A target tracking scaling policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScalingPolicy {
    pub name: String,
    /// `arn:aws:autoscaling:REGION:ACCOUNT:scalingPolicy:UUID:resource/ecs/service/C/S:policyName/NAME`.
    pub arn: String,
    pub metric: ScalingMetric,
    /// `ResourceLabel` of an `ALBRequestCountPerTarget` policy:
    /// `app/<lb>/<id>/targetgroup/<tg>/<id>`.
    pub resource_label: Option<String>,
    pub target_value: f64,
    pub scale_out_cooldown_seconds: u32,
    pub scale_in_cooldown_seconds: u32,
    pub disable_scale_in: bool,
    /// The CloudWatch alarms Application Auto Scaling made for it: `AlarmHigh`, then `AlarmLow`.
    pub alarms: [AlarmRef; 2],
    pub created_at: String,
}

/// A CloudWatch alarm by name and ARN.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AlarmRef {
    pub name: String,
    pub arn: String,
}

/// One scaling activity, as `describe-scaling-activities` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScalingActivity {
    /// A UUID.
    pub id: String,
    pub cluster: String,
    pub service: String,
    /// "Setting desired count to 3."
    pub description: String,
    /// "monitor alarm … in state ALARM triggered policy …", "minimum capacity was set to 2".
    pub cause: String,
    pub start_time: String,
    pub end_time: Option<String>,
    pub status_code: ActivityStatus,
    /// "Successfully set desired count to 3. Change successfully fulfilled by ecs."
    pub status_message: String,
}

/// `ScalingActivityStatusCode`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ActivityStatus {
    Pending,
    InProgress,
    Successful,
    Overridden,
    Unfulfilled,
    Failed,
}

/// The metrics of one service as CloudWatch would have them for the last datapoint, with the
/// state of each policy's alarms.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ServiceMetrics {
    pub cluster: String,
    pub service: String,
    /// The datapoint's length (1 s under the fast timing, 60 s under AWS's).
    pub period_seconds: u64,
    /// When the datapoint ended (RFC 3339).
    pub at: String,
    /// `ECSServiceAverageCPUUtilization`, percent of the CPU the tasks reserve (`None`: no
    /// task reported).
    pub cpu_utilization: Option<f64>,
    /// `ECSServiceAverageMemoryUtilization`, percent of the tasks' memory.
    pub memory_utilization: Option<f64>,
    /// `ALBRequestCountPerTarget`, requests per healthy target per minute (`None` without a
    /// load balancer or without healthy targets).
    pub request_count_per_target: Option<f64>,
    /// Tasks whose usage went into the averages.
    pub tasks_sampled: u32,
    /// Each policy's alarms after this datapoint.
    pub alarms: Vec<PolicyAlarms>,
}

impl ServiceMetrics {
    /// The value `metric` had in this datapoint.
    pub fn value(&self, metric: ScalingMetric) -> Option<f64> {
        match metric {
            ScalingMetric::Cpu => self.cpu_utilization,
            ScalingMetric::Memory => self.memory_utilization,
            ScalingMetric::AlbRequestCountPerTarget => self.request_count_per_target,
        }
    }
}

/// A policy's alarms.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PolicyAlarms {
    pub policy: String,
    #[serde(flatten)]
    pub alarms: Alarms,
}

/// Auto scaling as `tierlab status` shows it: targets (with policies), latest metrics, the
/// latest activities (newest first).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AutoScalingStatus {
    pub targets: Vec<ScalableTarget>,
    pub metrics: Vec<ServiceMetrics>,
    pub activities: Vec<ScalingActivity>,
}

/// The `ResourceLabel`s an `ALBRequestCountPerTarget` policy of `service` can name:
/// `app/<lb>/<id>/targetgroup/<tg>/<id>` for each load balancer forwarding to the service's
/// target group (none without a load balancer).
pub fn request_count_labels(config: &crate::config::Config, service: &str) -> Vec<String> {
    let Some(tg) = config
        .services
        .get(service)
        .and_then(|s| s.load_balancer.as_ref())
        .map(|l| l.target_group.as_str())
    else {
        return Vec::new();
    };
    config
        .load_balancers
        .values()
        .filter(|lb| {
            lb.listeners
                .iter()
                .flat_map(|l| l.actions())
                .any(|a| a.target_groups().contains(&tg))
        })
        .map(|lb| {
            format!(
                "{}/{}",
                crate::alb::arn::load_balancer_id(&lb.name),
                crate::alb::arn::target_group_id(tg)
            )
        })
        .collect()
}
