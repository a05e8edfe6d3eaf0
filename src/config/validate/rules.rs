//! Checks shared by several sections: security group references, subnet placement, and
//! whether one security group lets another in on a port.

use std::collections::{BTreeMap, BTreeSet};

use super::super::model::{DefaultRoute, SecurityGroup, SgPeer, Vpc};
use super::ctx::{Ctx, list, q};

/// Every name in `names` (at `key`) is a defined security group; at least one is given.
pub fn groups_exist(
    cx: &mut Ctx,
    key: &str,
    names: &[String],
    groups: &BTreeMap<String, SecurityGroup>,
) {
    if names.is_empty() {
        cx.bad(key, list(names), "needs at least one security group");
    }
    for (i, name) in names.iter().enumerate() {
        cx.exists(
            &format!("{key}[{i}]"),
            "security group",
            name,
            groups.keys(),
        );
    }
}

/// Tasks and databases live in private subnets (route table `nat-gateway` or `none`), and
/// `min_zones` distinct availability zones. Returns the zones found.
pub fn private_subnets(
    cx: &mut Ctx,
    key: &str,
    names: &[String],
    vpc: &Vpc,
    min_zones: usize,
    why: &str,
) {
    let mut zones = BTreeSet::new();
    for (i, name) in names.iter().enumerate() {
        let item = format!("{key}[{i}]");
        if !cx.exists(&item, "subnet", name, vpc.subnets.keys()) {
            continue;
        }
        let subnet = &vpc.subnets[name];
        zones.insert(subnet.availability_zone.as_str());
        let route = vpc
            .route_tables
            .get(&subnet.route_table)
            .map(|rt| rt.default_route);
        if route == Some(DefaultRoute::InternetGateway) {
            cx.bad(&item, q(name), format!(
                "is a public subnet (route table `{}` routes to the internet gateway); use a private one",
                subnet.route_table
            ));
        }
    }
    if names.is_empty() || zones.len() < min_zones {
        cx.bad(
            key,
            list(names),
            format!("{why} (found {} zone(s))", zones.len()),
        );
    }
}

/// Whether some ingress rule of `targets` admits `port` from one of `sources` (by group, or by a
/// CIDR that covers all of `source_cidrs`, the subnets the sources sit in).
pub fn admits(
    groups: &BTreeMap<String, SecurityGroup>,
    targets: &[String],
    port: u16,
    sources: &[String],
    source_cidrs: &[super::super::model::Ipv4Net],
) -> bool {
    targets
        .iter()
        .filter_map(|t| groups.get(t))
        .flat_map(|g| &g.ingress)
        .any(|rule| {
            let port_ok = rule.ports.is_none_or(|p| p.from <= port && port <= p.to);
            let peer_ok = match &rule.peer {
                SgPeer::Group(g) => sources.contains(g),
                SgPeer::Cidr(net) => {
                    !source_cidrs.is_empty() && source_cidrs.iter().all(|c| net.contains(c))
                }
            };
            port_ok && peer_ok
        })
}
