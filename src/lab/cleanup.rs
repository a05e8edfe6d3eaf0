//! Removing a lab's Docker objects by label. Used by `down`, by `Lab::shutdown`, by the `Drop`
//! fallback and before `up` (to clear what a crashed run left). Every step tolerates objects
//! that are already gone, so it can be repeated.

use std::time::Duration;

use crate::docker::{DockerClient, DockerError, labels};

/// Grace period for a database to shut down cleanly before it is killed.
const DATABASE_STOP_GRACE: Duration = Duration::from_secs(10);

/// What a cleanup removed, for the CLI's summary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removed {
    pub containers: usize,
    pub networks: usize,
    pub volumes: usize,
}

/// Removes every container and network of `lab`; also its volumes when `volumes` is set.
/// Databases are stopped gracefully first so their data files are clean.
pub async fn remove_lab(
    docker: &DockerClient,
    lab: &str,
    volumes: bool,
) -> Result<Removed, DockerError> {
    remove_lab_within(docker, lab, volumes, DATABASE_STOP_GRACE).await
}

/// [`remove_lab`] with `grace` for each database to stop before it is killed (the reaper has
/// less time than `down`).
pub async fn remove_lab_within(
    docker: &DockerClient,
    lab: &str,
    volumes: bool,
    grace: Duration,
) -> Result<Removed, DockerError> {
    let mut removed = Removed::default();
    let databases = docker
        .list_containers(labels::filter(lab, Some(labels::Role::Database), None))
        .await?;
    for db in databases.iter().filter_map(|c| c.id.as_deref()) {
        docker.stop_container(db, grace).await?;
    }
    let containers = docker
        .list_containers(labels::filter(lab, None, None))
        .await?;
    for id in containers.iter().filter_map(|c| c.id.as_deref()) {
        docker.remove_container(id, true).await?;
        removed.containers += 1;
    }
    for network in docker
        .list_networks(labels::filter(lab, None, None))
        .await?
    {
        docker.remove_network(&network).await?;
        removed.networks += 1;
    }
    if volumes {
        for volume in docker.list_volumes(labels::filter(lab, None, None)).await? {
            docker.remove_volume(&volume).await?;
            removed.volumes += 1;
        }
    }
    Ok(removed)
}
