//! The lab's typed status → ECS's output shapes. Pure: the same status always renders the same
//! JSON, so unit tests compare it with the shapes of ECS's API reference.

use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

use crate::api::json::Epoch;
use crate::config::env_ref::{self, RdsAttr, Segment};
use crate::config::{Config, Service as ServiceConfig, TaskDefinition as TaskDefConfig};
use crate::ecs::{DeploymentStatus, LastStatus, Revision, ServiceStatus, TaskStatus};
use crate::registry::Registry;

use super::model::*;

const FARGATE: &str = "FARGATE";
/// Fargate's platform version and family, as ECS reports them for `LATEST` on Linux.
const PLATFORM_VERSION: &str = "1.4.0";
const PLATFORM_FAMILY: &str = "Linux";

/// An RFC 3339 time from a status model as an epoch timestamp (the epoch itself if it does not
/// parse, which the models never produce).
pub fn at(text: &str) -> Epoch {
    Epoch(humantime::parse_rfc3339_weak(text).unwrap_or(UNIX_EPOCH))
}

pub fn cluster(registry: &Registry, name: &str, services: &[ServiceStatus]) -> Cluster {
    let tasks = services.iter().flat_map(|s| &s.tasks);
    let count =
        |status: LastStatus| tasks.clone().filter(|t| t.last_status == status).count() as u32;
    Cluster {
        cluster_arn: registry.cluster_arn(name),
        cluster_name: name.to_string(),
        status: "ACTIVE".into(),
        registered_container_instances_count: 0,
        running_tasks_count: count(LastStatus::Running),
        pending_tasks_count: count(LastStatus::Pending),
        active_services_count: services.len() as u32,
        statistics: Vec::new(),
        tags: Vec::new(),
        settings: Vec::new(),
        capacity_providers: Vec::new(),
        default_capacity_provider_strategy: Vec::new(),
    }
}

fn network_configuration(registry: &Registry, service: &ServiceConfig) -> NetworkConfiguration {
    NetworkConfiguration {
        awsvpc_configuration: AwsVpcConfiguration {
            subnets: service
                .subnets
                .iter()
                .map(|s| registry.subnet_id(s))
                .collect(),
            security_groups: service
                .security_groups
                .iter()
                .map(|g| registry.security_group_id(g))
                .collect(),
            assign_public_ip: "DISABLED".into(),
        },
    }
}

/// A `family:revision` as its ARN.
fn revision_arn(registry: &Registry, name: &str) -> String {
    match name.rsplit_once(':') {
        Some((family, revision)) => {
            registry.task_definition_arn(family, revision.parse().unwrap_or(1))
        }
        None => registry.task_definition_arn(name, 1),
    }
}

fn deployment(
    registry: &Registry,
    cfg: &ServiceConfig,
    d: &DeploymentStatus,
    status: &str,
) -> Deployment {
    Deployment {
        id: d.id.clone(),
        status: status.into(),
        task_definition: revision_arn(registry, &d.task_definition),
        desired_count: d.desired_count,
        pending_count: d.pending_count,
        running_count: d.running_count,
        failed_tasks: d.failed_tasks,
        created_at: at(&d.created_at),
        updated_at: at(&d.updated_at),
        launch_type: FARGATE.into(),
        platform_version: PLATFORM_VERSION.into(),
        platform_family: PLATFORM_FAMILY.into(),
        network_configuration: network_configuration(registry, cfg),
        rollout_state: d.rollout_state.as_str().into(),
        rollout_state_reason: d.rollout_state_reason.clone(),
    }
}

