//! `tierlab apply [--dry-run]`: sends the config file to the running lab (`POST /apply`), prints
//! what changed, then follows each deployment it started through the lab's AWS API
//! (`DescribeServices`), as `tierlab deploy` does.

use serde_json::json;

use crate::api::ecs::client::EcsClient;
use crate::config::Config;
use crate::control::ControlError;
use crate::error::Error;
use crate::lab::apply::ApplyRequest;

/// `tierlab apply`.
pub async fn run(config: &Config, dry_run: bool) -> Result<(), Error> {
    let file = super::running::control_file(config)?;
    let request = ApplyRequest {
        path: std::path::absolute(&config.source).unwrap_or_else(|_| config.source.clone()),
        text: config.text.to_string(),
        dry_run,
    };
    let report = crate::control::apply_request(&file, &request)
        .await
        .map_err(refused)?;
    if report.changes.is_empty() {
        println!(
            "nothing to apply: lab `{}` runs {} as it is",
            config.lab.name,
            config.source.display()
        );
        return Ok(());
    }
    let heading = if dry_run { "would change" } else { "changed" };
    println!("{heading}:");
    for change in &report.changes {
        println!("  {change}");
    }
    if report.deployments.is_empty() {
        return Ok(());
    }
    let (aws, credentials) = super::running::aws_access(config).await?;
    let client = EcsClient::new(&aws.endpoint_url, &aws.region, credentials)?;
    for deployment in &report.deployments {
        println!(
            "service {}: deployment {} of {} started",
            deployment.service, deployment.id, deployment.task_definition
        );
        let target = json!({ "cluster": deployment.cluster, "services": [deployment.service] });
        let described = client.call("DescribeServices", &target).await?;
        let seen = history(&described["services"][0], &deployment.id);
        super::deploy::follow(&client, &target, &deployment.id, seen).await?;
    }
    Ok(())
}

/// The ids of the service's events from before deployment `id` was created (history, not its
/// progress).
fn history(service: &serde_json::Value, id: &str) -> std::collections::HashSet<String> {
    let created = service["deployments"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["id"] == id)
        .and_then(|d| d["createdAt"].as_f64())
        .unwrap_or(f64::MAX);
    service["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["createdAt"].as_f64().is_some_and(|at| at < created))
        .filter_map(|e| e["id"].as_str().map(str::to_string))
        .collect()
}

/// The lab's answer to a request it refused, as the error it names (the file's mistake, so a
/// usage error); anything else as it is.
fn refused(e: ControlError) -> Error {
    match &e {
        ControlError::Answered {
            status: 400,
            message,
            ..
        } => {
            let error = serde_json::from_str::<serde_json::Value>(message)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or_else(|| message.clone());
            Error::Usage(error)
        }
        _ => Error::Control(e),
    }
}
