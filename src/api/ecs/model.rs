//! ECS's output shapes as botocore's model (`ecs/2014-11-13/service-2.json`) names them: the
//! members tierlab fills from the live lab. Timestamps are epoch seconds ([`Epoch`]); optional
//! members are left out rather than written as `null`, as ECS leaves them out.

use serde::Serialize;

use crate::api::json::Epoch;

/// `Failure`: an identifier that named nothing (`reason` "MISSING").
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub arn: String,
    pub reason: String,
}

impl Failure {
    pub fn missing(arn: String) -> Failure {
        Failure {
            arn,
            reason: "MISSING".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KeyValuePair {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    pub cluster_arn: String,
    pub cluster_name: String,
    pub status: String,
    pub registered_container_instances_count: u32,
    pub running_tasks_count: u32,
    pub pending_tasks_count: u32,
    pub active_services_count: u32,
    pub statistics: Vec<KeyValuePair>,
    pub tags: Vec<KeyValuePair>,
    pub settings: Vec<KeyValuePair>,
    pub capacity_providers: Vec<String>,
    pub default_capacity_provider_strategy: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    pub target_group_arn: String,
    pub container_name: String,
    pub container_port: u16,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConfiguration {
    pub awsvpc_configuration: AwsVpcConfiguration,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AwsVpcConfiguration {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub id: String,
    pub status: String,
    pub task_definition: String,
    pub desired_count: u32,
    pub pending_count: u32,
    pub running_count: u32,
    pub failed_tasks: u32,
    pub created_at: Epoch,
    pub updated_at: Epoch,
    pub launch_type: String,
    pub platform_version: String,
    pub platform_family: String,
    pub network_configuration: NetworkConfiguration,
    pub rollout_state: String,
    pub rollout_state_reason: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEvent {
    pub id: String,
    pub created_at: Epoch,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentController {
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub service_arn: String,
    pub service_name: String,
    pub cluster_arn: String,
    pub load_balancers: Vec<LoadBalancer>,
    pub service_registries: Vec<serde_json::Value>,
    pub status: String,
    pub desired_count: u32,
    pub running_count: u32,
    pub pending_count: u32,
    pub launch_type: String,
    pub platform_version: String,
    pub platform_family: String,
    pub task_definition: String,
    pub deployment_configuration: DeploymentConfiguration,
    pub deployments: Vec<Deployment>,
    /// Newest first, as ECS returns them.
    pub events: Vec<ServiceEvent>,
    pub created_at: Epoch,
    pub placement_constraints: Vec<serde_json::Value>,
    pub placement_strategy: Vec<serde_json::Value>,
    pub network_configuration: NetworkConfiguration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period_seconds: Option<u64>,
    pub scheduling_strategy: String,
    pub deployment_controller: DeploymentController,
    pub enable_ecs_managed_tags: bool,
    pub propagate_tags: String,
    pub enable_execute_command: bool,
    /// `ENABLED` or `DISABLED`.
    pub availability_zone_rebalancing: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentConfiguration {
    pub deployment_circuit_breaker: DeploymentCircuitBreaker,
    pub maximum_percent: u32,
    pub minimum_healthy_percent: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentCircuitBreaker {
    pub enable: bool,
    pub rollback: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub details: Vec<KeyValuePair>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterface {
    pub attachment_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_ipv4_address: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub container_arn: String,
    pub task_arn: String,
    pub name: String,
    pub image: String,
    pub runtime_id: String,
    pub last_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    pub network_bindings: Vec<serde_json::Value>,
    pub network_interfaces: Vec<NetworkInterface>,
    pub health_status: String,
    pub cpu: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContainerOverride {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaskOverride {
    pub container_overrides: Vec<ContainerOverride>,
    pub inference_accelerator_overrides: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EphemeralStorage {
    pub size_in_gi_b: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub attachments: Vec<Attachment>,
    pub availability_zone: String,
    pub cluster_arn: String,
    pub connectivity: String,
    pub connectivity_at: Epoch,
    pub containers: Vec<Container>,
    pub cpu: String,
    pub created_at: Epoch,
    pub desired_status: String,
    pub enable_execute_command: bool,
    pub group: String,
    pub health_status: String,
    pub last_status: String,
    pub launch_type: String,
    pub memory: String,
    pub overrides: TaskOverride,
    pub platform_version: String,
    pub platform_family: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Epoch>,
    pub started_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<Epoch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopping_at: Option<Epoch>,
    pub tags: Vec<KeyValuePair>,
    pub task_arn: String,
    pub task_definition_arn: String,
    pub version: u32,
    pub ephemeral_storage: EphemeralStorage,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    pub container_port: u16,
    pub host_port: u16,
    pub protocol: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    pub name: String,
    pub value_from: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LogConfiguration {
    pub log_driver: String,
    pub options: std::collections::BTreeMap<String, String>,
    pub secret_options: Vec<Secret>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDefinition {
    pub name: String,
    pub image: String,
    pub cpu: u32,
    pub port_mappings: Vec<PortMapping>,
    pub essential: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u64>,
    pub environment: Vec<KeyValuePair>,
    pub mount_points: Vec<serde_json::Value>,
    pub volumes_from: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    pub log_configuration: LogConfiguration,
    pub system_controls: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefinition {
    pub task_definition_arn: String,
    pub container_definitions: Vec<ContainerDefinition>,
    pub family: String,
    pub network_mode: String,
    pub revision: u32,
    pub volumes: Vec<serde_json::Value>,
    pub status: String,
    pub registered_at: Epoch,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deregistered_at: Option<Epoch>,
    pub requires_attributes: Vec<serde_json::Value>,
    pub placement_constraints: Vec<serde_json::Value>,
    pub compatibilities: Vec<String>,
    pub requires_compatibilities: Vec<String>,
    pub cpu: String,
    pub memory: String,
}
