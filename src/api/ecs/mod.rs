//! ECS (`AmazonEC2ContainerServiceV20141113.*`) over JSON 1.1: one entry point, one function per
//! operation, answered from the live lab's services.
//!
//! - [`ids`]: clusters, services, tasks and task definitions by name, id or ARN; ECS's errors.
//! - [`render`]: status models → ECS's shapes ([`model`]), pure.
//! - [`services`]: clusters and services (list, describe, update-service).
//! - [`tasks`]: tasks (list, describe, stop-task).
//! - [`task_definitions`]: revisions (register, deregister, list, describe).

pub mod client;
pub mod ids;
pub mod model;
pub mod render;
#[cfg(test)]
mod render_tests;
mod services;
mod task_definitions;
mod tasks;

use crate::api::{ApiContext, ApiError};

/// Answers operation `op` with its output, or the service's error.
pub async fn call(ctx: &ApiContext, op: &str, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    match op {
        "ListClusters" => services::list_clusters(ctx, body),
        "DescribeClusters" => services::describe_clusters(ctx, body),
        "ListServices" => services::list_services(ctx, body),
        "DescribeServices" => services::describe_services(ctx, body),
        "UpdateService" => services::update_service(ctx, body).await,
        "ListTasks" => tasks::list_tasks(ctx, body),
        "DescribeTasks" => tasks::describe_tasks(ctx, body),
        "StopTask" => tasks::stop_task(ctx, body).await,
        "RegisterTaskDefinition" => task_definitions::register(ctx, body),
        "DeregisterTaskDefinition" => task_definitions::deregister(ctx, body),
        "ListTaskDefinitions" => task_definitions::list(ctx, body),
        "ListTaskDefinitionFamilies" => task_definitions::list_families(ctx, body),
        "DescribeTaskDefinition" => task_definitions::describe(ctx, body),
        op if NOT_YET.contains(&op) => Err(ApiError::unsupported(
            "ECS",
            op,
            "a later issue (tierlab's services, clusters and task definitions come from emulator.toml)",
        )),
        op => Err(ApiError::unknown_operation(op)),
    }
}

/// Real ECS operations tierlab does not serve yet: they get an error that says so.
const NOT_YET: &[&str] = &[
    "CreateCluster",
    "DeleteCluster",
    "CreateService",
    "DeleteService",
    "RunTask",
    "StartTask",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "ExecuteCommand",
    "UpdateCluster",
    "PutClusterCapacityProviders",
    "ListServicesByNamespace",
    "DescribeServiceDeployments",
    "ListServiceDeployments",
];

/// ECS's `maxResults` bounds for list operations.
const MAX_RESULTS: i64 = 100;

/// One page of `items`: `next_token` is the offset the previous page handed out.
fn page<T>(
    items: Vec<T>,
    max_results: Option<i64>,
    next_token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let size = match max_results {
        None => MAX_RESULTS,
        Some(n) if (1..=MAX_RESULTS).contains(&n) => n,
        Some(n) => {
            return Err(ids::invalid_parameter(format!(
                "maxResults must be between 1 and {MAX_RESULTS}: {n}"
            )));
        }
    } as usize;
    let start = match next_token.filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => token
            .parse::<usize>()
            .map_err(|_| ids::invalid_parameter("Invalid nextToken"))?,
    };
    Ok(crate::api::paging::offset_page(items, start, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_hand_out_offsets() {
        let items: Vec<u32> = (0..5).collect();
        let (first, next) = page(items.clone(), Some(2), None).unwrap();
        assert_eq!((first, next.as_deref()), (vec![0, 1], Some("2")));
        let (last, next) = page(items.clone(), Some(2), Some("4")).unwrap();
        assert_eq!((last, next), (vec![4], None));
        assert_eq!(page(items.clone(), None, None).unwrap().0.len(), 5);
        assert_eq!(
            page(items.clone(), Some(0), None).unwrap_err().code,
            "InvalidParameterException"
        );
        assert_eq!(
            page(items, None, Some("x")).unwrap_err().code,
            "InvalidParameterException"
        );
    }
}
