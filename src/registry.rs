//! The lab's resources as AWS names them: ARNs and ids (`vpc-…`, `subnet-…`, `sg-…`), one place
//! for the AWS API, the CLI and (later) the dashboard and the CloudFormation export.
//!
//! Ids that AWS makes random are random here too, made once and kept in the state directory
//! (`labs/<lab>/resource-ids.json`, mode 0600), so a lab keeps its ARNs across `down`/`up` and
//! scripts that saved one keep working. Two kinds are derived instead of stored:
//! - load balancer and target group ids are the hashes [`crate::alb::arn`] already puts in access
//!   logs and metrics, so every place shows the same ARN;
//! - task ENI ids are derived from the task id (tasks come and go; storing them would grow the
//!   file without bound).
//!
//! Every lab pretends to run in account [`ACCOUNT`], the convention of AWS emulators, which
//! `sts get-caller-identity` reports too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rand::Rng;

use crate::config::Config;
use crate::state::{StateError, write_private_file};

/// The account every lab pretends to run in (access logs and metrics use it too).
pub use crate::alb::arn::ACCOUNT;
/// The region when `[lab] region` does not name one.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The file, in the lab's state directory, that keeps the ids.
pub const IDS_FILE: &str = "resource-ids.json";

/// ARNs and ids of one lab's resources. Cheap to share (`Arc`); ids are made on first use.
#[derive(Debug)]
pub struct Registry {
    region: String,
    /// Where ids are kept; `None` keeps them in memory only (unit tests).
    path: Option<PathBuf>,
    ids: Mutex<BTreeMap<String, String>>,
}

/// The kinds of random id the registry keeps, with their AWS prefix and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Vpc,
    Subnet,
    SecurityGroup,
    RouteTable,
    InternetGateway,
    NatGateway,
}

impl IdKind {
    fn key(self) -> &'static str {
        match self {
            IdKind::Vpc => "vpc",
            IdKind::Subnet => "subnet",
            IdKind::SecurityGroup => "sg",
            IdKind::RouteTable => "rtb",
            IdKind::InternetGateway => "igw",
            IdKind::NatGateway => "nat",
        }
    }
}

impl Registry {
    /// The registry of `lab`, with the ids an earlier run kept (if any), and ids made now for
    /// every resource `config` names, so the file is written once at start.
    pub fn load_or_create(
        lab_dir: &Path,
        region: &str,
        config: &Config,
    ) -> Result<Registry, StateError> {
        let path = lab_dir.join(IDS_FILE);
        let ids = match std::fs::read(&path) {
            // A damaged file is replaced: ids are conveniences, not data.
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(
                    "{} is not valid ({e}); making new resource ids",
                    path.display()
                );
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        };
        let registry = Registry {
            region: region.to_string(),
            path: Some(path),
            ids: Mutex::new(ids),
        };
        registry.make_ids_for(config);
        registry.save()?;
        Ok(registry)
    }

