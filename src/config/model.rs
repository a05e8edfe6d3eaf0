//! The validated, typed topology. Everything outside `config/` reads only these types.
//!
//! Names are AWS's (load balancer, target group, service, task definition, DB instance) so that a
//! reader of the reference architecture recognises every field. Maps are keyed by the resource's
//! name and ordered (BTreeMap) so that output and start order are stable.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

/// A whole lab: one VPC with its load balancers, services and databases.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where the config was read from (used in messages and to resolve relative paths).
    pub source: PathBuf,
    /// Directory that relative paths in the file (build contexts, PEM files) are resolved against.
    pub base_dir: PathBuf,
    pub lab: LabSettings,
    pub vpc: Vpc,
    pub security_groups: BTreeMap<String, SecurityGroup>,
    pub load_balancers: BTreeMap<String, LoadBalancer>,
    pub target_groups: BTreeMap<String, TargetGroup>,
    pub clusters: Vec<String>,
    pub task_definitions: BTreeMap<String, TaskDefinition>,
    pub services: BTreeMap<String, Service>,
    pub databases: BTreeMap<String, Database>,
    /// `[bastions.NAME]`: SSH hosts in public subnets (EC2 instances of the reference).
    pub bastions: BTreeMap<String, Bastion>,
    /// `[secrets."NAME"]`: Secrets Manager secrets the lab creates at start when missing.
    pub secrets: BTreeMap<String, SecretSeed>,
    /// What loads but will not work as written (e.g. a service cut off from a database it
    /// refers to): shown by `validate` and logged by `up`, never an error.
    pub warnings: Vec<super::error::Diagnostic>,
    /// The text the config was read from: `tierlab apply` compares it key by key with a new
    /// version of the file, to name what changed as the file names it.
    pub text: std::sync::Arc<str>,
}

/// `[lab]`: settings of the emulator itself, not of the emulated AWS account.
#[derive(Debug, Clone, PartialEq)]
pub struct LabSettings {
    /// Lab name: prefix of every Docker object and value of the `tierlab.lab` label.
    pub name: String,
    /// Where generated secrets, the CA, logs and the control file live. `None`: the default
    /// (`$TIERLAB_STATE_DIR`, else `$XDG_STATE_HOME/tierlab`, else `~/.local/state/tierlab`).
    pub state_dir: Option<PathBuf>,
    /// How long `up` waits for the database and the first healthy tasks before giving up.
    pub start_timeout: Duration,
    /// Which limits timing settings (health-check interval and timeout) are checked against.
    pub profile: TimingProfile,
    /// `region`: the AWS region the lab stands for (ARNs, the AWS API's credential scope).
    pub region: String,
    /// `api-port`: the AWS API endpoint's port on 127.0.0.1 (0: any free port).
    pub api_port: u16,
    /// `api-auth`: who may call the AWS API.
    pub api_auth: ApiAuth,
    /// How long one datapoint of the metrics auto scaling tracks lasts: a minute (CloudWatch's
    /// period) with an explicit `profile = "aws"`, else seconds, so a demo scales within a minute.
    pub metric_timing: MetricTiming,
}

/// The period of the datapoints target tracking alarms evaluate (see [`LabSettings::metric_timing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricTiming {
    /// One datapoint a second: the high alarm fires after 3 s, the low one after 15 s.
    #[default]
    Fast,
    /// One datapoint a minute, as CloudWatch's ECS metrics: 3 and 15 minutes.
    Aws,
}

impl MetricTiming {
    /// The length of one datapoint.
    pub fn period(self) -> Duration {
        match self {
            MetricTiming::Fast => Duration::from_secs(1),
            MetricTiming::Aws => Duration::from_secs(60),
        }
    }
}

/// `[lab] api-auth`: how the AWS API checks its callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiAuth {
    /// `"sigv4"` (the default): every call must be signed (SigV4) with the lab's own
    /// credentials (`tierlab env`), as AWS checks signatures.
    #[default]
    SigV4,
    /// `"none"`: any credentials are accepted, for tools that hard-code `test`/`test`.
    None,
}

