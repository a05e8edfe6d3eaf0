//! `DescribeSecurityGroups`: `[security-groups]` with their rules as EC2 shows them: rules
//! with the same protocol and ports are one `IpPermission`, CIDR peers are `IpRanges`, group
//! peers `UserIdGroupPairs`; a rule without ports is protocol `-1` (all traffic).

use super::filter::{Facts, NotFound, Record};
use super::{render_tags, tag_facts};
use crate::api::ApiError;
use crate::api::xml::Xml;
use crate::config::{Config, SgPeer, SgRule};
use crate::registry::Registry;
use crate::vpc::Groups;

pub const NOT_FOUND: NotFound = NotFound {
    code: "InvalidGroup.NotFound",
    message: "The security group '{}' does not exist",
    filters: &[
        "group-id",
        "group-name",
        "description",
        "vpc-id",
        "owner-id",
        "ip-permission.protocol",
        "ip-permission.from-port",
        "ip-permission.to-port",
        "ip-permission.cidr",
        "ip-permission.group-id",
        "ip-permission.group-name",
        "egress.ip-permission.protocol",
        "egress.ip-permission.from-port",
        "egress.ip-permission.to-port",
        "egress.ip-permission.cidr",
        "egress.ip-permission.group-id",
        "egress.ip-permission.group-name",
    ],
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    pub vpc_id: String,
    pub owner: String,
    pub ingress: Vec<Permission>,
    pub egress: Vec<Permission>,
    pub tags: Vec<(String, String)>,
}

/// One `IpPermission`: a protocol and port range, and every peer allowed on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    /// `tcp`, or `-1` for all traffic.
    pub protocol: &'static str,
    pub ports: Option<(u16, u16)>,
    pub cidrs: Vec<String>,
    /// `(group id, group name)` of each security-group peer.
    pub groups: Vec<(String, String)>,
}

/// The records of `groups`: the security groups as they are now (the config's, changed at run
/// time by the ingress actions).
pub fn build(config: &Config, groups: &Groups, registry: &Registry) -> Vec<SecurityGroup> {
    let vpc_id = registry.vpc_id(&config.vpc.name);
    groups
        .values()
        .map(|sg| SecurityGroup {
            id: registry.security_group_id(&sg.name),
            name: sg.name.clone(),
            description: format!("{} (emulator.toml [security-groups.{}])", sg.name, sg.name),
            vpc_id: vpc_id.clone(),
            owner: registry.account().to_string(),
            ingress: permissions(&sg.ingress, registry),
            egress: permissions(&sg.egress, registry),
            tags: vec![("Name".to_string(), sg.name.clone())],
        })
        .collect()
}

/// Rules grouped by (protocol, ports), in the order each first appears.
pub fn permissions(rules: &[SgRule], registry: &Registry) -> Vec<Permission> {
    let mut out: Vec<Permission> = Vec::new();
    for rule in rules {
        let ports = rule.ports.map(|p| (p.from, p.to));
        let protocol = if ports.is_some() { "tcp" } else { "-1" };
        let index = match out
            .iter()
            .position(|p| p.protocol == protocol && p.ports == ports)
        {
            Some(i) => i,
            None => {
                out.push(Permission {
                    protocol,
                    ports,
                    cidrs: Vec::new(),
                    groups: Vec::new(),
                });
                out.len() - 1
            }
        };
        match &rule.peer {
            SgPeer::Cidr(net) => out[index].cidrs.push(net.to_string()),
            SgPeer::Group(name) => out[index]
                .groups
                .push((registry.security_group_id(name), name.clone())),
        }
    }
    out
}

/// The groups `names` asks for (all when empty); an unknown name is `InvalidGroup.NotFound`.
pub fn by_name(all: &[SecurityGroup], names: &[String]) -> Result<Vec<SecurityGroup>, ApiError> {
    if let Some(unknown) = names.iter().find(|n| !all.iter().any(|g| &g.name == *n)) {
        return Err(ApiError::new(
            NOT_FOUND.code,
            NOT_FOUND.message.replace("{}", unknown),
        ));
    }
    Ok(all
        .iter()
        .filter(|g| names.is_empty() || names.contains(&g.name))
        .cloned()
        .collect())
}

impl Record for SecurityGroup {
    fn facts(&self) -> Facts {
        let mut f = Facts::new(&self.id);
        f.add("group-id", &self.id)
            .add("group-name", &self.name)
            .add("description", &self.description)
            .add("vpc-id", &self.vpc_id)
            .add("owner-id", &self.owner);
        for (prefix, perms) in [
            ("ip-permission", &self.ingress),
            ("egress.ip-permission", &self.egress),
        ] {
            for p in perms {
                f.add(&format!("{prefix}.protocol"), p.protocol);
                if let Some((from, to)) = p.ports {
                    f.add(&format!("{prefix}.from-port"), from)
                        .add(&format!("{prefix}.to-port"), to);
                }
                for cidr in &p.cidrs {
                    f.add(&format!("{prefix}.cidr"), cidr);
                }
                for (id, name) in &p.groups {
                    f.add(&format!("{prefix}.group-id"), id)
                        .add(&format!("{prefix}.group-name"), name);
                }
            }
        }
        tag_facts(&mut f, &self.tags);
        f
    }
}

impl SecurityGroup {
    pub fn render(&self, x: &mut Xml) {
        x.leaf("ownerId", &self.owner)
            .leaf("groupId", &self.id)
            .leaf("groupName", &self.name)
            .leaf("groupDescription", &self.description)
            .leaf("vpcId", &self.vpc_id);
        render_permissions(x, "ipPermissions", &self.ingress, &self.owner);
        render_permissions(x, "ipPermissionsEgress", &self.egress, &self.owner);
        render_tags(x, &self.tags);
    }
}

fn render_permissions(x: &mut Xml, name: &str, perms: &[Permission], owner: &str) {
    x.list(name, "item", perms, |x, p| {
        x.leaf("ipProtocol", p.protocol);
        if let Some((from, to)) = p.ports {
            x.leaf("fromPort", from).leaf("toPort", to);
        }
        x.list("groups", "item", &p.groups, |x, (id, _)| {
            x.leaf("userId", owner).leaf("groupId", id);
        })
        .list("ipRanges", "item", &p.cidrs, |x, cidr| {
            x.leaf("cidrIp", cidr);
        })
        .list("ipv6Ranges", "item", [(); 0], |_, ()| {})
        .list("prefixListIds", "item", [(); 0], |_, ()| {});
    });
}
