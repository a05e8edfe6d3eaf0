//! Finding the lab's load balancers, listeners and target groups by ARN or name, with ELBv2's
//! errors when there is none; and the lab's tasks as the target registry sees them.

use std::net::{Ipv4Addr, SocketAddr};

use crate::alb::TargetGroupHandle;
use crate::alb::ip_targets::TaskAddress;
use crate::api::{ApiContext, ApiError};
use crate::config::{Config, Listener, LoadBalancer};
use crate::ecs::{LastStatus, TaskStatus};
use crate::registry::Registry;

/// `TargetGroupNotFound`, as ELBv2 words it.
pub fn target_group_not_found() -> ApiError {
    ApiError::new("TargetGroupNotFound", "One or more target groups not found")
}

/// The target group whose ARN is `arn`.
pub fn target_group<'a>(ctx: &'a ApiContext, arn: &str) -> Result<&'a TargetGroupHandle, ApiError> {
    ctx.lab
        .target_groups()
        .iter()
        .find(|tg| ctx.registry.target_group_arn(tg.name()) == arn)
        .ok_or_else(target_group_not_found)
}

/// The load balancer whose ARN is `arn`, or `LoadBalancerNotFound`.
pub fn load_balancer<'a>(
    config: &'a Config,
    registry: &Registry,
    arn: &str,
) -> Result<&'a LoadBalancer, ApiError> {
    config
        .load_balancers
        .values()
        .find(|lb| registry.load_balancer_arn(&lb.name) == arn)
        .ok_or_else(|| {
            ApiError::new(
                "LoadBalancerNotFound",
                format!("Load balancer '{arn}' not found"),
            )
        })
}

/// Every listener of the lab with its load balancer.
pub fn listeners(config: &Config) -> impl Iterator<Item = (&LoadBalancer, &Listener)> {
    config
        .load_balancers
        .values()
        .flat_map(|lb| lb.listeners.iter().map(move |l| (lb, l)))
}

/// The listener whose ARN is `arn`, or `ListenerNotFound`.
pub fn listener<'a>(
    config: &'a Config,
    registry: &Registry,
    arn: &str,
) -> Result<(&'a LoadBalancer, &'a Listener), ApiError> {
    listeners(config)
        .find(|(lb, l)| registry.listener_arn(&lb.name, l.port()) == arn)
        .ok_or_else(|| ApiError::new("ListenerNotFound", "One or more listeners not found"))
}

/// The load balancers whose listeners send to target group `name`.
pub fn load_balancers_of<'a>(config: &'a Config, name: &str) -> Vec<&'a LoadBalancer> {
    config
        .load_balancers
        .values()
        .filter(|lb| {
            lb.listeners
                .iter()
                .flat_map(Listener::actions)
                .any(|a| a.target_groups().contains(&name))
        })
        .collect()
}

/// The lab's tasks as target identities: `(running, all)`. Only running tasks may be
/// registered; stopping ones still name their draining targets.
pub fn tasks(ctx: &ApiContext) -> (Vec<TaskAddress>, Vec<TaskAddress>) {
    let config = ctx.lab.config();
    let mut running = Vec::new();
    let mut all = Vec::new();
    for service in ctx.lab.services() {
        let status = service.status();
        let Some(port) = container_port(config, service.name()) else {
            continue;
        };
        for task in &status.tasks {
            if let Some(address) = task_address(task, port) {
                if matches!(task.last_status, LastStatus::Pending | LastStatus::Running) {
                    running.push(address.clone());
                }
                all.push(address);
            }
        }
        all.extend(
            status
                .stopping_tasks
                .iter()
                .filter_map(|t| task_address(t, port)),
        );
    }
    (running, all)
}

/// The container port a service's target group sends to.
fn container_port(config: &Config, service: &str) -> Option<u16> {
    let service = config.services.get(service)?;
    if let Some(lb) = &service.load_balancer {
        return Some(lb.container_port);
    }
    let family = &service.task_definition;
    Some(
        config
            .task_definitions
            .get(family)?
            .container
            .container_port,
    )
}

/// A task with both a private IP and a published port (a task still being created has
/// neither yet).
pub fn task_address(task: &TaskStatus, container_port: u16) -> Option<TaskAddress> {
    let private_ip: Ipv4Addr = task.private_ipv4_address.as_deref()?.parse().ok()?;
    let host: SocketAddr = task.target_address.as_deref()?.parse().ok()?;
    Some(TaskAddress {
        task_id: task.task_id.clone(),
        private_ip,
        container_port,
        host,
        availability_zone: (!task.availability_zone.is_empty())
            .then(|| task.availability_zone.clone()),
    })
}
