//! Starting a bastion's container: keys in place before sshd starts, networks its security
//! groups allow, port 22 on a 127.0.0.1 port.

use std::sync::Arc;

use crate::config::{Bastion, Config};
use crate::docker::{ContainerFile, ContainerSpec, DockerClient, NetworkAttachment, labels};
use crate::state::StateDir;
use crate::vpc::{self, Groups};

use super::keys::KeyPair;
use super::{BastionError, BastionHandle, USER, USER_ID};

/// sshd's port inside the container.
const SSH_PORT: u16 = 22;
/// Mode of `<key-name>.pem`, as the reference's `chmod 400 bastion-key.pem`.
const KEY_MODE: u32 = 0o400;

pub fn container_name(lab: &str, bastion: &str) -> String {
    format!("tierlab-{lab}-{bastion}")
}

/// Starts `bastion` on the networks `groups` allow and returns once its port is published.
/// Does not wait for sshd to answer (`ssh` retries nothing, but sshd is up in milliseconds and
/// `up` must not wait on it).
pub async fn start(
    docker: &DockerClient,
    config: &Config,
    bastion: &Bastion,
    groups: &Groups,
    state: &StateDir,
) -> Result<BastionHandle, BastionError> {
    let lab = &config.lab.name;
    let name = &bastion.name;
    let key_err = |source| BastionError::Key {
        name: name.clone(),
        source,
    };
    let docker_err = |source| BastionError::Docker {
        name: name.clone(),
        source,
    };

    // The user's key pair (as `create-key-pair` hands it out) and the host's own key.
    let key_path = super::ssh::key_path(state, lab, &bastion.key_name);
    let (user_key, created) =
        KeyPair::load_or_create(&key_path, &bastion.key_name, KEY_MODE).map_err(key_err)?;
    if created {
        tracing::info!(
            "created key pair `{}` for bastion `{name}`: {}",
            bastion.key_name,
            key_path.display()
        );
    }
    let host_key_path = state.secret_path(lab, &format!("{name}-ssh-host-key"));
    let (host_key, _) = KeyPair::load_or_create(&host_key_path, name, 0o600).map_err(key_err)?;
    let known_hosts =
        super::ssh::write_known_hosts(state, lab, name, &host_key).map_err(key_err)?;

    let networks = vpc::bastion_networks(config, groups, bastion);
    let mut container_labels = labels::of(lab, labels::Role::Bastion, name);
    container_labels.insert(labels::SUBNET.into(), bastion.subnet.clone());
    let spec = ContainerSpec {
        name: container_name(lab, name),
        image: bastion.image.clone(),
        hostname: Some(name.clone()),
        env: Vec::new(),
        entrypoint: None,
        cmd: None,
        labels: container_labels,
        networks: networks
            .iter()
            .map(|network| NetworkAttachment {
                network: network.clone(),
                ..Default::default()
            })
            .collect(),
        publish: Some(SSH_PORT),
        cpu_units: Some(bastion.cpu),
        memory_mib: Some(bastion.memory_mib),
        volume: None,
        binds: Vec::new(),
        dns: None,
    };
    let files = [
        ContainerFile {
            path: format!("/home/{USER}/.ssh/authorized_keys"),
            uid: USER_ID,
            gid: USER_ID,
            mode: 0o600,
            contents: format!("{}\n", user_key.public_line()).into_bytes(),
        },
        ContainerFile {
            path: "/etc/ssh/ssh_host_ed25519_key".into(),
            uid: 0,
            gid: 0,
            mode: 0o600,
            contents: host_key.to_openssh_pem().into_bytes(),
        },
        ContainerFile {
            path: "/etc/ssh/ssh_host_ed25519_key.pub".into(),
            uid: 0,
            gid: 0,
            mode: 0o644,
            contents: format!("{}\n", host_key.public_line()).into_bytes(),
        },
    ];
    let id = docker
        .run_container_with_files(&spec, &files)
        .await
        .map_err(docker_err)?;
    // Docker picks the host port at start: read it back.
    let info = docker.inspect_container(&id).await.map_err(docker_err)?;
    let ssh_port = info
        .and_then(|i| i.host_port)
        .ok_or_else(|| BastionError::NoPort { name: name.clone() })?;
    let handle = BastionHandle {
        name: name.clone(),
        instance_type: bastion.instance_type.clone(),
        subnet: bastion.subnet.clone(),
        container_id: id,
        ssh_port: Arc::new(ssh_port.into()),
        running: Arc::new(true.into()),
        key_path,
        known_hosts,
        attached: Arc::default(),
    };
    handle.set_attached(
        networks,
        super::networks::databases_reached(config, groups, bastion, config.databases.values()),
    );
    Ok(handle)
}