/// One service as `describe-services` shows it: the PRIMARY deployment first, then the older
/// (ACTIVE) ones still replacing tasks.
pub fn service(registry: &Registry, config: &Config, status: &ServiceStatus) -> Service {
    let cfg = &config.services[&status.name];
    let task_definition = revision_arn(registry, &status.task_definition);
    let mut deployments = vec![deployment(registry, cfg, &status.deployment, "PRIMARY")];
    deployments.extend(
        status
            .active_deployments
            .iter()
            .map(|d| deployment(registry, cfg, d, "ACTIVE")),
    );
    let dc = &status.deployment_configuration;
    Service {
        service_arn: registry.service_arn(&cfg.cluster, &cfg.name),
        service_name: cfg.name.clone(),
        cluster_arn: registry.cluster_arn(&cfg.cluster),
        load_balancers: cfg
            .load_balancer
            .iter()
            .map(|lb| LoadBalancer {
                target_group_arn: registry.target_group_arn(&lb.target_group),
                container_name: lb.container_name.clone(),
                container_port: lb.container_port,
            })
            .collect(),
        service_registries: Vec::new(),
        status: "ACTIVE".into(),
        desired_count: status.desired_count,
        running_count: status.running_count,
        pending_count: status.pending_count,
        launch_type: FARGATE.into(),
        platform_version: "LATEST".into(),
        platform_family: PLATFORM_FAMILY.into(),
        task_definition,
        deployment_configuration: DeploymentConfiguration {
            deployment_circuit_breaker: DeploymentCircuitBreaker {
                enable: dc.circuit_breaker.enable,
                rollback: dc.circuit_breaker.rollback,
            },
            maximum_percent: dc.maximum_percent,
            minimum_healthy_percent: dc.minimum_healthy_percent,
        },
        deployments,
        events: status
            .events
            .iter()
            .rev()
            .map(|e| ServiceEvent {
                id: e.id.clone(),
                created_at: at(&e.created_at),
                message: e.message.clone(),
            })
            .collect(),
        created_at: at(&status.created_at),
        placement_constraints: Vec::new(),
        placement_strategy: Vec::new(),
        network_configuration: network_configuration(registry, cfg),
        health_check_grace_period_seconds: cfg
            .load_balancer
            .as_ref()
            .map(|_| status.health_check_grace_period_seconds),
        scheduling_strategy: "REPLICA".into(),
        deployment_controller: DeploymentController { kind: "ECS".into() },
        enable_ecs_managed_tags: false,
        propagate_tags: "NONE".into(),
        enable_execute_command: false,
        availability_zone_rebalancing: if status.availability_zone_rebalancing {
            "ENABLED"
        } else {
            "DISABLED"
        }
        .into(),
    }
}

/// EC2's private DNS name of an address (`ip-10-0-3-5.ec2.internal` in us-east-1).
fn private_dns_name(region: &str, ip: &str) -> String {
    let host = format!("ip-{}", ip.replace('.', "-"));
    if region == "us-east-1" {
        format!("{host}.ec2.internal")
    } else {
        format!("{host}.{region}.compute.internal")
    }
}

/// One task as `describe-tasks` shows it (`startedBy` is the deployment that started it).
pub fn task(registry: &Registry, config: &Config, task: &TaskStatus) -> Task {
    let td = config
        .task_definitions
        .values()
        .find(|td| td.family == task.task_definition_family);
    let container_name = td.map_or(task.container_name.clone(), |td| td.container.name.clone());
    let image = task.image.clone();
    let task_arn = registry.task_arn(&task.cluster, &task.task_id);
    let attachment_id = crate::alb::arn::derived_uuid("eni-attachment", &task.task_id);
    let stopped = task.last_status == LastStatus::Stopped;
    let mut details = vec![
        KeyValuePair {
            name: "subnetId".into(),
            value: registry.subnet_id(&task.subnet),
        },
        KeyValuePair {
            name: "networkInterfaceId".into(),
            value: registry.eni_id(&task.task_id),
        },
    ];
    if let Some(ip) = &task.private_ipv4_address {
        details.push(KeyValuePair {
            name: "privateDnsName".into(),
            value: private_dns_name(registry.region(), ip),
        });
        details.push(KeyValuePair {
            name: "privateIPv4Address".into(),
            value: ip.clone(),
        });
    }
    let container_status = match task.last_status {
        LastStatus::Stopped => "STOPPED",
        LastStatus::Provisioning => "PENDING",
        _ if task.exit_code.is_some() => "STOPPED",
        _ => "RUNNING",
    };
    Task {
        attachments: vec![Attachment {
            id: attachment_id.clone(),
            kind: "ElasticNetworkInterface".into(),
            status: if stopped { "DELETED" } else { "ATTACHED" }.into(),
            details,
        }],
        availability_zone: task.availability_zone.clone(),
        cluster_arn: registry.cluster_arn(&task.cluster),
        connectivity: "CONNECTED".into(),
        connectivity_at: at(&task.created_at),
        containers: vec![Container {
            container_arn: registry.container_arn(&task.cluster, &task.task_id),
            task_arn: task_arn.clone(),
            name: container_name.clone(),
            image,
            runtime_id: task.container_id.clone(),
            last_status: container_status.into(),
            exit_code: task.exit_code,
            network_bindings: Vec::new(),
            network_interfaces: vec![NetworkInterface {
                attachment_id,
                private_ipv4_address: task.private_ipv4_address.clone(),
            }],
            health_status: task.health_status.as_str().into(),
            cpu: "0".into(),
        }],
        cpu: task.cpu.to_string(),
        created_at: at(&task.created_at),
        desired_status: task.desired_status.as_str().into(),
        enable_execute_command: false,
        group: format!("service:{}", task.service),
        health_status: task.health_status.as_str().into(),
        last_status: task.last_status.as_str().into(),
        launch_type: FARGATE.into(),
        memory: task.memory_mib.to_string(),
        overrides: TaskOverride {
            container_overrides: vec![ContainerOverride {
                name: container_name,
            }],
            inference_accelerator_overrides: Vec::new(),
        },
        platform_version: PLATFORM_VERSION.into(),
        platform_family: PLATFORM_FAMILY.into(),
        started_at: (task.last_status != LastStatus::Pending).then(|| at(&task.started_at)),
        started_by: task.started_by.clone(),
        stop_code: task.stop_code.map(|c| c.as_str().to_string()),
        stopped_at: task.stopped_at.as_deref().map(at),
        stopped_reason: task.stopped_reason.clone(),
        stopping_at: task.stopping_at.as_deref().map(at),
        tags: Vec::new(),
        task_arn,
        task_definition_arn: registry
            .task_definition_arn(&task.task_definition_family, task.task_definition_revision),
        version: version(task.last_status),
        ephemeral_storage: EphemeralStorage { size_in_gi_b: 20 },
    }
}

