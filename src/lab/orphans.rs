//! The orphan sweep: containers and networks carrying this lab's labels that nothing of the
//! running lab owns (a task container no controller claims, a database container that is not the
//! instance's, a network that is not one of the VPC's subnets in use). Each pass lists what it
//! finds in `status`; an object still unowned at the next pass is removed, and a removal that
//! fails is retried at every pass after, with its error shown.
//!
//! Only this lab's objects are ever considered (the Docker filter is on `tierlab.lab`), and an
//! object is owned when any live controller claims it, so the sweep never races a launch: a
//! controller claims a task id before it creates the container (see [`crate::ecs::Claims`]).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::docker::{DockerClient, DockerError, labels};
use crate::ecs::{Claims, now_rfc3339};
use crate::{bastion, rds, vpc};

use super::status::{Orphan, OrphanStatus};

/// Time between passes; an orphan is removed one pass after it is first listed.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Container,
    Network,
}

/// One labelled object of the lab, as Docker lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct LabObject {
    pub kind: Kind,
    pub id: String,
    pub name: String,
    pub labels: HashMap<String, String>,
    pub state: Option<String>,
}

/// What the running lab owns at one moment.
#[derive(Debug, Clone, Default)]
pub struct Owners {
    /// Task ids claimed by the lab's controllers.
    pub task_ids: HashSet<String>,
    /// Names of the DB instances' containers.
    pub database_containers: HashSet<String>,
    /// Names of the networks of the VPC's subnets in use.
    pub networks: HashSet<String>,
    /// Names of the bastions' containers.
    pub bastion_containers: HashSet<String>,
    /// Names of the proxies on task → database paths (a fault active).
    pub database_proxies: HashSet<String>,
}

impl Owners {
    /// Whether something of the running lab owns `object`.
    pub fn own(&self, object: &LabObject) -> bool {
        let label = |key: &str| object.labels.get(key).map(String::as_str);
        match object.kind {
            Kind::Network => self.networks.contains(&object.name),
            Kind::Container => match label(labels::ROLE) {
                Some(role) if role == labels::Role::Task.as_str() => {
                    label(labels::TASK_ID).is_some_and(|id| self.task_ids.contains(id))
                }
                Some(role) if role == labels::Role::Database.as_str() => {
                    self.database_containers.contains(&object.name)
                }
                // A restore job is created, started, awaited and removed by whoever made it; one
                // left over (tierlab died meanwhile) exits by itself and is swept then.
                Some(role) if role == labels::Role::DatabaseJob.as_str() => {
                    matches!(object.state.as_deref(), Some("created" | "running"))
                }
                Some(role) if role == labels::Role::Bastion.as_str() => {
                    self.bastion_containers.contains(&object.name)
                }
                Some(role) if role == labels::Role::DatabaseProxy.as_str() => {
                    self.database_proxies.contains(&object.name)
                }
                _ => false,
            },
        }
    }
}

/// The objects no one owns.
pub fn unowned<'a>(objects: &'a [LabObject], owners: &Owners) -> Vec<&'a LabObject> {
    objects.iter().filter(|o| !owners.own(o)).collect()
}

/// Of this pass's orphans, the ones to remove now: those already listed by an earlier pass.
/// The rest are listed for the first time and removed at the next pass if still unowned.
pub fn due_for_removal<'a>(
    orphans: &[&'a LabObject],
    listed_before: &HashSet<String>,
) -> Vec<&'a LabObject> {
    let mut due: Vec<&LabObject> = orphans
        .iter()
        .copied()
        .filter(|o| listed_before.contains(&o.id))
        .collect();
    // Containers first: a network cannot go while a container is attached to it.
    due.sort_by_key(|o| o.kind == Kind::Network);
    due
}

/// The sweep of one lab; runs until `cancel`.
pub struct Sweep {
    docker: DockerClient,
    lab: String,
    claims: Claims,
    /// The DB instances now running (the fleet changes as replicas and restores come and go).
    databases: rds::Fleet,
    networks: HashSet<String>,
    bastion_containers: HashSet<String>,
    /// Orphans listed so far, by id.
    listed: HashMap<String, Orphan>,
    status: watch::Sender<OrphanStatus>,
}

