//! `tierlab scale SERVICE N` and `tierlab stop-task TASK`: the same calls the AWS CLI makes
//! (`ecs update-service --desired-count`, `ecs stop-task`), signed with the lab's credentials
//! and sent to its AWS API, so they go through the same checks and models.

use serde_json::{Value, json};

use crate::api::ecs::client::EcsClient;
use crate::config::Config;
use crate::ecs::lookup;
use crate::error::Error;

/// A client of the running lab's AWS API (its endpoint from the running `up`, the key pair
/// from the state directory, as `tierlab env` finds them).
async fn client(config: &Config) -> Result<EcsClient, Error> {
    let (aws, credentials) = super::running::aws_access(config).await?;
    Ok(EcsClient::new(&aws.endpoint_url, &aws.region, credentials)?)
}

/// `tierlab scale SERVICE N`: one UpdateService call.
pub async fn scale(config: &Config, service: &str, count: u32) -> Result<(), Error> {
    let cluster = &config
        .services
        .get(service)
        .ok_or_else(|| {
            let known: Vec<&str> = config.services.keys().map(String::as_str).collect();
            Error::Usage(format!(
                "no service `{service}` in {} (services: {})",
                config.source.display(),
                known.join(", ")
            ))
        })?
        .cluster;
    let input = json!({ "cluster": cluster, "service": service, "desiredCount": count });
    let answer = client(config).await?.call("UpdateService", &input).await?;
    let s = &answer["service"];
    println!(
        "service {service}: desired count {} (running {}, pending {}); `tierlab status --watch` follows the tasks",
        s["desiredCount"], s["runningCount"], s["pendingCount"]
    );
    Ok(())
}

/// Whether `task` is a whole task id (32 hex digits) or an ARN, which need no lookup.
fn is_whole(task: &str) -> bool {
    task.starts_with("arn:") || (task.len() == 32 && task.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `tierlab stop-task TASK`: one StopTask call; a prefix of a task id (as `docker` takes
/// one) is first resolved among the running tasks with ListTasks.
pub async fn stop_task(config: &Config, task: &str) -> Result<(), Error> {
    let client = client(config).await?;
    let (cluster, task_id) = match (is_whole(task), config.clusters.as_slice()) {
        (true, [cluster]) => (cluster.clone(), task.to_string()),
        _ => resolve(&client, config, task).await?,
    };
    let input = json!({ "cluster": cluster, "task": task_id });
    let answer = client.call("StopTask", &input).await?;
    let t = &answer["task"];
    let text = |v: &Value| v.as_str().unwrap_or("-").to_string();
    println!(
        "task {} ({}): {} → desired {} ({}); the service starts a replacement",
        lookup::task_id_of(&text(&t["taskArn"])),
        text(&t["group"]),
        text(&t["lastStatus"]),
        text(&t["desiredStatus"]),
        text(&t["stoppedReason"]),
    );
    Ok(())
}

/// The cluster and id of the one running task whose id starts with `prefix`.
async fn resolve(
    client: &EcsClient,
    config: &Config,
    prefix: &str,
) -> Result<(String, String), Error> {
    let mut found: Vec<(String, String)> = Vec::new();
    for cluster in &config.clusters {
        let input = json!({ "cluster": cluster, "desiredStatus": "RUNNING" });
        let answer = client.call("ListTasks", &input).await?;
        for arn in answer["taskArns"].as_array().into_iter().flatten() {
            let arn = arn.as_str().unwrap_or_default();
            found.push((cluster.clone(), lookup::task_id_of(arn).to_string()));
        }
    }
    let candidates = found.iter().map(|(c, t)| (c.as_str(), t.as_str()));
    let (cluster, task_id) =
        lookup::resolve(prefix, candidates).map_err(|e| Error::Usage(e.to_string()))?;
    Ok((cluster.to_string(), task_id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_ids_and_arns_need_no_lookup() {
        assert!(is_whole("0123456789abcdef0123456789abcdef"));
        assert!(is_whole("arn:aws:ecs:us-east-1:000000000000:task/c/0123"));
        assert!(!is_whole("0123"));
        assert!(!is_whole("0123456789abcdef0123456789abcdeg"));
    }
}
