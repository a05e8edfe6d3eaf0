//! The containers that serve one DB instance: its primary and, for a Multi-AZ instance, its
//! standby in another availability zone. Each node has its own container, data volume, subnet
//! (Docker network) and address. Which node is the primary changes with a failover, so the set
//! is shared by every clone of the instance and swapped as a whole.
//!
//! Nodes are numbered by slot, not by role: slot 0 is the instance's first container and volume
//! (`tierlab-LAB-ID`, `tierlab-LAB-ID-data`), slot 1 the other (`tierlab-LAB-ID-2`,
//! `tierlab-LAB-ID-2-data`). After a failover the primary is slot 1 and the rebuilt standby
//! slot 0, and the other way round after the next.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::docker::{ContainerSpec, NetworkAttachment, labels};

/// One container of an instance.
#[derive(Debug, Clone)]
pub struct Node {
    /// 0 or 1 (see the module's doc).
    pub slot: u8,
    /// The container's name.
    pub name: String,
    pub container_id: String,
    pub volume: String,
    /// The node's own subnet (its availability zone) and that subnet's network.
    pub subnet: String,
    pub network: String,
    /// The node's address on its own network, pinned when it is reconnected (alias moves).
    pub address: Option<String>,
    /// What the container was created from, to create it again.
    pub spec: Arc<ContainerSpec>,
}

/// The nodes of an instance at one moment.
#[derive(Debug, Clone)]
pub struct Nodes {
    pub primary: Node,
    /// The Multi-AZ standby, once it has joined.
    pub standby: Option<Node>,
    /// Whether the primary's commits wait for the standby's acknowledgement
    /// (`Rpl_semi_sync_master_status`), as last read; `false` means replication fell back to
    /// asynchronous and acknowledged writes may be missing on the standby.
    pub standby_in_sync: bool,
    /// The container name of a standby being built (owned by the instance meanwhile).
    pub building: Option<String>,
}

/// The shared, swappable node set of an instance. Cheap to clone.
#[derive(Debug, Clone)]
pub struct NodeSet(Arc<ArcSwap<Nodes>>);

impl NodeSet {
    pub fn new(primary: Node) -> NodeSet {
        NodeSet(Arc::new(ArcSwap::from_pointee(Nodes {
            primary,
            standby: None,
            standby_in_sync: false,
            building: None,
        })))
    }

    pub fn get(&self) -> Arc<Nodes> {
        self.0.load_full()
    }

    /// Changes the set (seen by every clone).
    pub fn update(&self, change: impl Fn(&mut Nodes)) {
        self.0.rcu(|current| {
            let mut next = (**current).clone();
            change(&mut next);
            next
        });
    }
}

/// The container name of `slot`.
pub fn node_name(lab: &str, identifier: &str, slot: u8) -> String {
    match slot {
        0 => super::container_name(lab, identifier),
        n => format!("{}-{}", super::container_name(lab, identifier), n + 1),
    }
}

/// The host name of the node whose container is `name`: the container's name, or when it is
/// longer than a DNS label (63) its start and a hash of the whole (still one per node).
///
/// Never the instance's identifier or endpoint: Docker makes a container's host name an alias on
/// every user-defined network it joins, so a node named after the endpoint would answer to it.
/// A standby (or a rebuilt one still catching up) that answers to the endpoint takes reads and,
/// before it is made read-only, writes; the endpoint must resolve to the primary only.
pub fn node_hostname(name: &str) -> String {
    const MOST: usize = 63;
    if name.len() <= MOST {
        return name.to_string();
    }
    let hash = format!("{:08x}", super::server_id(name));
    let start = &name[..MOST - hash.len() - 1];
    format!("{}-{hash}", start.trim_end_matches('-'))
}

/// The data volume of `slot`.
pub fn node_volume(lab: &str, identifier: &str, slot: u8) -> String {
    match slot {
        0 => super::volume_name(lab, identifier),
        n => format!("tierlab-{lab}-{identifier}-{}-data", n + 1),
    }
}

/// The spec of a node in `slot` on `networks` (its own first), derived from the instance's
/// first container: same image, environment (the copy holds the same accounts), limits and
/// storage mount; its own name, volume, subnet label and server id; no alias (the endpoint's
/// aliases are moved onto the primary by [`super::multi_az`]).
pub fn node_spec(
    template: &ContainerSpec,
    lab: &str,
    identifier: &str,
    slot: u8,
    subnet: &str,
    networks: Vec<NetworkAttachment>,
) -> ContainerSpec {
    let name = node_name(lab, identifier, slot);
    let mut spec = template.clone();
    for (key, value) in &mut spec.env {
        if key == "MYSQL_SERVER_ID" {
            *value = super::server_id(&name).to_string();
        }
    }
    spec.labels
        .insert(labels::SUBNET.to_string(), subnet.to_string());
    spec.volume = spec
        .volume
        .map(|(_, target)| (node_volume(lab, identifier, slot), target));
    spec.networks = networks;
    spec.hostname = Some(node_hostname(&name));
    spec.name = name;
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_name_containers_and_volumes() {
        assert_eq!(node_name("lab", "db", 0), "tierlab-lab-db");
        assert_eq!(node_name("lab", "db", 1), "tierlab-lab-db-2");
        assert_eq!(node_volume("lab", "db", 0), "tierlab-lab-db-data");
        assert_eq!(node_volume("lab", "db", 1), "tierlab-lab-db-2-data");
    }

    #[test]
    fn a_node_spec_has_its_own_name_volume_subnet_and_server_id() {
        let template = ContainerSpec {
            name: "tierlab-lab-db".into(),
            env: vec![
                ("MYSQL_ROOT_PASSWORD".into(), "x".into()),
                ("MYSQL_SERVER_ID".into(), "1".into()),
            ],
            volume: Some(("tierlab-lab-db-data".into(), "/var/lib/mysql".into())),
            ..Default::default()
        };
        let networks = vec![NetworkAttachment {
            network: "net-b".into(),
            ..Default::default()
        }];
        let spec = node_spec(&template, "lab", "db", 1, "subnet-b", networks);
        assert_eq!(spec.name, "tierlab-lab-db-2");
        assert_eq!(
            spec.volume,
            Some(("tierlab-lab-db-2-data".into(), "/var/lib/mysql".into()))
        );
        assert_eq!(spec.labels[labels::SUBNET], "subnet-b");
        let id = super::super::server_id("tierlab-lab-db-2").to_string();
        assert!(spec.env.contains(&("MYSQL_SERVER_ID".into(), id)));
        assert_eq!(spec.networks[0].network, "net-b");
        assert!(spec.networks[0].aliases.is_empty());
        assert_eq!(spec.hostname.as_deref(), Some("tierlab-lab-db-2"));
    }

    #[test]
    fn a_node_is_never_named_after_its_endpoint() {
        // Docker turns the host name into a network alias: it must not be the identifier.
        for slot in [0, 1] {
            let name = node_name("lab", "db", slot);
            assert_ne!(node_hostname(&name), "db");
            assert_eq!(node_hostname(&name), name);
        }
    }

    #[test]
    fn a_long_host_name_stays_one_per_node() {
        let identifier = "a".repeat(63);
        let first = node_hostname(&node_name("a-long-lab-name", &identifier, 0));
        let second = node_hostname(&node_name("a-long-lab-name", &identifier, 1));
        assert!(first.len() <= 63 && second.len() <= 63, "{first} {second}");
        assert_ne!(first, second);
        assert_ne!(first, identifier);
        assert!(first.starts_with("tierlab-a-long-lab-name-aaa"), "{first}");
    }
}
