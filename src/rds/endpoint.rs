//! Where the endpoint's names are: on the primary, or (while a fault is on the task → database
//! path) on that path's proxy. Docker cannot edit a container's aliases, so a container is
//! disconnected from its network and connected again with the new ones, its address pinned (or
//! IPAM could hand it another, even the old primary's). Its open connections survive the moment
//! it takes: the socket state is the container's, and the same address comes back.

use crate::docker::{DockerClient, DockerError, NetworkAttachment};

use super::nodes::Node;

/// A container on one network, at a pinned address.
pub(super) struct Holder<'a> {
    pub container_id: &'a str,
    pub network: &'a str,
    pub address: Option<String>,
}

impl<'a> From<&'a Node> for Holder<'a> {
    fn from(node: &'a Node) -> Holder<'a> {
        Holder {
            container_id: &node.container_id,
            network: &node.network,
            address: node.address.clone(),
        }
    }
}

/// Puts the endpoint's aliases on `holder`.
pub(super) async fn give_to(
    docker: &DockerClient,
    aliases: &[String],
    holder: Holder<'_>,
) -> Result<(), DockerError> {
    reattach(docker, holder, aliases.to_vec()).await
}

/// Takes the endpoint's aliases off `holder` (it keeps its address and its own name).
pub(super) async fn take_from(
    docker: &DockerClient,
    holder: Holder<'_>,
) -> Result<(), DockerError> {
    reattach(docker, holder, Vec::new()).await
}

async fn reattach(
    docker: &DockerClient,
    holder: Holder<'_>,
    aliases: Vec<String>,
) -> Result<(), DockerError> {
    docker
        .disconnect_network(holder.network, holder.container_id)
        .await?;
    docker
        .connect_with(
            holder.container_id,
            &NetworkAttachment {
                network: holder.network.to_string(),
                aliases,
                ipv4_address: holder.address,
            },
        )
        .await
}
