//! What a request names (service namespace, resource id, scalable dimension), checked as
//! Application Auto Scaling checks it, and its errors. Pure.

use crate::api::ApiError;
use crate::autoscaling::ScalingError;
use crate::autoscaling::model::{DESIRED_COUNT, ECS_NAMESPACE};

/// `ServiceNamespace` values of the service model (AWS refuses others before anything else).
const NAMESPACES: [&str; 14] = [
    "ecs",
    "elasticmapreduce",
    "ec2",
    "appstream",
    "dynamodb",
    "rds",
    "sagemaker",
    "custom-resource",
    "comprehend",
    "lambda",
    "cassandra",
    "kafka",
    "elasticache",
    "neptune",
];

/// Application Auto Scaling's `ValidationException`.
pub fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new("ValidationException", message)
}

/// A store error as the API answers it.
pub fn from_scaling(e: ScalingError) -> ApiError {
    ApiError::new(e.code(), e.to_string())
}

/// Checks `ServiceNamespace`: a value of the model's enum. `Ok(false)` for a real namespace
/// that is not ECS (nothing of it is registered in a lab).
pub fn namespace(given: &str) -> Result<bool, ApiError> {
    if given == ECS_NAMESPACE {
        return Ok(true);
    }
    if NAMESPACES.contains(&given) {
        return Ok(false);
    }
    Err(validation(format!(
        "1 validation error detected: Value '{given}' at 'serviceNamespace' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        NAMESPACES.join(", ")
    )))
}

/// The ECS service a change is for: namespace `ecs`, dimension `ecs:service:DesiredCount` and
/// resource id `service/CLUSTER/SERVICE`. Returns (cluster, service).
pub fn ecs_service<'a>(
    namespace_given: &str,
    resource_id: &'a str,
    dimension: &str,
) -> Result<(&'a str, &'a str), ApiError> {
    if !namespace(namespace_given)? {
        return Err(validation(format!(
            "tierlab scales ECS services only (service namespace `{ECS_NAMESPACE}`), not `{namespace_given}`"
        )));
    }
    if dimension != DESIRED_COUNT {
        return Err(validation(format!(
            "Unsupported scalable dimension '{dimension}' for service namespace '{ECS_NAMESPACE}': the only one is '{DESIRED_COUNT}'"
        )));
    }
    parse_resource_id(resource_id).ok_or_else(|| {
        validation(format!(
            "Unsupported resource ID '{resource_id}' for service namespace '{ECS_NAMESPACE}': an ECS service's resource ID is service/<cluster-name>/<service-name>"
        ))
    })
}

/// `service/CLUSTER/SERVICE` → (cluster, service).
pub fn parse_resource_id(id: &str) -> Option<(&str, &str)> {
    let rest = id.strip_prefix("service/")?;
    let (cluster, service) = rest.split_once('/')?;
    let valid = |s: &str| !s.is_empty() && !s.contains('/');
    (valid(cluster) && valid(service)).then_some((cluster, service))
}

/// The service named by a resource id does not run in the lab.
pub fn no_such_service(resource_id: &str) -> ApiError {
    validation(format!("ECS service doesn't exist: {resource_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ecs_service_is_named_by_namespace_dimension_and_resource_id() {
        assert_eq!(
            ecs_service(
                "ecs",
                "service/flask-app-cluster/flask-app-service",
                DESIRED_COUNT
            )
            .unwrap(),
            ("flask-app-cluster", "flask-app-service")
        );
        for (ns, id, dim) in [
            ("ecs", "flask-app-service", DESIRED_COUNT),
            ("ecs", "service/c", DESIRED_COUNT),
            ("ecs", "service/c/s/x", DESIRED_COUNT),
            ("ecs", "service/c/s", "ecs:service:Memory"),
            ("dynamodb", "table/t", "dynamodb:table:ReadCapacityUnits"),
            ("ecss", "service/c/s", DESIRED_COUNT),
        ] {
            let e = ecs_service(ns, id, dim).unwrap_err();
            assert_eq!(e.code, "ValidationException", "{ns} {id} {dim}");
        }
    }

    #[test]
    fn namespaces_of_the_model_are_valid_but_only_ecs_has_targets() {
        assert_eq!(namespace("ecs"), Ok(true));
        assert_eq!(namespace("dynamodb"), Ok(false));
        let e = namespace("ECS").unwrap_err();
        assert!(
            e.message.contains("Member must satisfy enum value set"),
            "{}",
            e.message
        );
    }
}