/// `[lab] profile`: the bounds timing settings are validated against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimingProfile {
    /// AWS's own limits (health-check interval 5s..=300s, timeout 2s..=120s). The default.
    #[default]
    Aws,
    /// Shorter health checks (interval >= 100ms, timeout >= 50ms) so demos and tests settle fast.
    Fast,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Vpc {
    pub name: String,
    pub cidr: Ipv4Net,
    pub subnets: BTreeMap<String, Subnet>,
    pub route_tables: BTreeMap<String, RouteTable>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subnet {
    pub name: String,
    pub cidr: Ipv4Net,
    pub availability_zone: String,
    pub route_table: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouteTable {
    pub name: String,
    /// Where `0.0.0.0/0` goes. Decides whether the subnet's Docker network may reach outside.
    pub default_route: DefaultRoute,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultRoute {
    /// Public subnet. The load balancer lives here; it runs in-process on the host.
    InternetGateway,
    /// Private subnet with outbound access: an ordinary (non-internal) Docker bridge network.
    NatGateway,
    /// Local VPC routes only: an `internal` Docker network with no host address.
    None,
}

/// An IPv4 network in CIDR notation, e.g. `10.0.3.0/24`. Always stored normalised (host bits zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecurityGroup {
    pub name: String,
    pub ingress: Vec<SgRule>,
    pub egress: Vec<SgRule>,
}

/// One security group rule. `ports: None` means all traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct SgRule {
    pub ports: Option<PortRange>,
    /// The other side: a CIDR or another security group.
    pub peer: SgPeer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub from: u16,
    pub to: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SgPeer {
    Cidr(Ipv4Net),
    Group(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoadBalancer {
    pub name: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub idle_timeout: Duration,
    pub listeners: Vec<Listener>,
    /// How long connecting to a target may take before the request fails with 504.
    pub connect_timeout: Duration,
    /// What happens to a client's `X-Forwarded-For` (AWS `routing.http.xff_header_processing.mode`).
    pub xff_header_processing_mode: XffMode,
    /// Whether tierlab hides failing targets from clients (retry, ejection) or behaves as AWS.
    pub mode: ProxyMode,
    /// `access-logs = { enabled, interval }`: ALB access log files under the lab's state dir.
    pub access_logs: AccessLogs,
    /// `metrics-port`: also serve this load balancer's Prometheus metrics on 127.0.0.1:PORT
    /// (0: any free port). `None`: only on the lab's control endpoint.
    pub metrics_port: Option<u16>,
    /// `first-byte-timeout` and `max-connections`: limits on client connections.
    pub connections: ClientConnections,
    /// `data-plane-threads`: the threads that serve this load balancer's clients, each with
    /// its own runtime, sockets and connections to targets. `None`: one per CPU.
    pub data_plane_threads: Option<NonZeroU32>,
}

impl LoadBalancer {
    /// How long a new client connection may stay silent (after accept, or after its TLS
    /// handshake) before it is closed: `first-byte-timeout`, else the idle timeout.
    pub fn first_byte_timeout(&self) -> Duration {
        self.connections
            .first_byte_timeout
            .unwrap_or(self.idle_timeout)
    }
}

/// Limits on a load balancer's client connections (tierlab's keys; AWS scales instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientConnections {
    /// `first-byte-timeout`: a connection that has not sent a byte of its first request by then
    /// is closed. `None`: the idle timeout, which is what ALB applies to a silent connection
    /// ("no data sent or received").
    pub first_byte_timeout: Option<Duration>,
    /// `max-connections`: open client connections beyond this are closed at once and counted
    /// as `RejectedConnectionCount`. `None`: 10,000, or fewer when the process's descriptor
    /// limit allows fewer (see `alb::load_balancer::DEFAULT_MAX_CONNECTIONS`, `alb::limits`).
    pub max_connections: Option<NonZeroU32>,
}

/// ALB access logs (AWS attribute `access_logs.s3.enabled`), written as plain text files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessLogs {
    /// Off by default, as on AWS.
    pub enabled: bool,
    /// One file per interval (AWS: every 5 minutes).
    pub interval: Duration,
}

impl Default for AccessLogs {
    fn default() -> Self {
        AccessLogs {
            enabled: false,
            interval: Duration::from_secs(300),
        }
    }
}

/// `xff-header-processing-mode`: AWS's `routing.http.xff_header_processing.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XffMode {
    /// Add the client's address to the end of the header (AWS's default).
    #[default]
    Append,
    /// Pass the header on exactly as the client sent it (or leave it out).
    Preserve,
    /// Remove the header before sending the request to the target.
    Remove,
}

/// `mode` of a load balancer: tierlab's own resilience, or exactly what AWS does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxyMode {
    /// Retry a request on another target when the first one certainly did not process it, and
    /// eject failing targets at once (passive outlier detection). The default.
    #[default]
    Tierlab,
    /// No retries and no passive ejection: clients see the 502s AWS would send.
    Aws,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Listener {
    pub protocol: ListenerProtocol,
    /// Host address the listener binds. Loopback by default; the ALB is "internet-facing" only
    /// to this machine.
    pub bind: SocketAddr,
    /// Certificate for HTTPS listeners (the default one, sent when SNI matches no other).
    /// `None` for HTTP.
    pub certificate: Option<Certificate>,
    /// Listener rules, sorted by ascending priority; the default action applies when none match.
    pub rules: Vec<ListenerRule>,
    /// More certificates, chosen by SNI (AWS's listener certificate list). Empty for HTTP.
    pub additional_certificates: Vec<Certificate>,
    /// TLS versions offered by an HTTPS listener (AWS's security policy).
    pub ssl_policy: SslPolicy,
    pub default_action: Action,
}

/// An HTTPS listener's security policy: which TLS versions it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslPolicy {
    /// `ELBSecurityPolicy-TLS13-1-2-2021-06`: TLS 1.2 and 1.3 (AWS's default for new listeners).
    #[default]
    Tls13And12,
    /// `ELBSecurityPolicy-TLS13-1-3-2021-06`: TLS 1.3 only.
    Tls13Only,
}

