//! EC2 (Query, `Version=2016-11-15`, EC2's flavour: no Result wrapper, lower-case member names,
//! `<item>` list members): the lab's VPC, subnets, security groups and route tables as
//! `emulator.toml` defines them, with the reference's names as `Name` tags and the registry's
//! ids. The topology is the config, so EC2's write actions answer an error that says so; the
//! exception is a security group's ingress rules, which `AuthorizeSecurityGroupIngress` and
//! `RevokeSecurityGroupIngress` change on the running lab ([`ingress`]), until `down`.
//!
//! Each describe action is the same three steps: build the records ([`vpcs`], [`subnets`],
//! [`security_groups`], [`route_tables`]), keep those the id list and the filters select
//! ([`filter`]), render them.

mod filter;
mod ids;
mod ingress;
mod route_tables;
mod security_groups;
mod subnets;
mod vpcs;

use crate::api::query::Params;
use crate::api::xml::Xml;
use crate::api::{ApiContext, ApiError};

pub use filter::{Facts, Filter};

/// EC2 write actions of the reference (and their neighbours): the topology comes from
/// `emulator.toml`, not from API calls.
const TOPOLOGY_WRITES: [&str; 14] = [
    "CreateVpc",
    "DeleteVpc",
    "CreateSubnet",
    "DeleteSubnet",
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupEgress",
    "CreateRouteTable",
    "CreateRoute",
    "AssociateRouteTable",
    "CreateInternetGateway",
    "CreateNatGateway",
    "ModifySubnetAttribute",
];

/// Answers `action` with the inside of its `<{Action}Response>` (EC2 has no Result wrapper).
pub async fn call(ctx: &ApiContext, action: &str, params: &Params) -> Result<Xml, ApiError> {
    match action {
        "DescribeVpcs" | "DescribeSubnets" | "DescribeSecurityGroups" | "DescribeRouteTables" => {
            if params.parse_bool("DryRun")? == Some(true) {
                return Err(ApiError::new(
                    "DryRunOperation",
                    "Request would have succeeded, but DryRun flag is set.",
                )
                .with_status(412));
            }
            describe(ctx, action, params)
        }
        "AuthorizeSecurityGroupIngress" | "RevokeSecurityGroupIngress" => {
            ingress::call(ctx, action, params)
        }
        a if TOPOLOGY_WRITES.contains(&a) => Err(ApiError::unsupported(
            "EC2",
            a,
            "no API call: the lab's network is `emulator.toml` ([vpc], [security-groups]); edit it and restart the lab",
        )),
        other => Err(ApiError::invalid_action(other)),
    }
}

fn describe(ctx: &ApiContext, action: &str, params: &Params) -> Result<Xml, ApiError> {
    let config = ctx.lab.config();
    let registry = &ctx.registry;
    let filters = Filter::all(params)?;
    let mut x = Xml::new();
    match action {
        "DescribeVpcs" => {
            let all = vpcs::build(config, registry);
            let chosen = filter::select(all, &params.list("VpcId"), &filters, vpcs::NOT_FOUND)?;
            x.list("vpcSet", "item", chosen, |x, v| v.render(x));
        }
        "DescribeSubnets" => {
            let used = subnets::addresses_in_use(&ctx.lab);
            let all = subnets::build(config, registry, &used);
            let chosen =
                filter::select(all, &params.list("SubnetId"), &filters, subnets::NOT_FOUND)?;
            x.list("subnetSet", "item", chosen, |x, s| s.render(x));
        }
        "DescribeSecurityGroups" => {
            let groups = ctx.lab.security_groups().snapshot();
            let all = security_groups::build(config, &groups, registry);
            let by_name = security_groups::by_name(&all, &params.list("GroupName"))?;
            let chosen = filter::select(
                by_name,
                &params.list("GroupId"),
                &filters,
                security_groups::NOT_FOUND,
            )?;
            x.list("securityGroupInfo", "item", chosen, |x, g| g.render(x));
        }
        _ => {
            let all = route_tables::build(config, registry);
            let chosen = filter::select(
                all,
                &params.list("RouteTableId"),
                &filters,
                route_tables::NOT_FOUND,
            )?;
            x.list("routeTableSet", "item", chosen, |x, r| r.render(x));
        }
    }
    Ok(x)
}

/// `<tagSet>` with the `Name` tag (and any others), as every described resource carries it.
fn render_tags(x: &mut Xml, tags: &[(String, String)]) {
    x.list("tagSet", "item", tags, |x, (k, v)| {
        x.leaf("key", k).leaf("value", v);
    });
}

/// Tags as filter facts: `tag:<key>`, `tag-key`, `tag-value`.
fn tag_facts(facts: &mut Facts, tags: &[(String, String)]) {
    for (k, v) in tags {
        facts.add(&format!("tag:{k}"), v);
        facts.add("tag-key", k);
        facts.add("tag-value", v);
    }
}

#[cfg(test)]
mod tests;
