//! The bastion host of the reference ("Bastion Host Implementation"): an EC2 instance in a
//! public subnet with an SSH server, from which admins reach the database in its private subnet.
//!
//! Here it is a container of `tierlab/bastion` (Debian's openssh-server and mariadb-client):
//! - on the Docker network of its public subnet, port 22 published on a 127.0.0.1 port (the
//!   "user's address" of `bastion-sg` is this machine);
//! - key login only, as `ec2-user`, with a key pair tierlab makes as `aws ec2 create-key-pair`
//!   does ([`keys`]): `<state>/labs/<lab>/<key-name>.pem`, mode 0400, the same across
//!   `down`/`up`; its host key is tierlab's too, pinned in the lab's known_hosts file ([`ssh`]);
//! - attached to every network of each database whose security groups admit it, as they are
//!   now: revoke `db-sg`'s rule for `bastion-sg` through the EC2 API and it is detached
//!   ([`networks`]).

mod host;
pub mod keys;
mod networks;
pub mod ssh;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

pub use host::{container_name, start};
pub use networks::{Change, DatabasesNow, plan, spawn_attachments};

/// The login user, as on Amazon Linux.
pub const USER: &str = "ec2-user";
/// uid/gid of `ec2-user` in the image (fixed in images/bastion/Dockerfile).
const USER_ID: u64 = 1000;

/// Why a bastion could not start.
#[derive(Debug, thiserror::Error)]
pub enum BastionError {
    #[error("bastion `{name}`")]
    Docker {
        name: String,
        #[source]
        source: crate::docker::DockerError,
    },
    #[error("bastion `{name}`: its key")]
    Key {
        name: String,
        #[source]
        source: crate::state::StateError,
    },
    #[error("bastion `{name}`: its SSH port is not published on 127.0.0.1 after start")]
    NoPort { name: String },
}

/// A running bastion. Cheap to clone; clones share what the attachment loop observes.
#[derive(Debug, Clone)]
pub struct BastionHandle {
    pub name: String,
    pub instance_type: String,
    pub subnet: String,
    pub container_id: String,
    /// The 127.0.0.1 port sshd's port 22 is published on (Docker picks another when the
    /// container starts again after an availability-zone outage).
    ssh_port: Arc<std::sync::atomic::AtomicU16>,
    /// False while its availability zone is down (its container killed).
    running: Arc<std::sync::atomic::AtomicBool>,
    /// `<key-name>.pem`: the private key `ssh -i` takes.
    pub key_path: PathBuf,
    /// The lab's known_hosts file, holding the bastion's host key under its name.
    pub known_hosts: PathBuf,
    /// The networks it is attached to now, and the databases they reach.
    attached: Arc<Mutex<Attached>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Attached {
    networks: Vec<String>,
    databases: Vec<String>,
}

impl BastionHandle {
    /// The 127.0.0.1 port `ssh -p` takes now.
    pub fn ssh_port(&self) -> u16 {
        self.ssh_port.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether its container runs (false while its availability zone is down).
    pub fn is_running(&self) -> bool {
        self.running.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Its container was killed with its availability zone.
    pub fn mark_stopped(&self) {
        self.running
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// Starts its container again (its zone is back) and reads the port Docker published it on.
    pub async fn restart(&self, docker: &crate::docker::DockerClient) -> Result<(), BastionError> {
        let docker_err = |source| BastionError::Docker {
            name: self.name.clone(),
            source,
        };
        docker
            .start_existing(&self.container_id)
            .await
            .map_err(docker_err)?;
        let port = docker
            .inspect_container(&self.container_id)
            .await
            .map_err(docker_err)?
            .and_then(|i| i.host_port)
            .ok_or_else(|| BastionError::NoPort {
                name: self.name.clone(),
            })?;
        self.ssh_port
            .store(port, std::sync::atomic::Ordering::Relaxed);
        self.running
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// What `status` shows.
    pub fn status(&self) -> BastionStatus {
        let attached = self
            .attached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        BastionStatus {
            name: self.name.clone(),
            instance_type: self.instance_type.clone(),
            subnet: self.subnet.clone(),
            container_id: self.container_id.clone(),
            user: USER.to_string(),
            ssh_host: "127.0.0.1".to_string(),
            ssh_port: self.ssh_port(),
            running: self.is_running(),
            key_path: self.key_path.display().to_string(),
            known_hosts: self.known_hosts.display().to_string(),
            networks: attached.networks,
            databases: attached.databases,
        }
    }

    fn set_attached(&self, networks: Vec<String>, databases: Vec<String>) {
        *self.attached.lock().unwrap_or_else(|e| e.into_inner()) = Attached {
            networks,
            databases,
        };
    }
}

/// A bastion as `status` shows it (table and `--json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BastionStatus {
    pub name: String,
    pub instance_type: String,
    pub subnet: String,
    pub container_id: String,
    pub user: String,
    pub ssh_host: String,
    pub ssh_port: u16,
    /// False while its availability zone is down (`tierlab chaos az-outage`).
    #[serde(default = "running_by_default")]
    pub running: bool,
    pub key_path: String,
    pub known_hosts: String,
    /// Docker networks it is attached to: its subnet's, then the databases'.
    pub networks: Vec<String>,
    /// DB instances its security groups let it reach now.
    pub databases: Vec<String>,
}

fn running_by_default() -> bool {
    true
}

impl BastionStatus {
    /// `ssh -i KEY -p PORT ec2-user@127.0.0.1`, as the reference's `ssh -i bastion-key.pem
    /// ec2-user@<bastion-host-public-ip>`.
    pub fn ssh_command(&self) -> String {
        format!(
            "ssh -i {} -p {} {}@{}",
            self.key_path, self.ssh_port, self.user, self.ssh_host
        )
    }
}