impl Sweep {
    /// A sweep of `config`'s lab; the receiver sees what each pass found.
    pub fn new(
        docker: DockerClient,
        config: &Config,
        claims: Claims,
        databases: rds::Fleet,
    ) -> (Sweep, watch::Receiver<OrphanStatus>) {
        let lab = config.lab.name.clone();
        let (status, rx) = watch::channel(OrphanStatus::default());
        let sweep = Sweep {
            docker,
            databases,
            networks: vpc::subnets_in_use(config)
                .iter()
                .map(|s| vpc::subnet_network(config, s).name)
                .collect(),
            bastion_containers: config
                .bastions
                .keys()
                .map(|name| bastion::container_name(&lab, name))
                .collect(),
            lab,
            claims,
            listed: HashMap::new(),
            status,
        };
        (sweep, rx)
    }

    pub async fn run(mut self, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(SWEEP_INTERVAL);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.pass().await {
                tracing::warn!(
                    lab = %self.lab,
                    "orphan sweep could not list the lab's objects: {e}",
                    e = crate::error::chain(&e)
                );
            }
        }
    }

    /// One pass: list, tell owned from unowned, remove what was listed before, publish.
    async fn pass(&mut self) -> Result<(), DockerError> {
        // Claims read before and after listing: a listed container was claimed before it was
        // created (so it is in the second read unless released since), and one a controller
        // removes and releases while the list is taken is in the first read.
        let mut task_ids = self.claims.snapshot();
        let objects = self.list().await?;
        task_ids.extend(self.claims.snapshot());
        let owners = Owners {
            task_ids,
            database_containers: self.databases.container_names(),
            networks: self.networks.clone(),
            bastion_containers: self.bastion_containers.clone(),
            database_proxies: self.databases.proxy_names(),
        };
        let orphans = unowned(&objects, &owners);
        let listed_before: HashSet<String> = self.listed.keys().cloned().collect();
        let due = due_for_removal(&orphans, &listed_before);
        // Forget what is gone or owned again; list what is new.
        let current: HashSet<&str> = orphans.iter().map(|o| o.id.as_str()).collect();
        self.listed.retain(|id, _| current.contains(id.as_str()));
        for object in &orphans {
            self.listed.entry(object.id.clone()).or_insert_with(|| {
                tracing::warn!(
                    lab = %self.lab,
                    "found an orphan {} `{}` that nothing of the running lab owns; removing it at the next pass",
                    kind_name(object.kind),
                    object.name
                );
                orphan(object)
            });
        }
        for object in due {
            let removed = match object.kind {
                Kind::Container => self.docker.remove_container(&object.id, true).await,
                Kind::Network => self.docker.remove_network(&object.name).await,
            };
            match removed {
                Ok(()) => {
                    tracing::info!(lab = %self.lab, "removed orphan {} `{}`", kind_name(object.kind), object.name);
                    self.listed.remove(&object.id);
                }
                Err(e) => {
                    let error = crate::error::chain(&e).to_string();
                    tracing::warn!(lab = %self.lab, "could not remove orphan {} `{}` (retrying next pass): {error}", kind_name(object.kind), object.name);
                    if let Some(entry) = self.listed.get_mut(&object.id) {
                        entry.removal_attempts += 1;
                        entry.last_error = Some(error);
                    }
                }
            }
        }
        self.publish();
        Ok(())
    }

    async fn list(&self) -> Result<Vec<LabObject>, DockerError> {
        let filter = || labels::filter(&self.lab, None, None);
        let mut objects: Vec<LabObject> = self
            .docker
            .list_containers(filter())
            .await?
            .into_iter()
            .map(|c| LabObject {
                kind: Kind::Container,
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .and_then(|n| n.first().cloned())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                labels: c.labels.unwrap_or_default(),
                state: c.state.map(|s| s.to_string()),
            })
            .collect();
        objects.extend(
            self.docker
                .list_network_summaries(filter())
                .await?
                .into_iter()
                .map(|n| LabObject {
                    kind: Kind::Network,
                    id: n.id,
                    name: n.name,
                    labels: n.labels,
                    state: None,
                }),
        );
        Ok(objects)
    }

    fn publish(&self) {
        let mut status = OrphanStatus::default();
        let mut listed: Vec<&Orphan> = self.listed.values().collect();
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        for orphan in listed {
            match orphan.kind.as_str() {
                "network" => status.networks.push(orphan.clone()),
                _ => status.containers.push(orphan.clone()),
            }
        }
        self.status.send_if_modified(|old| {
            let changed = *old != status;
            if changed {
                *old = status;
            }
            changed
        });
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Container => "container",
        Kind::Network => "network",
    }
}

