//! The file as written: serde structs that mirror `emulator.toml` key for key (kebab-case,
//! unknown keys refused). Values that need checking beyond their TOML type (durations, CIDRs,
//! enums, ports) stay strings or i64 here so that `validate` can name the key and the value.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct File {
    pub lab: Lab,
    pub vpc: Vpc,
    #[serde(default)]
    pub security_groups: BTreeMap<String, SecurityGroup>,
    #[serde(default)]
    pub load_balancers: BTreeMap<String, LoadBalancer>,
    #[serde(default)]
    pub target_groups: BTreeMap<String, TargetGroup>,
    #[serde(default)]
    pub clusters: BTreeMap<String, Cluster>,
    #[serde(default)]
    pub task_definitions: BTreeMap<String, TaskDefinition>,
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    #[serde(default)]
    pub databases: BTreeMap<String, Database>,
    #[serde(default)]
    pub bastions: BTreeMap<String, Bastion>,
    /// `[secrets."NAME"]`: Secrets Manager secrets the lab creates when they do not exist yet.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretSeed>,
}

/// `[secrets."NAME"]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SecretSeed {
    pub value: String,
    pub description: Option<String>,
}

/// One of a container's `secrets = [{ name, value-from }]` (ECS's `secrets`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ContainerSecret {
    pub name: String,
    pub value_from: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Lab {
    pub name: String,
    pub state_dir: Option<String>,
    pub start_timeout: Option<String>,
    pub profile: Option<String>,
    pub region: Option<String>,
    pub api_port: Option<i64>,
    pub api_auth: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Vpc {
    pub name: String,
    pub cidr: String,
    #[serde(default)]
    pub route_tables: BTreeMap<String, RouteTable>,
    #[serde(default)]
    pub subnets: BTreeMap<String, Subnet>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RouteTable {
    pub default_route: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Subnet {
    pub cidr: String,
    pub availability_zone: String,
    pub route_table: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SecurityGroup {
    #[serde(default)]
    pub ingress: Vec<Ingress>,
    #[serde(default)]
    pub egress: Vec<Egress>,
}

/// `{ port = 8000, from = "alb-sg" }`; no `port`/`ports` means all traffic.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Ingress {
    pub port: Option<i64>,
    pub ports: Option<String>,
    pub from: String,
}

/// `{ port = 3306, to = "db-sg" }`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Egress {
    pub port: Option<i64>,
    pub ports: Option<String>,
    pub to: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LoadBalancer {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub idle_timeout: Option<String>,
    #[serde(default)]
    pub listeners: Vec<Listener>,
    pub connect_timeout: Option<String>,
    pub xff_header_processing_mode: Option<String>,
    pub mode: Option<String>,
    pub access_logs: Option<AccessLogs>,
    pub metrics_port: Option<i64>,
    pub first_byte_timeout: Option<String>,
    pub max_connections: Option<i64>,
    pub data_plane_threads: Option<i64>,
}

/// `access-logs = { enabled = true, interval = "5m" }`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AccessLogs {
    pub enabled: Option<bool>,
    pub interval: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Listener {
    pub protocol: String,
    pub port: i64,
    pub bind_address: Option<String>,
    pub certificate: Option<Certificate>,
    /// `rules = [{ priority, conditions, action }]` (or `[[...listeners.rules]]` tables).
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Several certificates chosen by SNI; the first is the default. Excludes `certificate`.
    pub certificates: Option<Vec<Certificate>>,
    pub ssl_policy: Option<String>,
    pub default_action: Action,
}

/// One listener rule as written.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Rule {
    pub priority: i64,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    pub action: Action,
}

/// One condition, keyed by its field: `{ path-pattern = ["/api/*"] }`,
/// `{ http-header = { name = "X-Env", values = ["beta"] } }`,
/// `{ query-string = [{ key = "v", value = "2" }] }`, ... Exactly one key is checked in
/// `validate`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Condition {
    pub host_header: Option<Vec<String>>,
    pub path_pattern: Option<Vec<String>>,
    pub http_header: Option<HttpHeaderCondition>,
    pub http_request_method: Option<Vec<String>>,
    pub query_string: Option<Vec<QueryStringPair>>,
    pub source_ip: Option<Vec<String>>,
}

/// `{ name = "User-Agent", values = ["*Mobile*"] }`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct HttpHeaderCondition {
    pub name: String,
    pub values: Vec<String>,
}

/// `{ key = "version", value = "v1" }`; `key` optional.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct QueryStringPair {
    pub key: Option<String>,
    pub value: String,
}

/// `{ hostnames = [...] }` (local CA), `{ cert-file, key-file }` (PEM files), or `{}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Certificate {
    pub hostnames: Option<Vec<String>>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
}

