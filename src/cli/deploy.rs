//! `tierlab deploy [SERVICE] [--build]`: what a CI pipeline does with ECR and ECS, against the
//! running lab. With `--build` the image is rebuilt from its build context (with progress); the
//! image is then tagged with its content digest (as a push to ECR names an image by digest), a
//! task definition revision with that image is registered from the service's current one, and
//! the service is updated to it. The rolling deployment is followed, its events printed, until
//! it completes or fails. Every step is a call of the lab's AWS API (`RegisterTaskDefinition`,
//! `UpdateService`, `DescribeServices`), as the AWS CLI would make it.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api::ecs::client::EcsClient;
use crate::config::Config;
use crate::docker::{BuildProgress, CONTEXT_HASH_LABEL, DockerClient, context_hash};
use crate::error::Error;

/// How often the rollout is looked at.
const POLL: Duration = Duration::from_secs(1);
/// Longest a rollout is followed (ECS's throttle alone can delay launches 15 minutes).
const FOLLOW_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// The repository of an image reference (`flask-crud-app:latest` → `flask-crud-app`,
/// `registry:5000/app` → `registry:5000/app`).
pub fn repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => image,
    }
}

/// The tag a digest gets: `sha256-` and its first 12 hex digits (an image ID is the digest of
/// its configuration, so a rebuild with other content gets another tag).
pub fn digest_tag(image_id: &str) -> String {
    let hex = image_id.strip_prefix("sha256:").unwrap_or(image_id);
    format!("sha256-{}", &hex[..hex.len().min(12)])
}

/// RegisterTaskDefinition's input from DescribeTaskDefinition's `taskDefinition`, with the
/// container's image replaced (what `aws ecs register-task-definition --cli-input-json` is given
/// after editing a described revision).
pub fn register_input(described: &Value, image: &str) -> Value {
    let mut input = json!({
        "family": described["family"],
        "cpu": described["cpu"],
        "memory": described["memory"],
        "networkMode": described["networkMode"],
        "requiresCompatibilities": described["requiresCompatibilities"],
        "containerDefinitions": described["containerDefinitions"],
    });
    input["containerDefinitions"][0]["image"] = json!(image);
    input
}

/// Where a rollout stands, from DescribeServices' `services[0]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollout {
    InProgress,
    /// The deployment completed and is the only one left.
    Completed,
    /// The circuit breaker failed it; `rolled_back_to` names the revision of the rollback.
    Failed {
        rolled_back_to: Option<String>,
    },
}

