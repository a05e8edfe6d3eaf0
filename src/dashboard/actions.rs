//! What the dashboard's buttons do: each is one request (`POST /dashboard/api/action`, a JSON
//! [`Action`]) carried out through the lab's own handles, as the AWS API and the CLI do it.
//! Chaos goes through [`LabView::chaos`], so every fault `tierlab chaos` knows (and each added
//! later) is a dashboard action too.

use serde::{Deserialize, Serialize};

use crate::ecs::{DeploymentTarget, ServiceUpdate};
use crate::lab::{Chaos, LabView};

/// The reason ECS records for a task stopped from the dashboard (StopTask's `--reason`).
pub const STOP_REASON: &str = "Task stopped from the tierlab dashboard";

/// One button press.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    /// ECS `StopTask`: out of the target group (draining), SIGTERM, then a replacement.
    StopTask { service: String, task_id: String },
    /// The task's container killed (SIGKILL) behind ECS's back, as a crash would.
    KillTask { service: String, task_id: String },
    /// RDS `RebootDBInstance --force-failover`: the standby becomes the primary.
    Failover { db: String },
    /// ECS `UpdateService --desired-count`.
    Scale { service: String, desired_count: u32 },
    /// ECS `UpdateService --force-new-deployment`: every task replaced by a rolling deployment.
    ForceNewDeployment { service: String },
    /// Any `tierlab chaos` fault (AZ outage and restore, replica lag, ...).
    Chaos { chaos: Chaos },
}

/// Why an action was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The request names something the lab does not have, or asks what cannot be done.
    #[error("{0}")]
    Request(String),
    /// The lab tried and failed.
    #[error("{0}")]
    Failed(String),
}

impl Action {
    /// How the action is named in the event stream, with AWS's call name where there is one.
    pub fn describe(&self) -> String {
        match self {
            Action::StopTask { service, task_id } => {
                format!("StopTask task {task_id} (service {service})")
            }
            Action::KillTask { service, task_id } => {
                format!("docker kill of task {task_id}'s container (service {service})")
            }
            Action::Failover { db } => format!("RebootDBInstance {db} --force-failover"),
            Action::Scale {
                service,
                desired_count,
            } => format!("UpdateService {service} --desired-count {desired_count}"),
            Action::ForceNewDeployment { service } => {
                format!("UpdateService {service} --force-new-deployment")
            }
            Action::Chaos { chaos } => format!("chaos {}", chaos_words(chaos)),
        }
    }

    /// Carries the action out; returns what was done, in a sentence.
    pub async fn perform(&self, view: &LabView) -> Result<String, ActionError> {
        match self {
            Action::StopTask { service, task_id } => {
                let task = service_of(view, service)?
                    .stop_task(task_id, Some(STOP_REASON))
                    .await
                    .map_err(|e| ActionError::Request(e.to_string()))?;
                let last = serde_json::to_value(task.last_status).unwrap_or_default();
                Ok(format!(
                    "task {} is {} (desired status STOPPED)",
                    task.task_id,
                    last.as_str().unwrap_or("-")
                ))
            }
            Action::KillTask { service, task_id } => kill_task(view, service, task_id).await,
            Action::Failover { db } => {
                let failover = Chaos::DbFailover {
                    database: Some(db.clone()),
                };
                chaos(view, &failover).await
            }
            Action::Scale {
                service,
                desired_count,
            } => {
                let before = service_of(view, service)?
                    .set_desired_count(*desired_count)
                    .map_err(|e| ActionError::Request(e.to_string()))?;
                Ok(format!(
                    "service {service}: desired count {before} → {desired_count}"
                ))
            }
            Action::ForceNewDeployment { service } => force_new_deployment(view, service).await,
            Action::Chaos { chaos: c } => chaos(view, c).await,
        }
    }
}

async fn chaos(view: &LabView, chaos: &Chaos) -> Result<String, ActionError> {
    view.chaos(chaos).await.map_err(|e| {
        let text = crate::error::chain(&e).to_string();
        if e.is_request_error() {
            ActionError::Request(text)
        } else {
            ActionError::Failed(text)
        }
    })
}

fn service_of<'v>(
    view: &'v LabView,
    name: &str,
) -> Result<&'v crate::ecs::ServiceHandle, ActionError> {
    view.service(name)
        .ok_or_else(|| ActionError::Request(format!("Service not found: {name}")))
}

/// SIGKILL to the task's container (`tierlab chaos kill-task`): ECS notices it exited and
/// replaces it, the load balancer notices the target stopped answering.
async fn kill_task(view: &LabView, service: &str, task_id: &str) -> Result<String, ActionError> {
    let status = service_of(view, service)?.status();
    if !status.tasks.iter().any(|t| t.task_id == task_id) {
        let why = format!("service {service} has no running task {task_id}");
        return Err(ActionError::Request(why));
    }
    let kill = Chaos::KillTask {
        task: Some(task_id.to_string()),
    };
    chaos(view, &kill).await
}

/// A new deployment of the revision the service runs now, its environment resolved anew.
async fn force_new_deployment(view: &LabView, service: &str) -> Result<String, ActionError> {
    let handle = service_of(view, service)?;
    let running = handle.status().task_definition;
    let revision = running
        .rsplit_once(':')
        .and_then(|(family, revision)| {
            view.task_definitions()
                .get(family, Some(revision.parse().ok()?))
        })
        .ok_or_else(|| ActionError::Failed(format!("TaskDefinition {running} not found.")))?;
    let environment = view
        .environment_of(&revision.definition)
        .map_err(|e| ActionError::Failed(e.to_string()))?;
    let update = ServiceUpdate {
        deploy: Some(DeploymentTarget {
            revision,
            environment,
        }),
        ..Default::default()
    };
    let status = handle
        .update(update)
        .await
        .map_err(|e| ActionError::Failed(e.to_string()))?;
    Ok(format!(
        "service {service}: deployment {} of {running} started",
        status.deployment.id
    ))
}

/// `az-outage us-east-1a`, as the CLI would be called.
fn chaos_words(chaos: &Chaos) -> String {
    let json = serde_json::to_value(chaos).unwrap_or_default();
    let mut words = vec![json["kind"].as_str().unwrap_or("?").to_string()];
    if let Some(fields) = json.as_object() {
        // `for` left out (`null`) means until cleared: nothing to say.
        for (key, value) in fields.iter().filter(|(k, v)| *k != "kind" && !v.is_null()) {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            words.push(format!("{key}={value}"));
        }
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_travel_as_tagged_json() {
        let a: Action =
            serde_json::from_str(r#"{"kind":"stop-task","service":"s","task_id":"t"}"#).unwrap();
        assert_eq!(
            a,
            Action::StopTask {
                service: "s".into(),
                task_id: "t".into()
            }
        );
        let a: Action = serde_json::from_str(
            r#"{"kind":"chaos","chaos":{"kind":"az-outage","zone":"us-east-1a"}}"#,
        )
        .unwrap();
        assert_eq!(a.describe(), "chaos az-outage zone=us-east-1a");
        let a: Action =
            serde_json::from_str(r#"{"kind":"scale","service":"s","desired_count":3}"#).unwrap();
        assert_eq!(a.describe(), "UpdateService s --desired-count 3");
        assert!(serde_json::from_str::<Action>(r#"{"kind":"reboot-host"}"#).is_err());
    }
}
