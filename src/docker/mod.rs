//! A thin wrapper over bollard: one method per Docker operation, each failing with an error that
//! names the operation and the object, and treating 404/409 as states (gone / already there) where
//! that makes cleanup repeatable.

mod containers;
mod error;
mod events;
mod exec;
mod files;
mod images;
pub mod labels;
mod networks;
mod stats;
mod volumes;

use bollard::Docker;

pub use containers::{BindMount, ContainerInfo, ContainerSpec, NetworkAttachment};
pub use error::{DockerError, is_conflict, is_not_found};
pub use events::ContainerEvent;
pub use exec::ExecOutput;
pub use files::ContainerFile;
pub use images::{BuildProgress, CONTEXT_HASH_LABEL, ImageRunConfig, context_hash};
pub use networks::{NetworkSpec, NetworkSummary};
pub use stats::StatsSample;

/// Where the engine is expected when `DOCKER_HOST` is not set.
const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// A connected Docker engine. Cheap to clone (bollard's client is an `Arc` inside).
#[derive(Clone, Debug)]
pub struct DockerClient {
    inner: Docker,
}

impl DockerClient {
    /// Connects to the engine named by `DOCKER_HOST` (or the local socket), negotiates the API
    /// version and pings it, so that a missing engine is reported here, once, with a fix.
    pub async fn connect() -> Result<DockerClient, DockerError> {
        let endpoint = std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_SOCKET.into());
        let connect_err = |source| DockerError::Connect {
            endpoint: endpoint.clone(),
            source,
        };
        let docker = Docker::connect_with_local_defaults().map_err(connect_err)?;
        let docker = docker.negotiate_version().await.map_err(connect_err)?;
        docker.ping().await.map_err(connect_err)?;
        Ok(DockerClient { inner: docker })
    }

    /// The bollard client, for operations this wrapper does not cover (tests use it to kill
    /// containers the way a user would).
    pub fn bollard(&self) -> &Docker {
        &self.inner
    }
}
