//! The task → database path detoured through a proxy while a fault is on it (`tierlab chaos
//! latency|reset|bandwidth task-db`), as Toxiproxy sits between an app and its database.
//!
//! The kernels tierlab runs on need not have `netem`, and a fault must not touch the app's
//! containers, so the fault lives on the path itself: when the first one begins, a small proxy
//! container (`toxic-proxy.pl` on `debian:bookworm-slim`, Perl's base only) joins the primary's
//! network holding the endpoint's names, then the names are taken off the primary. Apps connect
//! per request by name, so their next connection goes through the proxy. When the last fault
//! ends the names go back to the primary and the proxy goes.
//!
//! While the proxy holds the endpoint, a failover leaves the names on it and points it at the
//! new primary ([`DetourGuard::point_endpoint_at`]), and a recovered primary comes back without
//! them ([`Detour::holds_endpoint`]).

mod toxics;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;

use crate::docker::labels;
use crate::docker::{ContainerFile, ContainerSpec, DockerClient, DockerError, NetworkAttachment};

use super::DbInstance;
use super::endpoint;
use super::nodes::Node;

pub use toxics::PathToxics;

/// The image the proxy runs on: every Debian image has Perl's base, and this one is the base of
/// the lab's own images.
pub const PROXY_IMAGE: &str = "debian:bookworm-slim";
const SCRIPT: &str = include_str!("toxic-proxy.pl");
const SCRIPT_PATH: &str = "/run/tierlab/toxic-proxy.pl";
const SETTINGS_PATH: &str = "/run/tierlab/toxics";
const READY_PATH: &str = "/run/tierlab/ready";
/// How long the proxy may take to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the proxy's open connections may take to finish once the endpoint is given back.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the path could not be detoured or given back.
#[derive(Debug, thiserror::Error)]
pub enum DetourError {
    #[error(
        "the path proxy's image {PROXY_IMAGE} is missing (run `scripts/base-image.sh`, or pull it)"
    )]
    ImageMissing,
    #[error("the path proxy of {identifier} did not listen within {READY_TIMEOUT:?}")]
    NotReady { identifier: String },
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// The proxy holding an instance's endpoint.
#[derive(Debug, Clone)]
struct Proxy {
    container_id: String,
    /// Where it holds the names: the network of the primary it took them from (it stays there
    /// across failovers).
    network: String,
    toxics: PathToxics,
}

/// Whether a proxy holds an instance's endpoint; shared by the instance's clones.
#[derive(Debug, Clone, Default)]
pub struct Detour {
    /// Serialises every change of where the endpoint is (faults, failovers).
    proxy: Arc<tokio::sync::Mutex<Option<Proxy>>>,
    /// The proxy's container name, readable without waiting (the orphan sweep, recoveries).
    name: Arc<ArcSwapOption<String>>,
}

impl Detour {
    /// The proxy's container name, while one holds the endpoint.
    pub fn proxy_name(&self) -> Option<String> {
        self.name.load_full().map(|n| (*n).clone())
    }

    /// Whether a proxy holds the endpoint (the primary must then come back without it).
    pub fn holds_endpoint(&self) -> bool {
        self.name.load().is_some()
    }

    /// Holds every other change of the endpoint off until the guard is dropped.
    pub async fn lock(&self) -> DetourGuard<'_> {
        DetourGuard {
            proxy: self.proxy.lock().await,
        }
    }
}

/// Where the endpoint is, held still.
pub struct DetourGuard<'a> {
    proxy: tokio::sync::MutexGuard<'a, Option<Proxy>>,
}

impl DetourGuard<'_> {
    /// Makes the endpoint reach `node` (a new primary): the proxy forwards there if one holds
    /// the endpoint, else the names move onto it.
    pub async fn point_endpoint_at(
        &mut self,
        docker: &DockerClient,
        db: &DbInstance,
        node: &Node,
    ) -> Result<(), DockerError> {
        match self.proxy.as_ref() {
            Some(proxy) => write_settings(docker, db, proxy, node).await,
            None => endpoint::give_to(docker, &db.endpoint_aliases, node.into()).await,
        }
    }
}

/// The proxy's container name for `db`.
pub fn proxy_container_name(db: &DbInstance) -> String {
    format!(
        "{}-path-proxy",
        super::container_name(&db.lab, &db.identifier)
    )
}

/// Sets `db`'s path to what `toxics` says (asked once the path is held still, so concurrent
/// changes apply in order): the first fault puts the proxy in, a change rewrites its settings,
/// none left gives the endpoint back to the primary and removes the proxy.
pub async fn set_path_toxics(
    docker: &DockerClient,
    db: &DbInstance,
    toxics: impl FnOnce() -> PathToxics,
) -> Result<(), DetourError> {
    let detour = &db.detour;
    let mut guard = detour.proxy.lock().await;
    let toxics = toxics();
    let primary = db.nodes.get().primary.clone();
    match (guard.as_mut(), toxics.is_empty()) {
        (None, true) => Ok(()),
        (Some(_), true) => {
            let proxy = guard.take().expect("matched Some");
            give_back(docker, db, &primary, &proxy).await?;
            detour.name.store(None);
            tracing::info!(
                "database {}: the task → database path is direct again (path proxy removed)",
                db.identifier
            );
            Ok(())
        }
        (Some(proxy), false) => {
            proxy.toxics = toxics;
            Ok(write_settings(docker, db, proxy, &primary).await?)
        }
        (None, false) => {
            // Named before it exists, so the orphan sweep never takes it for an orphan.
            detour.name.store(Some(Arc::new(proxy_container_name(db))));
            match divert(docker, db, &primary, toxics).await {
                Ok(proxy) => {
                    *guard = Some(proxy);
                    Ok(())
                }
                Err(e) => {
                    detour.name.store(None);
                    Err(e)
                }
            }
        }
    }
}

