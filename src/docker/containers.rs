//! Containers: create (on several networks, API 1.41 style), start, inspect, kill, remove, list.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, ContainerSummary, EndpointIpamConfig, EndpointSettings, HostConfig,
    HostConfigLogConfig, Mount, MountType, NetworkConnectRequest, NetworkingConfig, PortBinding,
};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, KillContainerOptions, ListContainersOptions,
    RemoveContainerOptions, StartContainerOptions, StopContainerOptions,
};

use super::{DockerClient, DockerError, is_not_found};

/// Host address container ports are published on: loopback only, never all interfaces.
const PUBLISH_HOST_IP: &str = "127.0.0.1";
/// Container log size kept by the json-file driver (tierlab ships logs to its own files).
const LOG_MAX_SIZE: &str = "10m";

/// Everything needed to create one container.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub hostname: Option<String>,
    pub env: Vec<(String, String)>,
    /// Replaces the image's `ENTRYPOINT` (and then its `CMD` is not used: give `cmd`).
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub labels: HashMap<String, String>,
    /// First entry is the network the container is created on; the rest are connected before
    /// start (API 1.41 accepts only one network at create time).
    pub networks: Vec<NetworkAttachment>,
    /// Container port to publish on 127.0.0.1 with a host port Docker picks.
    pub publish: Option<u16>,
    /// CPU limit in CPU units (1024 = one CPU), as in a task definition.
    pub cpu_units: Option<u32>,
    pub memory_mib: Option<u32>,
    /// Named volume mounted at a path.
    pub volume: Option<(String, String)>,
    /// Host directories mounted into the container (the state directory's backups, a key).
    pub binds: Vec<BindMount>,
    /// DNS servers the embedded resolver forwards unknown names to; `127.0.0.1` keeps lookups
    /// inside (for containers with no route out).
    pub dns: Option<Vec<String>>,
}

/// A host directory or file mounted into a container.
#[derive(Debug, Clone, PartialEq)]
pub struct BindMount {
    pub source: std::path::PathBuf,
    pub target: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, Default)]
pub struct NetworkAttachment {
    pub network: String,
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
}

/// What tierlab needs to know about a container.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub running: bool,
    pub exit_code: Option<i64>,
    /// 127.0.0.1 port bound to the published container port, if any. Changes on every start.
    pub host_port: Option<u16>,
    pub labels: HashMap<String, String>,
    /// The container's IPv4 address on each network it is attached to (network name → address).
    pub ipv4_addresses: HashMap<String, String>,
}

impl DockerClient {
    /// Creates the container, attaches its networks and starts it. A container that fails to
    /// start is removed again so nothing half-made is left behind.
    pub async fn run_container(&self, spec: &ContainerSpec) -> Result<String, DockerError> {
        let id = self.create_container(spec).await?;
        if let Err(e) = self.attach_and_start(&id, spec).await {
            let _ = self.remove_container(&id, true).await;
            return Err(e);
        }
        Ok(id)
    }

    /// [`run_container`](Self::run_container), with `files` copied in before it starts (keys
    /// that must be in place when its first process reads them).
    pub async fn run_container_with_files(
        &self,
        spec: &ContainerSpec,
        files: &[super::ContainerFile],
    ) -> Result<String, DockerError> {
        let id = self.create_container(spec).await?;
        let started = async {
            self.copy_files(&id, files).await?;
            self.attach_and_start(&id, spec).await
        };
        if let Err(e) = started.await {
            let _ = self.remove_container(&id, true).await;
            return Err(e);
        }
        Ok(id)
    }

