//! Security group evaluation: may traffic on a port flow from one set of groups to another?

use crate::config::{Config, SgPeer, SgRule};

/// True when a member of `from` may open a connection to a member of `to` on `port`: one of
/// `from`'s egress rules allows it towards `to` and one of `to`'s ingress rules allows it from
/// `from`. Security groups are stateful, so replies need no rule.
pub fn sg_allows(config: &Config, from: &[String], to: &[String], port: u16) -> bool {
    let egress = from.iter().any(|group| {
        config.security_groups[group]
            .egress
            .iter()
            .any(|rule| rule_matches(config, rule, port, to))
    });
    let ingress = to.iter().any(|group| {
        config.security_groups[group]
            .ingress
            .iter()
            .any(|rule| rule_matches(config, rule, port, from))
    });
    egress && ingress
}

/// A rule matches when it covers the port and names one of the peer groups, or a CIDR that
/// overlaps the VPC (every lab container has a VPC address; `0.0.0.0/0` is the common case).
fn rule_matches(config: &Config, rule: &SgRule, port: u16, peers: &[String]) -> bool {
    let port_ok = rule.ports.is_none_or(|r| r.from <= port && port <= r.to);
    let peer_ok = match &rule.peer {
        SgPeer::Group(group) => peers.contains(group),
        SgPeer::Cidr(net) => net.overlaps(&config.vpc.cidr),
    };
    port_ok && peer_ok
}
