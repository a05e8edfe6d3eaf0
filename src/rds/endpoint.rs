//! Where the endpoint's names are: on the primary, or (while a fault is on the task → database
//! path) on that path's proxy. Docker cannot edit a container's aliases, so a container is
//! disconnected from its network and connected again with the new ones, its address pinned (or
//! IPAM could hand it another, even the old primary's).

use crate::docker::{DockerClient, DockerError, NetworkAttachment};

use super::nodes::Node;

/// Puts the endpoint's aliases on `node`.
pub(super) async fn give_to(
    docker: &DockerClient,
    aliases: &[String],
    node: &Node,
) -> Result<(), DockerError> {
    reattach(docker, node, aliases.to_vec()).await
}

/// Takes the endpoint's aliases off `node` (it keeps its address and its own name).
pub(super) async fn take_from(docker: &DockerClient, node: &Node) -> Result<(), DockerError> {
    reattach(docker, node, Vec::new()).await
}

async fn reattach(
    docker: &DockerClient,
    node: &Node,
    aliases: Vec<String>,
) -> Result<(), DockerError> {
    docker
        .disconnect_network(&node.network, &node.container_id)
        .await?;
    docker
        .connect_with(
            &node.container_id,
            &NetworkAttachment {
                network: node.network.clone(),
                aliases,
                ipv4_address: node.address.clone(),
            },
        )
        .await
}
