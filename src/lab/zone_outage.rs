//! `tierlab chaos az-outage ZONE` / `az-restore ZONE`: an availability zone of the lab fails
//! and comes back. While it is down, everything of the lab placed in it is killed (SIGKILL, as
//! power loss: no graceful stop), the service schedulers place tasks only in the other zones,
//! and the database supervisors neither restart nor build a node in it, so a Multi-AZ primary
//! there fails over to its standby and a Single-AZ instance there stays down. When it is back,
//! services rebalance (`availabilityZoneRebalancing`), Single-AZ instances start again and
//! Multi-AZ instances rebuild their standby there. A bastion host in the zone is killed too and
//! started again on restore (the same instance, as an EC2 instance comes back with its zone; its
//! SSH port on 127.0.0.1 may change, and `status` and `tierlab ssh` follow it).

use crate::docker::{DockerError, labels};
use crate::vpc::zones;

use super::LabView;

/// Why a zone could not be taken down or brought back.
#[derive(Debug, thiserror::Error)]
pub enum ZoneChaosError {
    #[error("the lab has no availability zone {zone:?}; its zones are: {known}")]
    UnknownZone { zone: String, known: String },
    #[error("the lab runs no containers (no Docker)")]
    NoDocker,
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Bastion(#[from] Box<crate::bastion::BastionError>),
}

impl ZoneChaosError {
    /// Whether the request was wrong (HTTP 400) rather than the lab failing to do it (500).
    pub fn is_request_error(&self) -> bool {
        matches!(self, ZoneChaosError::UnknownZone { .. })
    }
}

impl LabView {
    /// Takes `zone` down and kills what runs there; returns what it did, in a sentence.
    pub async fn az_outage(&self, zone: &str) -> Result<String, ZoneChaosError> {
        self.check_zone(zone)?;
        if !self.zones.set_down(zone, true) {
            return Ok(format!(
                "availability zone {zone} is already down; `tierlab chaos az-restore {zone}` brings it back"
            ));
        }
        tracing::warn!("availability zone {zone}: outage (chaos)");
        let killed = self.kill_in_zone(zone).await?;
        Ok(format!(
            "availability zone {zone} is down: {killed} container{} killed; nothing is placed there until `tierlab chaos az-restore {zone}`",
            if killed == 1 { "" } else { "s" }
        ))
    }

    /// Brings `zone` back; returns what it did, in a sentence.
    pub async fn az_restore(&self, zone: &str) -> Result<String, ZoneChaosError> {
        self.check_zone(zone)?;
        if !self.zones.set_down(zone, false) {
            return Ok(format!("availability zone {zone} is not down"));
        }
        tracing::info!("availability zone {zone}: restored (chaos)");
        let docker = self.docker.as_ref().ok_or(ZoneChaosError::NoDocker)?;
        let subnets = zones::subnets_in(&self.config, zone);
        let mut bastions = Vec::new();
        for bastion in &self.bastions {
            if subnets.contains(&bastion.subnet.as_str()) && !bastion.is_running() {
                bastion.restart(docker).await.map_err(Box::new)?;
                bastions.push(format!(
                    "; bastion {} is back on 127.0.0.1:{}",
                    bastion.name,
                    bastion.ssh_port()
                ));
            }
        }
        Ok(format!(
            "availability zone {zone} is back: services rebalance into it and databases recover there{}",
            bastions.concat()
        ))
    }

    fn check_zone(&self, zone: &str) -> Result<(), ZoneChaosError> {
        let known = zones::zones(&self.config);
        if known.contains(zone) {
            return Ok(());
        }
        Err(ZoneChaosError::UnknownZone {
            zone: zone.to_string(),
            known: known.into_iter().collect::<Vec<_>>().join(", "),
        })
    }

    /// Kills the lab's tasks, database nodes and bastions placed in `zone` (by their subnet
    /// label); returns how many.
    async fn kill_in_zone(&self, zone: &str) -> Result<usize, ZoneChaosError> {
        let docker = self.docker.as_ref().ok_or(ZoneChaosError::NoDocker)?;
        let subnets = zones::subnets_in(&self.config, zone);
        let mut killed = 0;
        for role in [
            labels::Role::Task,
            labels::Role::Database,
            labels::Role::Bastion,
        ] {
            let containers = docker
                .list_containers(labels::filter(&self.config.lab.name, Some(role), None))
                .await?;
            for container in containers {
                let in_zone = container
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(labels::SUBNET))
                    .is_some_and(|s| subnets.contains(&s.as_str()));
                let running = container
                    .state
                    .as_ref()
                    .is_some_and(|s| s.to_string() == "running");
                if let (true, true, Some(id)) = (in_zone, running, container.id.as_deref()) {
                    docker.kill_container(id).await?;
                    killed += 1;
                }
            }
        }
        for bastion in &self.bastions {
            if subnets.contains(&bastion.subnet.as_str()) {
                bastion.mark_stopped();
            }
        }
        Ok(killed)
    }
}
