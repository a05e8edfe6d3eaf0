//! `AuthorizeSecurityGroupIngress` and `RevokeSecurityGroupIngress` on the lab's live security
//! groups (`vpc::LiveGroups`): the reference's "Update the database security group to allow
//! access from bastion", and its undoing. A change lasts until `down`; the bastion's networks
//! follow it within moments (`bastion::spawn_attachments`), and DescribeSecurityGroups shows it.
//!
//! The rules the AWS CLI sends: its `--protocol tcp --port 3306 --source-group sg-…` (or
//! `--cidr`) shorthand becomes `IpPermissions.1.…`, as does `--ip-permissions`; the old
//! top-level form (`IpProtocol`, `FromPort`, `ToPort`, `CidrIp`, `SourceSecurityGroupName`) is
//! taken too. tierlab's groups carry TCP rules and all-traffic rules over IPv4: UDP, ICMP, IPv6
//! ranges and prefix lists are refused with the reason, never stored half.

use crate::api::query::Params;
use crate::api::xml::Xml;
use crate::api::{ApiContext, ApiError};
use crate::config::{Ipv4Net, PortRange, SgPeer, SgRule};
use crate::registry::IdKind;
use crate::vpc::RuleError;

use super::security_groups::NOT_FOUND;

/// AWS's wording for a rule that is already there (the peer, protocol and ports in quotes).
fn duplicate(peer: &str, rule: &SgRule) -> ApiError {
    let what = match rule.ports {
        Some(p) => format!("TCP, from port: {}, to port: {}", p.from, p.to),
        None => "ALL".to_string(),
    };
    ApiError::new(
        "InvalidPermission.Duplicate",
        format!("the specified rule \"peer: {peer}, {what}, ALLOW\" already exists"),
    )
}

fn not_found_rule() -> ApiError {
    ApiError::new(
        "InvalidPermission.NotFound",
        "The specified rule does not exist in this security group.",
    )
}

fn no_group(shown: &str) -> ApiError {
    ApiError::new(NOT_FOUND.code, NOT_FOUND.message.replace("{}", shown))
}

/// Answers either action.
pub fn call(ctx: &ApiContext, action: &str, params: &Params) -> Result<Xml, ApiError> {
    if params.parse_bool("DryRun")? == Some(true) {
        return Err(ApiError::new(
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
        )
        .with_status(412));
    }
    let group = target_group(ctx, params)?;
    let rules = rules(ctx, params)?;
    let live = ctx.lab.security_groups();
    let result = if action == "AuthorizeSecurityGroupIngress" {
        live.authorize_ingress(&group, &rules)
    } else {
        live.revoke_ingress(&group, &rules)
    };
    result.map_err(|e| match e {
        RuleError::NoSuchGroup(name) => no_group(&ctx.registry.security_group_id(&name)),
        RuleError::Duplicate(rule) => duplicate(&peer_shown(ctx, &rule.peer), &rule),
        RuleError::NotFound(_) => not_found_rule(),
    })?;
    tracing::info!(
        "{action}: security group `{group}` {} {} rule(s) (until `down`)",
        if action == "AuthorizeSecurityGroupIngress" {
            "gained"
        } else {
            "lost"
        },
        rules.len()
    );
    let mut x = Xml::new();
    x.leaf("return", "true");
    if action == "AuthorizeSecurityGroupIngress" {
        let group_id = ctx.registry.security_group_id(&group);
        let owner = ctx.registry.account().to_string();
        x.list("securityGroupRuleSet", "item", &rules, |x, rule| {
            render_rule(x, ctx, &group_id, &owner, rule);
        });
    }
    Ok(x)
}

/// The group named by `GroupId` (or `GroupName`).
fn target_group(ctx: &ApiContext, params: &Params) -> Result<String, ApiError> {
    let groups = ctx.lab.security_groups().snapshot();
    if let Some(id) = params.get("GroupId") {
        return ctx
            .registry
            .name_of(IdKind::SecurityGroup, id)
            .filter(|name| groups.contains_key(name))
            .ok_or_else(|| no_group(id));
    }
    if let Some(name) = params.get("GroupName") {
        return groups
            .contains_key(name)
            .then(|| name.to_string())
            .ok_or_else(|| no_group(name));
    }
    Err(ApiError::missing_parameter("GroupId"))
}

