//! `tierlab apply`: a running lab takes the changes made to `emulator.toml` since it was
//! started (or last applied), as CI would make them with the AWS CLI: a changed task definition
//! becomes a new revision and a rolling deployment, a service's count, deployment settings and
//! auto scaling change in place, a secret declared anew is created. What the lab built at `up`
//! (VPC, load balancers, target groups, databases, bastions, the lab's own settings, the set of
//! services) is refused and named, and then nothing changes.
//!
//! The comparison is with the file as last applied, not with the lab's live state: a count set
//! with `aws ecs update-service` or by auto scaling stays unless the file's count changed.

pub mod keys;
pub mod plan;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::ecs::{DeploymentTarget, Revision, ServiceUpdate};

use super::LabView;

/// The config a lab runs as declared: the one it started from, then each one applied.
/// Applies are serialised on it.
#[derive(Clone)]
pub struct AppliedConfig(Arc<tokio::sync::Mutex<Arc<Config>>>);

impl AppliedConfig {
    pub fn new(config: Arc<Config>) -> AppliedConfig {
        AppliedConfig(Arc::new(tokio::sync::Mutex::new(config)))
    }
}

/// What the CLI sends: the new file's text and where it is (messages name it; relative paths
/// in it are resolved against its directory).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplyRequest {
    pub path: PathBuf,
    pub text: String,
    /// Only say what would change.
    #[serde(default)]
    pub dry_run: bool,
}

/// What was (or, on a dry run, would be) done.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ApplyReport {
    /// One line per change, in the order made.
    pub changes: Vec<String>,
    /// False on a dry run and when there was nothing to change.
    pub applied: bool,
    /// Deployments started, to follow.
    pub deployments: Vec<StartedDeployment>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StartedDeployment {
    pub service: String,
    pub cluster: String,
    /// ECS's deployment id (`ecs-svc/...`).
    pub id: String,
    /// `family:revision`.
    pub task_definition: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The new file does not validate (the CLI checked it too; it may have changed since).
    #[error("{0}")]
    Invalid(String),
    #[error(
        "{} cannot change while lab `{lab}` runs (nothing was applied):\n{}\nstop the lab and start it again to change {}: tierlab down && tierlab up",
        file.display(),
        list(refused),
        if refused.len() == 1 { "it" } else { "them" }
    )]
    Refused {
        lab: String,
        file: PathBuf,
        refused: Vec<keys::Refusal>,
    },
    /// A change the lab checked and could not make; those listed in `done` were made.
    #[error("{message}{}", made(done))]
    Failed { message: String, done: Vec<String> },
}

impl ApplyError {
    /// The caller's mistake (a 400), not the lab's.
    pub fn is_request_error(&self) -> bool {
        !matches!(self, ApplyError::Failed { .. })
    }
}