/// `{ type = "forward", target-group = ... }`, `{ type = "forward", target-groups = [{ name,
/// weight }], group-stickiness = "1h" }`, `{ type = "redirect", protocol, port, host, path, query,
/// status-code }` or `{ type = "fixed-response", status-code = "503", content-type,
/// message-body }`; which keys belong to which type is checked in `validate`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Action {
    #[serde(rename = "type")]
    pub kind: String,
    pub target_group: Option<String>,
    pub target_groups: Option<Vec<WeightedTargetGroup>>,
    pub group_stickiness: Option<String>,
    pub protocol: Option<String>,
    pub port: Option<i64>,
    pub host: Option<String>,
    pub path: Option<String>,
    pub query: Option<String>,
    pub status_code: Option<String>,
    pub content_type: Option<String>,
    pub message_body: Option<String>,
}

/// `{ name = "blue-tg", weight = 80 }`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct WeightedTargetGroup {
    pub name: String,
    pub weight: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TargetGroup {
    pub protocol: Option<String>,
    pub port: i64,
    pub target_type: Option<String>,
    pub deregistration_delay: Option<String>,
    #[serde(default)]
    pub targets: Vec<String>,
    /// `"round_robin"` (default), `"least_outstanding_requests"` or `"weighted_random"`.
    pub load_balancing_algorithm: Option<String>,
    /// `"0s"` (off, default) or 30s..=900s.
    pub slow_start: Option<String>,
    pub stickiness: Option<Stickiness>,
    #[serde(default)]
    pub health_check: HealthCheck,
    pub outlier_consecutive_5xx: Option<i64>,
}

/// `{ enabled = true, type = "lb_cookie", duration = "1d" }`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Stickiness {
    pub enabled: bool,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub duration: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct HealthCheck {
    pub path: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub healthy_threshold: Option<i64>,
    pub unhealthy_threshold: Option<i64>,
    pub matcher: Option<String>,
}

/// `[clusters.NAME]`: an ECS cluster has no settings here; the table only names it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TaskDefinition {
    pub cpu: i64,
    pub memory: i64,
    pub container: Container,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Container {
    pub name: String,
    pub image: String,
    pub build: Option<String>,
    pub port: i64,
    /// ECS's `command`: replaces the image's CMD (the entrypoint stays).
    pub command: Option<Vec<String>>,
    pub log_group: Option<String>,
    pub log_stream_prefix: Option<String>,
    /// ECS's `stopTimeout` (`"30s"`; at most 120 s, as on Fargate).
    pub stop_timeout: Option<String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub secrets: Vec<ContainerSecret>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Service {
    pub cluster: String,
    pub task_definition: String,
    pub desired_count: i64,
    #[serde(default)]
    pub allow_zero_tasks: bool,
    /// `ENABLED` (the default, as for a new ECS service) or `DISABLED`.
    pub availability_zone_rebalancing: Option<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub load_balancer: Option<ServiceLoadBalancer>,
    pub minimum_healthy_percent: Option<i64>,
    pub maximum_percent: Option<i64>,
    pub health_check_grace_period_seconds: Option<i64>,
    pub deployment_circuit_breaker: Option<CircuitBreaker>,
    pub auto_scaling: Option<AutoScaling>,
}

/// `deployment-circuit-breaker = { enable = true, rollback = true }`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CircuitBreaker {
    pub enable: bool,
    pub rollback: bool,
}

/// `[services.NAME.auto-scaling]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AutoScaling {
    pub min_capacity: i64,
    pub max_capacity: i64,
    #[serde(default)]
    pub policies: Vec<ScalingPolicy>,
}

/// `[[services.NAME.auto-scaling.policies]]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ScalingPolicy {
    pub name: String,
    pub metric: String,
    pub target_value: f64,
    pub scale_out_cooldown: Option<String>,
    pub scale_in_cooldown: Option<String>,
    #[serde(default)]
    pub disable_scale_in: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ServiceLoadBalancer {
    pub target_group: String,
    pub container_name: String,
    pub container_port: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Database {
    pub engine: String,
    pub engine_version: Option<String>,
    pub instance_class: String,
    pub image: String,
    pub build: Option<String>,
    pub db_name: String,
    pub master_username: String,
    pub port: Option<i64>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub allocated_storage: i64,
    pub backup_retention_period: Option<i64>,
    pub preferred_backup_window: Option<String>,
    pub storage_encrypted: Option<bool>,
    pub multi_az: Option<bool>,
    pub failover: Option<String>,
    pub read_replicas: Option<Vec<String>>,
}

/// `[bastions.NAME]`: an EC2 instance in a public subnet that admins SSH into (the reference's
/// `flask-bastion-host`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Bastion {
    pub subnet: String,
    pub security_groups: Vec<String>,
    pub key_name: String,
    pub instance_type: Option<String>,
    pub image: Option<String>,
    pub build: Option<String>,
}
