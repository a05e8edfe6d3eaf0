//! `[services.NAME]`: what runs where, and how the load balancer reaches it.

use std::collections::BTreeMap;

use std::time::Duration;

use super::super::model::{
    CircuitBreaker, DeploymentConfiguration, LoadBalancer, SecurityGroup, Service,
    ServiceLoadBalancer, TaskDefinition, Vpc,
};
use super::super::{path, wire};
use super::ctx::{Ctx, list};
use super::rules;

/// ECS's own cap is higher; past this a laptop is the limit, not AWS.
const MAX_DESIRED_COUNT: i64 = 100;

/// What the service rules look things up in.
pub struct Known<'a> {
    pub vpc: &'a Vpc,
    pub clusters: &'a [String],
    pub task_definitions: &'a BTreeMap<String, TaskDefinition>,
    pub security_groups: &'a BTreeMap<String, SecurityGroup>,
    pub target_groups: &'a BTreeMap<String, wire::TargetGroup>,
    pub load_balancers: &'a BTreeMap<String, LoadBalancer>,
}

pub fn service(cx: &mut Ctx, name: &str, s: &wire::Service, known: &Known) -> Service {
    let at = path::join("services", name);
    cx.exists(
        &format!("{at}.cluster"),
        "cluster",
        &s.cluster,
        known.clusters,
    );
    let td = cx
        .exists(
            &format!("{at}.task-definition"),
            "task definition",
            &s.task_definition,
            known.task_definitions.keys(),
        )
        .then(|| &known.task_definitions[&s.task_definition]);
    let desired_count = desired_count(cx, &at, s);
    let why = "tasks run in private subnets; give at least one";
    rules::private_subnets(cx, &format!("{at}.subnets"), &s.subnets, known.vpc, 1, why);
    rules::groups_exist(
        cx,
        &format!("{at}.security-groups"),
        &s.security_groups,
        known.security_groups,
    );
    let load_balancer = s.load_balancer.as_ref().map(|lb| {
        let errors_before = cx.diagnostics.len();
        let slb = service_lb(cx, &format!("{at}.load-balancer"), lb, td, known);
        // Reachability is only worth judging once the names and ports themselves are right.
        let groups_known = s
            .security_groups
            .iter()
            .all(|g| known.security_groups.contains_key(g));
        if cx.diagnostics.len() == errors_before && td.is_some() && groups_known {
            reachable(cx, &at, s, &slb, known);
        }
        slb
    });
    let auto_scaling = s
        .auto_scaling
        .as_ref()
        .map(|table| super::auto_scaling::auto_scaling(cx, &at, table, load_balancer.is_some()));
    Service {
        name: name.to_string(),
        cluster: s.cluster.clone(),
        task_definition: s.task_definition.clone(),
        desired_count,
        subnets: s.subnets.clone(),
        security_groups: s.security_groups.clone(),
        load_balancer,
        allow_zero_tasks: s.allow_zero_tasks,
        deployment: deployment(cx, &at, s),
        health_check_grace_period: s.health_check_grace_period_seconds.and_then(|secs| {
            let key = format!("{at}.health-check-grace-period-seconds");
            // ECS's bound: 2,147,483,647 s; an hour is plenty for one machine.
            cx.int_in(&key, secs, 0..=3600)
                .map(|s| Duration::from_secs(s.into()))
        }),
        auto_scaling,
        availability_zone_rebalancing: rebalancing(cx, &at, s),
    }
}

/// `minimum-healthy-percent`, `maximum-percent`, `deployment-circuit-breaker`.
fn deployment(cx: &mut Ctx, at: &str, s: &wire::Service) -> DeploymentConfiguration {
    let defaults = DeploymentConfiguration::default();
    let mut percent = |key: &str, value: Option<i64>, default: u32, range| match value {
        None => default,
        Some(v) => cx
            .int_in(&format!("{at}.{key}"), v, range)
            .unwrap_or(default),
    };
    let config = DeploymentConfiguration {
        minimum_healthy_percent: percent(
            "minimum-healthy-percent",
            s.minimum_healthy_percent,
            defaults.minimum_healthy_percent,
            0..=100,
        ),
        maximum_percent: percent(
            "maximum-percent",
            s.maximum_percent,
            defaults.maximum_percent,
            100..=200,
        ),
        circuit_breaker: s
            .deployment_circuit_breaker
            .as_ref()
            .map(|b| CircuitBreaker {
                enable: b.enable,
                rollback: b.rollback,
            })
            .unwrap_or_default(),
    };
    if let Err(message) = config.check() {
        let value = format!(
            "{}/{}",
            config.minimum_healthy_percent, config.maximum_percent
        );
        cx.bad(&format!("{at}.maximum-percent"), value, message);
    }
    config
}