fn list(refused: &[keys::Refusal]) -> String {
    refused
        .iter()
        .map(|r| match r.instead {
            Some(instead) => format!("  {} ({instead})", r.key),
            None => format!("  {}", r.key),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn made(done: &[String]) -> String {
    if done.is_empty() {
        " (nothing was changed)".into()
    } else {
        format!(
            "; made before it:\n{}",
            done.iter()
                .map(|d| format!("  {d}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    }
}

/// The directory relative paths of a config file are resolved against.
fn base_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

impl LabView {
    /// Applies the file in `request` to the running lab (see the module's documentation).
    pub async fn apply(&self, request: &ApplyRequest) -> Result<ApplyReport, ApplyError> {
        let new = crate::config::parse(&request.text, &request.path, &base_dir(&request.path))
            .map_err(|e| ApplyError::Invalid(e.to_string()))?;
        let mut applied = self.applied.0.lock().await;
        let changed =
            keys::changed_keys(&keys::document(&applied.text), &keys::document(&new.text));
        let refused = keys::refusals(&changed);
        if !refused.is_empty() {
            return Err(ApplyError::Refused {
                lab: applied.lab.name.clone(),
                file: request.path.clone(),
                refused,
            });
        }
        let plan = plan::plan(&applied, &new);
        let changes = plan.lines(&applied);
        if request.dry_run || plan.is_empty() {
            return Ok(ApplyReport {
                changes,
                ..ApplyReport::default()
            });
        }
        let deployments = self.carry_out(&plan, &new).await?;
        *applied = Arc::new(new);
        Ok(ApplyReport {
            changes,
            applied: true,
            deployments,
        })
    }

    /// Makes the changes of `plan`. What can fail is checked before anything changes: the
    /// environments of the revisions to deploy resolve, the services exist.
    async fn carry_out(
        &self,
        plan: &plan::Plan,
        new: &Config,
    ) -> Result<Vec<StartedDeployment>, ApplyError> {
        let failed = |message: String, done: &[String]| ApplyError::Failed {
            message,
            done: done.to_vec(),
        };
        let mut done: Vec<String> = Vec::new();
        let mut environments = HashMap::new();
        for change in &plan.services {
            if self.running_service(&change.name).is_none() {
                return Err(failed(
                    format!("service `{}` is not running", change.name),
                    &done,
                ));
            }
            if let Some(td) = &change.deploy {
                let environment = self
                    .environment_of(&new.task_definitions[td])
                    .map_err(|e| failed(e.to_string(), &done))?;
                environments.insert(td.clone(), environment);
            }
        }
        // 1. Secrets first: the new revisions' tasks read them at launch.
        crate::lab::secret_seeds::seed(new, self.secrets(), &self.databases(), self.state_dir())
            .and_then(|_| crate::lab::secret_seeds::check_task_secrets(new, self.secrets()))
            .map_err(|e| failed(e.to_string(), &done))?;
        done.extend(
            plan.secrets
                .iter()
                .map(|name| format!("secret {name} created")),
        );
        // 2. Revisions.
        let mut revisions: HashMap<&str, Revision> = HashMap::new();
        for td in &plan.register {
            let revision = self
                .task_definitions()
                .register(new.task_definitions[td].clone())
                .map_err(|e| failed(e.to_string(), &done))?;
            tracing::info!("apply: registered task definition {}", revision.name());
            done.push(format!("task definition {} registered", revision.name()));
            revisions.insert(td, revision);
        }
        // 3. Services.
        let mut deployments = Vec::new();
        for change in &plan.services {
            let handle = self.running_service(&change.name).expect("checked above");
            let deploy = match &change.deploy {
                Some(td) => {
                    let family = &new.task_definitions[td].family;
                    let revision = match revisions.get(td.as_str()) {
                        Some(revision) => revision.clone(),
                        None => self.task_definitions().get(family, None).ok_or_else(|| {
                            failed(
                                format!("task definition {family} has no ACTIVE revision"),
                                &done,
                            )
                        })?,
                    };
                    Some(DeploymentTarget {
                        revision,
                        environment: environments[td].clone(),
                    })
                }
                None => None,
            };
            if let Some(count) = change.desired_count {
                handle
                    .set_desired_count(count)
                    .map_err(|e| failed(e.to_string(), &done))?;
            }
            let deploying = deploy.is_some();
            let update = ServiceUpdate {
                deploy,
                deployment_configuration: change.deployment_configuration,
                health_check_grace_period: change.health_check_grace_period,
                availability_zone_rebalancing: change.availability_zone_rebalancing,
                configured_desired_count: change.desired_count,
            };
            let status = handle
                .update(update)
                .await
                .map_err(|e| failed(e.to_string(), &done))?;
            if deploying {
                deployments.push(StartedDeployment {
                    service: change.name.clone(),
                    cluster: change.cluster.clone(),
                    id: status.deployment.id.clone(),
                    task_definition: status.deployment.task_definition.clone(),
                });
            }
            if change.auto_scaling.is_some() {
                self.autoscaling()
                    .apply_service(new, &change.name)
                    .map_err(|e| failed(e.to_string(), &done))?;
            }
            tracing::info!("apply: service {} updated", change.name);
            done.push(format!("service {} updated", change.name));
        }
        Ok(deployments)
    }

    fn running_service(&self, name: &str) -> Option<&crate::ecs::ServiceHandle> {
        self.services().iter().find(|s| s.name() == name)
    }
}
