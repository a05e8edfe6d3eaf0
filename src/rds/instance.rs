//! Creating a DB instance: volume, container, network alias.

use std::sync::Arc;

use arc_swap::ArcSwap;

use bollard::query_parameters::InspectContainerOptions;

use crate::config::{Config, Database};
use crate::docker::{
    BindMount, ContainerSpec, DockerClient, DockerError, NetworkAttachment, labels,
};
use crate::state::StateDir;
use crate::vpc;

use super::RdsError;
use super::events::EventKind;
use super::state::{InstanceState, InstanceStatus, Observed};

/// Where the official `mysql` image (and ours) keeps its data.
const DATA_DIR: &str = "/var/lib/mysql";
/// Where the lab's RDS storage outside the data volumes (snapshots, automated backups, archived
/// binary logs, standby and replica seeds) is mounted in every DB container: the state
/// directory's `labs/<lab>/rds` ([`storage_dir`]), so it survives `down --volumes`.
pub const STORAGE_MOUNT: &str = "/tierlab/rds";
/// The engine's own port inside the container; another configured port is passed as `--port`.
const ENGINE_DEFAULT_PORT: u16 = 3306;

/// A running DB instance, as the app tier sees it. Cheap to clone; clones share the observed
/// state ([`DbInstance::observed`]).
#[derive(Debug, Clone)]
pub struct DbInstance {
    pub identifier: String,
    /// DNS name on the DB network (RDS's endpoint address). Apps resolve it; the host never does.
    pub endpoint: String,
    pub port: u16,
    pub db_name: String,
    pub master_username: String,
    /// The master password; never logged.
    pub master_password: String,
    /// Root's password (a lab secret); never logged.
    pub(super) root_password: String,
    /// The names the endpoint resolves by on the DB networks: the identifier and RDS's
    /// `Endpoint.Address`. Always on the current primary only.
    pub endpoint_aliases: Vec<String>,
    /// The containers serving the instance (primary, and standby for Multi-AZ), shared by clones.
    pub(super) nodes: super::nodes::NodeSet,
    /// The instance's first container spec: every node is derived from it.
    pub(super) template: Arc<ContainerSpec>,
    /// The lab (names of nodes and volumes) and its RDS storage on the host (copies).
    pub(super) lab: String,
    pub(super) storage: std::path::PathBuf,
    /// The replication account's password (a lab secret); never logged.
    pub(super) replication_password: String,
    pub(super) state: InstanceState,
    /// When the instance was created: its data volume's creation (RDS's `InstanceCreateTime`,
    /// the same across `down`/`up` as the data is).
    pub created_at: std::time::SystemTime,
    /// Requests to the instance's supervisor (reboot).
    pub(super) commands: Arc<super::reboot::Commands>,
    /// The instance's settings (class, engine, storage, backups, Multi-AZ): the config's for an
    /// instance of the config, the request's for one created at run time, changed by
    /// `modify-db-instance`. Never written back to the config file.
    settings: Arc<ArcSwap<Database>>,
    /// Replication, for a read replica (empty for any other instance).
    replica: super::read_replica::ReplicaCell,
    /// Whether a proxy holds the endpoint (a fault on the task → database path).
    pub(super) detour: super::detour::Detour,
}

impl DbInstance {
    /// The passwords every node of the instance is created with (as files).
    pub(super) fn passwords(&self) -> super::credentials::NodePasswords {
        super::credentials::NodePasswords {
            root: self.root_password.clone(),
            master: self.master_password.clone(),
        }
    }

    /// The container now serving the instance (a new one after a recreate).
    pub fn container_id(&self) -> String {
        self.state.container_id()
    }

    /// RDS's status word for the instance, as last observed.
    pub fn status(&self) -> InstanceStatus {
        self.state.status()
    }

    /// Status, container, recoveries and recent events.
    pub fn observed(&self) -> Observed {
        self.state.get()
    }

    /// Changes of [`DbInstance::observed`], for waiting on a status.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<Observed> {
        self.state.watch()
    }

    /// The shared state, for the lab (bring-up and shutdown set the status).
    pub fn state(&self) -> &InstanceState {
        &self.state
    }

    /// The instance's settings as they are now.
    pub fn settings(&self) -> Arc<Database> {
        self.settings.load_full()
    }

    /// Changes the instance's settings (seen by every clone).
    pub fn update_settings(&self, change: impl Fn(&mut Database)) {
        self.settings.rcu(|current| {
            let mut next = (**current).clone();
            change(&mut next);
            next
        });
    }

    /// The replication state of a read replica (empty otherwise).
    pub fn replica(&self) -> &super::read_replica::ReplicaCell {
        &self.replica
    }

    /// Whether a proxy holds the endpoint, and which.
    pub fn detour(&self) -> &super::detour::Detour {
        &self.detour
    }

    /// Names of the containers that serve the instance (primary, and standby if any).
    pub fn container_names(&self) -> Vec<String> {
        let nodes = self.nodes.get();
        std::iter::once(&nodes.primary)
            .chain(nodes.standby.as_ref())
            .map(|n| n.name.clone())
            .chain(nodes.building.clone())
            .collect()
    }

    /// The data volumes of the instance's nodes (primary, and standby if any): after a failover
    /// the primary's is not necessarily [`volume_name`]'s.
    pub fn volume_names(&self) -> Vec<String> {
        let nodes = self.nodes.get();
        std::iter::once(&nodes.primary)
            .chain(nodes.standby.as_ref())
            .map(|n| n.volume.clone())
            .collect()
    }

    /// The primary's and the standby's containers, as they are now.
    pub fn nodes(&self) -> Arc<super::nodes::Nodes> {
        self.nodes.get()
    }

    /// The current primary's subnet (its availability zone).
    pub fn subnet(&self) -> String {
        self.nodes.get().primary.subnet.clone()
    }

    /// The current primary's network (where the endpoint's aliases are).
    pub fn network(&self) -> String {
        self.nodes.get().primary.network.clone()
    }

    /// The current primary's address on its network.
    pub fn address(&self) -> Option<String> {
        self.nodes.get().primary.address.clone()
    }
}

