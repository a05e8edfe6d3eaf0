//! Security group evaluation: may traffic on a port flow from one set of groups to another?
//! Pure functions of the typed config, used by the VPC (which networks a task joins) and by
//! validation (warning that a service cannot reach a database it refers to).

use std::collections::BTreeMap;

use super::model::{Config, Ipv4Net, SecurityGroup, SgPeer, SgRule};

/// True when a member of `from` may open a connection to a member of `to` on `port`: one of
/// `from`'s egress rules allows it towards `to` and one of `to`'s ingress rules allows it from
/// `from`. Security groups are stateful, so replies need no rule.
pub fn sg_allows(config: &Config, from: &[String], to: &[String], port: u16) -> bool {
    egress_allows(config, from, to, port) && ingress_allows(config, from, to, port)
}

/// [`sg_allows`] under `groups` instead of the config's own (the rules as changed at run time
/// by `authorize-security-group-ingress` and `revoke-security-group-ingress`).
pub fn sg_allows_under(
    groups: &BTreeMap<String, SecurityGroup>,
    vpc_cidr: Ipv4Net,
    from: &[String],
    to: &[String],
    port: u16,
) -> bool {
    let allows = |holders: &[String], peers: &[String], egress: bool| {
        holders.iter().filter_map(|g| groups.get(g)).any(|group| {
            let rules = if egress {
                &group.egress
            } else {
                &group.ingress
            };
            rules
                .iter()
                .any(|rule| matches(vpc_cidr, rule, port, peers))
        })
    };
    allows(from, to, true) && allows(to, from, false)
}

/// True when one of `from`'s egress rules allows `port` towards a member of `to`.
pub fn egress_allows(config: &Config, from: &[String], to: &[String], port: u16) -> bool {
    from.iter().any(|group| {
        config.security_groups[group]
            .egress
            .iter()
            .any(|rule| rule_matches(config, rule, port, to))
    })
}

/// True when one of `to`'s ingress rules allows `port` from a member of `from`.
pub fn ingress_allows(config: &Config, from: &[String], to: &[String], port: u16) -> bool {
    to.iter().any(|group| {
        config.security_groups[group]
            .ingress
            .iter()
            .any(|rule| rule_matches(config, rule, port, from))
    })
}

/// A rule matches when it covers the port and names one of the peer groups, or a CIDR that
/// overlaps the VPC (every lab container has a VPC address; `0.0.0.0/0` is the common case).
fn rule_matches(config: &Config, rule: &SgRule, port: u16, peers: &[String]) -> bool {
    matches(config.vpc.cidr, rule, port, peers)
}

fn matches(vpc_cidr: Ipv4Net, rule: &SgRule, port: u16, peers: &[String]) -> bool {
    let port_ok = rule.ports.is_none_or(|r| r.from <= port && port <= r.to);
    let peer_ok = match &rule.peer {
        SgPeer::Group(group) => peers.contains(group),
        SgPeer::Cidr(net) => net.overlaps(&vpc_cidr),
    };
    port_ok && peer_ok
}
