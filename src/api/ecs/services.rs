//! Clusters and services: ListClusters, DescribeClusters, ListServices, DescribeServices,
//! UpdateService (desired count, task definition, deployment configuration, grace period,
//! forced deployments: applied live, a new task definition as a rolling deployment).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiContext, ApiError, json::input};
use crate::config::{CircuitBreaker, DeploymentConfiguration};
use crate::ecs::{
    DeploymentTarget, DesiredCountError, MAX_DESIRED_COUNT, RevisionStatus, ServiceHandle,
    ServiceStatus, ServiceUpdate,
};

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
    task_definition: Option<String>,
    deployment_configuration: Option<DeploymentConfigurationInput>,
    health_check_grace_period_seconds: Option<i64>,
    availability_zone_rebalancing: Option<String>,
    /// Every other member: tierlab cannot apply them to a running service yet.
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentConfigurationInput {
    deployment_circuit_breaker: Option<CircuitBreakerInput>,
    maximum_percent: Option<i64>,
    minimum_healthy_percent: Option<i64>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
struct CircuitBreakerInput {
    enable: bool,
    rollback: bool,
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
            Some(status) => services.push(render::service(&ctx.registry, config, status)),
            None => failures.push(Failure::missing(ctx.registry.service_arn(&cluster, name))),
        }
    }
    Ok(json!({ "services": services, "failures": failures }))
}

/// The members of an UpdateService request tierlab cannot apply (null ones are absent).
fn unsupported_members(input: &UpdateServiceInput) -> Vec<String> {
    let present = |other: &BTreeMap<String, Value>, prefix: &str| -> Vec<String> {
        other
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| format!("{prefix}{k}"))
            .collect()
    };
    let mut names = present(&input.other, "");
    if let Some(dc) = &input.deployment_configuration {
        names.extend(present(&dc.other, "deploymentConfiguration."));
    }
    names
}

/// The service's deployment configuration after `input` (members left out stay as they are),
/// checked by ECS's rules; `None` when the request changes none of it.
fn deployment_configuration(
    input: &UpdateServiceInput,
    current: DeploymentConfiguration,
) -> Result<Option<DeploymentConfiguration>, ApiError> {
    let Some(dc) = &input.deployment_configuration else {
        return Ok(None);
    };
    let percent = |value: Option<i64>, now: u32, name: &str| match value {
        None => Ok(now),
        Some(v) => u32::try_from(v)
            .map_err(|_| ids::invalid_parameter(format!("{name} must be a positive integer: {v}"))),
    };
    let next = DeploymentConfiguration {
        minimum_healthy_percent: percent(
            dc.minimum_healthy_percent,
            current.minimum_healthy_percent,
            "minimumHealthyPercent",
        )?,
        maximum_percent: percent(
            dc.maximum_percent,
            current.maximum_percent,
            "maximumPercent",
        )?,
        circuit_breaker: dc.deployment_circuit_breaker.as_ref().map_or(
            current.circuit_breaker,
            |b| CircuitBreaker {
                enable: b.enable,
                rollback: b.rollback,
            },
        ),
    };
    next.check().map_err(ids::invalid_parameter)?;
    Ok(Some(next))
}

/// The new deployment `input` asks for: a task definition given (another one, or the same one
/// with `forceNewDeployment`), or a forced one of what runs now.
fn new_deployment(
    ctx: &ApiContext,
    input: &UpdateServiceInput,
    status: &ServiceStatus,
) -> Result<Option<DeploymentTarget>, ApiError> {
    let force = input.force_new_deployment == Some(true);
    let wanted = match input.task_definition.as_deref() {
        Some(given) => {
            let (family, revision) = ids::task_definition(given)?;
            ctx.lab
                .task_definitions()
                .get(family, revision)
                .ok_or_else(|| ApiError::new("ClientException", "TaskDefinition not found."))?
        }
        None if force => {
            let (family, revision) = ids::task_definition(&status.task_definition)?;
            ctx.lab
                .task_definitions()
                .get(family, revision)
                .ok_or_else(|| ApiError::new("ClientException", "TaskDefinition not found."))?
        }
        None => return Ok(None),
    };
    if wanted.name() == status.task_definition && !force {
        return Ok(None);
    }
    if wanted.status == RevisionStatus::Inactive {
        return Err(ApiError::new(
            "ClientException",
            "TaskDefinition is inactive",
        ));
    }
    let config = ctx.lab.config();
    if let Some(lb) = &config.services[&status.name].load_balancer {
        let c = &wanted.definition.container;
        if c.name != lb.container_name || c.container_port != lb.container_port {
            return Err(ids::invalid_parameter(format!(
                "The container {} did not have a container port {} defined.",
                lb.container_name, lb.container_port
            )));
        }
    }
    // Resolved now, so a forced deployment picks up changed values (a rotated password).
    let environment = ctx
        .lab
        .environment_of(&wanted.definition)
        .map_err(|e| ApiError::new("ClientException", e.to_string()))?;
    Ok(Some(DeploymentTarget {
        revision: wanted,
        environment,
    }))
}