impl SslPolicy {
    /// Every supported policy, by AWS name.
    pub const ALL: [SslPolicy; 2] = [SslPolicy::Tls13And12, SslPolicy::Tls13Only];

    /// The policy's AWS name.
    pub fn name(self) -> &'static str {
        match self {
            SslPolicy::Tls13And12 => "ELBSecurityPolicy-TLS13-1-2-2021-06",
            SslPolicy::Tls13Only => "ELBSecurityPolicy-TLS13-1-3-2021-06",
        }
    }
}

impl Listener {
    pub fn port(&self) -> u16 {
        self.bind.port()
    }

    /// Every action of the listener: its rules' in priority order, then the default action.
    pub fn actions(&self) -> impl Iterator<Item = &Action> {
        self.rules
            .iter()
            .map(|r| &r.action)
            .chain(std::iter::once(&self.default_action))
    }
}

/// One listener rule: when every condition matches, the action applies.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerRule {
    /// 1..=50000, unique per listener; lower is evaluated first.
    pub priority: u32,
    /// All must match (AND); each lists values of which one must match (OR).
    pub conditions: Vec<Condition>,
    pub action: Action,
}

/// A rule condition, as ALB's. Patterns may use `*` (any run) and `?` (one character).
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `Host` (or `:authority`) without its port; case-insensitive.
    HostHeader(Vec<String>),
    /// The URL path (no query string); case-sensitive.
    PathPattern(Vec<String>),
    /// A header by name; its values compared case-insensitively.
    HttpHeader { name: String, values: Vec<String> },
    /// Exact, case-sensitive method names (`GET`, `POST`, ...).
    HttpRequestMethod(Vec<String>),
    /// Query pairs; a pair without key matches any key. Case-insensitive.
    QueryString(Vec<QueryPattern>),
    /// The client's address (not `X-Forwarded-For`).
    SourceIp(Vec<IpNet>),
}

/// One `{ key, value }` of a query-string condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryPattern {
    pub key: Option<String>,
    pub value: String,
}

/// An IPv4 or IPv6 network in CIDR notation, host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    /// Whether `ip` lies in this network (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(ip) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(ip) & mask == u128::from(net)
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerProtocol {
    Http,
    Https,
}

