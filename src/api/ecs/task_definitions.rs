//! Task definitions: RegisterTaskDefinition, DeregisterTaskDefinition, ListTaskDefinitions,
//! ListTaskDefinitionFamilies, DescribeTaskDefinition, over the lab's revision registry.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiContext, ApiError, json::input};
use crate::config::env_ref::{self, RdsAttr, Segment};
use crate::config::{ContainerDefinition, TaskDefinition};
use crate::ecs::{Revision, RevisionError, RevisionStatus};

use super::services::with_token;
use super::{ids, page, render};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListInput {
    family_prefix: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeInput {
    task_definition: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterInput {
    family: String,
    container_definitions: Vec<ContainerInput>,
    cpu: Option<String>,
    memory: Option<String>,
    network_mode: Option<String>,
    /// Accepted as given: roles and tags change nothing on one machine.
    #[serde(default)]
    #[allow(dead_code)]
    execution_role_arn: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    task_role_arn: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    requires_compatibilities: Vec<String>,
    #[serde(default)]
    #[allow(dead_code)]
    tags: Vec<Value>,
    #[serde(default)]
    #[allow(dead_code)]
    runtime_platform: Option<Value>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerInput {
    name: String,
    image: String,
    command: Option<Vec<String>>,
    #[serde(default)]
    port_mappings: Vec<PortMappingInput>,
    #[serde(default)]
    environment: Vec<NameValue>,
    #[serde(default)]
    secrets: Vec<SecretInput>,
    log_configuration: Option<LogConfigurationInput>,
    essential: Option<bool>,
    stop_timeout: Option<i64>,
    /// Container-level sizes within the task's: tierlab limits the task as a whole.
    #[serde(default)]
    #[allow(dead_code)]
    cpu: Option<i64>,
    #[serde(default)]
    #[allow(dead_code)]
    memory: Option<i64>,
    #[serde(default)]
    #[allow(dead_code)]
    memory_reservation: Option<i64>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PortMappingInput {
    container_port: i64,
    host_port: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct NameValue {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecretInput {
    name: String,
    value_from: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogConfigurationInput {
    log_driver: String,
    #[serde(default)]
    options: BTreeMap<String, String>,
}

fn client(message: impl Into<String>) -> ApiError {
    ApiError::new("ClientException", message)
}

/// Members present (not null) that tierlab cannot honour.
fn unsupported(other: &BTreeMap<String, Value>) -> Vec<&str> {
    other
        .iter()
        .filter(|(_, v)| !v.is_null() && *v != &json!([]) && *v != &json!({}))
        .map(|(k, _)| k.as_str())
        .collect()
}

/// ECS's family rule: up to 255 letters, numbers, underscores and hyphens.
fn check_family(family: &str) -> Result<(), ApiError> {
    let ok = !family.is_empty()
        && family.len() <= 255
        && family
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(client(
            "Family contains invalid characters. Up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed.",
        ))
    }
}

/// A task-level size ("256", "0.25 vcpu", "512", "1 GB") in CPU units or MiB.
fn size(text: Option<&str>, what: &str, unit_per: f64, suffix: &str) -> Result<u32, ApiError> {
    let text = text.ok_or_else(|| {
        client(format!(
            "Fargate requires that '{what}' be defined at the task level."
        ))
    })?;
    let lower = text.trim().to_ascii_lowercase();
    let parsed = match lower.strip_suffix(suffix) {
        Some(n) => n.trim().parse::<f64>().map(|n| n * unit_per),
        None => lower.parse::<f64>(),
    };
    match parsed {
        Ok(n) if n >= 1.0 && n <= f64::from(u32::MAX) => Ok(n as u32),
        _ => Err(client(format!("Invalid '{what}' setting for task: {text}"))),
    }
}

/// [`definition_in`] for a lab in the default region (tests).
#[cfg(test)]
fn definition(input: RegisterInput) -> Result<TaskDefinition, ApiError> {
    definition_in(input, crate::registry::DEFAULT_REGION)
}

/// The registered definition as tierlab's typed model, apart from any I/O. Environment values
/// are literal (a `$` is escaped); a secret's `valueFrom` is a Secrets Manager or SSM ARN (or
/// parameter name) of the lab's region, resolved at each task launch, or one of the lab's
/// `${...}` references (as `describe-task-definition` lists those of `environment`).
fn definition_in(input: RegisterInput, region: &str) -> Result<TaskDefinition, ApiError> {
    check_family(&input.family)?;
    let mut refused = unsupported(&input.other);
    if input.network_mode.as_deref().is_some_and(|m| m != "awsvpc") {
        refused.push("networkMode (tierlab's tasks use awsvpc)");
    }
    let [container] = &input.container_definitions[..] else {
        return Err(client(format!(
            "tierlab runs task definitions with exactly one container definition; this one has {}.",
            input.container_definitions.len()
        )));
    };
    refused.extend(unsupported(&container.other));
    if !refused.is_empty() {
        return Err(ids::invalid_parameter(format!(
            "tierlab cannot apply {} to a task definition (nothing was registered).",
            refused.join(", ")
        )));
    }
    if container.essential == Some(false) {
        return Err(client(
            "A task definition must have at least one essential container.",
        ));
    }
    let cpu = size(input.cpu.as_deref(), "cpu", 1024.0, "vcpu")?;
    let memory_mib = size(input.memory.as_deref(), "memory", 1024.0, "gb")?;
    let port = match &container.port_mappings[..] {
        [mapping] if (1..=65535).contains(&mapping.container_port) => {
            if mapping
                .host_port
                .is_some_and(|h| h != mapping.container_port)
            {
                return Err(client(
                    "When networkMode=awsvpc, the host ports and container ports in port mappings must match.",
                ));
            }
            mapping.container_port as u16
        }
        _ => {
            return Err(ids::invalid_parameter(
                "tierlab needs exactly one portMapping with a containerPort (1-65535): the port the load balancer reaches.",
            ));
        }
    };
    let stop_timeout = match container.stop_timeout {
        None => None,
        Some(secs @ 1..=120) => Some(std::time::Duration::from_secs(secs as u64)),
        Some(secs) => {
            return Err(client(format!(
                "Invalid stopTimeout value {secs} for container {}: a Fargate task's is between 1 and 120 seconds.",
                container.name
            )));
        }
    };
    let mut environment = BTreeMap::new();
    for variable in &container.environment {
        environment.insert(variable.name.clone(), variable.value.replace('$', "$$"));
    }
    let mut secrets = Vec::new();
    for secret in &container.secrets {
        if !secret.value_from.starts_with('$') {
            let reference = crate::secrets::reference::parse(
                &secret.value_from,
                region,
                crate::registry::ACCOUNT,
            )
            .map_err(|why| {
                ids::invalid_parameter(format!(
                    "secrets[{}].valueFrom {:?} {why}",
                    secret.name, secret.value_from
                ))
            })?;
            secrets.push(crate::config::ContainerSecret {
                name: secret.name.clone(),
                value_from: secret.value_from.clone(),
                reference,
            });
            continue;
        }
        let reference = env_ref::parse(&secret.value_from)
            .ok()
            .filter(|segments| matches!(&segments[..], [s] if !matches!(s, Segment::Literal(_))));
        if reference.is_none() {
            return Err(ids::invalid_parameter(format!(
                "secrets[{}].valueFrom {:?}: a secret is a Secrets Manager or SSM ARN (or parameter name), or one of the lab's references (`${{rds.ID.password}}`, `${{rds.ID.url}}`, `${{secret.NAME}}`).",
                secret.name, secret.value_from
            )));
        }
        environment.insert(secret.name.clone(), secret.value_from.clone());
    }
    let (log_group, log_stream_prefix) = match &container.log_configuration {
        Some(log) if log.log_driver == "awslogs" => (
            log.options.get("awslogs-group").cloned(),
            log.options.get("awslogs-stream-prefix").cloned(),
        ),
        Some(log) => {
            return Err(ids::invalid_parameter(format!(
                "tierlab ships task logs with the awslogs driver only, not {}.",
                log.log_driver
            )));
        }
        None => (None, None),
    };
    Ok(TaskDefinition {
        family: input.family.clone(),
        cpu,
        memory_mib,
        container: ContainerDefinition {
            name: container.name.clone(),
            image: container.image.clone(),
            build: None,
            container_port: port,
            command: container.command.clone(),
            environment,
            log_group: log_group.unwrap_or_else(|| format!("/ecs/{}", input.family)),
            log_stream_prefix: log_stream_prefix.unwrap_or_else(|| "ecs".into()),
            stop_timeout,
            secrets,
        },
    })
}

/// The lab's value of a `${...}` reference that is not secret (database host, port, names);
/// `None` for secrets, which render never asks for.
fn public_value(ctx: &ApiContext, segment: &Segment) -> Option<String> {
    match segment {
        Segment::Literal(text) => Some(text.clone()),
        Segment::Rds {
            identifier,
            attribute,
        } => {
            let db = ctx.lab.database(identifier)?;
            match attribute {
                RdsAttr::Host => Some(db.endpoint.clone()),
                RdsAttr::Port => Some(db.port.to_string()),
                RdsAttr::Username => Some(db.master_username.clone()),
                RdsAttr::DbName => Some(db.db_name.clone()),
                RdsAttr::Password | RdsAttr::Url => None,
            }
        }
        Segment::Secret(_) => None,
    }
}

fn rendered(ctx: &ApiContext, revision: &Revision) -> Value {
    let td = render::task_definition(&ctx.registry, revision, |s| public_value(ctx, s));
    json!(td)
}

pub fn register(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: RegisterInput = input(body)?;
    let definition = definition_in(input, ctx.registry.region())?;
    let revision = ctx
        .lab
        .task_definitions()
        .register(definition)
        .map_err(|e| client(e.to_string()))?;
    tracing::info!("registered task definition {}", revision.name());
    Ok(json!({ "taskDefinition": rendered(ctx, &revision), "tags": [] }))
}

pub fn deregister(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: DescribeInput = input(body)?;
    let (family, revision) = ids::task_definition(&input.task_definition)?;
    let revision = revision.ok_or_else(|| {
        ids::invalid_parameter("Invalid revision number. Number: ".to_string() + family)
    })?;
    let revision = ctx
        .lab
        .task_definitions()
        .deregister(family, revision)
        .map_err(|e| match e {
            RevisionError::NotFound { .. } => ids::task_definition_not_found(),
            other => client(other.to_string()),
        })?;
    Ok(json!({ "taskDefinition": rendered(ctx, &revision) }))
}

/// Which revisions a list answers, apart from any I/O.
fn listed<'a>(revisions: &'a [Revision], input: &ListInput) -> Result<Vec<&'a Revision>, ApiError> {
    let status = match input.status.as_deref() {
        None | Some("ACTIVE") => Some(RevisionStatus::Active),
        Some("INACTIVE") => Some(RevisionStatus::Inactive),
        Some("ALL") => None,
        Some(other) => return Err(ids::invalid_parameter(format!("Invalid status: {other}"))),
    };
    let mut out: Vec<&Revision> = revisions
        .iter()
        .filter(|r| status.is_none_or(|s| r.status == s))
        .filter(|r| {
            input
                .family_prefix
                .as_deref()
                .is_none_or(|p| r.family().starts_with(p))
        })
        .collect();
    if input.sort.as_deref() == Some("DESC") {
        out.reverse();
    }
    Ok(out)
}

pub fn list(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: ListInput = input(body)?;
    let revisions = ctx.lab.task_definitions().list();
    let arns = listed(&revisions, &input)?
        .into_iter()
        .map(|r| ctx.registry.task_definition_arn(r.family(), r.revision))
        .collect();
    let (arns, next) = page(arns, input.max_results, input.next_token.as_deref())?;
    Ok(with_token(json!({ "taskDefinitionArns": arns }), next))
}

pub fn list_families(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: ListInput = input(body)?;
    let revisions = ctx.lab.task_definitions().list();
    // A family is ACTIVE while one of its revisions is.
    let mut families: Vec<String> = Vec::new();
    let filter = ListInput {
        family_prefix: input.family_prefix.clone(),
        status: input.status.clone(),
        ..Default::default()
    };
    for r in listed(&revisions, &filter)? {
        if families.last().map(String::as_str) != Some(r.family()) {
            families.push(r.family().to_string());
        }
    }
    if input.sort.as_deref() == Some("DESC") {
        families.reverse();
    }
    let (families, next) = page(families, input.max_results, input.next_token.as_deref())?;
    Ok(with_token(json!({ "families": families }), next))
}

pub fn describe(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: DescribeInput = input(body)?;
    let (family, revision) = ids::task_definition(&input.task_definition)?;
    let revision = ctx
        .lab
        .task_definitions()
        .get(family, revision)
        .ok_or_else(ids::task_definition_not_found)?;
    Ok(json!({ "taskDefinition": rendered(ctx, &revision), "tags": [] }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register_input(json: &str) -> RegisterInput {
        input(json.as_bytes()).unwrap()
    }

    const GOOD: &str = r#"{
        "family": "web",
        "cpu": "256",
        "memory": "0.5 GB",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        "containerDefinitions": [{
            "name": "app",
            "image": "flask:2",
            "essential": true,
            "portMappings": [{"containerPort": 5000, "hostPort": 5000, "protocol": "tcp"}],
            "environment": [{"name": "GREETING", "value": "costs $5"}],
            "secrets": [{"name": "DATABASE_URL", "valueFrom": "${rds.db.url}"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web", "awslogs-stream-prefix": "ecs"}}
        }]
    }"#;

    #[test]
    fn secrets_from_secrets_manager_and_ssm_are_kept_as_references() {
        let arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db-AbCdEf";
        let with = GOOD.replace(
            r#""secrets": [{"name": "DATABASE_URL", "valueFrom": "${rds.db.url}"}]"#,
            &format!(
                r#""secrets": [{{"name": "DATABASE_URL", "valueFrom": "{arn}:url::"}}, {{"name": "KEY", "valueFrom": "/app/key"}}]"#
            ),
        );
        let td = definition(register_input(&with)).unwrap();
        let secrets = &td.container.secrets;
        assert_eq!(secrets.len(), 2);
        assert_eq!(secrets[0].value_from, format!("{arn}:url::"));
        assert!(!td.container.environment.contains_key("DATABASE_URL"));
        let bad = with.replace(
            "us-east-1:000000000000:secret",
            "eu-west-1:000000000000:secret",
        );
        let e = definition(register_input(&bad)).unwrap_err();
        assert!(
            e.message.contains("names region `eu-west-1`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_fargate_definition_becomes_the_typed_model() {
        let td = definition(register_input(GOOD)).unwrap();
        assert_eq!(
            (td.family.as_str(), td.cpu, td.memory_mib),
            ("web", 256, 512)
        );
        let c = &td.container;
        assert_eq!(
            (c.name.as_str(), c.image.as_str(), c.container_port),
            ("app", "flask:2", 5000)
        );
        // Literal values stay literal; the secret stays a reference resolved at launch.
        assert_eq!(c.environment["GREETING"], "costs $$5");
        assert_eq!(c.environment["DATABASE_URL"], "${rds.db.url}");
        assert_eq!(c.log_group, "/ecs/web");
        assert_eq!(c.stop_timeout, None);
        let quick = GOOD.replace(
            "\"essential\": true,",
            "\"essential\": true, \"stopTimeout\": 5,",
        );
        let td = definition(register_input(&quick)).unwrap();
        assert_eq!(
            td.container.stop_timeout,
            Some(std::time::Duration::from_secs(5))
        );
        let never = GOOD.replace(
            "\"essential\": true,",
            "\"essential\": true, \"stopTimeout\": 0,",
        );
        assert_eq!(
            definition(register_input(&never)).unwrap_err().code,
            "ClientException"
        );
    }

    #[test]
    fn what_cannot_be_honoured_is_refused_by_name() {
        let e = definition(register_input(&GOOD.replace(
            "\"essential\": true,",
            "\"essential\": true, \"healthCheck\": {\"command\": [\"CMD\", \"true\"]},",
        )))
        .unwrap_err();
        assert_eq!(e.code, "InvalidParameterException");
        assert!(e.message.contains("healthCheck"), "{}", e.message);
        let e = definition(register_input(&GOOD.replace("\"cpu\": \"256\",", ""))).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            (
                "ClientException",
                "Fargate requires that 'cpu' be defined at the task level."
            )
        );
        let e = definition(register_input(
            &GOOD.replace("${rds.db.url}", "arn:aws:ssm:x"),
        ))
        .unwrap_err();
        assert!(e.message.contains("DATABASE_URL"), "{}", e.message);
        let e = definition(register_input(
            &GOOD.replace("\"family\": \"web\"", "\"family\": \"a b\""),
        ))
        .unwrap_err();
        assert!(e.message.starts_with("Family contains invalid characters"));
        let e = definition(register_input(
            &GOOD.replace("\"hostPort\": 5000", "\"hostPort\": 80"),
        ))
        .unwrap_err();
        assert_eq!(e.code, "ClientException");
    }

    #[test]
    fn lists_filter_by_status_and_prefix() {
        let registry = crate::ecs::TaskDefinitions::default();
        let td = definition(register_input(GOOD)).unwrap();
        registry.register(td.clone()).unwrap();
        registry.register(td.clone()).unwrap();
        registry.deregister("web", 1).unwrap();
        let revisions = registry.list();
        let names = |input: ListInput| -> Vec<String> {
            listed(&revisions, &input)
                .unwrap()
                .iter()
                .map(|r| r.name())
                .collect()
        };
        assert_eq!(names(ListInput::default()), ["web:2"]);
        let all = ListInput {
            status: Some("ALL".into()),
            sort: Some("DESC".into()),
            ..Default::default()
        };
        assert_eq!(names(all), ["web:2", "web:1"]);
        let other = ListInput {
            family_prefix: Some("api".into()),
            ..Default::default()
        };
        assert!(names(other).is_empty());
    }
}
