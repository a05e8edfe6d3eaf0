//! Keeping a bastion's networks what the security groups allow now: when a rule changes (the
//! EC2 API's authorize/revoke), and every few seconds (a database network that appears later).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Bastion, Config, Database};
use crate::docker::DockerClient;
use crate::vpc::{self, Groups, LiveGroups};

use super::BastionHandle;

/// How often the attachments are checked without a rule change.
const RECHECK: Duration = Duration::from_secs(5);

/// One step towards the wanted networks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Connect(String),
    Disconnect(String),
}

/// The changes that take a container on `attached` networks to `wanted` ones. Only the lab's
/// networks (`prefix`) are ever disconnected, and never the first wanted one (its own subnet,
/// through which its port is published).
pub fn plan(wanted: &[String], attached: &[String], prefix: &str) -> Vec<Change> {
    let connect = wanted
        .iter()
        .filter(|n| !attached.contains(n))
        .map(|n| Change::Connect(n.clone()));
    let disconnect = attached
        .iter()
        .filter(|n| n.starts_with(prefix) && !wanted.contains(n))
        .filter(|n| wanted.first() != Some(n))
        .map(|n| Change::Disconnect(n.clone()));
    connect.chain(disconnect).collect()
}

/// The lab's DB instances now (the config's and those created at run time), by their settings.
pub type DatabasesNow = Arc<dyn Fn() -> Vec<Arc<Database>> + Send + Sync>;

/// The DB instances among `databases` the bastion's security groups let it reach under `groups`.
pub fn databases_reached<'d>(
    config: &Config,
    groups: &Groups,
    bastion: &Bastion,
    databases: impl IntoIterator<Item = &'d Database>,
) -> Vec<String> {
    databases
        .into_iter()
        .filter(|db| {
            let from = &bastion.security_groups;
            vpc::sg_allows_under(groups, config.vpc.cidr, from, &db.security_groups, db.port)
        })
        .map(|db| db.identifier.clone())
        .collect()
}

/// Spawns the loop that keeps `handle`'s attachments in line with `groups`.
pub fn spawn_attachments(
    docker: DockerClient,
    config: Arc<Config>,
    handle: BastionHandle,
    groups: LiveGroups,
    databases: DatabasesNow,
    tracker: &TaskTracker,
    cancel: CancellationToken,
) {
    tracker.spawn(async move {
        let mut changes = groups.watch();
        let mut tick = tokio::time::interval(RECHECK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                changed = changes.changed() => if changed.is_err() { return },
                _ = tick.tick() => {}
            }
            let now = databases();
            let dbs = now.iter().map(|db| db.as_ref());
            if let Err(e) = reconcile(&docker, &config, &handle, &groups.snapshot(), dbs).await {
                tracing::warn!(
                    "bastion `{}`: cannot apply its security groups to its networks (retrying): {e}",
                    handle.name,
                    e = crate::error::chain(&e)
                );
            }
        }
    });
}

async fn reconcile<'d>(
    docker: &DockerClient,
    config: &Config,
    handle: &BastionHandle,
    groups: &Groups,
    databases: impl Iterator<Item = &'d Database> + Clone,
) -> Result<(), crate::docker::DockerError> {
    let bastion = &config.bastions[&handle.name];
    let wanted = vpc::bastion_networks_among(config, groups, bastion, databases.clone());
    let Some(info) = docker.inspect_container(&handle.container_id).await? else {
        return Ok(());
    };
    let mut attached: Vec<String> = info.ipv4_addresses.keys().cloned().collect();
    attached.sort();
    let prefix = vpc::network_name(&config.lab.name, "");
    for change in plan(&wanted, &attached, &prefix) {
        match &change {
            Change::Connect(network) => {
                docker
                    .connect_network(network, &handle.container_id)
                    .await?;
            }
            Change::Disconnect(network) => {
                docker
                    .disconnect_network(network, &handle.container_id)
                    .await?;
            }
        }
        tracing::info!(
            "bastion `{}`: {change:?} (security groups as they are now)",
            handle.name
        );
    }
    handle.set_attached(
        wanted,
        databases_reached(config, groups, bastion, databases),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn connects_what_is_missing_and_disconnects_what_is_no_longer_allowed() {
        let wanted = names(&["tierlab-l-pub", "tierlab-l-db-b"]);
        let attached = names(&["tierlab-l-db-a", "tierlab-l-pub"]);
        assert_eq!(
            plan(&wanted, &attached, "tierlab-l-"),
            [
                Change::Connect("tierlab-l-db-b".into()),
                Change::Disconnect("tierlab-l-db-a".into())
            ]
        );
    }

    #[test]
    fn nothing_to_do_when_in_line_and_foreign_networks_are_left_alone() {
        let wanted = names(&["tierlab-l-pub", "tierlab-l-db-a"]);
        let attached = names(&["bridge", "tierlab-l-db-a", "tierlab-l-pub"]);
        assert!(plan(&wanted, &attached, "tierlab-l-").is_empty());
    }

    #[test]
    fn the_bastions_own_subnet_is_never_disconnected() {
        let wanted = names(&["tierlab-l-pub"]);
        let attached = names(&["tierlab-l-pub", "tierlab-l-db-a"]);
        assert_eq!(
            plan(&wanted, &attached, "tierlab-l-"),
            [Change::Disconnect("tierlab-l-db-a".into())]
        );
    }
}
