//! `DescribeTargetGroups`, `DescribeTargetGroupAttributes` and the two modifications, which
//! apply to the running lab (see [`crate::alb::settings`]).

use crate::alb::TargetGroupHandle;
use crate::alb::settings::{self, HealthCheckChange, Settings, SettingsError};
use crate::api::query::Params;
use crate::api::xml::Xml;
use crate::api::{ApiContext, ApiError};
use crate::config::Config;
use crate::registry::Registry;

use super::{lookup, strings};

/// `Names.member.N`, `TargetGroupArns.member.N` or `LoadBalancerArn`; else every group.
pub fn describe_target_groups(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let (config, registry) = (ctx.lab.config().as_ref(), ctx.registry.as_ref());
    let groups = ctx.lab.target_groups();
    let names = params.list("Names");
    let arns = params.list("TargetGroupArns");
    let mut chosen: Vec<&TargetGroupHandle> = if !names.is_empty() {
        names
            .iter()
            .map(|n| {
                groups
                    .iter()
                    .find(|tg| tg.name() == n)
                    .ok_or_else(lookup::target_group_not_found)
            })
            .collect::<Result<_, _>>()?
    } else if !arns.is_empty() {
        arns.iter()
            .map(|arn| lookup::target_group(ctx, arn))
            .collect::<Result<_, _>>()?
    } else if let Some(arn) = params.get("LoadBalancerArn") {
        let lb = lookup::load_balancer(config, registry, arn)?;
        groups
            .iter()
            .filter(|tg| {
                lookup::load_balancers_of(config, tg.name())
                    .iter()
                    .any(|l| l.name == lb.name)
            })
            .collect()
    } else {
        let mut all: Vec<&TargetGroupHandle> = groups.iter().collect();
        all.sort_by(|a, b| a.name().cmp(b.name()));
        all
    };
    chosen.dedup_by(|a, b| a.name() == b.name());
    let mut xml = Xml::new();
    xml.list("TargetGroups", "member", chosen, |x, tg| {
        target_group(x, config, registry, tg.name(), &tg.settings())
    });
    Ok(xml)
}

/// One `TargetGroup` member, from the group's current settings.
pub fn target_group(
    x: &mut Xml,
    config: &Config,
    registry: &Registry,
    name: &str,
    settings: &Settings,
) {
    let tg = &settings.config;
    let hc = &tg.health_check;
    let lbs = lookup::load_balancers_of(config, name);
    x.leaf("TargetGroupArn", registry.target_group_arn(name))
        .leaf("TargetGroupName", name)
        .leaf("Protocol", "HTTP")
        .leaf("Port", tg.port)
        .leaf("VpcId", registry.vpc_id(&config.vpc.name))
        .leaf("HealthCheckProtocol", "HTTP")
        .leaf("HealthCheckPort", "traffic-port")
        .leaf("HealthCheckEnabled", true)
        .leaf("HealthCheckIntervalSeconds", settings::seconds(hc.interval))
        .leaf("HealthCheckTimeoutSeconds", settings::seconds(hc.timeout))
        .leaf("HealthyThresholdCount", hc.healthy_threshold)
        .leaf("UnhealthyThresholdCount", hc.unhealthy_threshold)
        .leaf("HealthCheckPath", &hc.path)
        .open("Matcher")
        .leaf("HttpCode", settings::matcher_text(&hc.matcher))
        .close("Matcher");
    strings(
        x,
        "LoadBalancerArns",
        lbs.iter().map(|lb| registry.load_balancer_arn(&lb.name)),
    );
    x.leaf("TargetType", "ip")
        .leaf("ProtocolVersion", "HTTP1")
        .leaf("IpAddressType", "ipv4");
}

/// `TargetGroupArn`: the attributes tierlab models.
pub fn describe_attributes(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let tg = lookup::target_group(ctx, params.required("TargetGroupArn")?)?;
    Ok(attributes(&tg.settings()))
}

/// `<Attributes><member><Key/><Value/></member>…</Attributes>`.
pub fn attributes(settings: &Settings) -> Xml {
    let mut xml = Xml::new();
    xml.list(
        "Attributes",
        "member",
        settings::attributes(settings),
        |x, (k, v)| {
            x.leaf("Key", k).leaf("Value", v);
        },
    );
    xml
}

/// `TargetGroupArn` and `Attributes.member.N.Key/Value`: validated whole, applied live.
pub fn modify_attributes(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let tg = lookup::target_group(ctx, params.required("TargetGroupArn")?)?;
    let pairs = params.map("Attributes", "Key", "Value")?;
    if pairs.is_empty() {
        return Err(ApiError::validation(
            "1 validation error detected: Value null at 'attributes' failed to satisfy \
             constraint: Member must not be null",
        ));
    }
    let settings = tg.modify_attributes(&pairs).map_err(settings_error)?;
    Ok(attributes(&settings))
}

/// `ModifyTargetGroup`: the health check members, validated whole, applied live.
pub fn modify_target_group(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let tg = lookup::target_group(ctx, params.required("TargetGroupArn")?)?;
    let change = health_check_change(params)?;
    let profile = ctx.lab.config().lab.profile;
    let settings = tg
        .modify_health_check(&change, profile)
        .map_err(settings_error)?;
    let (config, registry) = (ctx.lab.config().as_ref(), ctx.registry.as_ref());
    let mut xml = Xml::new();
    xml.list("TargetGroups", "member", [&settings], |x, s| {
        target_group(x, config, registry, tg.name(), s)
    });
    Ok(xml)
}

/// The form's health check members.
pub fn health_check_change(params: &Params) -> Result<HealthCheckChange, ApiError> {
    Ok(HealthCheckChange {
        protocol: params.get("HealthCheckProtocol").map(str::to_string),
        port: params.get("HealthCheckPort").map(str::to_string),
        path: params.get("HealthCheckPath").map(str::to_string),
        enabled: params.parse_bool("HealthCheckEnabled")?,
        interval_seconds: params.parse_i64("HealthCheckIntervalSeconds")?,
        timeout_seconds: params.parse_i64("HealthCheckTimeoutSeconds")?,
        healthy_threshold: params.parse_i64("HealthyThresholdCount")?,
        unhealthy_threshold: params.parse_i64("UnhealthyThresholdCount")?,
        http_code: params.get("Matcher.HttpCode").map(str::to_string),
        grpc_code: params.get("Matcher.GrpcCode").map(str::to_string),
    })
}

fn settings_error(e: SettingsError) -> ApiError {
    ApiError::new(e.aws_code(), e.message)
}
