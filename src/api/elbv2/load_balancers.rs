//! `DescribeLoadBalancers` and `DescribeTags`.
//!
//! `DNSName` is `NAME-<digits>.REGION.elb.localhost` (see
//! [`Registry::load_balancer_dns_name`]): curl and browsers resolve every `*.localhost` name to
//! the loopback address themselves, so `curl "http://$(aws elbv2 describe-load-balancers --names
//! flask-app-alb --query 'LoadBalancers[0].DNSName' --output text):8080/"` reaches the load
//! balancer. The system resolver (`getent hosts`, Python's `socket`) does not resolve it on a
//! plain Debian machine without nss-myhostname: it is a name for curl and browsers.

use crate::api::query::Params;
use crate::api::xml::Xml;
use crate::api::{ApiContext, ApiError};
use crate::config::{Config, LoadBalancer};
use crate::registry::{Arn, Registry};

use super::lookup;

/// Route 53 hosted zone of ALBs in the regions tierlab knows it for (AWS's published table).
fn canonical_hosted_zone_id(region: &str) -> Option<&'static str> {
    match region {
        "us-east-1" => Some("Z35SXDOTRQ7X7K"),
        "us-east-2" => Some("Z3AADJGX6KTTL2"),
        "us-west-1" => Some("Z368ELLRRE2KJ0"),
        "us-west-2" => Some("Z1H1FL5HABSF5"),
        "eu-west-1" => Some("Z32O12XQLNTSW2"),
        "eu-central-1" => Some("Z215JYRZR1TBD5"),
        _ => None,
    }
}

/// `Names.member.N` or `LoadBalancerArns.member.N` (not both), else every load balancer.
pub fn describe_load_balancers(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let config = ctx.lab.config();
    let chosen = select(config, &ctx.registry, params)?;
    let mut xml = Xml::new();
    xml.list("LoadBalancers", "member", chosen, |x, lb| {
        load_balancer(x, config, &ctx.registry, lb)
    });
    Ok(xml)
}

fn select<'a>(
    config: &'a Config,
    registry: &Registry,
    params: &Params,
) -> Result<Vec<&'a LoadBalancer>, ApiError> {
    let names = params.list("Names");
    let arns = params.list("LoadBalancerArns");
    if !names.is_empty() && !arns.is_empty() {
        return Err(ApiError::validation(
            "Load balancer names and load balancer ARNs cannot be specified at the same time",
        ));
    }
    if !arns.is_empty() {
        return arns
            .iter()
            .map(|arn| lookup::load_balancer(config, registry, arn))
            .collect();
    }
    if names.is_empty() {
        return Ok(config.load_balancers.values().collect());
    }
    let missing: Vec<&str> = names
        .iter()
        .filter(|n| !config.load_balancers.contains_key(n.as_str()))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::new(
            "LoadBalancerNotFound",
            format!("Load balancers '[{}]' not found", missing.join(", ")),
        ));
    }
    Ok(names.iter().map(|n| &config.load_balancers[n]).collect())
}

/// One `LoadBalancer` member.
pub fn load_balancer(x: &mut Xml, config: &Config, registry: &Registry, lb: &LoadBalancer) {
    x.leaf("LoadBalancerArn", registry.load_balancer_arn(&lb.name))
        .leaf("DNSName", registry.load_balancer_dns_name(&lb.name))
        .opt(
            "CanonicalHostedZoneId",
            canonical_hosted_zone_id(registry.region()),
        )
        .leaf("CreatedTime", registry.load_balancer_created_time(&lb.name))
        .leaf("LoadBalancerName", &lb.name)
        .leaf("Scheme", "internet-facing")
        .leaf("VpcId", registry.vpc_id(&config.vpc.name))
        .open("State")
        .leaf("Code", "active")
        .close("State")
        .leaf("Type", "application")
        .list("AvailabilityZones", "member", &lb.subnets, |x, subnet| {
            let zone = config
                .vpc
                .subnets
                .get(subnet)
                .map(|s| s.availability_zone.as_str())
                .unwrap_or_default();
            x.leaf("ZoneName", zone)
                .leaf("SubnetId", registry.subnet_id(subnet));
        })
        .open("SecurityGroups");
    for sg in &lb.security_groups {
        x.leaf("member", registry.security_group_id(sg));
    }
    x.close("SecurityGroups").leaf("IpAddressType", "ipv4");
}

/// `ResourceArns.member.N`: each resource's tags (`Name`, as tierlab names it).
pub fn describe_tags(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let arns = params.list("ResourceArns");
    if arns.is_empty() {
        return Err(ApiError::validation(
            "1 validation error detected: Value null at 'resourceArns' failed to satisfy \
             constraint: Member must not be null",
        ));
    }
    let names = arns
        .iter()
        .map(|arn| resource_name(ctx.lab.config(), &ctx.registry, arn))
        .collect::<Result<Vec<_>, _>>()?;
    let mut xml = Xml::new();
    xml.list(
        "TagDescriptions",
        "member",
        arns.iter().zip(names),
        |x, (arn, name)| {
            x.leaf("ResourceArn", arn);
            x.list("Tags", "member", name, |x, name| {
                x.leaf("Key", "Name").leaf("Value", name);
            });
        },
    );
    Ok(xml)
}

/// The `Name` tag of the resource `arn` (load balancers and target groups carry their names;
/// listeners and rules have no tags), or ELBv2's not-found error for its type.
fn resource_name(
    config: &Config,
    registry: &Registry,
    arn: &str,
) -> Result<Option<String>, ApiError> {
    let kind = Arn::parse(arn).map(|a| a.resource_type().0.to_string());
    match kind.as_deref() {
        Some("loadbalancer") => {
            lookup::load_balancer(config, registry, arn).map(|lb| Some(lb.name.clone()))
        }
        Some("targetgroup") => config
            .target_groups
            .keys()
            .find(|name| registry.target_group_arn(name) == arn)
            .map(|name| Some(name.clone()))
            .ok_or_else(lookup::target_group_not_found),
        Some("listener") => lookup::listener(config, registry, arn).map(|_| None),
        Some("listener-rule") => {
            let known = lookup::listeners(config).any(|(lb, l)| {
                let port = l.port();
                registry.rule_arn(&lb.name, port, None) == arn
                    || l.rules
                        .iter()
                        .any(|r| registry.rule_arn(&lb.name, port, Some(r.priority)) == arn)
            });
            if known {
                Ok(None)
            } else {
                Err(ApiError::new("RuleNotFound", "One or more rules not found"))
            }
        }
        _ => Err(ApiError::validation(format!("'{arn}' is not a valid ARN"))),
    }
}