    /// [`run_container_with_files`](Self::run_container_with_files), with the files made by
    /// `prepare` from the created container (e.g. owned by a user its image names). Whatever
    /// fails, the container is removed again.
    pub async fn run_container_prepared<E, F, Fut>(
        &self,
        spec: &ContainerSpec,
        prepare: F,
    ) -> Result<String, E>
    where
        E: From<DockerError>,
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<super::ContainerFile>, E>>,
    {
        let id = self.create_container(spec).await?;
        let started = async {
            let files = prepare(id.clone()).await?;
            self.copy_files(&id, &files).await?;
            self.attach_and_start(&id, spec).await?;
            Ok(())
        };
        if let Err(e) = started.await {
            let _ = self.remove_container(&id, true).await;
            return Err(e);
        }
        Ok(id)
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, DockerError> {
        let options = CreateContainerOptions {
            name: Some(spec.name.clone()),
            ..Default::default()
        };
        let first_network = spec
            .networks
            .first()
            .map(|a| HashMap::from([(a.network.clone(), endpoint_settings(a))]));
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            hostname: spec.hostname.clone(),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            entrypoint: spec.entrypoint.clone(),
            cmd: spec.cmd.clone(),
            labels: Some(spec.labels.clone()),
            exposed_ports: spec.publish.map(|port| vec![format!("{port}/tcp")]),
            host_config: Some(host_config(spec)),
            networking_config: first_network.map(|endpoints_config| NetworkingConfig {
                endpoints_config: Some(endpoints_config),
            }),
            ..Default::default()
        };
        let created = self
            .inner
            .create_container(Some(options), body)
            .await
            .map_err(DockerError::op("create container", &spec.name))?;
        Ok(created.id)
    }

    /// Starts a created or stopped container again (as `docker start`).
    pub async fn start_existing(&self, id: &str) -> Result<(), DockerError> {
        self.inner
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(DockerError::op("start container", id))
    }

    async fn attach_and_start(&self, id: &str, spec: &ContainerSpec) -> Result<(), DockerError> {
        for attachment in spec.networks.iter().skip(1) {
            self.connect_with(id, attachment).await?;
        }
        self.inner
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(DockerError::op("start container", &spec.name))
    }

    /// Current state of a container; `None` when it no longer exists.
    pub async fn inspect_container(&self, id: &str) -> Result<Option<ContainerInfo>, DockerError> {
        let inspect = match self
            .inner
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
        {
            Ok(inspect) => inspect,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(DockerError::op("inspect container", id)(e)),
        };
        let state = inspect.state.unwrap_or_default();
        let network_settings = inspect.network_settings.unwrap_or_default();
        let host_port = network_settings
            .ports
            .as_ref()
            .and_then(first_loopback_port);
        let ipv4_addresses = network_settings
            .networks
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(name, endpoint)| {
                let ip = endpoint.ip_address.filter(|ip| !ip.is_empty())?;
                Some((name, ip))
            })
            .collect();
        Ok(Some(ContainerInfo {
            id: inspect.id.unwrap_or_default(),
            name: inspect
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            running: state.running.unwrap_or(false),
            exit_code: state.exit_code,
            host_port,
            labels: inspect.config.and_then(|c| c.labels).unwrap_or_default(),
            ipv4_addresses,
        }))
    }

    /// Containers (running or not) matching label filters.
    pub async fn list_containers(
        &self,
        filters: HashMap<String, Vec<String>>,
    ) -> Result<Vec<ContainerSummary>, DockerError> {
        let options = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        self.inner
            .list_containers(Some(options))
            .await
            .map_err(DockerError::op("list containers", "by label"))
    }

    /// Freezes every process of the container (the cgroup freezer: as SIGSTOP to all of them,
    /// which no process can catch).
    pub async fn pause_container(&self, id: &str) -> Result<(), DockerError> {
        self.inner
            .pause_container(id)
            .await
            .map_err(DockerError::op("pause container", id))
    }

    /// Thaws a paused container; one that is gone or not paused (thawed, or stopped by ECS
    /// meanwhile) is not an error.
    pub async fn unpause_container(&self, id: &str) -> Result<(), DockerError> {
        match self.inner.unpause_container(id).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) || super::error::is_not_paused(&e) => Ok(()),
            Err(e) => Err(DockerError::op("unpause container", id)(e)),
        }
    }

    /// Sends SIGKILL; a container that is gone or already stopped is not an error.
    pub async fn kill_container(&self, id: &str) -> Result<(), DockerError> {
        let options = KillContainerOptions {
            signal: "SIGKILL".into(),
        };
        match self.inner.kill_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) || super::is_conflict(&e) => Ok(()),
            Err(e) => Err(DockerError::op("kill container", id)(e)),
        }
    }

    /// Stops a container gracefully (SIGTERM, then SIGKILL after `grace`); gone or already
    /// stopped is not an error. Databases get this so they shut down cleanly.
    pub async fn stop_container(
        &self,
        id: &str,
        grace: std::time::Duration,
    ) -> Result<(), DockerError> {
        let options = StopContainerOptions {
            t: Some(grace.as_secs() as i32),
            signal: None,
        };
        match self.inner.stop_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) || status_is(&e, 304) => Ok(()),
            Err(e) => Err(DockerError::op("stop container", id)(e)),
        }
    }

    /// Removes a container (forcing stops a running one); one that is gone is not an error.
    /// Anonymous volumes go with it (`v`), so images with `VOLUME` lines leak nothing.
    pub async fn remove_container(&self, id: &str, force: bool) -> Result<(), DockerError> {
        let options = RemoveContainerOptions {
            force,
            v: true,
            link: false,
        };
        match self.inner.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            // 409 "removal already in progress": someone else is removing it.
            Err(e) if super::is_conflict(&e) => Ok(()),
            Err(e) => Err(DockerError::op("remove container", id)(e)),
        }
    }
}