/// ECS bumps a task's `version` at each state change; the position of its state does that.
fn version(status: LastStatus) -> u32 {
    match status {
        LastStatus::Provisioning => 1,
        LastStatus::Pending => 2,
        LastStatus::Running => 3,
        LastStatus::Deactivating => 4,
        LastStatus::Stopping => 5,
        LastStatus::Deprovisioning => 6,
        LastStatus::Stopped => 7,
    }
}

/// Whether a variable's value carries a secret (a generated secret, or a database password,
/// which the URL holds too). Such values never leave the lab through the API.
fn is_secret(segments: &[Segment]) -> bool {
    segments.iter().any(|s| match s {
        Segment::Secret(_) => true,
        Segment::Rds { attribute, .. } => matches!(attribute, RdsAttr::Password | RdsAttr::Url),
        Segment::Literal(_) => false,
    })
}

/// A task definition as `describe-task-definition` shows it. Variables that carry secrets are
/// listed under `secrets` with where they come from (the `${...}` reference of
/// `emulator.toml`, standing in for a Secrets Manager ARN), never with their value; the others
/// under `environment`, resolved by `lookup` (database host, port, names).
pub fn task_definition(
    registry: &Registry,
    revision: &Revision,
    lookup: impl Fn(&Segment) -> Option<String>,
) -> TaskDefinition {
    let td: &TaskDefConfig = &revision.definition;
    let c = &td.container;
    let mut environment = Vec::new();
    let mut secrets = Vec::new();
    for (name, value) in &c.environment {
        let segments =
            env_ref::parse(value).unwrap_or_else(|_| vec![Segment::Literal(value.clone())]);
        if is_secret(&segments) {
            secrets.push(Secret {
                name: name.clone(),
                value_from: value.clone(),
            });
        } else {
            let value = env_ref::render(&segments, &lookup).unwrap_or_else(|_| value.clone());
            environment.push(KeyValuePair {
                name: name.clone(),
                value,
            });
        }
    }
    // ECS's own `secrets`: shown as written (the ARN or parameter name), never resolved.
    secrets.extend(c.secrets.iter().map(|s| Secret {
        name: s.name.clone(),
        value_from: s.value_from.clone(),
    }));
    let options = BTreeMap::from([
        ("awslogs-group".to_string(), c.log_group.clone()),
        ("awslogs-region".to_string(), registry.region().to_string()),
        (
            "awslogs-stream-prefix".to_string(),
            c.log_stream_prefix.clone(),
        ),
    ]);
    TaskDefinition {
        task_definition_arn: registry.task_definition_arn(&td.family, revision.revision),
        container_definitions: vec![ContainerDefinition {
            name: c.name.clone(),
            image: c.image.clone(),
            cpu: 0,
            port_mappings: vec![PortMapping {
                container_port: c.container_port,
                host_port: c.container_port,
                protocol: "tcp".into(),
            }],
            essential: true,
            command: c.command.clone(),
            stop_timeout: c.stop_timeout.map(|t| t.as_secs()),
            environment,
            mount_points: Vec::new(),
            volumes_from: Vec::new(),
            secrets,
            log_configuration: LogConfiguration {
                log_driver: "awslogs".into(),
                options,
                secret_options: Vec::new(),
            },
            system_controls: Vec::new(),
        }],
        family: td.family.clone(),
        network_mode: "awsvpc".into(),
        revision: revision.revision,
        volumes: Vec::new(),
        status: revision.status.as_str().into(),
        registered_at: at(&revision.registered_at),
        deregistered_at: revision.deregistered_at.as_deref().map(at),
        requires_attributes: Vec::new(),
        placement_constraints: Vec::new(),
        compatibilities: vec!["EC2".into(), FARGATE.into()],
        requires_compatibilities: vec![FARGATE.into()],
        cpu: td.cpu.to_string(),
        memory: td.memory_mib.to_string(),
    }
}