/// Every rule of the request: one per peer of each permission.
fn rules(ctx: &ApiContext, params: &Params) -> Result<Vec<SgRule>, ApiError> {
    let mut permissions = params.structs("IpPermissions");
    if permissions.is_empty() && params.get("IpProtocol").is_some() {
        // The old top-level form: one permission, its peer a CIDR or a group name.
        let mut pairs: Vec<(String, String)> = Vec::new();
        for key in ["IpProtocol", "FromPort", "ToPort"] {
            if let Some(v) = params.get(key) {
                pairs.push((key.into(), v.into()));
            }
        }
        if let Some(cidr) = params.get("CidrIp") {
            pairs.push(("IpRanges.1.CidrIp".into(), cidr.into()));
        }
        if let Some(name) = params.get("SourceSecurityGroupName") {
            pairs.push(("Groups.1.GroupName".into(), name.into()));
        }
        permissions.push(Params::from_pairs(pairs));
    }
    if permissions.is_empty() {
        return Err(ApiError::missing_parameter("IpPermissions"));
    }
    let mut rules = Vec::new();
    for p in &permissions {
        let ports = ports(p)?;
        if !p.structs("Ipv6Ranges").is_empty() || !p.structs("PrefixListIds").is_empty() {
            return Err(ApiError::new(
                "InvalidParameterValue",
                "tierlab's security groups take IPv4 CIDR ranges and security groups as peers; IPv6 ranges and prefix lists are not supported",
            ));
        }
        let before = rules.len();
        for range in p.structs("IpRanges") {
            let text = range.required("CidrIp")?;
            let net: Ipv4Net = text.parse().map_err(|why: String| {
                ApiError::new(
                    "InvalidParameterValue",
                    format!("CIDR block {text} is malformed: {why}"),
                )
            })?;
            rules.push(SgRule {
                ports,
                peer: SgPeer::Cidr(net),
            });
        }
        for pair in p.structs("Groups") {
            let name = group_peer(ctx, &pair)?;
            rules.push(SgRule {
                ports,
                peer: SgPeer::Group(name),
            });
        }
        if rules.len() == before {
            return Err(ApiError::new(
                "InvalidParameterValue",
                "The request must specify a source: a CIDR range (IpRanges) or a security group (UserIdGroupPairs)",
            ));
        }
    }
    Ok(rules)
}

/// A `UserIdGroupPairs` member: by `GroupId`, else `GroupName`.
fn group_peer(ctx: &ApiContext, pair: &Params) -> Result<String, ApiError> {
    let groups = ctx.lab.security_groups().snapshot();
    if let Some(id) = pair.get("GroupId") {
        return ctx
            .registry
            .name_of(IdKind::SecurityGroup, id)
            .filter(|name| groups.contains_key(name))
            .ok_or_else(|| no_group(id));
    }
    match pair.get("GroupName") {
        Some(name) if groups.contains_key(name) => Ok(name.to_string()),
        Some(name) => Err(no_group(name)),
        None => Err(ApiError::missing_parameter("GroupId")),
    }
}