pub fn container_name(lab: &str, identifier: &str) -> String {
    format!("tierlab-{lab}-{identifier}")
}

/// A replication server id for the container named `name`: distinct for every container of
/// the lab (replication ignores events carrying the node's own id), stable across recreates.
pub fn server_id(name: &str) -> u32 {
    // 1..=4294967295 (0 would refuse to replicate).
    (crate::alb::arn::fnv1a(name.bytes()) % u64::from(u32::MAX)) as u32 + 1
}

/// The lab's RDS storage on the host (mounted at [`STORAGE_MOUNT`]).
pub fn storage_dir(state: &StateDir, lab: &str) -> std::path::PathBuf {
    state.lab_dir(lab).join("rds")
}

pub fn volume_name(lab: &str, identifier: &str) -> String {
    format!("tierlab-{lab}-{identifier}-data")
}

/// Names of the generated secrets of a DB instance.
fn secret_names(identifier: &str) -> (String, String) {
    (
        format!("{identifier}-master-password"),
        format!("{identifier}-root-password"),
    )
}

/// Starts the DB instance's container (creating its volume on first use). Does not wait for it
/// to be ready: see [`super::wait_ready`]. `endpoint_host` (RDS's `Endpoint.Address`) resolves
/// on the DB network as well as the identifier.
pub async fn start(
    docker: &DockerClient,
    config: &Config,
    db: &Database,
    state: &StateDir,
    endpoint_host: Option<String>,
) -> Result<DbInstance, RdsError> {
    let lab = &config.lab.name;
    let identifier = &db.identifier;
    let docker_err = |source| RdsError::Docker {
        identifier: identifier.clone(),
        source,
    };
    let secret_err = |source| RdsError::Secret {
        identifier: identifier.clone(),
        source,
    };

    // The data volume was initialised with the passwords of its first run. Passwords made up
    // now would not open it: say so instead of starting tasks that cannot log in.
    let volume = volume_name(lab, identifier);
    let volume_existed = docker.volume_exists(&volume).await.map_err(docker_err)?;
    let (master_secret, root_secret) = secret_names(identifier);
    let (master_password, master_new) = state
        .secret_with_origin(lab, &master_secret)
        .map_err(secret_err)?;
    let (root_password, root_new) = state
        .secret_with_origin(lab, &root_secret)
        .map_err(secret_err)?;
    if volume_existed && (master_new || root_new) {
        for (name, new) in [(&master_secret, master_new), (&root_secret, root_new)] {
            if new {
                let _ = std::fs::remove_file(state.secret_path(lab, name));
            }
        }
        return Err(RdsError::PasswordLost {
            identifier: identifier.clone(),
            volume,
            secret: state.secret_path(lab, &master_secret),
        });
    }

    docker
        .ensure_volume(
            &volume,
            labels::of(lab, labels::Role::DatabaseVolume, identifier),
        )
        .await
        .map_err(docker_err)?;

    let created_at = volume_created_at(docker, &volume).await;
    let storage = storage_dir(state, lab);
    crate::state::create_private_dir(&storage).map_err(|source| RdsError::Storage {
        identifier: identifier.clone(),
        source,
    })?;

    // storage-encrypted: the instance's key and the server's encryption settings.
    let encryption = if db.storage_encrypted {
        super::backups::encryption::mounts(docker, state, lab, identifier, &db.image)
            .await
            .map_err(super::RdsError::from)?
    } else {
        Vec::new()
    };
    let subnet = vpc::database_subnet(db).to_string();
    let network = vpc::network_name(lab, &subnet);
    let replication_password = state
        .secret(lab, super::replication::PASSWORD_SECRET)
        .map_err(secret_err)?;
    let mut endpoint_aliases = vec![identifier.clone()];
    endpoint_aliases.extend(endpoint_host.filter(|h| h != identifier));
    let mut container_labels = labels::of(lab, labels::Role::Database, identifier);
    container_labels.insert(labels::SUBNET.into(), subnet.clone());
    let spec = ContainerSpec {
        name: container_name(lab, identifier),
        image: db.image.clone(),
        hostname: Some(super::nodes::node_hostname(&container_name(
            lab, identifier,
        ))),
        // The passwords are files (`credentials`): never values in `docker inspect`.
        env: super::credentials::file_env()
            .into_iter()
            .chain([
                ("MYSQL_DATABASE".into(), db.db_name.clone()),
                ("MYSQL_USER".into(), db.master_username.clone()),
                (
                    "MYSQL_SERVER_ID".into(),
                    server_id(&container_name(lab, identifier)).to_string(),
                ),
            ])
            .collect(),
        entrypoint: None,
        cmd: (db.port != ENGINE_DEFAULT_PORT).then(|| vec![format!("--port={}", db.port)]),
        labels: container_labels,
        networks: vec![NetworkAttachment {
            network: network.clone(),
            aliases: endpoint_aliases.clone(),
            ipv4_address: None,
        }],
        // Nothing of the database is published to the host: it is reachable only from the
        // subnets its security group admits (and later through the bastion).
        publish: None,
        cpu_units: Some(db.cpu),
        memory_mib: Some(db.memory_mib),
        volume: Some((volume, DATA_DIR.into())),
        binds: binds(db, &storage).into_iter().chain(encryption).collect(),
        // No route out: keep unknown DNS lookups inside the container instead of forwarding them.
        dns: Some(vec!["127.0.0.1".into()]),
    };
    let passwords = super::credentials::NodePasswords {
        root: root_password.clone(),
        master: master_password.clone(),
    };
    let container_id = super::credentials::run_node(docker, &spec, &passwords)
        .await
        .map_err(docker_err)?;
    let address = container_address(docker, &container_id, &network)
        .await
        .map_err(docker_err)?;
    // A read replica's volume is filled from its source's copy before it starts: created now.
    let (status, event) = if volume_existed && db.read_replica_source.is_none() {
        (InstanceStatus::Starting, EventKind::Started)
    } else {
        (InstanceStatus::Creating, EventKind::Created)
    };
    let state = InstanceState::new(identifier, status, container_id.clone());
    state.record(&event);
    let spec = Arc::new(spec);
    let primary = super::nodes::Node {
        slot: 0,
        name: spec.name.clone(),
        container_id,
        volume: volume_name(lab, identifier),
        subnet,
        network,
        address,
        spec: spec.clone(),
    };
    Ok(DbInstance {
        identifier: identifier.clone(),
        endpoint: identifier.clone(),
        port: db.port,
        db_name: db.db_name.clone(),
        master_username: db.master_username.clone(),
        master_password,
        root_password,
        endpoint_aliases,
        nodes: super::nodes::NodeSet::new(primary),
        template: spec,
        lab: lab.clone(),
        storage,
        replication_password,
        state,
        created_at,
        commands: super::reboot::Commands::new(),
        settings: Arc::new(ArcSwap::from_pointee(db.clone())),
        replica: Default::default(),
        detour: Default::default(),
    })
}