/// The state of deployment `id` in `service`, apart from any I/O.
pub fn rollout(service: &Value, id: &str) -> Rollout {
    let deployments = service["deployments"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ours = deployments.iter().find(|d| d["id"] == id);
    let primary = deployments.first();
    match ours.map(|d| d["rolloutState"].as_str().unwrap_or_default()) {
        Some("COMPLETED") if deployments.len() == 1 => Rollout::Completed,
        Some("FAILED") => Rollout::Failed {
            rolled_back_to: primary
                .filter(|p| p["id"] != id)
                .and_then(|p| p["taskDefinition"].as_str())
                .map(revision_of),
        },
        // Drained and dropped after a rollback: the PRIMARY one is another deployment.
        None => Rollout::Failed {
            rolled_back_to: primary
                .and_then(|p| p["taskDefinition"].as_str())
                .map(revision_of),
        },
        _ => Rollout::InProgress,
    }
}

/// `family:revision` of a task definition ARN.
fn revision_of(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_string()
}

/// The only service of `config`, or `given` checked.
fn service_name<'a>(config: &'a Config, given: Option<&'a str>) -> Result<&'a str, Error> {
    let known: Vec<&str> = config.services.keys().map(String::as_str).collect();
    match (given, known.as_slice()) {
        (Some(name), _) if known.contains(&name) => Ok(name),
        (None, [only]) => Ok(only),
        (Some(name), _) => Err(Error::Usage(format!(
            "no service `{name}` in {} (services: {})",
            config.source.display(),
            known.join(", ")
        ))),
        (None, _) => Err(Error::Usage(format!(
            "{} has {} services; name one: tierlab deploy SERVICE (services: {})",
            config.source.display(),
            known.len(),
            known.join(", ")
        ))),
    }
}

/// `tierlab deploy [SERVICE] [--build]`.
pub async fn deploy(config: &Config, service: Option<&str>, build: bool) -> Result<(), Error> {
    let name = service_name(config, service)?;
    let svc = &config.services[name];
    let container = &config.task_definitions[&svc.task_definition].container;
    let docker = DockerClient::connect().await?;
    // 1. The image: rebuilt from its context with --build, as it is otherwise.
    if build {
        let context = container.build.as_ref().ok_or_else(|| {
            Error::Usage(format!(
                "task definition `{}` has no build context (`build = ...` in [task-definitions.{}.container]); without --build, tierlab deploy rolls out the image `{}` as it is now",
                svc.task_definition, svc.task_definition, container.image
            ))
        })?;
        println!(
            "building image {} from {}",
            container.image,
            context.display()
        );
        let started = Instant::now();
        let hash =
            context_hash(context).map_err(|source| crate::docker::DockerError::BuildContext {
                context: context.display().to_string(),
                source,
            })?;
        let labels = std::collections::HashMap::from([(CONTEXT_HASH_LABEL.to_string(), hash)]);
        docker
            .build_image(&container.image, context, labels, |p| {
                if let BuildProgress::Step(step) = p {
                    println!("  {step}");
                }
            })
            .await?;
        println!("built in {:.1}s", started.elapsed().as_secs_f64());
    }
    let id = docker.image_id(&container.image).await?.ok_or_else(|| {
        Error::Usage(format!(
            "image `{}` does not exist; build it (tierlab deploy --build)",
            container.image
        ))
    })?;
    // 2. Tagged by digest, as ECR names a pushed image.
    let repo = repository(&container.image);
    let tag = digest_tag(&id);
    docker.tag_image(&id, repo, &tag).await?;
    let image = format!("{repo}:{tag}");
    println!("tagged {id} as {image}");
    // 3. A revision of the service's current task definition with that image.
    let (aws, credentials) = super::running::aws_access(config).await?;
    let client = EcsClient::new(&aws.endpoint_url, &aws.region, credentials)?;
    let target = json!({ "cluster": svc.cluster, "services": [name] });
    let described = client.call("DescribeServices", &target).await?;
    let current = described["services"][0]["taskDefinition"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let td = client
        .call(
            "DescribeTaskDefinition",
            &json!({ "taskDefinition": current }),
        )
        .await?;
    let td = &td["taskDefinition"];
    if td["containerDefinitions"][0]["image"] == image.as_str() {
        println!(
            "service {name} already runs {image} ({}); nothing to deploy",
            revision_of(&current)
        );
        return Ok(());
    }
    let registered = client
        .call("RegisterTaskDefinition", &register_input(td, &image))
        .await?;
    let revision = revision_of(
        registered["taskDefinition"]["taskDefinitionArn"]
            .as_str()
            .unwrap_or_default(),
    );
    println!("registered task definition {revision}");
    // 4. The rolling deployment, followed.
    let update = json!({ "cluster": svc.cluster, "service": name, "taskDefinition": revision });
    let updated = client.call("UpdateService", &update).await?;
    let deployment = updated["service"]["deployments"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    println!("service {name}: deployment {deployment} of {revision} started");
    follow(
        &client,
        &target,
        &deployment,
        event_ids(&described["services"][0]),
    )
    .await
}

/// The ids of a service's events (those already there are history, not progress).
pub(super) fn event_ids(service: &Value) -> HashSet<String> {
    service["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["id"].as_str().map(str::to_string))
        .collect()
}

/// Prints the service's new events until deployment `id` completes or fails.
pub(super) async fn follow(
    client: &EcsClient,
    target: &Value,
    id: &str,
    mut seen: HashSet<String>,
) -> Result<(), Error> {
    let started = Instant::now();
    loop {
        let described = client.call("DescribeServices", target).await?;
        let service = &described["services"][0];
        let mut events: Vec<&Value> = service["events"].as_array().into_iter().flatten().collect();
        events.reverse();
        for event in events {
            let event_id = event["id"].as_str().unwrap_or_default().to_string();
            if seen.insert(event_id) {
                println!("  {}", event["message"].as_str().unwrap_or_default());
            }
        }
        match rollout(service, id) {
            Rollout::Completed => {
                println!(
                    "deployment {id} completed in {:.1}s",
                    started.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            Rollout::Failed { rolled_back_to } => {
                let after = match rolled_back_to {
                    Some(revision) => format!("; the service rolled back to {revision}"),
                    None => String::new(),
                };
                return Err(Error::DeploymentFailed(format!(
                    "deployment {id} failed: its tasks failed to start or to pass health checks{after} (`tierlab logs` shows why)"
                )));
            }
            Rollout::InProgress if started.elapsed() > FOLLOW_TIMEOUT => {
                return Err(Error::DeploymentFailed(format!(
                    "deployment {id} still in progress after {FOLLOW_TIMEOUT:?}; `tierlab status` follows it"
                )));
            }
            Rollout::InProgress => tokio::time::sleep(POLL).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_tagged_by_digest_in_their_repository() {
        assert_eq!(repository("flask-crud-app:latest"), "flask-crud-app");
        assert_eq!(repository("flask-crud-app"), "flask-crud-app");
        assert_eq!(
            repository("registry:5000/team/app:v1"),
            "registry:5000/team/app"
        );
        assert_eq!(repository("registry:5000/app"), "registry:5000/app");
        assert_eq!(repository("app@sha256:abc"), "app");
        assert_eq!(
            digest_tag("sha256:0123456789abcdef0123"),
            "sha256-0123456789ab"
        );
    }

    #[test]
    fn the_described_revision_is_registered_with_the_new_image() {
        let described = json!({
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:0:task-definition/web:3",
            "family": "web", "revision": 3, "status": "ACTIVE", "cpu": "256", "memory": "512",
            "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
            "containerDefinitions": [{ "name": "app", "image": "web:latest" }],
        });
        let input = register_input(&described, "web:sha256-0123");
        assert_eq!(input["containerDefinitions"][0]["image"], "web:sha256-0123");
        assert_eq!(input["family"], "web");
        assert!(input.get("revision").is_none() && input.get("status").is_none());
    }

    #[test]
    fn a_rollout_completes_fails_or_rolls_back() {
        let service = |deployments: Value| json!({ "deployments": deployments });
        let d = |id: &str, state: &str, td: &str| json!({ "id": id, "rolloutState": state, "taskDefinition": format!("arn:aws:ecs:r:0:task-definition/{td}") });
        assert_eq!(
            rollout(
                &service(json!([
                    d("new", "IN_PROGRESS", "web:2"),
                    d("old", "COMPLETED", "web:1")
                ])),
                "new"
            ),
            Rollout::InProgress
        );
        assert_eq!(
            rollout(&service(json!([d("new", "COMPLETED", "web:2")])), "new"),
            Rollout::Completed
        );
        assert_eq!(
            rollout(
                &service(json!([
                    d("back", "IN_PROGRESS", "web:1"),
                    d("new", "FAILED", "web:2")
                ])),
                "new"
            ),
            Rollout::Failed {
                rolled_back_to: Some("web:1".into())
            }
        );
        assert_eq!(
            rollout(
                &service(json!([
                    d("new", "FAILED", "web:2"),
                    d("old", "COMPLETED", "web:1")
                ])),
                "new"
            ),
            Rollout::Failed {
                rolled_back_to: None
            }
        );
        assert_eq!(
            rollout(&service(json!([d("back", "COMPLETED", "web:1")])), "new"),
            Rollout::Failed {
                rolled_back_to: Some("web:1".into())
            }
        );
    }
}
