//! Docker networks that stand for VPC subnets.

use std::collections::HashMap;

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::ListNetworksOptions;

use super::{DockerClient, DockerError, is_not_found};

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
    async fn network_overlapping(&self, cidr: &str) -> Result<Option<(String, String)>, DockerError> {
        let Some(wanted) = parse_cidr(cidr) else {
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
                if parse_cidr(&subnet).is_some_and(|other| ranges_overlap(wanted, other)) {
                    return Ok(Some((network.name.clone().unwrap_or_default(), subnet)));
                }
            }
        }
        Ok(None)
    }

    /// Names of the networks carrying these label filters.
    pub async fn list_networks(&self, filters: HashMap<String, Vec<String>>) -> Result<Vec<String>, DockerError> {
        let options = ListNetworksOptions { filters: Some(filters) };
        let networks = self
            .inner
            .list_networks(Some(options))
            .await
            .map_err(DockerError::op("list networks", "by label"))?;
        Ok(networks.into_iter().filter_map(|n| n.name).collect())
    }

    /// Removes a network; one that is already gone is not an error.
    pub async fn remove_network(&self, name: &str) -> Result<(), DockerError> {
        match self.inner.remove_network(name).await {
            Err(e) if !is_not_found(&e) => Err(DockerError::op("remove network", name)(e)),
            _ => Ok(()),
        }
    }
}

/// An IPv4 CIDR as an inclusive range of addresses; `None` for IPv6 or malformed input.
fn parse_cidr(cidr: &str) -> Option<(u32, u32)> {
    let (addr, prefix) = cidr.split_once('/')?;
    let addr: std::net::Ipv4Addr = addr.parse().ok()?;
    let prefix: u32 = prefix.parse().ok().filter(|p| *p <= 32)?;
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    let start = u32::from(addr) & mask;
    Some((start, start | !mask))
}

fn ranges_overlap(a: (u32, u32), b: (u32, u32)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_of_cidrs() {
        let a = parse_cidr("10.0.3.0/24").unwrap();
        assert!(ranges_overlap(a, parse_cidr("10.0.0.0/16").unwrap()));
        assert!(!ranges_overlap(a, parse_cidr("10.0.4.0/24").unwrap()));
        assert!(parse_cidr("fd00::/64").is_none());
    }
}
