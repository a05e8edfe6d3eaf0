//! `[vpc]`, its route tables and subnets.

use std::collections::BTreeMap;

use super::super::model::{DefaultRoute, Ipv4Net, RouteTable, Subnet, Vpc};
use super::super::{path, suggest, wire};
use super::ctx::{Ctx, q};

/// AWS allows VPC blocks from /16 to /28.
const VPC_PREFIXES: std::ops::RangeInclusive<u8> = 16..=28;

pub fn vpc(cx: &mut Ctx, vpc: &wire::Vpc) -> Vpc {
    let cidr = vpc_cidr(cx, &vpc.cidr);
    let route_tables = vpc
        .route_tables
        .iter()
        .map(|(name, rt)| (name.clone(), route_table(cx, name, rt)))
        .collect();
    let mut valid = Vec::new();
    let mut subnets = BTreeMap::new();
    for (name, s) in &vpc.subnets {
        let (subnet, cidr_ok) = subnet(cx, name, s, cidr, vpc);
        if cidr_ok {
            valid.push(subnet.clone());
        }
        subnets.insert(name.clone(), subnet);
    }
    check_overlaps(cx, &valid);
    Vpc {
        name: vpc.name.clone(),
        cidr: cidr.unwrap_or(Ipv4Net {
            addr: [10, 0, 0, 0].into(),
            prefix: 16,
        }),
        subnets,
        route_tables,
    }
}

fn vpc_cidr(cx: &mut Ctx, text: &str) -> Option<Ipv4Net> {
    match text.parse::<Ipv4Net>() {
        Ok(net) if VPC_PREFIXES.contains(&net.prefix) => Some(net),
        Ok(net) => {
            let msg = format!("a VPC block must be /16 to /28, not /{}", net.prefix);
            cx.bad("vpc.cidr", q(text), msg);
            None
        }
        Err(why) => {
            cx.bad("vpc.cidr", q(text), why);
            None
        }
    }
}

fn route_table(cx: &mut Ctx, name: &str, rt: &wire::RouteTable) -> RouteTable {
    const ROUTES: [&str; 3] = ["internet-gateway", "nat-gateway", "none"];
    let default_route = match rt.default_route.as_str() {
        "internet-gateway" => DefaultRoute::InternetGateway,
        "nat-gateway" => DefaultRoute::NatGateway,
        "none" => DefaultRoute::None,
        other => {
            let key = format!("{}.default-route", path::join("vpc.route-tables", name));
            let msg = format!(
                "must be one of {}; {}",
                suggest::backticked(&ROUTES),
                suggest::hint(other, "routes", ROUTES)
            );
            cx.bad(&key, q(other), msg);
            DefaultRoute::None
        }
    };
    RouteTable {
        name: name.to_string(),
        default_route,
    }
}

/// The subnet, and whether its CIDR parsed (a bad one is replaced by `0.0.0.0/32` so that
/// references to the subnet still resolve).
fn subnet(
    cx: &mut Ctx,
    name: &str,
    s: &wire::Subnet,
    vpc_cidr: Option<Ipv4Net>,
    vpc: &wire::Vpc,
) -> (Subnet, bool) {
    let at = path::join("vpc.subnets", name);
    let rt_key = format!("{at}.route-table");
    cx.exists(
        &rt_key,
        "route table",
        &s.route_table,
        vpc.route_tables.keys(),
    );
    if s.availability_zone.is_empty() {
        cx.bad(
            &format!("{at}.availability-zone"),
            q(""),
            "must not be empty",
        );
    }
    let cidr_key = format!("{at}.cidr");
    let parsed = s
        .cidr
        .parse::<Ipv4Net>()
        .map_err(|why| cx.bad(&cidr_key, q(&s.cidr), why));
    if let (Ok(cidr), Some(vpc_cidr)) = (parsed, vpc_cidr) {
        if !vpc_cidr.contains(&cidr) {
            cx.bad(
                &cidr_key,
                q(&s.cidr),
                format!("is not inside the VPC's block {vpc_cidr}"),
            );
        }
    }
    let cidr = parsed.unwrap_or(Ipv4Net {
        addr: [0, 0, 0, 0].into(),
        prefix: 32,
    });
    let subnet = Subnet {
        name: name.to_string(),
        cidr,
        availability_zone: s.availability_zone.clone(),
        route_table: s.route_table.clone(),
    };
    (subnet, parsed.is_ok())
}

/// Two subnets may not share an address (AWS refuses the second; Docker would too).
fn check_overlaps(cx: &mut Ctx, all: &[Subnet]) {
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            if a.cidr.overlaps(&b.cidr) {
                let key = format!("{}.cidr", path::join("vpc.subnets", &b.name));
                let msg = format!("overlaps subnet `{}` ({})", a.name, a.cidr);
                cx.bad(&key, q(&b.cidr.to_string()), msg);
            }
        }
    }
}