/// The lab's RDS storage, and for a read replica its option file (`read_only`, see
/// [`super::read_replica::role`]).
fn binds(db: &Database, storage: &std::path::Path) -> Vec<BindMount> {
    let mut binds = vec![BindMount {
        source: storage.to_path_buf(),
        target: STORAGE_MOUNT.into(),
        read_only: false,
    }];
    if db.read_replica_source.is_some() {
        binds.push(BindMount {
            source: super::read_replica::role::path(storage, &db.identifier),
            target: super::read_replica::role::MOUNT.into(),
            read_only: true,
        });
    }
    binds
}

/// When Docker created the volume (now, when it cannot say).
async fn volume_created_at(docker: &DockerClient, volume: &str) -> std::time::SystemTime {
    docker
        .bollard()
        .inspect_volume(volume)
        .await
        .ok()
        .and_then(|v| v.created_at)
        .and_then(|t| humantime::parse_rfc3339_weak(&t).ok())
        .unwrap_or_else(std::time::SystemTime::now)
}

/// The container's IPv4 address on `network`, if it has one.
pub(super) async fn container_address(
    docker: &DockerClient,
    container_id: &str,
    network: &str,
) -> Result<Option<String>, DockerError> {
    let inspect = docker
        .bollard()
        .inspect_container(container_id, None::<InspectContainerOptions>)
        .await
        .map_err(DockerError::op("inspect container", container_id))?;
    Ok(inspect
        .network_settings
        .and_then(|n| n.networks)
        .and_then(|mut n| n.remove(network))
        .and_then(|e| e.ip_address)
        .filter(|ip| !ip.is_empty()))
}

/// The spec to create the instance's container again: same name, volume and alias (unless the
/// path's proxy holds it), and the address it had, so the endpoint resolves to the same place.
pub(super) fn recreate_spec(db: &DbInstance) -> ContainerSpec {
    let primary = db.nodes.get().primary.clone();
    let mut spec = (*primary.spec).clone();
    if let Some(first) = spec.networks.first_mut() {
        first.ipv4_address = primary.address.clone();
        // While the path's proxy holds the endpoint, the primary comes back without it.
        first.aliases = if db.detour.holds_endpoint() {
            Vec::new()
        } else {
            db.endpoint_aliases.clone()
        };
    }
    spec
}
