//! tierlab's labels. Every container, network and volume it creates carries them, so `down`,
//! `status` and the orphan sweep can find everything again without remembering ids.

use std::collections::HashMap;

pub const MANAGED_BY: &str = "tierlab.managed-by";
pub const MANAGED_BY_VALUE: &str = "tierlab";
pub const LAB: &str = "tierlab.lab";
pub const ROLE: &str = "tierlab.role";
/// The AWS resource the object stands for (service name, DB identifier, subnet name).
pub const RESOURCE: &str = "tierlab.resource";
pub const TASK_ID: &str = "tierlab.task-id";
/// Which subnet (availability zone) a task or DB instance was placed in.
pub const SUBNET: &str = "tierlab.subnet";

/// What an object is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Network,
    Task,
    Database,
    DatabaseVolume,
    /// A short-lived container working on a DB volume (restoring a copy into it).
    DatabaseJob,
    /// A bastion host (SSH server).
    Bastion,
    /// The proxy on a database's path while a fault is on it (`tierlab chaos ... task-db`).
    DatabaseProxy,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Network => "network",
            Role::Task => "task",
            Role::Database => "database",
            Role::DatabaseVolume => "database-volume",
            Role::DatabaseJob => "database-job",
            Role::Bastion => "bastion",
            Role::DatabaseProxy => "database-proxy",
        }
    }
}

/// The labels of an object of `lab` with `role` standing for `resource`.
pub fn of(lab: &str, role: Role, resource: &str) -> HashMap<String, String> {
    HashMap::from([
        (MANAGED_BY.to_string(), MANAGED_BY_VALUE.to_string()),
        (LAB.to_string(), lab.to_string()),
        (ROLE.to_string(), role.as_str().to_string()),
        (RESOURCE.to_string(), resource.to_string()),
    ])
}

/// A Docker `label=` filter matching everything of `lab`, optionally narrowed to a role and a
/// resource.
pub fn filter(
    lab: &str,
    role: Option<Role>,
    resource: Option<&str>,
) -> HashMap<String, Vec<String>> {
    let mut wanted = vec![
        format!("{MANAGED_BY}={MANAGED_BY_VALUE}"),
        format!("{LAB}={lab}"),
    ];
    if let Some(role) = role {
        wanted.push(format!("{ROLE}={}", role.as_str()));
    }
    if let Some(resource) = resource {
        wanted.push(format!("{RESOURCE}={resource}"));
    }
    HashMap::from([("label".to_string(), wanted)])
}
