//! Tasks and task definitions: ListTasks, DescribeTasks, StopTask, ListTaskDefinitions,
//! DescribeTaskDefinition.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiContext, ApiError, json::input};
use crate::ecs::{DesiredStatus, ServiceStatus, StopTaskError, TaskStatus};

use super::ids;
use super::model::Failure;
use super::services::with_token;
use super::{page, render};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListTasksInput {
    cluster: Option<String>,
    service_name: Option<String>,
    family: Option<String>,
    desired_status: Option<String>,
    started_by: Option<String>,
    launch_type: Option<String>,
    container_instance: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeTasksInput {
    cluster: Option<String>,
    tasks: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StopTaskInput {
    cluster: Option<String>,
    task: String,
    reason: Option<String>,
}

/// The statuses of the services in `cluster`.
fn statuses(ctx: &ApiContext, cluster: &str) -> Vec<ServiceStatus> {
    ctx.lab
        .services()
        .iter()
        .map(|s| s.status())
        .filter(|s| s.cluster == cluster)
        .collect()
}

/// Which tasks `list-tasks` lists, apart from any I/O.
fn listed<'a>(
    services: &'a [ServiceStatus],
    service_name: Option<&str>,
    family: Option<&str>,
    desired: DesiredStatus,
    started_by: Option<&str>,
) -> Vec<&'a TaskStatus> {
    services
        .iter()
        .filter(|s| service_name.is_none_or(|n| n == s.name))
        .flat_map(|s| s.all_tasks())
        .filter(|t| started_by.is_none_or(|b| b == t.started_by))
        .filter(|t| t.desired_status == desired)
        .filter(|t| family.is_none_or(|f| f == t.task_definition_family))
        .collect()
}

pub fn list_tasks(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: ListTasksInput = input(body)?;
    let cluster = ids::cluster(ctx.lab.config(), input.cluster.as_deref())?;
    let services = statuses(ctx, &cluster);
    let service_name = match &input.service_name {
        Some(given) => {
            let name = ids::service_name(given)?;
            if !services.iter().any(|s| s.name == name) {
                return Err(ids::service_not_found());
            }
            Some(name)
        }
        None => None,
    };
    let desired = match input.desired_status.as_deref() {
        None | Some("RUNNING") => DesiredStatus::Running,
        Some("STOPPED") => DesiredStatus::Stopped,
        // PENDING is a valid value that no task of tierlab ever has as its desired status.
        Some("PENDING") => return Ok(json!({ "taskArns": [] })),
        Some(other) => {
            return Err(ids::invalid_parameter(format!(
                "Invalid desiredStatus: {other}"
            )));
        }
    };
    // Fargate tasks run on no container instance; EC2 and EXTERNAL match none.
    let fargate = input.container_instance.is_none()
        && input.launch_type.as_deref().is_none_or(|t| t == "FARGATE");
    let family = match &input.family {
        Some(f) => Some(ids::task_definition(f)?.0),
        None => None,
    };
    let arns: Vec<String> = listed(
        &services,
        service_name,
        family,
        desired,
        input.started_by.as_deref(),
    )
    .into_iter()
    .filter(|_| fargate)
    .map(|t| ctx.registry.task_arn(&cluster, &t.task_id))
    .collect();
    let (arns, next) = page(arns, input.max_results, input.next_token.as_deref())?;
    Ok(with_token(json!({ "taskArns": arns }), next))
}

/// A task of `services` by id, with the service it belongs to.
fn find<'a>(
    services: &'a [ServiceStatus],
    task_id: &str,
) -> Option<(&'a TaskStatus, &'a ServiceStatus)> {
    services
        .iter()
        .find_map(|s| s.all_tasks().find(|t| t.task_id == task_id).map(|t| (t, s)))
}

pub fn describe_tasks(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: DescribeTasksInput = input(body)?;
    let config = ctx.lab.config();
    let cluster = ids::cluster(config, input.cluster.as_deref())?;
    if input.tasks.is_empty() || input.tasks.len() > 100 {
        return Err(ids::invalid_parameter(
            "Tasks cannot be empty and can have at most 100 items.",
        ));
    }
    let services = statuses(ctx, &cluster);
    let (mut tasks, mut failures) = (Vec::new(), Vec::new());
    for given in &input.tasks {
        let id = ids::task_id(given)?;
        match find(&services, id) {
            Some((task, _)) => tasks.push(render::task(&ctx.registry, config, task)),
            None => failures.push(Failure::missing(ctx.registry.task_arn(&cluster, id))),
        }
    }
    Ok(json!({ "tasks": tasks, "failures": failures }))
}

pub async fn stop_task(ctx: &ApiContext, body: &[u8]) -> Result<Value, ApiError> {
    let input: StopTaskInput = input(body)?;
    let config = ctx.lab.config();
    let cluster = ids::cluster(config, input.cluster.as_deref())?;
    let id = ids::task_id(&input.task)?.to_string();
    if input.reason.as_ref().is_some_and(|r| r.len() > 255) {
        return Err(ids::invalid_parameter(
            "Reason cannot be longer than 255 characters.",
        ));
    }
    let services = statuses(ctx, &cluster);
    let (_, owner) = find(&services, &id).ok_or_else(ids::task_not_found)?;
    let handle = ctx
        .lab
        .service(&owner.name)
        .ok_or_else(ids::task_not_found)?;
    let task = handle
        .stop_task(&id, input.reason.as_deref())
        .await
        .map_err(|e| match e {
            StopTaskError::NoSuchTask { .. } => ids::task_not_found(),
            StopTaskError::ControllerStopped { .. } => {
                ApiError::new("ServerException", e.to_string()).with_status(500)
            }
        })?;
    Ok(json!({ "task": render::task(&ctx.registry, config, &task) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, desired: DesiredStatus) -> TaskStatus {
        TaskStatus {
            task_id: id.into(),
            task_definition_family: "fam".into(),
            started_by: "ecs-svc/1".into(),
            desired_status: desired,
            ..Default::default()
        }
    }

    #[test]
    fn list_tasks_filters_by_desired_status_service_family_and_deployment() {
        let web = ServiceStatus {
            name: "web".into(),
            tasks: vec![task("run", DesiredStatus::Running)],
            stopping_tasks: vec![task("stopping", DesiredStatus::Stopped)],
            stopped_tasks: vec![task("stopped", DesiredStatus::Stopped)],
            ..Default::default()
        };
        let services = [web];
        let ids =
            |tasks: Vec<&TaskStatus>| tasks.iter().map(|t| t.task_id.clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(listed(&services, None, None, DesiredStatus::Running, None)),
            ["run"]
        );
        assert_eq!(
            ids(listed(
                &services,
                Some("web"),
                Some("fam"),
                DesiredStatus::Stopped,
                None
            )),
            ["stopping", "stopped"]
        );
        assert!(listed(&services, Some("api"), None, DesiredStatus::Running, None).is_empty());
        assert!(listed(&services, None, Some("other"), DesiredStatus::Running, None).is_empty());
        assert_eq!(
            listed(
                &services,
                None,
                None,
                DesiredStatus::Running,
                Some("ecs-svc/1")
            )
            .len(),
            1
        );
        assert!(
            listed(
                &services,
                None,
                None,
                DesiredStatus::Running,
                Some("ecs-svc/2")
            )
            .is_empty()
        );
    }
}
