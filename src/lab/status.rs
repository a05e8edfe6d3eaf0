//! The lab's state as one set of serde models: the control API serialises [`LabStatus`], the CLI
//! reads it back into the same types and renders the table and `--json` from its fields.

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::alb::{LoadBalancerMetrics, TargetDescription, TargetGroupHandle};
use crate::config::Config;
use crate::ecs::{ServiceHandle, ServiceStatus};
use crate::rds::read_replica::{ReplicaObserved, ReplicationState};
use crate::rds::{self, DbInstance, InstanceStatus, RdsEvent};
use crate::registry::Registry;
use crate::state::StateDir;

/// What the status is computed from; cheap to clone (handles and `Arc`s).
#[derive(Clone)]
pub struct LabView {
    pub(super) config: Arc<Config>,
    pub(super) registry: Arc<Registry>,
    pub(super) state: StateDir,
    pub(super) load_balancers: Vec<AlbStatus>,
    pub(super) target_groups: Vec<TargetGroupHandle>,
    pub(super) services: Vec<ServiceHandle>,
    pub(super) databases: super::Databases,
    pub(super) bastions: Vec<crate::bastion::BastionHandle>,
    pub(super) security_groups: crate::vpc::LiveGroups,
    pub(super) task_definitions: crate::ecs::TaskDefinitions,
    pub(super) zones: crate::vpc::ZoneHealth,
    pub(super) docker: Option<crate::docker::DockerClient>,
    pub(super) metrics: Vec<Arc<LoadBalancerMetrics>>,
    pub(super) orphans: tokio::sync::watch::Receiver<OrphanStatus>,
    pub(super) aws: Option<AwsStatus>,
    pub(super) secrets: crate::secrets::SecretStore,
    pub(super) autoscaling: crate::autoscaling::AutoScaling,
    /// The config as last applied (`tierlab apply`).
    pub(super) applied: super::apply::AppliedConfig,
    /// The faults active now (`tierlab chaos`).
    pub(super) chaos: crate::chaos::ChaosBook,
}

impl LabView {
    /// The validated configuration the lab was started from (desired state that can change at
    /// run time lives in the controllers' handles, not here).
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// ARNs and AWS-style ids of the lab's resources.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The state directory (logs, secrets).
    pub fn state_dir(&self) -> &StateDir {
        &self.state
    }

    /// The lab's Secrets Manager and Parameter Store.
    pub fn secrets(&self) -> &crate::secrets::SecretStore {
        &self.secrets
    }

    /// The load balancers as they run (listeners and their bound addresses).
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

    /// Application Auto Scaling of the services: targets, policies, activities, metrics.
    pub fn autoscaling(&self) -> &crate::autoscaling::AutoScaling {
        &self.autoscaling
    }

    /// The DB instances as they are now.
    pub fn databases(&self) -> Vec<DbInstance> {
        self.databases.list()
    }

    pub fn database(&self, identifier: &str) -> Option<DbInstance> {
        self.databases.get(identifier)
    }

    /// The RDS tier: its instances, and starting more (the API's create and restore actions).
    pub fn rds(&self) -> &super::Databases {
        &self.databases
    }

    pub fn bastions(&self) -> &[crate::bastion::BastionHandle] {
        &self.bastions
    }

    /// The security groups as they are now (the EC2 API changes them at run time).
    pub fn security_groups(&self) -> &crate::vpc::LiveGroups {
        &self.security_groups
    }

    /// Task definition revisions (`register-task-definition` adds to them).
    pub fn task_definitions(&self) -> &crate::ecs::TaskDefinitions {
        &self.task_definitions
    }

    /// The container environment of `definition` with every `${...}` resolved now (a new
    /// deployment resolves it when asked for, so it picks up changed values).
    pub fn environment_of(
        &self,
        definition: &crate::config::TaskDefinition,
    ) -> Result<Vec<(String, String)>, crate::ecs::environment::EnvironmentError> {
        crate::ecs::environment::resolve(
            definition,
            &self.databases(),
            &self.state,
            &self.config.lab.name,
        )
    }

    pub fn config_source(&self) -> String {
        self.config.source.display().to_string()
    }

    /// Every load balancer's metrics, and each read replica's `ReplicaLag`, in Prometheus text
    /// format (`GET /metrics`).
    pub fn metrics_text(&self) -> String {
        let mut out = crate::alb::metrics::render(&self.metrics);
        let lags: Vec<(String, i64)> = self
            .databases
            .list()
            .iter()
            .filter_map(|db| Some((db.identifier.clone(), db.replica().get()?.lag_seconds)))
            .collect();
        rds::read_replica::metrics::render(&mut out, &lags);
        crate::autoscaling::metrics::render(&mut out, &self.autoscaling.metrics());
        out
    }

