//! Clusters and services: ListClusters, DescribeClusters, ListServices, DescribeServices,
//! UpdateService (the desired count, applied live).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiContext, ApiError, json::input};
use crate::ecs::{DesiredCountError, HEALTH_CHECK_GRACE, MAX_DESIRED_COUNT, ServiceStatus};

use super::ids::{self, DEFAULT_CLUSTER};
use super::model::Failure;
use super::{page, render};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListInput {
    cluster: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    launch_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeClustersInput {
    clusters: Option<Vec<String>>,
    /// ATTACHMENTS, SETTINGS, ...: tierlab has none of them to add, so they change nothing.
    #[serde(default)]
    #[allow(dead_code)]
    include: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeServicesInput {
    cluster: Option<String>,
    services: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateServiceInput {
    cluster: Option<String>,
    service: String,
    desired_count: Option<i64>,
    force_new_deployment: Option<bool>,
    /// Every other member: tierlab cannot apply them to a running service yet.
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

/// The statuses of the lab's services in `cluster`, in name order.
fn services_in(ctx: &ApiContext, cluster: &str) -> Vec<ServiceStatus> {
    let mut statuses: Vec<ServiceStatus> = ctx
        .lab
        .services()
        .iter()
        .map(|s| s.status())
        .filter(|s| s.cluster == cluster)
        .collect();
    statuses.sort_by(|a, b| a.name.cmp(&b.name));
    statuses
}

pub fn list_clusters(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: ListInput = input(body)?;
    let arns = ctx
        .lab
        .config()
        .clusters
        .iter()
        .map(|c| ctx.registry.cluster_arn(c))
        .collect();
    let (arns, next) = page(arns, input.max_results, input.next_token.as_deref())?;
    Ok(with_token(json!({ "clusterArns": arns }), next))
}

pub fn describe_clusters(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: DescribeClustersInput = input(body)?;
    let config = ctx.lab.config();
    let names = input
        .clusters
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| vec![DEFAULT_CLUSTER.to_string()]);
    let (mut clusters, mut failures) = (Vec::new(), Vec::new());
    for given in &names {
        match ids::cluster(config, Some(given)) {
            Ok(name) => clusters.push(render::cluster(
                &ctx.registry,
                &name,
                &services_in(ctx, &name),
            )),
            Err(e) if e.code == "InvalidParameterException" => return Err(e),
            Err(_) => failures.push(Failure::missing(cluster_arn_of(ctx, given))),
        }
    }
    Ok(json!({ "clusters": clusters, "failures": failures }))
}

/// A cluster's ARN as given, or built from its name (for `failures`).
fn cluster_arn_of(ctx: &ApiContext, given: &str) -> String {
    if given.starts_with("arn:") {
        given.to_string()
    } else {
        ctx.registry.cluster_arn(given)
    }
}

pub fn list_services(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: ListInput = input(body)?;
    let cluster = ids::cluster(ctx.lab.config(), input.cluster.as_deref())?;
    // Every service runs on Fargate: an EC2 or EXTERNAL filter matches none.
    let fargate = input.launch_type.as_deref().is_none_or(|t| t == "FARGATE");
    let arns = services_in(ctx, &cluster)
        .iter()
        .filter(|_| fargate)
        .map(|s| ctx.registry.service_arn(&cluster, &s.name))
        .collect();
    let (arns, next) = page(arns, input.max_results, input.next_token.as_deref())?;
    Ok(with_token(json!({ "serviceArns": arns }), next))
}

pub fn describe_services(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: DescribeServicesInput = input(body)?;
    let config = ctx.lab.config();
    let cluster = ids::cluster(config, input.cluster.as_deref())?;
    if input.services.is_empty() || input.services.len() > 10 {
        return Err(ids::invalid_parameter(
            "Services cannot be empty and can have at most 10 items.",
        ));
    }
    let statuses = services_in(ctx, &cluster);
    let (mut services, mut failures) = (Vec::new(), Vec::new());
    for given in &input.services {
        let name = ids::service_name(given)?;
        match statuses.iter().find(|s| s.name == name) {
            Some(status) => services.push(render::service(
                &ctx.registry,
                config,
                status,
                HEALTH_CHECK_GRACE,
            )),
            None => failures.push(Failure::missing(ctx.registry.service_arn(&cluster, name))),
        }
    }
    Ok(json!({ "services": services, "failures": failures }))
}

/// The members of an UpdateService request tierlab cannot apply (null ones are absent).
fn unsupported_members(input: &UpdateServiceInput) -> Vec<String> {
    let mut names: Vec<String> = input
        .other
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, _)| k.clone())
        .collect();
    if input.force_new_deployment == Some(true) {
        names.push("forceNewDeployment".into());
    }
    names
}

pub async fn update_service(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: UpdateServiceInput = input(body)?;
    let config = ctx.lab.config();
    let cluster = ids::cluster(config, input.cluster.as_deref())?;
    let name = ids::service_name(&input.service)?.to_string();
    let handle = ctx
        .lab
        .services()
        .iter()
        .find(|s| s.name() == name && s.status().cluster == cluster)
        .ok_or_else(ids::service_not_found)?;
    let unsupported = unsupported_members(&input);
    if !unsupported.is_empty() {
        return Err(ids::invalid_parameter(format!(
            "tierlab applies only desiredCount to a running service; it cannot apply {} yet (nothing was changed).",
            unsupported.join(", ")
        )));
    }
    if let Some(count) = input.desired_count {
        let count = u32::try_from(count).map_err(|_| {
            ids::invalid_parameter("Desired count must be a positive integer or zero.")
        })?;
        handle.set_desired_count(count).map_err(|e| match e {
            DesiredCountError::TooMany { .. } => ids::invalid_parameter(format!(
                "{e}: tierlab runs at most {MAX_DESIRED_COUNT} tasks per service."
            )),
        })?;
    }
    let mut status = handle.status();
    status.desired_count = handle.desired_count();
    let service = render::service(&ctx.registry, config, &status, HEALTH_CHECK_GRACE);
    Ok(json!({ "service": service }))
}

/// Adds `nextToken` to a list answer when there is another page.
pub(super) fn with_token(mut value: Value, next: Option<String>) -> Value {
    if let (Some(next), Some(map)) = (next, value.as_object_mut()) {
        map.insert("nextToken".into(), Value::String(next));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(body: &str) -> UpdateServiceInput {
        input(body.as_bytes()).unwrap()
    }

    #[test]
    fn update_service_names_what_it_cannot_apply() {
        let only_count = update(r#"{"cluster":"c","service":"s","desiredCount":3}"#);
        assert!(unsupported_members(&only_count).is_empty());
        assert_eq!(only_count.desired_count, Some(3));
        let no_force = update(r#"{"service":"s","forceNewDeployment":false}"#);
        assert!(unsupported_members(&no_force).is_empty());
        let more = update(
            r#"{"service":"s","desiredCount":3,"taskDefinition":"t:2","forceNewDeployment":true,"healthCheckGracePeriodSeconds":null}"#,
        );
        assert_eq!(
            unsupported_members(&more),
            ["taskDefinition", "forceNewDeployment"]
        );
    }
}
