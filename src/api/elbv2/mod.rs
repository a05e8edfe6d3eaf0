//! Elastic Load Balancing v2 (Query, `Version=2015-12-01`): one entry point, one function per
//! action, every answer read from the running lab.
//!
//! - [`lookup`]: resources by ARN or name, with ELBv2's not-found errors; the lab's tasks as
//!   [`crate::alb::ip_targets::TaskAddress`]es.
//! - [`load_balancers`]: `DescribeLoadBalancers`, `DescribeTags`.
//! - [`listeners`]: `DescribeListeners`, `DescribeRules` (actions and conditions as configured).
//! - [`target_groups`]: `DescribeTargetGroups`, `(Describe|Modify)TargetGroupAttributes`,
//!   `ModifyTargetGroup` (applied live).
//! - [`targets`]: `DescribeTargetHealth`, `RegisterTargets`, `DeregisterTargets`.

mod listeners;
mod load_balancers;
mod lookup;
mod target_groups;
mod targets;
#[cfg(test)]
mod tests;

use crate::api::query::Params;
use crate::api::xml::Xml;
use crate::api::{ApiContext, ApiError};

/// Answers `action` with the inside of its `<{Action}Result>`, or the service's error.
pub async fn call(ctx: &ApiContext, action: &str, params: &Params) -> Result<Xml, ApiError> {
    match action {
        "DescribeLoadBalancers" => load_balancers::describe_load_balancers(ctx, params),
        "DescribeTags" => load_balancers::describe_tags(ctx, params),
        "DescribeListeners" => listeners::describe_listeners(ctx, params),
        "DescribeRules" => listeners::describe_rules(ctx, params),
        "DescribeTargetGroups" => target_groups::describe_target_groups(ctx, params),
        "DescribeTargetGroupAttributes" => target_groups::describe_attributes(ctx, params),
        "ModifyTargetGroup" => target_groups::modify_target_group(ctx, params),
        "ModifyTargetGroupAttributes" => target_groups::modify_attributes(ctx, params),
        "DescribeTargetHealth" => targets::describe_target_health(ctx, params),
        "RegisterTargets" => targets::register_targets(ctx, params),
        "DeregisterTargets" => targets::deregister_targets(ctx, params),
        op if NOT_YET.contains(&op) => Err(ApiError::unsupported(
            "Elastic Load Balancing",
            op,
            "a later issue (tierlab's load balancers, listeners, rules and target groups come \
             from emulator.toml; edit it and restart the lab)",
        )),
        op => Err(ApiError::invalid_action(op)),
    }
}

/// `<name><member>value</member>…</name>`: a list of strings.
fn strings<T: std::fmt::Display>(x: &mut Xml, name: &str, values: impl IntoIterator<Item = T>) {
    x.open(name);
    for value in values {
        x.leaf("member", value);
    }
    x.close(name);
}

/// Real ELBv2 actions tierlab does not serve yet: they get an error that says so.
const NOT_YET: &[&str] = &[
    "AddListenerCertificates",
    "AddTags",
    "AddTrustStoreRevocations",
    "CreateListener",
    "CreateLoadBalancer",
    "CreateRule",
    "CreateTargetGroup",
    "CreateTrustStore",
    "DeleteListener",
    "DeleteLoadBalancer",
    "DeleteRule",
    "DeleteSharedTrustStoreAssociation",
    "DeleteTargetGroup",
    "DeleteTrustStore",
    "DescribeAccountLimits",
    "DescribeCapacityReservation",
    "DescribeListenerAttributes",
    "DescribeListenerCertificates",
    "DescribeLoadBalancerAttributes",
    "DescribeSSLPolicies",
    "DescribeTrustStoreAssociations",
    "DescribeTrustStoreRevocations",
    "DescribeTrustStores",
    "GetResourcePolicy",
    "GetTrustStoreCaCertificatesBundle",
    "GetTrustStoreRevocationContent",
    "ModifyCapacityReservation",
    "ModifyIpPools",
    "ModifyListener",
    "ModifyListenerAttributes",
    "ModifyLoadBalancerAttributes",
    "ModifyRule",
    "ModifyTrustStore",
    "RemoveListenerCertificates",
    "RemoveTags",
    "RemoveTrustStoreRevocations",
    "SetIpAddressType",
    "SetRulePriorities",
    "SetSecurityGroups",
    "SetSubnets",
];