/// `tcp` with `FromPort`..`ToPort`, or `-1` (all traffic). Other protocols are refused.
fn ports(p: &Params) -> Result<Option<PortRange>, ApiError> {
    let protocol = p
        .get("IpProtocol")
        .ok_or_else(|| ApiError::missing_parameter("IpProtocol"))?;
    match protocol.to_ascii_lowercase().as_str() {
        "-1" | "all" => Ok(None),
        "tcp" | "6" => {
            let port = |key: &str| -> Result<u16, ApiError> {
                let text = p.get(key).ok_or_else(|| ApiError::missing_parameter(key))?;
                text.parse::<u16>().map_err(|_| {
                    ApiError::new(
                        "InvalidParameterValue",
                        format!("Invalid value '{text}' for {key}: a TCP port is 0 to 65535"),
                    )
                })
            };
            let (from, to) = (port("FromPort")?, port("ToPort")?);
            if from > to {
                return Err(ApiError::new(
                    "InvalidParameterValue",
                    format!(
                        "Invalid TCP/UDP port range: from port {from} is greater than to port {to}"
                    ),
                ));
            }
            Ok(Some(PortRange { from, to }))
        }
        other => Err(ApiError::new(
            "InvalidParameterValue",
            format!(
                "Invalid value '{other}' for IpProtocol: tierlab's security groups carry TCP (`tcp`) and all-traffic (`-1`) rules only"
            ),
        )),
    }
}

/// The peer as AWS names it in messages: the CIDR, or the group's id.
fn peer_shown(ctx: &ApiContext, peer: &SgPeer) -> String {
    match peer {
        SgPeer::Cidr(net) => net.to_string(),
        SgPeer::Group(name) => ctx.registry.security_group_id(name),
    }
}

/// One `SecurityGroupRule` of the authorize answer.
fn render_rule(x: &mut Xml, ctx: &ApiContext, group_id: &str, owner: &str, rule: &SgRule) {
    let rule_id = format!("sgr-{}", &uuid_hex()[..17]);
    x.leaf("securityGroupRuleId", rule_id)
        .leaf("groupId", group_id)
        .leaf("groupOwnerId", owner)
        .leaf("isEgress", "false");
    match rule.ports {
        Some(p) => x
            .leaf("ipProtocol", "tcp")
            .leaf("fromPort", p.from)
            .leaf("toPort", p.to),
        None => x
            .leaf("ipProtocol", "-1")
            .leaf("fromPort", -1)
            .leaf("toPort", -1),
    };
    match &rule.peer {
        SgPeer::Cidr(net) => {
            x.leaf("cidrIpv4", net);
        }
        SgPeer::Group(name) => {
            x.open("referencedGroupInfo")
                .leaf("groupId", ctx.registry.security_group_id(name))
                .leaf("userId", owner)
                .close("referencedGroupInfo");
        }
    }
}

/// 32 random hex digits.
fn uuid_hex() -> String {
    let n: u128 = rand::random();
    format!("{n:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn tcp_ports_all_traffic_and_other_protocols() {
        let p = params(&[
            ("IpProtocol", "tcp"),
            ("FromPort", "3306"),
            ("ToPort", "3306"),
        ]);
        assert_eq!(
            ports(&p).unwrap(),
            Some(PortRange {
                from: 3306,
                to: 3306
            })
        );
        assert_eq!(ports(&params(&[("IpProtocol", "-1")])).unwrap(), None);
        let e = ports(&params(&[
            ("IpProtocol", "udp"),
            ("FromPort", "53"),
            ("ToPort", "53"),
        ]))
        .unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        let e = ports(&params(&[
            ("IpProtocol", "tcp"),
            ("FromPort", "9"),
            ("ToPort", "1"),
        ]))
        .unwrap_err();
        assert!(e.message.contains("greater than"), "{}", e.message);
    }

    #[test]
    fn duplicates_are_worded_as_aws_words_them() {
        let rule = SgRule {
            ports: Some(PortRange {
                from: 3306,
                to: 3306,
            }),
            peer: SgPeer::Group("bastion-sg".into()),
        };
        let e = duplicate("sg-0123", &rule);
        assert_eq!(e.code, "InvalidPermission.Duplicate");
        assert_eq!(
            e.message,
            "the specified rule \"peer: sg-0123, TCP, from port: 3306, to port: 3306, ALLOW\" already exists"
        );
        let all = SgRule {
            ports: None,
            ..rule
        };
        assert!(
            duplicate("sg-0123", &all)
                .message
                .contains("\"peer: sg-0123, ALL, ALLOW\"")
        );
        assert_eq!(
            not_found_rule().message,
            "The specified rule does not exist in this security group."
        );
    }
}
