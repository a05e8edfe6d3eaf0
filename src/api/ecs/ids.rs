//! What a request names (a cluster, service, task or task definition by name, id or ARN), and
//! ECS's errors when it names nothing. Pure.

use crate::api::ApiError;
use crate::config::Config;
use crate::registry::Arn;

/// The cluster ECS uses when a request names none.
pub const DEFAULT_CLUSTER: &str = "default";

pub fn cluster_not_found() -> ApiError {
    ApiError::new("ClusterNotFoundException", "Cluster not found.")
}

pub fn service_not_found() -> ApiError {
    ApiError::new("ServiceNotFoundException", "Service not found.")
}

pub fn invalid_parameter(message: impl Into<String>) -> ApiError {
    ApiError::new("InvalidParameterException", message)
}

pub fn task_not_found() -> ApiError {
    invalid_parameter("The referenced task was not found.")
}

pub fn task_definition_not_found() -> ApiError {
    ApiError::new("ClientException", "Unable to describe task definition.")
}

/// The resource part of an ECS ARN of type `kind` (`cluster`, `service`, `task`,
/// `task-definition`), or `given` itself when it is not an ARN. An ARN of another service or
/// type is ECS's "Invalid identifier".
fn resource<'a>(given: &'a str, kind: &str) -> Result<&'a str, ApiError> {
    if !given.starts_with("arn:") {
        return Ok(given);
    }
    let arn = Arn::parse(given)
        .filter(|arn| arn.service == "ecs")
        .ok_or_else(|| invalid_parameter("Invalid identifier: Unexpected number of separators"))?;
    let (found, _) = arn.resource_type();
    if found != kind {
        return Err(invalid_parameter(format!(
            "Invalid identifier: Identifier is for {found}. Expected {kind}"
        )));
    }
    let prefix = given.len() - arn.resource.len() + kind.len() + 1;
    Ok(&given[prefix.min(given.len())..])
}

/// The cluster named by `given` (name or ARN; ECS's `default` when absent), which must exist.
pub fn cluster(config: &Config, given: Option<&str>) -> Result<String, ApiError> {
    let name = match given.map(str::trim).filter(|g| !g.is_empty()) {
        Some(given) => resource(given, "cluster")?,
        None => DEFAULT_CLUSTER,
    };
    if config.clusters.iter().any(|c| c == name) {
        Ok(name.to_string())
    } else {
        Err(cluster_not_found())
    }
}

/// A service's name from its name or ARN (`service/CLUSTER/NAME`, or the old `service/NAME`).
pub fn service_name(given: &str) -> Result<&str, ApiError> {
    let rest = resource(given.trim(), "service")?;
    Ok(rest.rsplit('/').next().unwrap_or(rest))
}

/// A task's id from its id or ARN (`task/CLUSTER/ID`, or the old `task/ID`).
pub fn task_id(given: &str) -> Result<&str, ApiError> {
    let rest = resource(given.trim(), "task")?;
    Ok(rest.rsplit('/').next().unwrap_or(rest))
}

/// A task definition's family and revision from `family`, `family:revision` or its ARN.
pub fn task_definition(given: &str) -> Result<(&str, Option<u32>), ApiError> {
    let rest = resource(given.trim(), "task-definition")?;
    match rest.rsplit_once(':') {
        Some((family, revision)) => {
            let revision = revision.parse().map_err(|_| {
                invalid_parameter("Invalid revision number. Number: ".to_string() + revision)
            })?;
            Ok((family, Some(revision)))
        }
        None => Ok((rest, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("emulator.toml")).unwrap();
        crate::config::parse(&text, &root.join("emulator.toml"), root).unwrap()
    }

    #[test]
    fn clusters_by_name_or_arn_and_ecs_errors_otherwise() {
        let config = config();
        assert_eq!(
            cluster(&config, Some("flask-app-cluster")).unwrap(),
            "flask-app-cluster"
        );
        let arn = "arn:aws:ecs:us-east-1:000000000000:cluster/flask-app-cluster";
        assert_eq!(cluster(&config, Some(arn)).unwrap(), "flask-app-cluster");
        let e = cluster(&config, None).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("ClusterNotFoundException", "Cluster not found.")
        );
        let e = cluster(
            &config,
            Some("arn:aws:ecs:us-east-1:000000000000:service/c/s"),
        )
        .unwrap_err();
        assert_eq!(e.code, "InvalidParameterException");
        assert!(e.message.starts_with("Invalid identifier"), "{}", e.message);
    }

    #[test]
    fn services_tasks_and_task_definitions_by_name_or_arn() {
        assert_eq!(service_name("web").unwrap(), "web");
        assert_eq!(
            service_name("arn:aws:ecs:us-east-1:000000000000:service/c/web").unwrap(),
            "web"
        );
        assert_eq!(
            task_id("arn:aws:ecs:us-east-1:000000000000:task/c/abc").unwrap(),
            "abc"
        );
        assert_eq!(task_id("abc").unwrap(), "abc");
        assert_eq!(task_definition("fam").unwrap(), ("fam", None));
        assert_eq!(task_definition("fam:1").unwrap(), ("fam", Some(1)));
        assert_eq!(
            task_definition("arn:aws:ecs:us-east-1:000000000000:task-definition/fam:1").unwrap(),
            ("fam", Some(1))
        );
        assert_eq!(
            task_definition("fam:x").unwrap_err().code,
            "InvalidParameterException"
        );
        assert_eq!(
            task_not_found().message,
            "The referenced task was not found."
        );
    }
}