    /// A registry kept in memory only (tests, and tools that only format ARNs).
    pub fn in_memory(region: &str) -> Registry {
        Registry {
            region: region.to_string(),
            path: None,
            ids: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn account(&self) -> &str {
        ACCOUNT
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    fn make_ids_for(&self, config: &Config) {
        self.id(IdKind::Vpc, &config.vpc.name);
        self.id(IdKind::InternetGateway, &config.vpc.name);
        self.id(IdKind::NatGateway, &config.vpc.name);
        for name in config.vpc.subnets.keys() {
            self.id(IdKind::Subnet, name);
        }
        for name in config.vpc.route_tables.keys() {
            self.id(IdKind::RouteTable, name);
        }
        for name in config.security_groups.keys() {
            self.id(IdKind::SecurityGroup, name);
        }
        self.rds_endpoint_id();
        for db in config.databases.keys() {
            self.db_resource_id(db);
        }
        for lb in config.load_balancers.keys() {
            self.load_balancer_dns_name(lb);
        }
    }

    /// Writes the ids kept so far (atomically, mode 0600).
    fn save(&self) -> Result<(), StateError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if let Some(dir) = path.parent() {
            crate::state::create_private_dir(dir)?;
        }
        let json = serde_json::to_vec_pretty(&*self.lock()).expect("a string map serialises");
        write_private_file(path, &json)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The value kept under `key`, made by `make` (and saved) the first time.
    fn kept(&self, key: String, make: impl FnOnce() -> String) -> String {
        let (value, new) = {
            let mut ids = self.lock();
            match ids.get(&key) {
                Some(value) => (value.clone(), false),
                None => {
                    let value = make();
                    ids.insert(key, value.clone());
                    (value, true)
                }
            }
        };
        if new && let Err(e) = self.save() {
            // The id still works for this run; only its stability across runs is lost.
            tracing::warn!(
                "cannot keep a new resource id: {e}",
                e = crate::error::chain(&e)
            );
        }
        value
    }

    /// `vpc-…`, `subnet-…`, `sg-…`, `rtb-…`, `igw-…`, `nat-…` (17 hex digits, as AWS's ids).
    pub fn id(&self, kind: IdKind, name: &str) -> String {
        self.kept(format!("{}/{name}", kind.key()), || {
            format!("{}-{}", kind.key(), random_hex(17))
        })
    }

    /// The name whose id of `kind` is `id` (for filters and lookups by id).
    pub fn name_of(&self, kind: IdKind, id: &str) -> Option<String> {
        let prefix = format!("{}/", kind.key());
        self.lock()
            .iter()
            .find(|(key, value)| key.starts_with(&prefix) && value.as_str() == id)
            .map(|(key, _)| key[prefix.len()..].to_string())
    }

    pub fn vpc_id(&self, name: &str) -> String {
        self.id(IdKind::Vpc, name)
    }

    pub fn subnet_id(&self, name: &str) -> String {
        self.id(IdKind::Subnet, name)
    }

    pub fn security_group_id(&self, name: &str) -> String {
        self.id(IdKind::SecurityGroup, name)
    }

    pub fn route_table_id(&self, name: &str) -> String {
        self.id(IdKind::RouteTable, name)
    }

    /// `arn:aws:ec2:REGION:ACCOUNT:subnet/subnet-…`.
    pub fn subnet_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:ec2:{}:{ACCOUNT}:subnet/{}",
            self.region,
            self.subnet_id(name)
        )
    }

    /// A task's network interface: `eni-0` and 16 hex digits derived from the task id.
    pub fn eni_id(&self, task_id: &str) -> String {
        format!("eni-0{}", crate::alb::arn::resource_id("eni", task_id))
    }

    // --- Elastic Load Balancing ----------------------------------------------------------

    fn elb_arn(&self, resource: &str) -> String {
        format!(
            "arn:aws:elasticloadbalancing:{}:{ACCOUNT}:{resource}",
            self.region
        )
    }

    /// `arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/16hex`.
    pub fn load_balancer_arn(&self, name: &str) -> String {
        self.elb_arn(&format!(
            "loadbalancer/{}",
            crate::alb::arn::load_balancer_id(name)
        ))
    }

    /// `…:listener/app/LB/LBHEX/16hex`; a listener is known by its load balancer and port.
    pub fn listener_arn(&self, load_balancer: &str, port: u16) -> String {
        self.elb_arn(&format!(
            "listener/{}/{}",
            crate::alb::arn::load_balancer_id(load_balancer),
            listener_hex(load_balancer, port)
        ))
    }

    /// `…:listener-rule/app/LB/LBHEX/LISTENERHEX/16hex`; `priority` is `None` for the default
    /// rule.
    pub fn rule_arn(&self, load_balancer: &str, port: u16, priority: Option<u32>) -> String {
        let rule = priority.map_or_else(|| "default".to_string(), |p| p.to_string());
        self.elb_arn(&format!(
            "listener-rule/{}/{}/{}",
            crate::alb::arn::load_balancer_id(load_balancer),
            listener_hex(load_balancer, port),
            crate::alb::arn::resource_id(
                "listener-rule",
                &format!("{load_balancer}/{port}/{rule}")
            )
        ))
    }

    /// `…:targetgroup/NAME/16hex`, as access logs and metrics show it.
    pub fn target_group_arn(&self, name: &str) -> String {
        self.elb_arn(&crate::alb::arn::target_group_id(name))
    }

    /// What AWS gives as `DNSName` (`NAME-<10 digits>.REGION.elb.amazonaws.com`), under
    /// `.localhost` instead: curl and browsers resolve every `*.localhost` name to the loopback
    /// address themselves (glibc does not, without nss-myhostname).
    pub fn load_balancer_dns_name(&self, name: &str) -> String {
        let digits = self.kept(format!("elb-dns/{name}"), || {
            let n: u64 = rand::rng().random_range(1_000_000_000..10_000_000_000);
            n.to_string()
        });
        format!("{name}-{digits}.{}.elb.localhost", self.region)
    }

    /// `CreatedTime` of a load balancer (ISO 8601 UTC): when the lab first ran it, kept like
    /// the ids so it stays the same across `down`/`up`. (Added by the elbv2 helper.)
    pub fn load_balancer_created_time(&self, name: &str) -> String {
        self.kept(format!("elb-created/{name}"), || {
            humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
        })
    }

    // --- ECS -------------------------------------------------------------------------------

    fn ecs_arn(&self, resource: &str) -> String {
        format!("arn:aws:ecs:{}:{ACCOUNT}:{resource}", self.region)
    }

    pub fn cluster_arn(&self, cluster: &str) -> String {
        self.ecs_arn(&format!("cluster/{cluster}"))
    }

    pub fn service_arn(&self, cluster: &str, service: &str) -> String {
        self.ecs_arn(&format!("service/{cluster}/{service}"))
    }

    pub fn task_arn(&self, cluster: &str, task_id: &str) -> String {
        self.ecs_arn(&format!("task/{cluster}/{task_id}"))
    }

    /// A task's container: `…:container/CLUSTER/TASK/<uuid derived from the task id>`.
    pub fn container_arn(&self, cluster: &str, task_id: &str) -> String {
        self.ecs_arn(&format!(
            "container/{cluster}/{task_id}/{}",
            crate::alb::arn::derived_uuid("container", task_id)
        ))
    }

    pub fn task_definition_arn(&self, family: &str, revision: u32) -> String {
        self.ecs_arn(&format!("task-definition/{family}:{revision}"))
    }

    // --- RDS -------------------------------------------------------------------------------

    /// `arn:aws:rds:REGION:ACCOUNT:db:ID`.
    pub fn db_arn(&self, identifier: &str) -> String {
        format!("arn:aws:rds:{}:{ACCOUNT}:db:{identifier}", self.region)
    }

    /// `arn:aws:rds:REGION:ACCOUNT:subgrp:NAME`.
    pub fn db_subnet_group_arn(&self, name: &str) -> String {
        format!("arn:aws:rds:{}:{ACCOUNT}:subgrp:{name}", self.region)
    }

    /// RDS's `DbiResourceId`: `db-` and 26 upper-case letters and digits, kept.
    pub fn db_resource_id(&self, identifier: &str) -> String {
        self.kept(format!("db-resource/{identifier}"), || {
            format!("db-{}", random_upper_alnum(26))
        })
    }

    /// The 12 characters RDS puts in every endpoint of an account and region.
    fn rds_endpoint_id(&self) -> String {
        self.kept("rds-endpoint".to_string(), || random_lower_alnum(12))
    }

    /// What RDS gives as `Endpoint.Address` (`ID.<12 chars>.REGION.rds.amazonaws.com`), under
    /// `.localhost` (see [`Registry::load_balancer_dns_name`]). Inside the VPC the app reaches the
    /// instance by its identifier; this name is for people and tools on the host.
    pub fn db_endpoint_host(&self, identifier: &str) -> String {
        format!(
            "{identifier}.{}.{}.rds.localhost",
            self.rds_endpoint_id(),
            self.region
        )
    }

    // --- CloudWatch Logs -------------------------------------------------------------------

    /// `arn:aws:logs:REGION:ACCOUNT:log-group:NAME` (DescribeLogGroups' `arn` adds `:*`).
    pub fn log_group_arn(&self, group: &str) -> String {
        format!("arn:aws:logs:{}:{ACCOUNT}:log-group:{group}", self.region)
    }

    pub fn log_stream_arn(&self, group: &str, stream: &str) -> String {
        format!("{}:log-stream:{stream}", self.log_group_arn(group))
    }
}

/// The hex id of a listener, stable for its load balancer and port.
fn listener_hex(load_balancer: &str, port: u16) -> String {
    crate::alb::arn::resource_id("listener", &format!("{load_balancer}/{port}"))
}

/// An ARN taken apart: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account: String,
    /// Everything after the account (`targetgroup/NAME/HEX`, `db:ID`, `cluster/NAME`, ...).
    pub resource: String,
}