fn desired_count(cx: &mut Ctx, at: &str, s: &wire::Service) -> u32 {
    let key = format!("{at}.desired-count");
    if s.desired_count == 0 && !s.allow_zero_tasks {
        cx.bad(&key, "0".into(), "a service with no tasks serves nothing; set `allow-zero-tasks = true` if that is intended");
        return 0;
    }
    cx.int_in(&key, s.desired_count, 0..=MAX_DESIRED_COUNT)
        .unwrap_or(0)
}

fn service_lb(
    cx: &mut Ctx,
    at: &str,
    lb: &wire::ServiceLoadBalancer,
    td: Option<&TaskDefinition>,
    known: &Known,
) -> ServiceLoadBalancer {
    cx.exists(
        &format!("{at}.target-group"),
        "target group",
        &lb.target_group,
        known.target_groups.keys(),
    );
    let container_port = cx.port(&format!("{at}.container-port"), lb.container_port);
    if let Some(td) = td {
        let c = &td.container;
        if lb.container_name != c.name && !c.name.trim().is_empty() {
            let msg = format!(
                "task definition `{}` has no container `{}`; its container is `{}`",
                td.family, lb.container_name, c.name
            );
            cx.bad(
                &format!("{at}.container-name"),
                super::ctx::q(&lb.container_name),
                msg,
            );
        }
        if container_port != 0 && container_port != c.container_port {
            let msg = format!(
                "container `{}` of task definition `{}` listens on port {}",
                c.name, td.family, c.container_port
            );
            cx.bad(
                &format!("{at}.container-port"),
                container_port.to_string(),
                msg,
            );
        }
    }
    ServiceLoadBalancer {
        target_group: lb.target_group.clone(),
        container_name: lb.container_name.clone(),
        container_port,
    }
}

/// Every load balancer forwarding to the target group must be let in by the service's security
/// groups on the container port; otherwise health checks would fail with no obvious cause.
fn reachable(cx: &mut Ctx, at: &str, s: &wire::Service, slb: &ServiceLoadBalancer, known: &Known) {
    let port = slb.container_port;
    let lbs = known
        .load_balancers
        .values()
        .filter(|lb| forwards_to(lb, &slb.target_group));
    let lb_groups_known = |lb: &&LoadBalancer| {
        lb.security_groups
            .iter()
            .all(|g| known.security_groups.contains_key(g))
    };
    for lb in lbs.filter(lb_groups_known) {
        let cidrs: Vec<_> = lb
            .subnets
            .iter()
            .filter_map(|n| known.vpc.subnets.get(n))
            .map(|s| s.cidr)
            .collect();
        if port == 0
            || rules::admits(
                known.security_groups,
                &s.security_groups,
                port,
                &lb.security_groups,
                &cidrs,
            )
        {
            continue;
        }
        let msg = format!(
            "no ingress rule lets load balancer `{}` (security groups {}) reach port {port} through these security groups, \
             so target group `{}` could not reach the tasks; add e.g. {{ port = {port}, from = \"{}\" }} to one of them",
            lb.name,
            list(&lb.security_groups),
            slb.target_group,
            lb.security_groups.first().map_or("", String::as_str),
        );
        cx.bad(
            &format!("{at}.security-groups"),
            list(&s.security_groups),
            msg,
        );
    }
}

fn forwards_to(lb: &LoadBalancer, target_group: &str) -> bool {
    lb.listeners
        .iter()
        .flat_map(|l| l.actions())
        .any(|a| a.target_groups().contains(&target_group))
}

/// `availability-zone-rebalancing`: ECS's two values, ENABLED by default.
fn rebalancing(cx: &mut Ctx, at: &str, s: &wire::Service) -> bool {
    match s.availability_zone_rebalancing.as_deref() {
        None | Some("ENABLED") => true,
        Some("DISABLED") => false,
        Some(other) => {
            cx.bad(
                &format!("{at}.availability-zone-rebalancing"),
                super::ctx::q(other),
                "must be \"ENABLED\" or \"DISABLED\" (ECS's availabilityZoneRebalancing)",
            );
            true
        }
    }
}
