//! What `tierlab apply` does to a running lab, decided from the config it runs and the new one:
//! which task definitions get a new revision, and what changes in each service. Pure; the
//! changes it may contain are those [`super::keys::refusals`] let through.

use std::time::Duration;

use crate::config::{Config, DeploymentConfiguration, ServiceAutoScaling};
use crate::ecs::HEALTH_CHECK_GRACE;

/// The changes, in the order they are made.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Task definitions of the new file (by their key) registered as a new revision: added
    /// ones, and those that differ from what the lab runs.
    pub register: Vec<String>,
    /// Secrets declared anew (created when the lab has none of that name).
    pub secrets: Vec<String>,
    pub services: Vec<ServiceChange>,
}

/// What changes in one service; `None` members stay as they are.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceChange {
    pub name: String,
    pub cluster: String,
    /// A new deployment of this task definition (its key; the revision registered for it, or
    /// its latest one).
    pub deploy: Option<String>,
    pub desired_count: Option<u32>,
    pub deployment_configuration: Option<DeploymentConfiguration>,
    pub health_check_grace_period: Option<Duration>,
    pub availability_zone_rebalancing: Option<bool>,
    /// `Some(None)`: the service's auto scaling is removed (its scalable target deregistered).
    pub auto_scaling: Option<Option<ServiceAutoScaling>>,
}

impl ServiceChange {
    fn is_empty(&self) -> bool {
        self.deploy.is_none()
            && self.desired_count.is_none()
            && self.deployment_configuration.is_none()
            && self.health_check_grace_period.is_none()
            && self.availability_zone_rebalancing.is_none()
            && self.auto_scaling.is_none()
    }
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.register.is_empty() && self.secrets.is_empty() && self.services.is_empty()
    }

    /// The changes in words, one line each (what `apply --dry-run` prints).
    pub fn lines(&self, old: &Config) -> Vec<String> {
        let mut lines = Vec::new();
        for td in &self.register {
            lines.push(format!("task definition {td}: register a new revision"));
        }
        for name in &self.secrets {
            lines.push(format!(
                "secret {name}: create it in the lab's Secrets Manager (when it does not exist)"
            ));
        }
        for change in &self.services {
            let before = &old.services[&change.name];
            let svc = format!("service {}", change.name);
            if let Some(td) = &change.deploy {
                lines.push(format!("{svc}: deploy {td} (a rolling deployment)"));
            }
            if let Some(count) = change.desired_count {
                lines.push(format!(
                    "{svc}: desired count {} -> {count}",
                    before.desired_count
                ));
            }
            if let Some(dc) = change.deployment_configuration {
                lines.push(format!(
                    "{svc}: deployment configuration {}",
                    deployment_changes(before.deployment, dc)
                ));
            }
            if let Some(grace) = change.health_check_grace_period {
                lines.push(format!(
                    "{svc}: healthCheckGracePeriodSeconds {} -> {}",
                    grace_of(before.health_check_grace_period).as_secs(),
                    grace.as_secs()
                ));
            }
            if let Some(enabled) = change.availability_zone_rebalancing {
                lines.push(format!(
                    "{svc}: availabilityZoneRebalancing {} -> {}",
                    on_off(before.availability_zone_rebalancing),
                    on_off(enabled)
                ));
            }
            match &change.auto_scaling {
                Some(Some(scaling)) => lines.push(format!(
                    "{svc}: auto scaling {} to {} tasks, policies: {}",
                    scaling.min_capacity,
                    scaling.max_capacity,
                    policy_names(scaling)
                )),
                Some(None) => lines.push(format!(
                    "{svc}: auto scaling removed (scalable target deregistered, with its policies)"
                )),
                None => {}
            }
        }
        lines
    }
}

