//! The VPC as Docker networks: a network per subnet that hosts something, and which networks each
//! container joins. Only pure decisions live here; `lab` applies them.
//!
//! - A subnet whose route table has only local routes (`default-route = "none"`, the private DB
//!   subnets) becomes an `internal` network without a host address: no route out, and the host
//!   cannot reach it either.
//! - A subnet routed through a NAT gateway becomes an ordinary bridge network (outbound access).
//! - Public subnets get no network (the load balancer runs in-process on the host's loopback),
//!   except one that hosts a bastion: an ordinary bridge network, its SSH port published on
//!   127.0.0.1.
//! - A task joins the network of its own subnet, plus the network of each database its security
//!   groups may reach (checked both ways, as AWS does: the task's egress and the database's
//!   ingress). Take the rule out of `db-sg` and the tasks are no longer attached to the DB network.
//! - A bastion joins its public subnet's network, plus every network of each database it may
//!   reach under the security groups as they are now (rules change at run time: see
//!   [`crate::api`]'s EC2 `AuthorizeSecurityGroupIngress`).

mod live_groups;
pub mod zones;

use std::collections::BTreeMap;

use crate::config::{Bastion, Config, Database, DefaultRoute, SecurityGroup, Service};
use crate::docker::{NetworkAttachment, NetworkSpec, labels};

pub use crate::config::{sg_allows, sg_allows_under};
pub use live_groups::{Groups, LiveGroups, RuleError, authorize, revoke};
pub use zones::ZoneHealth;

/// Docker name of the network that stands for `subnet` in `lab`.
pub fn network_name(lab: &str, subnet: &str) -> String {
    format!("tierlab-{lab}-{subnet}")
}

/// The network spec of one subnet.
pub fn subnet_network(config: &Config, subnet: &str) -> NetworkSpec {
    let lab = &config.lab.name;
    let cidr = config.vpc.subnets[subnet].cidr;
    let route = &config.vpc.subnets[subnet].route_table;
    let internal = config.vpc.route_tables[route].default_route == DefaultRoute::None;
    let gateway = std::net::Ipv4Addr::from(u32::from(cidr.addr) + 1);
    NetworkSpec {
        name: network_name(lab, subnet),
        subnet_name: subnet.to_string(),
        cidr: format!("{}/{}", cidr.addr, cidr.prefix),
        gateway: gateway.to_string(),
        internal,
        labels: labels::of(lab, labels::Role::Network, subnet),
    }
}

/// The subnet a database instance is placed in (the first of its subnet group, as RDS picks one
/// AZ for a Single-AZ instance).
pub fn database_subnet(db: &Database) -> &str {
    &db.subnets[0]
}

/// Databases the service's tasks may reach under the security group rules.
pub fn reachable_databases<'a>(config: &'a Config, service: &Service) -> Vec<&'a Database> {
    config
        .databases
        .values()
        .filter(|db| {
            sg_allows(
                config,
                &service.security_groups,
                &db.security_groups,
                db.port,
            )
        })
        .collect()
}

/// Networks a task joins: its own subnet first (the published port goes through it), then
/// every subnet of the DB subnet groups of the databases it may reach: a Multi-AZ instance's
/// primary can be in any of them (its endpoint moves to the other AZ on failover), as on AWS,
/// where the subnets of a VPC route to each other.
pub fn task_networks(config: &Config, service: &Service, subnet: &str) -> Vec<NetworkAttachment> {
    task_networks_under(config, &config.security_groups, service, subnet)
}

/// [`task_networks`] under `groups` (the security groups as they are now, changed at run time
/// through the EC2 API).
pub fn task_networks_under(
    config: &Config,
    groups: &BTreeMap<String, SecurityGroup>,
    service: &Service,
    subnet: &str,
) -> Vec<NetworkAttachment> {
    let mut attachments = vec![NetworkAttachment {
        network: network_name(&config.lab.name, subnet),
        ..Default::default()
    }];
    let reachable = config.databases.values().filter(|db| {
        let (from, to) = (&service.security_groups, &db.security_groups);
        sg_allows_under(groups, config.vpc.cidr, from, to, db.port)
    });
    for db in reachable {
        for db_subnet in &db.subnets {
            let network = network_name(&config.lab.name, db_subnet);
            if attachments.iter().all(|a| a.network != network) {
                attachments.push(NetworkAttachment {
                    network,
                    ..Default::default()
                });
            }
        }
    }
    attachments
}