    /// The load balancers' counters the dashboard charts (responses by class, response times).
    pub fn metrics_sample(&self) -> crate::alb::metrics::MetricsSample {
        crate::alb::metrics::MetricsSample::read(&self.metrics)
    }

    /// The Docker client (`None` for a load-balancer-only lab).
    pub fn docker(&self) -> Option<&crate::docker::DockerClient> {
        self.docker.as_ref()
    }

    pub fn status(&self) -> LabStatus {
        let mut target_groups: Vec<TargetGroupStatus> = self
            .target_groups
            .iter()
            .map(|tg| TargetGroupStatus {
                name: tg.name().to_string(),
                port: tg.config().port,
                targets: tg.describe(),
            })
            .collect();
        target_groups.sort_by(|a, b| a.name.cmp(&b.name));
        LabStatus {
            lab: self.config.lab.name.clone(),
            config: self.config_source(),
            alb: self.load_balancers.first().cloned(),
            load_balancers: self.load_balancers.clone(),
            target_groups,
            services: self.services.iter().map(ServiceHandle::status).collect(),
            databases: self
                .databases
                .list()
                .iter()
                .map(|db| self.database_status(db))
                .collect(),
            orphans: self.orphans.borrow().clone(),
            aws: self.aws.clone(),
            bastions: self
                .bastions
                .iter()
                .map(crate::bastion::BastionHandle::status)
                .collect(),
            autoscaling: self.autoscaling.status(),
            availability_zones: crate::vpc::zones::zones(&self.config)
                .into_iter()
                .map(|zone| ZoneStatus {
                    zone: zone.to_string(),
                    state: if self.zones.is_down(zone) {
                        "unavailable"
                    } else {
                        "available"
                    }
                    .to_string(),
                })
                .collect(),
            vpc: vpc_status(&self.config),
            dashboard: None,
            chaos: self.chaos.status(),
        }
    }

    fn database_status(&self, db: &DbInstance) -> DatabaseStatus {
        let cfg = db.settings();
        let observed = db.observed();
        DatabaseStatus {
            identifier: db.identifier.clone(),
            master_username: db.master_username.clone(),
            db_name: db.db_name.clone(),
            engine: cfg.engine.clone(),
            engine_version: cfg.engine_version.clone(),
            instance_class: cfg.instance_class.clone(),
            image: cfg.image.clone(),
            container_id: observed.container_id,
            status: observed.status,
            endpoint: db.endpoint.clone(),
            port: db.port,
            subnet: db.subnet(),
            network: db.network(),
            volume: rds::volume_name(&self.config.lab.name, &db.identifier),
            multi_az: cfg.multi_az,
            standby: standby_status(db),
            backup_retention_period: cfg.backup_retention_days,
            recoveries: observed.recoveries,
            events: observed.events.iter().cloned().collect(),
            read_replicas: self.databases.fleet().read_replicas_of(&db.identifier),
            replica_lag: db.replica().get().map(|r| r.lag_seconds),
            replication: cfg.read_replica_source.clone().map(|source| {
                let sample = db.replica().get().unwrap_or_else(ReplicaObserved::starting);
                ReplicationStatus {
                    source,
                    state: sample.state,
                    error: sample.error,
                    delay_seconds: sample.delay_seconds,
                }
            }),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LabStatus {
    pub lab: String,
    pub config: String,
    /// The first load balancer (the reference architecture has one), for scripts:
    /// `.alb.http_url`, `.alb.https_url`.
    pub alb: Option<AlbStatus>,
    pub load_balancers: Vec<AlbStatus>,
    pub target_groups: Vec<TargetGroupStatus>,
    pub services: Vec<ServiceStatus>,
    pub databases: Vec<DatabaseStatus>,
    /// Objects with the lab's labels that nothing of the running lab owns (see [`OrphanStatus`]).
    pub orphans: OrphanStatus,
    /// The AWS API endpoint, for scripts: `.aws.endpoint_url`.
    #[serde(default)]
    pub aws: Option<AwsStatus>,
    /// Bastion hosts with their SSH port on 127.0.0.1.
    #[serde(default)]
    pub bastions: Vec<crate::bastion::BastionStatus>,
    /// Application Auto Scaling: scalable targets with their policies, each service's latest
    /// metrics (CPU, memory, requests per target) and alarms, the latest activities.
    #[serde(default)]
    pub autoscaling: crate::autoscaling::AutoScalingStatus,
    /// The lab's availability zones and whether each is up (`tierlab chaos az-outage`).
    #[serde(default)]
    pub availability_zones: Vec<ZoneStatus>,
    /// The VPC and its subnets, each with its tier (the dashboard draws them).
    #[serde(default)]
    pub vpc: VpcStatus,
    /// Where the running lab serves its dashboard (`tierlab dashboard` opens it signed in):
    /// `.dashboard.url`. Set by the control endpoint that serves it; `None` for a lab started
    /// from the library without one.
    #[serde(default)]
    pub dashboard: Option<DashboardStatus>,
    /// The faults active now (`tierlab chaos list`), oldest first.
    #[serde(default)]
    pub chaos: Vec<crate::chaos::FaultStatus>,
}

/// The dashboard of a running lab.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DashboardStatus {
    /// `http://127.0.0.1:PORT/dashboard/` (without the credential: a browser needs the lab's
    /// token once, in the URL `tierlab dashboard` opens, and gets a cookie for it).
    pub url: String,
}

/// The lab's VPC as configured (subnets do not change at run time).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct VpcStatus {
    pub name: String,
    pub cidr: String,
    /// Ordered by tier (public, private, isolated), then availability zone.
    pub subnets: Vec<SubnetStatus>,
}

/// One subnet of the VPC.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubnetStatus {
    pub name: String,
    pub cidr: String,
    pub availability_zone: String,
    pub route_table: String,
    /// From its route table's default route: `public` (internet gateway: the load balancer,
    /// the bastion), `private` (NAT gateway: the tasks), `isolated` (local routes only: the
    /// databases).
    pub tier: String,
}

