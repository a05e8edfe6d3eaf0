//! Running tasks follow security group changes: when the EC2 API authorizes or revokes an
//! ingress rule, each running task of the lab is attached to (or detached from) the database
//! networks its service's groups allow now. Tasks launched later get them at creation
//! (`ecs::ServiceSetup::security_groups`).

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::bastion::{Change, plan};
use crate::config::Config;
use crate::docker::{DockerClient, DockerError, labels};
use crate::vpc::{self, Groups, LiveGroups};

/// Re-applies the groups to the running tasks at every change, until `cancel`.
pub async fn follow(
    docker: DockerClient,
    config: Arc<Config>,
    groups: LiveGroups,
    cancel: CancellationToken,
) {
    let mut changes = groups.watch();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
        }
        if let Err(e) = apply(&docker, &config, &groups.snapshot()).await {
            tracing::warn!(
                "cannot apply the security groups to the tasks' networks: {e}",
                e = crate::error::chain(&e)
            );
        }
    }
}

async fn apply(docker: &DockerClient, config: &Config, groups: &Groups) -> Result<(), DockerError> {
    let lab = &config.lab.name;
    let prefix = vpc::network_name(lab, "");
    let tasks = docker
        .list_containers(labels::filter(lab, Some(labels::Role::Task), None))
        .await?;
    for task in tasks {
        let labels = task.labels.unwrap_or_default();
        let (Some(id), Some(service), Some(subnet)) = (
            task.id,
            labels
                .get(labels::RESOURCE)
                .and_then(|s| config.services.get(s)),
            labels.get(labels::SUBNET),
        ) else {
            continue;
        };
        let wanted: Vec<String> = vpc::task_networks_under(config, groups, service, subnet)
            .into_iter()
            .map(|a| a.network)
            .collect();
        let Some(info) = docker.inspect_container(&id).await? else {
            continue;
        };
        let attached: Vec<String> = info.ipv4_addresses.keys().cloned().collect();
        for change in plan(&wanted, &attached, &prefix) {
            match &change {
                Change::Connect(network) => docker.connect_network(network, &id).await?,
                Change::Disconnect(network) => docker.disconnect_network(network, &id).await?,
            }
            tracing::info!(
                "task {} of {}: {change:?} (security groups as they are now)",
                info.name,
                service.name
            );
        }
    }
    Ok(())
}