/// Every network a database's containers may be on: those of its subnets that have one (a
/// Multi-AZ standby sits in the other zone's subnet), in the subnet group's order.
pub fn database_networks(config: &Config, db: &Database) -> Vec<String> {
    let in_use = subnets_in_use(config);
    db.subnets
        .iter()
        .filter(|s| in_use.contains(s))
        .map(|s| network_name(&config.lab.name, s))
        .collect()
}

/// Networks a bastion joins under `groups` (the security groups as they are now): its own
/// subnet's first (its SSH port is published through it), then every network of each database
/// whose security groups let the bastion in on the database's port, checked both ways.
pub fn bastion_networks(
    config: &Config,
    groups: &BTreeMap<String, SecurityGroup>,
    bastion: &Bastion,
) -> Vec<String> {
    bastion_networks_among(config, groups, bastion, config.databases.values())
}

/// [`bastion_networks`] among `databases` (the lab's instances now: the config's and those
/// created at run time, a read replica or a restored instance).
pub fn bastion_networks_among<'d>(
    config: &Config,
    groups: &BTreeMap<String, SecurityGroup>,
    bastion: &Bastion,
    databases: impl IntoIterator<Item = &'d Database>,
) -> Vec<String> {
    let mut networks = vec![network_name(&config.lab.name, &bastion.subnet)];
    for db in databases {
        let from = &bastion.security_groups;
        if !sg_allows_under(groups, config.vpc.cidr, from, &db.security_groups, db.port) {
            continue;
        }
        for network in database_networks(config, db) {
            if !networks.contains(&network) {
                networks.push(network);
            }
        }
    }
    networks
}