/// The members of a deployment configuration that differ, ECS's names (`a -> b` each).
fn deployment_changes(before: DeploymentConfiguration, after: DeploymentConfiguration) -> String {
    let mut parts = Vec::new();
    if before.minimum_healthy_percent != after.minimum_healthy_percent {
        parts.push(format!(
            "minimumHealthyPercent {} -> {}",
            before.minimum_healthy_percent, after.minimum_healthy_percent
        ));
    }
    if before.maximum_percent != after.maximum_percent {
        parts.push(format!(
            "maximumPercent {} -> {}",
            before.maximum_percent, after.maximum_percent
        ));
    }
    if before.circuit_breaker != after.circuit_breaker {
        parts.push(format!(
            "deploymentCircuitBreaker {} -> {}",
            breaker(before),
            breaker(after)
        ));
    }
    parts.join(", ")
}

fn breaker(dc: DeploymentConfiguration) -> &'static str {
    match (dc.circuit_breaker.enable, dc.circuit_breaker.rollback) {
        (false, _) => "off",
        (true, false) => "on",
        (true, true) => "on with rollback",
    }
}

fn on_off(enabled: bool) -> &'static str {
    if enabled { "ENABLED" } else { "DISABLED" }
}

fn policy_names(scaling: &ServiceAutoScaling) -> String {
    if scaling.policies.is_empty() {
        return "none".into();
    }
    let names: Vec<&str> = scaling.policies.iter().map(|p| p.name.as_str()).collect();
    names.join(", ")
}

/// A service's grace period as its controller runs it.
pub fn grace_of(configured: Option<Duration>) -> Duration {
    configured.unwrap_or(HEALTH_CHECK_GRACE)
}

