//! Docker networks that stand for VPC subnets.

use std::collections::HashMap;

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::ListNetworksOptions;

use super::{DockerClient, DockerError, is_not_found};
use crate::config::Ipv4Net;

/// Network option that keeps the host off an internal bridge (no host address, so neither side
/// can reach the other), matching a route table with only local routes.
const INHIBIT_IPV4: &str = "com.docker.network.bridge.inhibit_ipv4";

#[derive(Debug, Clone, PartialEq)]
pub struct NetworkSpec {
    pub name: String,
    /// The subnet this network stands for (used in clash messages).
    pub subnet_name: String,
    pub cidr: String,
    pub gateway: String,
    /// No route out and no host address (a private DB subnet).
    pub internal: bool,
    pub labels: HashMap<String, String>,
}

/// A network as listed: enough to tell whose it is.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkSummary {
    pub id: String,
    pub name: String,
    pub labels: HashMap<String, String>,
}

impl DockerClient {
    /// Creates the network unless one with that name exists already. A subnet that overlaps an
    /// existing Docker network is reported with both names and how to change the config.
    pub async fn ensure_network(&self, spec: &NetworkSpec) -> Result<(), DockerError> {
        match self.inner.inspect_network(&spec.name, None).await {
            Ok(_) => return Ok(()),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(DockerError::op("inspect network", &spec.name)(e)),
        }
        if let Some((network, existing)) = self.network_overlapping(&spec.cidr).await? {
            return Err(DockerError::SubnetClash {
                subnet: spec.subnet_name.clone(),
                cidr: spec.cidr.clone(),
                network,
                existing,
            });
        }
        let mut options = HashMap::new();
        if spec.internal {
            options.insert(INHIBIT_IPV4.to_string(), "true".to_string());
        }
        let request = NetworkCreateRequest {
            name: spec.name.clone(),
            driver: Some("bridge".into()),
            internal: Some(spec.internal),
            ipam: Some(Ipam {
                driver: Some("default".into()),
                config: Some(vec![IpamConfig {
                    subnet: Some(spec.cidr.clone()),
                    gateway: Some(spec.gateway.clone()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            options: Some(options),
            labels: Some(spec.labels.clone()),
            ..Default::default()
        };
        self.inner
            .create_network(request)
            .await
            .map_err(DockerError::op("create network", &spec.name))?;
        Ok(())
    }

    /// The name and subnet of an existing network whose subnet overlaps `cidr`.
    async fn network_overlapping(
        &self,
        cidr: &str,
    ) -> Result<Option<(String, String)>, DockerError> {
        let Ok(wanted) = cidr.parse::<Ipv4Net>() else {
            return Ok(None);
        };
        let networks = self
            .inner
            .list_networks(None::<ListNetworksOptions>)
            .await
            .map_err(DockerError::op("list networks", "all"))?;
        for network in networks {
            let configs = network.ipam.and_then(|i| i.config).unwrap_or_default();
            for subnet in configs.into_iter().filter_map(|c| c.subnet) {
                // IPv6 and malformed subnets do not parse and cannot clash with an IPv4 one.
                if subnet
                    .parse::<Ipv4Net>()
                    .is_ok_and(|other| other.overlaps(&wanted))
                {
                    return Ok(Some((network.name.clone().unwrap_or_default(), subnet)));
                }
            }
        }
        Ok(None)
    }

    /// The IPv4 subnets of every network on the engine (any project's), for choosing one that
    /// overlaps none.
    pub async fn network_subnets(&self) -> Result<Vec<Ipv4Net>, DockerError> {
        let networks = self
            .inner
            .list_networks(None::<ListNetworksOptions>)
            .await
            .map_err(DockerError::op("list networks", "all"))?;
        Ok(networks
            .into_iter()
            .flat_map(|n| n.ipam.and_then(|i| i.config).unwrap_or_default())
            .filter_map(|c| c.subnet?.parse().ok())
            .collect())
    }

    /// Names of the networks carrying these label filters.
    pub async fn list_networks(
        &self,
        filters: HashMap<String, Vec<String>>,
    ) -> Result<Vec<String>, DockerError> {
        let networks = self.list_network_summaries(filters).await?;
        Ok(networks.into_iter().map(|n| n.name).collect())
    }

    /// Id, name and labels of the networks carrying these label filters (for the orphan sweep).
    pub async fn list_network_summaries(
        &self,
        filters: HashMap<String, Vec<String>>,
    ) -> Result<Vec<NetworkSummary>, DockerError> {
        let options = ListNetworksOptions {
            filters: Some(filters),
        };
        let networks = self
            .inner
            .list_networks(Some(options))
            .await
            .map_err(DockerError::op("list networks", "by label"))?;
        Ok(networks
            .into_iter()
            .map(|n| NetworkSummary {
                id: n.id.unwrap_or_default(),
                name: n.name.unwrap_or_default(),
                labels: n.labels.unwrap_or_default(),
            })
            .collect())
    }

    /// Attaches a running container to a network; one already attached is not an error.
    pub async fn connect_network(&self, network: &str, container: &str) -> Result<(), DockerError> {
        let request = bollard::models::NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: None,
        };
        match self.inner.connect_network(network, request).await {
            Err(e) if !super::is_conflict(&e) && !already_attached(&e) => {
                Err(DockerError::op("connect container to network", network)(e))
            }
            _ => Ok(()),
        }
    }

    /// Detaches a container from a network (forced, so a stopped one goes too); one that is not
    /// attached, or gone, is not an error.
    pub async fn disconnect_network(
        &self,
        network: &str,
        container: &str,
    ) -> Result<(), DockerError> {
        let request = bollard::models::NetworkDisconnectRequest {
            container: container.to_string(),
            force: Some(true),
        };
        match self.inner.disconnect_network(network, request).await {
            Err(e) if !is_not_found(&e) && !not_attached(&e) => Err(DockerError::op(
                "disconnect container from network",
                network,
            )(e)),
            _ => Ok(()),
        }
    }

    /// Removes a network; one that is already gone is not an error.
    pub async fn remove_network(&self, name: &str) -> Result<(), DockerError> {
        match self.inner.remove_network(name).await {
            Err(e) if !is_not_found(&e) => Err(DockerError::op("remove network", name)(e)),
            _ => Ok(()),
        }
    }
}

/// Docker answers 403 "endpoint with name ... already exists in network" for a second connect.
fn already_attached(e: &bollard::errors::Error) -> bool {
    e.to_string().contains("already exists in network")
}

/// Docker answers 403/500 "container ... is not connected to network" for a needless disconnect.
fn not_attached(e: &bollard::errors::Error) -> bool {
    e.to_string().contains("is not connected to")
}