impl ListenerProtocol {
    /// The scheme as written in URLs and `X-Forwarded-Proto`.
    pub fn scheme(self) -> &'static str {
        match self {
            ListenerProtocol::Http => "http",
            ListenerProtocol::Https => "https",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Certificate {
    /// Issued by tierlab's local CA for these DNS names / IP addresses.
    LocalCa { hostnames: Vec<String> },
    /// User-supplied PEM files.
    Files { cert: PathBuf, key: PathBuf },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Forward {
        target_group: String,
    },
    /// Forward to several target groups by weight (ALB's `ForwardConfig`).
    WeightedForward(WeightedForward),
    Redirect(Redirect),
    FixedResponse(FixedResponse),
}

impl Action {
    /// The target groups this action may send to.
    pub fn target_groups(&self) -> Vec<&str> {
        match self {
            Action::Forward { target_group } => vec![target_group.as_str()],
            Action::WeightedForward(w) => w.target_groups.iter().map(|t| t.name.as_str()).collect(),
            Action::Redirect(_) | Action::FixedResponse(_) => Vec::new(),
        }
    }
}

/// `target-groups = [{ name, weight }]` with optional group stickiness.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedForward {
    pub target_groups: Vec<WeightedTargetGroup>,
    /// `group-stickiness`: how long a client stays on the group it was sent to (`AWSALBTG`).
    pub stickiness: Option<Duration>,
}

/// One target group of a weighted forward, weight 0..=999 (0: gets nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedTargetGroup {
    pub name: String,
    pub weight: u32,
}

/// ALB's fixed-response action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedResponse {
    /// 2XX, 4XX or 5XX.
    pub status: u16,
    /// One of ALB's content types; `None` sends no `Content-Type`.
    pub content_type: Option<String>,
    /// At most 1024 bytes.
    pub body: String,
}