/// The VPC of `config` with each subnet's tier.
fn vpc_status(config: &Config) -> VpcStatus {
    use crate::config::DefaultRoute;
    let tier = |route_table: &str| {
        let route = config
            .vpc
            .route_tables
            .get(route_table)
            .map(|r| r.default_route);
        match route {
            Some(DefaultRoute::InternetGateway) => (0, "public"),
            Some(DefaultRoute::NatGateway) => (1, "private"),
            Some(DefaultRoute::None) | None => (2, "isolated"),
        }
    };
    let mut subnets: Vec<((u8, &str), SubnetStatus)> = config
        .vpc
        .subnets
        .values()
        .map(|s| {
            let t = tier(&s.route_table);
            (
                t,
                SubnetStatus {
                    name: s.name.clone(),
                    cidr: s.cidr.to_string(),
                    availability_zone: s.availability_zone.clone(),
                    route_table: s.route_table.clone(),
                    tier: t.1.to_string(),
                },
            )
        })
        .collect();
    subnets.sort_by(|(a, x), (b, y)| {
        (a.0, &x.availability_zone, &x.name).cmp(&(b.0, &y.availability_zone, &y.name))
    });
    VpcStatus {
        name: config.vpc.name.clone(),
        cidr: config.vpc.cidr.to_string(),
        subnets: subnets.into_iter().map(|(_, s)| s).collect(),
    }
}

/// One availability zone, with EC2's `ZoneState` wording: `available`, or `unavailable` while
/// `tierlab chaos az-outage` holds it down.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ZoneStatus {
    pub zone: String,
    pub state: String,
}