/// Gives the endpoint back to the primary, then removes the proxy once its open connections
/// are done: the primary takes the names, the proxy lets them go (its connections carry on),
/// and it goes when only its listener is left or after [`DRAIN_TIMEOUT`]. Removing it at once
/// would refuse the connections that still resolved the names to it.
async fn give_back(
    docker: &DockerClient,
    db: &DbInstance,
    primary: &Node,
    proxy: &Proxy,
) -> Result<(), DockerError> {
    endpoint::give_to(docker, &db.endpoint_aliases, primary.into()).await?;
    let address =
        super::instance::container_address(docker, &proxy.container_id, &proxy.network).await?;
    let holder = endpoint::Holder {
        container_id: &proxy.container_id,
        network: &proxy.network,
        address,
    };
    endpoint::take_from(docker, holder).await?;
    let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
    while tokio::time::Instant::now() < deadline && connections(docker, proxy).await > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    docker.remove_container(&proxy.container_id, true).await
}

/// The connections the proxy carries now: two processes each beside its listener (0 if it
/// cannot be asked).
async fn connections(docker: &DockerClient, proxy: &Proxy) -> usize {
    let top = docker
        .bollard()
        .top_processes(&proxy.container_id, None)
        .await;
    let processes = top.ok().and_then(|t| t.processes).map_or(1, |p| p.len());
    processes.saturating_sub(1) / 2
}

/// Starts the proxy holding the endpoint's names, waits until it listens, then takes the names
/// off the primary (for a moment both answer to them: a connection goes either way, none
/// fails). Whatever fails, the endpoint stays on the primary and no proxy is left.
async fn divert(
    docker: &DockerClient,
    db: &DbInstance,
    primary: &Node,
    toxics: PathToxics,
) -> Result<Proxy, DetourError> {
    if docker.image_labels(PROXY_IMAGE).await?.is_none() {
        return Err(DetourError::ImageMissing);
    }
    let name = proxy_container_name(db);
    docker.remove_container(&name, true).await?;
    let spec = ContainerSpec {
        name: name.clone(),
        image: PROXY_IMAGE.to_string(),
        entrypoint: Some(vec!["perl".into(), SCRIPT_PATH.into(), db.port.to_string()]),
        labels: labels::of(&db.lab, labels::Role::DatabaseProxy, &db.identifier),
        networks: vec![NetworkAttachment {
            network: primary.network.clone(),
            aliases: db.endpoint_aliases.clone(),
            ipv4_address: None,
        }],
        memory_mib: Some(256),
        ..ContainerSpec::default()
    };
    let files = [
        file(SCRIPT_PATH, SCRIPT.as_bytes().to_vec()),
        file(
            SETTINGS_PATH,
            toxics.settings_file(&upstream(db, primary)).into_bytes(),
        ),
    ];
    let container_id = docker.run_container_with_files(&spec, &files).await?;
    let taken = async {
        wait_listening(docker, db, &container_id).await?;
        endpoint::take_from(docker, primary.into()).await?;
        Ok::<(), DetourError>(())
    };
    if let Err(e) = taken.await {
        let _ = endpoint::give_to(docker, &db.endpoint_aliases, primary.into()).await;
        let _ = docker.remove_container(&container_id, true).await;
        return Err(e);
    }
    tracing::info!(
        "database {}: the task → database path now goes through a proxy ({name})",
        db.identifier
    );
    Ok(Proxy {
        container_id,
        network: primary.network.clone(),
        toxics,
    })
}

async fn wait_listening(
    docker: &DockerClient,
    db: &DbInstance,
    container_id: &str,
) -> Result<(), DetourError> {
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    while tokio::time::Instant::now() < deadline {
        if docker.read_file(container_id, READY_PATH).await?.is_some() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(DetourError::NotReady {
        identifier: db.identifier.clone(),
    })
}

async fn write_settings(
    docker: &DockerClient,
    db: &DbInstance,
    proxy: &Proxy,
    primary: &Node,
) -> Result<(), DockerError> {
    let settings = proxy.toxics.settings_file(&upstream(db, primary));
    docker
        .copy_files(
            &proxy.container_id,
            &[file(SETTINGS_PATH, settings.into_bytes())],
        )
        .await
}

/// The primary by its container name (every container on the network resolves it).
fn upstream(db: &DbInstance, primary: &Node) -> String {
    format!("{}:{}", primary.name, db.port)
}

fn file(path: &str, contents: Vec<u8>) -> ContainerFile {
    ContainerFile {
        path: path.to_string(),
        uid: 0,
        gid: 0,
        mode: 0o644,
        contents,
    }
}