impl Arn {
    /// Parses an ARN; `None` when `text` is not one (wrong prefix or fewer than six parts).
    pub fn parse(text: &str) -> Option<Arn> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let partition = parts.next()?.to_string();
        let service = parts.next()?.to_string();
        let region = parts.next()?.to_string();
        let account = parts.next()?.to_string();
        let resource = parts.next()?.to_string();
        if partition.is_empty() || service.is_empty() || resource.is_empty() {
            return None;
        }
        Some(Arn {
            partition,
            service,
            region,
            account,
            resource,
        })
    }

    /// The resource's type and the rest: `("targetgroup", "NAME/HEX")`, `("db", "ID")`.
    pub fn resource_type(&self) -> (&str, &str) {
        let split = self
            .resource
            .find(['/', ':'])
            .unwrap_or(self.resource.len());
        let (kind, rest) = self.resource.split_at(split);
        (kind, rest.get(1..).unwrap_or(""))
    }
}

fn random_hex(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).expect("a hex digit"))
        .collect()
}

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

fn random_upper_alnum(len: usize) -> String {
    random_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", len)
}

fn random_lower_alnum(len: usize) -> String {
    random_from(b"abcdefghijklmnopqrstuvwxyz0123456789", len)
}

#[cfg(test)]
mod tests;