fn orphan(object: &LabObject) -> Orphan {
    Orphan {
        kind: kind_name(object.kind).to_string(),
        id: object.id.clone(),
        name: object.name.clone(),
        role: object.labels.get(labels::ROLE).cloned(),
        resource: object.labels.get(labels::RESOURCE).cloned(),
        task_id: object.labels.get(labels::TASK_ID).cloned(),
        state: object.state.clone(),
        first_seen: now_rfc3339(),
        removal_attempts: 0,
        last_error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(id: &str, name: &str, role: labels::Role, task_id: Option<&str>) -> LabObject {
        let mut l = labels::of("lab", role, "svc");
        if let Some(t) = task_id {
            l.insert(labels::TASK_ID.into(), t.into());
        }
        LabObject {
            kind: Kind::Container,
            id: id.into(),
            name: name.into(),
            labels: l,
            state: Some("running".into()),
        }
    }

    fn network(name: &str) -> LabObject {
        LabObject {
            kind: Kind::Network,
            id: format!("n-{name}"),
            name: name.into(),
            labels: labels::of("lab", labels::Role::Network, name),
            state: None,
        }
    }

    fn owners() -> Owners {
        Owners {
            task_ids: HashSet::from(["t1".to_string()]),
            database_containers: HashSet::from(["tierlab-lab-db".to_string()]),
            networks: HashSet::from(["tierlab-lab-app-a".to_string()]),
            bastion_containers: HashSet::from(["tierlab-lab-jump".to_string()]),
            database_proxies: HashSet::from(["tierlab-lab-db-path-proxy".to_string()]),
        }
    }

    #[test]
    fn claimed_tasks_the_instance_and_subnets_in_use_are_owned() {
        let objects = [
            container("c1", "task-1", labels::Role::Task, Some("t1")),
            container("c2", "tierlab-lab-db", labels::Role::Database, None),
            container("c7", "tierlab-lab-jump", labels::Role::Bastion, None),
            container(
                "c9",
                "tierlab-lab-db-path-proxy",
                labels::Role::DatabaseProxy,
                None,
            ),
            network("tierlab-lab-app-a"),
        ];
        assert!(unowned(&objects, &owners()).is_empty());
    }

    #[test]
    fn unclaimed_tasks_stray_databases_unknown_roles_and_networks_are_orphans() {
        let mut stray = container("c5", "mystery", labels::Role::Task, None);
        stray
            .labels
            .insert(labels::ROLE.into(), "something-else".into());
        let objects = [
            container("c3", "task-2", labels::Role::Task, Some("t2")),
            container("c4", "tierlab-lab-old-db", labels::Role::Database, None),
            container("c6", "no-task-id", labels::Role::Task, None),
            container("c8", "tierlab-lab-old-jump", labels::Role::Bastion, None),
            container(
                "c10",
                "tierlab-lab-old-path-proxy",
                labels::Role::DatabaseProxy,
                None,
            ),
            stray,
            network("tierlab-lab-gone-subnet"),
        ];
        let ids: Vec<&str> = unowned(&objects, &owners())
            .iter()
            .map(|o| o.id.as_str())
            .collect();
        assert_eq!(
            ids,
            vec![
                "c3",
                "c4",
                "c6",
                "c8",
                "c10",
                "c5",
                "n-tierlab-lab-gone-subnet"
            ]
        );
    }

    #[test]
    fn orphans_are_listed_first_and_removed_at_the_next_pass_containers_first() {
        let objects = [
            network("old-net"),
            container("c3", "x", labels::Role::Task, Some("t9")),
        ];
        let orphans: Vec<&LabObject> = objects.iter().collect();
        assert!(due_for_removal(&orphans, &HashSet::new()).is_empty());
        let listed = HashSet::from(["c3".to_string(), "n-old-net".to_string()]);
        let due: Vec<&str> = due_for_removal(&orphans, &listed)
            .iter()
            .map(|o| o.id.as_str())
            .collect();
        assert_eq!(due, vec!["c3", "n-old-net"]);
    }
}