/// ALB's redirect action. `None` fields keep the request's value (`#{protocol}`, `#{port}`, ...).
/// `host`, `path` and `query` may hold the `#{...}` placeholders themselves.
#[derive(Debug, Clone, PartialEq)]
pub struct Redirect {
    pub protocol: Option<ListenerProtocol>,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// Starts with `/`; `None` is `#{path}`.
    pub path: Option<String>,
    /// Without the leading `?`; `None` is `#{query}`.
    pub query: Option<String>,
    pub status: RedirectStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectStatus {
    Permanent301,
    Found302,
}

impl RedirectStatus {
    pub fn code(self) -> u16 {
        match self {
            RedirectStatus::Permanent301 => 301,
            RedirectStatus::Found302 => 302,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TargetGroup {
    pub name: String,
    /// Port the targets listen on (the container port for service tasks).
    pub port: u16,
    pub health_check: HealthCheck,
    /// How long a deregistered target keeps its in-flight requests.
    pub deregistration_delay: Duration,
    /// Targets registered by address (AWS target type `ip`), besides any service's tasks.
    pub static_targets: Vec<SocketAddr>,
    /// Consecutive 5xx answers (the target's or the load balancer's 502/504 for it) after which
    /// a target is ejected until its health checks pass again. 0 disables. tierlab mode only.
    pub outlier_consecutive_5xx: u32,
    /// How the group picks a target for each request.
    pub algorithm: Algorithm,
    /// Ramp-up of a newly healthy target's share; zero is off.
    pub slow_start: Duration,
    /// `lb_cookie` stickiness: how long the `AWSALB` cookie keeps a client on its target.
    pub stickiness: Option<Duration>,
}

/// `load-balancing-algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// `round_robin`, AWS's default.
    #[default]
    RoundRobin,
    /// `least_outstanding_requests`: the target with the fewest requests in flight.
    LeastOutstandingRequests,
    /// `weighted_random`: random, weighted (by the slow-start ramp only; all weights equal
    /// otherwise, as on AWS without anomaly mitigation).
    WeightedRandom,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    pub matcher: Matcher,
}

/// HTTP codes that count as healthy: a list of single codes and ranges (`200,202`, `200-299`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub ranges: Vec<(u16, u16)>,
}

impl Matcher {
    pub fn matches(&self, status: u16) -> bool {
        self.ranges
            .iter()
            .any(|&(lo, hi)| lo <= status && status <= hi)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskDefinition {
    pub family: String,
    /// CPU units, 1024 = one vCPU (Fargate's 256 = 0.25 vCPU).
    pub cpu: u32,
    /// Memory in MiB.
    pub memory_mib: u32,
    pub container: ContainerDefinition,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContainerDefinition {
    pub name: String,
    pub image: String,
    /// Build context (resolved to an absolute path) used when the image is missing.
    pub build: Option<PathBuf>,
    pub container_port: u16,
    /// ECS's `command`: replaces the image's CMD (its ENTRYPOINT stays); `None` keeps the CMD.
    pub command: Option<Vec<String>>,
    /// Environment, with `${...}` references still unresolved (see `ecs::environment`).
    pub environment: BTreeMap<String, String>,
    /// ECS's `secrets`: variables whose values come from Secrets Manager or the Parameter
    /// Store when a task starts (see `ecs::task_secrets`); never in the container's `Env`.
    pub secrets: Vec<ContainerSecret>,
    pub log_group: String,
    pub log_stream_prefix: String,
    /// ECS's `stopTimeout`: SIGKILL this long after SIGTERM; `None` is ECS's default, 30 s.
    pub stop_timeout: Option<Duration>,
}

/// One of a container's `secrets`: the variable and where its value comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSecret {
    pub name: String,
    /// As written (an ARN or a parameter name): what `describe-task-definition` shows.
    pub value_from: String,
    pub reference: crate::secrets::reference::Reference,
}

/// `[secrets."NAME"]`: a secret the lab creates with `value` (its `${...}` placeholders
/// rendered) when the store has none of that name; an existing one is never overwritten.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretSeed {
    pub name: String,
    pub description: Option<String>,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    pub cluster: String,
    pub task_definition: String,
    pub desired_count: u32,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub load_balancer: Option<ServiceLoadBalancer>,
    /// `allow-zero-tasks = true`: `desired-count = 0` is intended (a scaled-down service).
    pub allow_zero_tasks: bool,
    /// How a new deployment replaces the tasks (ECS's `deploymentConfiguration`).
    pub deployment: DeploymentConfiguration,
    /// `health-check-grace-period-seconds`: how long a new task's failed ELB health checks are
    /// ignored; `None` keeps tierlab's default (`ecs::HEALTH_CHECK_GRACE`).
    pub health_check_grace_period: Option<Duration>,
    /// `[services.NAME.auto-scaling]`: the service as a scalable target of Application Auto
    /// Scaling with its target tracking policies, registered when the lab starts.
    pub auto_scaling: Option<ServiceAutoScaling>,
    /// ECS's `availabilityZoneRebalancing` (ENABLED by default for a new service): after an
    /// availability zone comes back, tasks are moved until they are spread evenly again.
    pub availability_zone_rebalancing: bool,
}

/// ECS's `deploymentConfiguration` of a rolling (`ECS`) deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeploymentConfiguration {
    /// Tasks that must stay healthy during a deployment, in percent of the desired count
    /// (rounded up). ECS's default: 100.
    pub minimum_healthy_percent: u32,
    /// Most tasks (RUNNING or PENDING) during a deployment, in percent of the desired count
    /// (rounded down). ECS's default: 200.
    pub maximum_percent: u32,
    pub circuit_breaker: CircuitBreaker,
}

/// ECS's `deploymentCircuitBreaker` (off by default, as in ECS).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CircuitBreaker {
    pub enable: bool,
    pub rollback: bool,
}

impl Default for DeploymentConfiguration {
    fn default() -> Self {
        DeploymentConfiguration {
            minimum_healthy_percent: 100,
            maximum_percent: 200,
            circuit_breaker: CircuitBreaker::default(),
        }
    }
}

impl DeploymentConfiguration {
    /// Checks the percentages (the API's and the config's rule, worded with ECS's names).
    pub fn check(&self) -> Result<(), String> {
        let (min, max) = (self.minimum_healthy_percent, self.maximum_percent);
        if min > 100 {
            return Err(format!(
                "minimumHealthyPercent ({min}) must be between 0 and 100"
            ));
        }
        if !(100..=200).contains(&max) {
            return Err(format!(
                "maximumPercent ({max}) must be between 100 and 200 (tierlab's bounds for a rolling deployment)"
            ));
        }
        if min == 100 && max == 100 {
            return Err("minimumHealthyPercent 100 with maximumPercent 100 leaves no room to start or stop a task, so a deployment could never proceed".into());
        }
        Ok(())
    }
}

/// `[services.NAME.auto-scaling]`: what `register-scalable-target` and `put-scaling-policy`
/// would set.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceAutoScaling {
    pub min_capacity: u32,
    pub max_capacity: u32,
    pub policies: Vec<TargetTrackingPolicy>,
}

/// `[[services.NAME.auto-scaling.policies]]`: a target tracking scaling policy.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetTrackingPolicy {
    pub name: String,
    pub metric: ScalingMetric,
    /// The value the metric is kept at (percent for utilisation, requests per target per minute).
    pub target_value: f64,
    /// Application Auto Scaling's `ScaleOutCooldown` (300 s for ECS when not given).
    pub scale_out_cooldown: Duration,
    pub scale_in_cooldown: Duration,
    pub disable_scale_in: bool,
}