/// The plan that brings a lab running `old` to `new`. Services are those of both (adding or
/// removing one is refused before this is asked).
pub fn plan(old: &Config, new: &Config) -> Plan {
    let register: Vec<String> = new
        .task_definitions
        .iter()
        .filter(|(name, td)| old.task_definitions.get(*name) != Some(*td))
        .map(|(name, _)| name.clone())
        .collect();
    let secrets = new
        .secrets
        .keys()
        .filter(|name| !old.secrets.contains_key(*name))
        .cloned()
        .collect();
    let mut services = Vec::new();
    for (name, after) in &new.services {
        let Some(before) = old.services.get(name) else {
            continue;
        };
        fn changed<T: PartialEq>(a: T, b: T) -> Option<T> {
            (a != b).then_some(b)
        }
        let redeploy = before.task_definition != after.task_definition
            || register.contains(&after.task_definition);
        let change = ServiceChange {
            name: name.clone(),
            cluster: after.cluster.clone(),
            deploy: redeploy.then(|| after.task_definition.clone()),
            desired_count: changed(before.desired_count, after.desired_count),
            deployment_configuration: (before.deployment != after.deployment)
                .then_some(after.deployment),
            health_check_grace_period: changed(
                grace_of(before.health_check_grace_period),
                grace_of(after.health_check_grace_period),
            ),
            availability_zone_rebalancing: changed(
                before.availability_zone_rebalancing,
                after.availability_zone_rebalancing,
            ),
            auto_scaling: (before.auto_scaling != after.auto_scaling)
                .then(|| after.auto_scaling.clone()),
        };
        if !change.is_empty() {
            services.push(change);
        }
    }
    Plan {
        register,
        secrets,
        services,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[lab]
name = "plan"
[vpc]
name = "v"
cidr = "10.0.0.0/16"
[vpc.route-tables.private]
default-route = "none"
[vpc.subnets.app-a]
cidr = "10.0.1.0/24"
availability-zone = "us-east-1a"
route-table = "private"
[security-groups.app]
[clusters.c]
[task-definitions.app]
cpu = 256
memory = 512
[task-definitions.app.container]
name = "app"
image = "app:1"
port = 8000
[services.web]
cluster = "c"
task-definition = "app"
desired-count = 2
subnets = ["app-a"]
security-groups = ["app"]
"#;

    fn config(text: &str) -> Config {
        crate::config::parse(
            text,
            std::path::Path::new("t.toml"),
            std::path::Path::new("/"),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_same_file_plans_nothing() {
        assert!(plan(&config(BASE), &config(BASE)).is_empty());
    }

    #[test]
    fn a_changed_task_definition_is_registered_and_deployed() {
        let new = BASE.replace("image = \"app:1\"", "image = \"app:2\"");
        let plan = plan(&config(BASE), &config(&new));
        assert_eq!(plan.register, ["app"]);
        assert_eq!(plan.services.len(), 1);
        assert_eq!(plan.services[0].deploy.as_deref(), Some("app"));
        assert_eq!(plan.services[0].desired_count, None);
        let lines = plan.lines(&config(BASE));
        assert_eq!(
            lines,
            [
                "task definition app: register a new revision",
                "service web: deploy app (a rolling deployment)"
            ]
        );
    }

    #[test]
    fn service_settings_change_without_a_deployment() {
        let new = BASE.replace(
            "desired-count = 2",
            "desired-count = 3\nminimum-healthy-percent = 50\nhealth-check-grace-period-seconds = 60\navailability-zone-rebalancing = \"DISABLED\"",
        );
        let old = config(BASE);
        let plan = plan(&old, &config(&new));
        assert!(plan.register.is_empty());
        let change = &plan.services[0];
        assert_eq!(change.deploy, None);
        assert_eq!(change.desired_count, Some(3));
        assert_eq!(
            change
                .deployment_configuration
                .unwrap()
                .minimum_healthy_percent,
            50
        );
        assert_eq!(
            change.health_check_grace_period,
            Some(Duration::from_secs(60))
        );
        assert_eq!(change.availability_zone_rebalancing, Some(false));
        let lines = plan.lines(&old).join("\n");
        assert!(
            lines.contains("service web: desired count 2 -> 3"),
            "{lines}"
        );
        assert!(
            lines.contains("healthCheckGracePeriodSeconds 20 -> 60"),
            "{lines}"
        );
        assert!(
            lines.contains("availabilityZoneRebalancing ENABLED -> DISABLED"),
            "{lines}"
        );
    }

    #[test]
    fn writing_a_default_out_changes_nothing() {
        let new = BASE.replace(
            "desired-count = 2",
            "desired-count = 2\nminimum-healthy-percent = 100\nhealth-check-grace-period-seconds = 20",
        );
        assert!(plan(&config(BASE), &config(&new)).is_empty());
    }

    #[test]
    fn auto_scaling_is_added_and_removed() {
        let scaled = format!(
            "{BASE}[services.web.auto-scaling]\nmin-capacity = 2\nmax-capacity = 6\n[[services.web.auto-scaling.policies]]\nname = \"cpu70\"\nmetric = \"ECSServiceAverageCPUUtilization\"\ntarget-value = 70.0\n"
        );
        let added = plan(&config(BASE), &config(&scaled));
        let Some(Some(scaling)) = &added.services[0].auto_scaling else {
            panic!("{added:?}");
        };
        assert_eq!((scaling.min_capacity, scaling.max_capacity), (2, 6));
        assert!(added.lines(&config(BASE))[0].contains("policies: cpu70"));
        let removed = plan(&config(&scaled), &config(BASE));
        assert_eq!(removed.services[0].auto_scaling, Some(None));
    }

    #[test]
    fn another_task_definition_is_deployed_and_a_new_one_registered() {
        let new = format!(
            "{}[task-definitions.app2]\ncpu = 512\nmemory = 1024\n[task-definitions.app2.container]\nname = \"app\"\nimage = \"app:3\"\nport = 8000\n",
            BASE.replace("task-definition = \"app\"", "task-definition = \"app2\"")
        );
        let plan = plan(&config(BASE), &config(&new));
        assert_eq!(plan.register, ["app2"]);
        assert_eq!(plan.services[0].deploy.as_deref(), Some("app2"));
    }
}