/// Where the lab's AWS API answers (`tierlab env` prints it for the AWS CLI).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AwsStatus {
    /// `http://127.0.0.1:PORT`.
    pub endpoint_url: String,
    /// `[lab] region`: the region ARNs use and requests must be signed for.
    pub region: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AlbStatus {
    pub name: String,
    pub http_url: Option<String>,
    pub https_url: Option<String>,
    pub listeners: Vec<ListenerStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ListenerStatus {
    pub protocol: String,
    pub address: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TargetGroupStatus {
    pub name: String,
    pub port: u16,
    pub targets: Vec<TargetDescription>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatabaseStatus {
    pub identifier: String,
    /// RDS's `MasterUsername` and `DBName` (a replica's and a restored instance's are their
    /// source's): what `tierlab db shell` logs in as.
    #[serde(default)]
    pub master_username: String,
    #[serde(default)]
    pub db_name: String,
    pub engine: String,
    pub engine_version: String,
    pub instance_class: String,
    pub image: String,
    /// The container now serving the instance (a new one after a recreate).
    pub container_id: String,
    /// RDS's DBInstanceStatus, as observed: `available` while the container runs and
    /// `mysqladmin ping` answers; `rebooting` while it is restarted on its volume, `failed`
    /// when restarts keep failing.
    pub status: InstanceStatus,
    /// Endpoint address as the app tier resolves it (not reachable from the host).
    pub endpoint: String,
    pub port: u16,
    pub subnet: String,
    pub network: String,
    pub volume: String,
    pub multi_az: bool,
    /// The Multi-AZ standby (`None` for a Single-AZ instance).
    #[serde(default)]
    pub standby: Option<StandbyStatus>,
    pub backup_retention_period: u32,
    /// Recoveries (restarts on the volume) completed since the lab started.
    pub recoveries: u32,
    /// The instance's latest RDS events, oldest first (as `aws rds describe-events`).
    pub events: Vec<RdsEvent>,
    /// Identifiers of this instance's read replicas (RDS's `ReadReplicaDBInstanceIdentifiers`).
    #[serde(default)]
    pub read_replicas: Vec<String>,
    /// For a read replica, RDS's `ReplicaLag`: seconds behind its source
    /// (Seconds_Behind_Master), −1 when replication is not running; `None` for any other
    /// instance.
    #[serde(default)]
    pub replica_lag: Option<i64>,
    /// For a read replica, its replication; `None` for any other instance.
    #[serde(default)]
    pub replication: Option<ReplicationStatus>,
}

/// A read replica's replication, as last sampled.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReplicationStatus {
    /// The instance it replicates from (RDS's `ReadReplicaSourceDBInstanceIdentifier`).
    pub source: String,
    /// `replicating`, `error` or `stopped` (RDS's read replication status).
    pub state: ReplicationState,
    /// The error that stopped replication, if any.
    pub error: Option<String>,
    /// Its configured delay (`MASTER_DELAY`, `tierlab chaos replica-lag`), 0 for none.
    pub delay_seconds: u64,
}

/// A Multi-AZ instance's standby, as last observed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StandbyStatus {
    pub state: StandbyState,
    /// Its subnet (availability zone), once it exists.
    pub subnet: Option<String>,
    pub container_id: Option<String>,
}

/// Whether the standby protects acknowledged writes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum StandbyState {
    /// Commits wait for its acknowledgement (semi-sync, AFTER_SYNC): a failover loses nothing.
    InSync,
    /// Degraded: it stopped acknowledging and replication fell back to asynchronous.
    NotInSync,
    /// Being built from a copy of the primary (after `--multi-az` or a failover).
    Building,
    /// Wanted but not there (being replaced).
    Missing,
}

impl StandbyState {
    pub fn as_str(self) -> &'static str {
        match self {
            StandbyState::InSync => "in-sync",
            StandbyState::NotInSync => "not-in-sync (degraded)",
            StandbyState::Building => "building",
            StandbyState::Missing => "missing",
        }
    }
}

// --- Orphans -------------------------------------------------------------------------------

/// Containers and networks carrying the lab's labels that no controller owns, as the orphan
/// sweep last saw them. Each is removed at the sweep's next pass; one whose removal failed stays
/// listed, with the error, and is retried at every pass.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct OrphanStatus {
    pub containers: Vec<Orphan>,
    pub networks: Vec<Orphan>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Orphan {
    /// `container` or `network`.
    pub kind: String,
    pub id: String,
    pub name: String,
    /// The `tierlab.role` label (`task`, `database`, `network`, ...).
    pub role: Option<String>,
    /// The `tierlab.resource` label (service, DB identifier or subnet it stood for).
    pub resource: Option<String>,
    pub task_id: Option<String>,
    /// Docker's state of a container (`running`, `exited`, ...).
    pub state: Option<String>,
    pub first_seen: String,
    pub removal_attempts: u32,
    /// Why the last removal failed, while it keeps failing.
    pub last_error: Option<String>,
}

/// The standby's part of an instance's status.
fn standby_status(db: &DbInstance) -> Option<StandbyStatus> {
    let nodes = db.nodes();
    match &nodes.standby {
        Some(standby) => Some(StandbyStatus {
            state: if nodes.standby_in_sync {
                StandbyState::InSync
            } else {
                StandbyState::NotInSync
            },
            subnet: Some(standby.subnet.clone()),
            container_id: Some(standby.container_id.clone()),
        }),
        None if nodes.building.is_some() => Some(StandbyStatus {
            state: StandbyState::Building,
            subnet: None,
            container_id: None,
        }),
        None if db.settings().multi_az => Some(StandbyStatus {
            state: StandbyState::Missing,
            subnet: None,
            container_id: None,
        }),
        None => None,
    }
}