/// The predefined metrics a target tracking policy of an ECS service can track (serialised by
/// their AWS names, as the status and the API show them).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum ScalingMetric {
    /// `ECSServiceAverageCPUUtilization`: CPU used ÷ CPU reserved (task `cpu` units), percent.
    #[serde(rename = "ECSServiceAverageCPUUtilization")]
    Cpu,
    /// `ECSServiceAverageMemoryUtilization`: memory used ÷ task `memory`, percent.
    #[serde(rename = "ECSServiceAverageMemoryUtilization")]
    Memory,
    /// `ALBRequestCountPerTarget`: requests to the service's target group per healthy target
    /// per minute.
    #[serde(rename = "ALBRequestCountPerTarget")]
    AlbRequestCountPerTarget,
}

impl ScalingMetric {
    pub const ALL: [ScalingMetric; 3] = [
        ScalingMetric::Cpu,
        ScalingMetric::Memory,
        ScalingMetric::AlbRequestCountPerTarget,
    ];

    /// Application Auto Scaling's `PredefinedMetricType`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScalingMetric::Cpu => "ECSServiceAverageCPUUtilization",
            ScalingMetric::Memory => "ECSServiceAverageMemoryUtilization",
            ScalingMetric::AlbRequestCountPerTarget => "ALBRequestCountPerTarget",
        }
    }

    pub fn parse(text: &str) -> Option<ScalingMetric> {
        ScalingMetric::ALL.into_iter().find(|m| m.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceLoadBalancer {
    pub target_group: String,
    pub container_name: String,
    pub container_port: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Database {
    pub identifier: String,
    /// `mysql` (RDS's engine name). Served by MariaDB where MySQL 8 images cannot be had.
    pub engine: String,
    pub engine_version: String,
    pub instance_class: String,
    pub image: String,
    pub build: Option<PathBuf>,
    pub db_name: String,
    pub master_username: String,
    pub port: u16,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub allocated_storage_gib: NonZeroU32,
    pub backup_retention_days: u32,
    /// `preferred-backup-window` (`hh24:mi-hh24:mi`, UTC), checked; `None`: RDS's default for
    /// the region (see `rds::backups::BackupWindow::default_for`).
    pub preferred_backup_window: Option<String>,
    /// `storage-encrypted`: MariaDB data-at-rest encryption with a key in the state directory.
    pub storage_encrypted: bool,
    pub multi_az: bool,
    /// `failover`: how long a Multi-AZ failover takes before the endpoint moves.
    pub failover: FailoverTiming,
    /// `read-replicas`: identifiers of the read replicas created from this instance at `up`
    /// (each an instance of its own, with this instance's settings; see
    /// [`Database::read_replica_source`]). Empty for a replica.
    pub read_replicas: Vec<String>,
    /// For a read replica, the instance it replicates from (RDS's
    /// `ReadReplicaSourceDBInstanceIdentifier`); `None` for any other instance, and once a
    /// replica is promoted.
    pub read_replica_source: Option<String>,
    /// Host CPU/memory limits derived from the instance class.
    pub cpu: u32,
    pub memory_mib: u32,
}

/// `[bastions.NAME]`: the reference's bastion host, an EC2 instance in a public subnet with an
/// SSH server, reached with a key pair tierlab generates (`<key-name>.pem`).
#[derive(Debug, Clone, PartialEq)]
pub struct Bastion {
    /// The instance's `Name` tag (`flask-bastion-host`); also its host name.
    pub name: String,
    /// A public subnet (route table to the internet gateway).
    pub subnet: String,
    pub security_groups: Vec<String>,
    /// The key pair (`bastion-key`): its private key is `<key-name>.pem` in the state directory.
    pub key_name: String,
    /// EC2 instance type (`t2.micro` by default, as in the reference).
    pub instance_type: String,
    pub image: String,
    /// Build context used when the image is missing.
    pub build: Option<PathBuf>,
    /// Host CPU (units, 1024 = 1 vCPU) and memory (MiB) limits from the instance type.
    pub cpu: u32,
    pub memory_mib: u32,
}

/// `[databases.ID] failover`: the timing of a Multi-AZ failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailoverTiming {
    /// As fast as it can safely be (the standby is promoted and the endpoint moved at once).
    #[default]
    Fast,
    /// As RDS: the endpoint moves about 60 s after the failover starts.
    Aws,
}

/// Default bind address for listeners: loopback only.
pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
