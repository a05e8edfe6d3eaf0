//! `[security-groups.NAME]`: ingress and egress rules.

use std::collections::BTreeMap;

use super::super::model::{Ipv4Net, PortRange, SecurityGroup, SgPeer, SgRule};
use super::super::{path, wire};
use super::ctx::{Ctx, q};

pub fn security_groups(
    cx: &mut Ctx,
    groups: &BTreeMap<String, wire::SecurityGroup>,
) -> BTreeMap<String, SecurityGroup> {
    groups
        .iter()
        .map(|(name, g)| {
            let at = path::join("security-groups", name);
            let ingress = g
                .ingress
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let rule = Rule {
                        at: format!("{at}.ingress[{i}]"),
                        port: r.port,
                        ports: r.ports.as_deref(),
                        peer: (&r.from, "from"),
                    };
                    rule.check(cx, groups)
                })
                .collect();
            let egress = g
                .egress
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let rule = Rule {
                        at: format!("{at}.egress[{i}]"),
                        port: r.port,
                        ports: r.ports.as_deref(),
                        peer: (&r.to, "to"),
                    };
                    rule.check(cx, groups)
                })
                .collect();
            (
                name.clone(),
                SecurityGroup {
                    name: name.clone(),
                    ingress,
                    egress,
                },
            )
        })
        .collect()
}

/// One rule as written, ingress or egress alike.
struct Rule<'w> {
    at: String,
    port: Option<i64>,
    ports: Option<&'w str>,
    /// The peer's value and its key (`from` for ingress, `to` for egress).
    peer: (&'w String, &'static str),
}

impl Rule<'_> {
    fn check(&self, cx: &mut Ctx, groups: &BTreeMap<String, wire::SecurityGroup>) -> SgRule {
        let ports = match (self.port, self.ports) {
            (None, None) => None,
            (Some(p), None) => {
                Some(cx.port(&format!("{}.port", self.at), p)).map(|p| PortRange { from: p, to: p })
            }
            (None, Some(range)) => self.range(cx, range),
            (Some(_), Some(_)) => {
                cx.table(&self.at, "give either `port` or `ports`, not both");
                None
            }
        };
        SgRule {
            ports,
            peer: self.peer(cx, groups),
        }
    }

    fn range(&self, cx: &mut Ctx, text: &str) -> Option<PortRange> {
        let key = format!("{}.ports", self.at);
        let parsed = text.split_once('-').and_then(|(a, b)| {
            Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?))
        });
        match parsed {
            Some((from, to)) if from >= 1 && from <= to => Some(PortRange { from, to }),
            Some(_) => {
                cx.bad(&key, q(text), "must be \"N-M\" with 1 <= N <= M <= 65535");
                None
            }
            None => {
                cx.bad(&key, q(text), "must be a port range \"N-M\" (e.g. \"8000-8010\"); for one port use `port = N`");
                None
            }
        }
    }

    /// A CIDR if it looks like one (starts with a digit), else a security group name.
    fn peer(&self, cx: &mut Ctx, groups: &BTreeMap<String, wire::SecurityGroup>) -> SgPeer {
        let (value, key) = self.peer;
        let key = format!("{}.{key}", self.at);
        if value.starts_with(|c: char| c.is_ascii_digit()) {
            return match value.parse::<Ipv4Net>() {
                Ok(net) => SgPeer::Cidr(net),
                Err(why) => {
                    cx.bad(&key, q(value), why);
                    SgPeer::Group(value.clone())
                }
            };
        }
        cx.exists(&key, "security group", value, groups.keys());
        SgPeer::Group(value.clone())
    }
}