/// Every subnet that hosts a container, in a stable order.
pub fn subnets_in_use(config: &Config) -> Vec<String> {
    let mut subnets: Vec<String> = config
        .services
        .values()
        .flat_map(|s| s.subnets.iter().cloned())
        .chain(
            config
                .databases
                .values()
                .flat_map(|db| db.subnets.iter().cloned()),
        )
        .chain(config.bastions.values().map(|b| b.subnet.clone()))
        .collect();
    subnets.sort();
    subnets.dedup();
    subnets
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The default topology, with its build contexts pointed at the repo.
    fn reference() -> Config {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("emulator.toml")).unwrap();
        crate::config::parse(&text, &root.join("emulator.toml"), root).unwrap()
    }

    fn without_db_ingress(mut config: Config) -> Config {
        config
            .security_groups
            .get_mut("db-sg")
            .unwrap()
            .ingress
            .clear();
        config
    }

    #[test]
    fn db_subnet_is_internal_and_app_subnet_is_not() {
        let config = reference();
        let db = subnet_network(&config, "private-db-subnet-1a");
        assert!(db.internal);
        assert_eq!(db.cidr, "10.0.5.0/24");
        assert_eq!(db.gateway, "10.0.5.1");
        assert_eq!(db.name, "tierlab-flask-app-private-db-subnet-1a");
        assert!(!subnet_network(&config, "private-app-subnet-1a").internal);
    }

    #[test]
    fn tasks_join_their_subnet_then_the_reachable_database_subnets() {
        let config = reference();
        let service = &config.services["flask-app-service"];
        let networks: Vec<String> = task_networks(&config, service, "private-app-subnet-1b")
            .into_iter()
            .map(|a| a.network)
            .collect();
        assert_eq!(
            networks,
            [
                "tierlab-flask-app-private-app-subnet-1b",
                "tierlab-flask-app-private-db-subnet-1a",
                "tierlab-flask-app-private-db-subnet-1b"
            ]
        );
    }

    #[test]
    fn removing_the_db_sg_rule_cuts_tasks_off_the_database_network() {
        let config = without_db_ingress(reference());
        let service = &config.services["flask-app-service"];
        assert!(reachable_databases(&config, service).is_empty());
        assert_eq!(
            task_networks(&config, service, "private-app-subnet-1a").len(),
            1
        );
    }

    #[test]
    fn security_groups_need_both_egress_and_ingress() {
        let config = reference();
        let app = ["app-sg".to_string()];
        let db = ["db-sg".to_string()];
        let alb = ["alb-sg".to_string()];
        assert!(sg_allows(&config, &app, &db, 3306));
        assert!(!sg_allows(&config, &app, &db, 22), "only 3306 is open");
        assert!(!sg_allows(&config, &db, &app, 8000), "db-sg has no egress");
        assert!(sg_allows(&config, &alb, &app, 8000));
        assert!(
            !sg_allows(&config, &alb, &db, 3306),
            "the load balancer may not reach the database"
        );
    }

    #[test]
    fn every_used_subnet_gets_a_network_and_only_the_bastions_public_one() {
        let config = reference();
        let subnets = subnets_in_use(&config);
        assert_eq!(
            subnets,
            [
                "private-app-subnet-1a",
                "private-app-subnet-1b",
                "private-db-subnet-1a",
                "private-db-subnet-1b",
                "public-subnet-1a"
            ]
        );
        let public = subnet_network(&config, "public-subnet-1a");
        assert!(
            !public.internal,
            "an ordinary bridge: the bastion is reached through it"
        );
    }

    fn bastion_networks_of(config: &Config) -> Vec<String> {
        let bastion = &config.bastions["flask-bastion-host"];
        bastion_networks(config, &config.security_groups, bastion)
    }

    #[test]
    fn tasks_follow_the_security_groups_as_they_are_now() {
        let config = reference();
        let service = &config.services["flask-app-service"];
        let mut groups = config.security_groups.clone();
        groups.get_mut("db-sg").unwrap().ingress.remove(0); // app-sg's rule
        let networks = task_networks_under(&config, &groups, service, "private-app-subnet-1a");
        assert_eq!(networks.len(), 1, "only its own subnet");
        assert_eq!(
            task_networks_under(
                &config,
                &config.security_groups,
                service,
                "private-app-subnet-1a"
            )
            .len(),
            3,
            "its own subnet and both of the DB subnet group's"
        );
    }

    #[test]
    fn the_bastion_joins_its_subnet_and_the_database_network_db_sg_admits_it_to() {
        assert_eq!(
            bastion_networks_of(&reference()),
            [
                "tierlab-flask-app-public-subnet-1a",
                "tierlab-flask-app-private-db-subnet-1a",
                "tierlab-flask-app-private-db-subnet-1b"
            ]
        );
    }

    #[test]
    fn without_the_db_sg_rule_for_bastion_sg_the_bastion_stays_in_its_subnet() {
        let mut config = reference();
        let db_sg = config.security_groups.get_mut("db-sg").unwrap();
        db_sg
            .ingress
            .retain(|r| r.peer != crate::config::SgPeer::Group("bastion-sg".into()));
        assert_eq!(
            bastion_networks_of(&config),
            ["tierlab-flask-app-public-subnet-1a"]
        );
        // The app keeps its own rule.
        let service = &config.services["flask-app-service"];
        assert_eq!(reachable_databases(&config, service).len(), 1);
    }

    #[test]
    fn the_bastion_joins_every_network_of_a_database_in_two_subnets() {
        let mut config = reference();
        // A second DB subnet with a network (as a Multi-AZ standby or a second instance gives it).
        let mut other = config.databases["flask-crud-db"].clone();
        other.identifier = "other-db".into();
        other.subnets = vec!["private-db-subnet-1b".into(), "private-db-subnet-1a".into()];
        config.databases.insert("other-db".into(), other);
        assert_eq!(
            bastion_networks_of(&config),
            [
                "tierlab-flask-app-public-subnet-1a",
                "tierlab-flask-app-private-db-subnet-1a",
                "tierlab-flask-app-private-db-subnet-1b"
            ]
        );
        let db = &config.databases["flask-crud-db"];
        assert_eq!(
            database_networks(&config, db),
            [
                "tierlab-flask-app-private-db-subnet-1a",
                "tierlab-flask-app-private-db-subnet-1b"
            ]
        );
    }
}