pub(super) fn endpoint_settings(attachment: &NetworkAttachment) -> EndpointSettings {
    EndpointSettings {
        aliases: (!attachment.aliases.is_empty()).then(|| attachment.aliases.clone()),
        ipam_config: attachment
            .ipv4_address
            .as_ref()
            .map(|ip| EndpointIpamConfig {
                ipv4_address: Some(ip.clone()),
                ..Default::default()
            }),
        ..Default::default()
    }
}

fn host_config(spec: &ContainerSpec) -> HostConfig {
    let port_bindings = spec.publish.map(|port| {
        let binding = PortBinding {
            host_ip: Some(PUBLISH_HOST_IP.into()),
            host_port: Some(String::new()),
        };
        HashMap::from([(format!("{port}/tcp"), Some(vec![binding]))])
    });
    HostConfig {
        port_bindings,
        // CPU units (1024 = 1 CPU) → nano CPUs, like Fargate's hard CPU limit.
        nano_cpus: spec
            .cpu_units
            .map(|units| i64::from(units) * 1_000_000_000 / 1024),
        memory: spec.memory_mib.map(|mib| i64::from(mib) * 1024 * 1024),
        mounts: Some(mounts(spec)).filter(|m| !m.is_empty()),
        dns: spec.dns.clone(),
        dns_options: spec
            .dns
            .as_ref()
            .map(|_| vec!["timeout:1".into(), "attempts:1".into()]),
        log_config: Some(HostConfigLogConfig {
            typ: Some("json-file".into()),
            config: Some(HashMap::from([("max-size".into(), LOG_MAX_SIZE.into())])),
        }),
        ..Default::default()
    }
}

fn first_loopback_port(ports: &bollard::models::PortMap) -> Option<u16> {
    ports
        .values()
        .flatten()
        .flatten()
        .filter(|b| b.host_ip.as_deref() == Some(PUBLISH_HOST_IP))
        .find_map(|b| b.host_port.as_deref()?.parse().ok())
}

fn status_is(e: &bollard::errors::Error, code: u16) -> bool {
    matches!(e, bollard::errors::Error::DockerResponseServerError { status_code, .. } if *status_code == code)
}

/// The named volume and the bind mounts of `spec`, as Docker's mounts.
fn mounts(spec: &ContainerSpec) -> Vec<Mount> {
    let volume = spec.volume.iter().map(|(volume, target)| Mount {
        source: Some(volume.clone()),
        target: Some(target.clone()),
        typ: Some(MountType::VOLUME),
        ..Default::default()
    });
    let binds = spec.binds.iter().map(|bind| Mount {
        source: Some(bind.source.display().to_string()),
        target: Some(bind.target.clone()),
        typ: Some(MountType::BIND),
        read_only: Some(bind.read_only),
        ..Default::default()
    });
    volume.chain(binds).collect()
}

impl DockerClient {
    /// Attaches a (running) container to a network with the attachment's aliases and address.
    /// Network aliases cannot be edited: moving one is [`DockerClient::disconnect_network`]
    /// then this, with the address pinned so IPAM does not hand out another.
    pub async fn connect_with(
        &self,
        container: &str,
        attachment: &NetworkAttachment,
    ) -> Result<(), DockerError> {
        let request = NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: Some(endpoint_settings(attachment)),
        };
        self.inner
            .connect_network(&attachment.network, request)
            .await
            .map_err(DockerError::op(
                "connect container to network",
                &attachment.network,
            ))
    }
}