/// Applies what `input` asks of the service behind `handle`; nothing changes when a part of
/// the request is refused.
async fn apply(
    ctx: &ApiContext,
    input: &UpdateServiceInput,
    handle: &ServiceHandle,
) -> Result<ServiceStatus, ApiError> {
    let status = handle.status();
    let deployment_configuration =
        deployment_configuration(input, status.deployment_configuration)?;
    let health_check_grace_period = match input.health_check_grace_period_seconds {
        None => None,
        Some(secs) if (0..=2_147_483_647).contains(&secs) => {
            Some(std::time::Duration::from_secs(secs as u64))
        }
        Some(secs) => {
            return Err(ids::invalid_parameter(format!(
                "healthCheckGracePeriodSeconds must be between 0 and 2147483647: {secs}"
            )));
        }
    };
    let count = match input.desired_count {
        None => None,
        Some(count) => Some(u32::try_from(count).map_err(|_| {
            ids::invalid_parameter("Desired count must be a positive integer or zero.")
        })?),
    };
    if let Some(count) = count
        && count > MAX_DESIRED_COUNT
    {
        let e = DesiredCountError::TooMany { requested: count };
        return Err(ids::invalid_parameter(format!(
            "{e}: tierlab runs at most {MAX_DESIRED_COUNT} tasks per service."
        )));
    }
    let availability_zone_rebalancing = match input.availability_zone_rebalancing.as_deref() {
        None => None,
        Some("ENABLED") => Some(true),
        Some("DISABLED") => Some(false),
        Some(other) => {
            return Err(ids::invalid_parameter(format!(
                "availabilityZoneRebalancing must be ENABLED or DISABLED: {other}"
            )));
        }
    };
    let deploy = new_deployment(ctx, input, &status)?;
    if let Some(count) = count {
        handle
            .set_desired_count(count)
            .expect("the count was checked above");
    }
    let update = ServiceUpdate {
        deploy,
        deployment_configuration,
        health_check_grace_period,
        availability_zone_rebalancing,
        configured_desired_count: None,
    };
    handle
        .update(update)
        .await
        .map_err(|e| ApiError::new("ServerException", e.to_string()).with_status(500))
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
            "tierlab cannot apply {} to a running service yet (nothing was changed).",
            unsupported.join(", ")
        )));
    }
    let status = apply(ctx, &input, handle).await?;
    let service = render::service(&ctx.registry, config, &status);
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
        let deploy = update(
            r#"{"service":"s","desiredCount":3,"taskDefinition":"t:2","forceNewDeployment":true,"healthCheckGracePeriodSeconds":null,"deploymentConfiguration":{"maximumPercent":150}}"#,
        );
        assert!(unsupported_members(&deploy).is_empty());
        let more = update(
            r#"{"service":"s","capacityProviderStrategy":[],"deploymentConfiguration":{"alarms":{"enable":true}}}"#,
        );
        assert_eq!(
            unsupported_members(&more),
            ["capacityProviderStrategy", "deploymentConfiguration.alarms"]
        );
    }

    #[test]
    fn deployment_configuration_changes_only_what_is_given_and_is_checked() {
        let current = DeploymentConfiguration::default();
        let none = update(r#"{"service":"s"}"#);
        assert_eq!(deployment_configuration(&none, current).unwrap(), None);
        let breaker = update(
            r#"{"service":"s","deploymentConfiguration":{"deploymentCircuitBreaker":{"enable":true,"rollback":true},"minimumHealthyPercent":50}}"#,
        );
        let next = deployment_configuration(&breaker, current)
            .unwrap()
            .unwrap();
        assert_eq!(
            (next.minimum_healthy_percent, next.maximum_percent),
            (50, 200)
        );
        assert!(next.circuit_breaker.enable && next.circuit_breaker.rollback);
        let bad = update(r#"{"service":"s","deploymentConfiguration":{"maximumPercent":100}}"#);
        let e = deployment_configuration(&bad, current).unwrap_err();
        assert_eq!(e.code, "InvalidParameterException");
        let bad =
            update(r#"{"service":"s","deploymentConfiguration":{"minimumHealthyPercent":-1}}"#);
        assert!(deployment_configuration(&bad, current).is_err());
    }
}
