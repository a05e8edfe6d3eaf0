//! What `wait_until_steady` waits for, as a pure function of the lab's status: every service at
//! its desired count with no deployment in progress, every registered target healthy, every DB
//! instance available (a Multi-AZ one with its standby in sync). The wait polls the status and
//! on timeout names everything still not ready.

use crate::alb::TargetState;
use crate::lab::{LabStatus, StandbyState};
use crate::rds::InstanceStatus;

/// What is not ready in `status`, one phrase each; empty when the lab is steady.
pub fn not_ready(status: &LabStatus) -> Vec<String> {
    let mut waiting = Vec::new();
    for service in &status.services {
        if !service.is_steady() {
            waiting.push(format!(
                "service {}: {} running, {} pending of {} desired{}",
                service.name,
                service.running_count,
                service.pending_count,
                service.desired_count,
                if service.active_deployments.is_empty() {
                    ""
                } else {
                    " (a deployment is in progress)"
                }
            ));
        }
    }
    for group in &status.target_groups {
        for target in &group.targets {
            // A draining or unused target is on its way out: not one the lab waits for.
            let counted = matches!(target.state, TargetState::Initial | TargetState::Unhealthy);
            if counted {
                waiting.push(format!(
                    "target {} of {}: {}{}",
                    target.id,
                    group.name,
                    target.state.as_str(),
                    target
                        .description
                        .as_deref()
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                ));
            }
        }
    }
    for db in &status.databases {
        if db.status != InstanceStatus::Available {
            waiting.push(format!(
                "DB instance {}: {}",
                db.identifier,
                db.status.as_str()
            ));
        } else if db.multi_az {
            match &db.standby {
                Some(standby) if standby.state == StandbyState::InSync => {}
                Some(standby) => waiting.push(format!(
                    "DB instance {}: standby {}",
                    db.identifier,
                    standby.state.as_str()
                )),
                None => waiting.push(format!("DB instance {}: standby missing", db.identifier)),
            }
        }
    }
    waiting
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::StandbyStatus;

    /// The sample lab with everything settled.
    fn steady() -> LabStatus {
        let mut status = crate::cli::status::sample::lab_status();
        let service = &mut status.services[0];
        (service.running_count, service.pending_count) = (2, 0);
        for group in &mut status.target_groups {
            for target in &mut group.targets {
                target.state = TargetState::Healthy;
            }
        }
        status.databases[0].status = InstanceStatus::Available;
        status
    }

    #[test]
    fn a_settled_lab_is_steady() {
        assert_eq!(not_ready(&steady()), Vec::<String>::new());
    }

    #[test]
    fn each_thing_not_ready_is_named() {
        let waiting = not_ready(&crate::cli::status::sample::lab_status());
        let text = waiting.join("; ");
        assert!(
            text.contains("service flask-app-service: 1 running, 1 pending of 2 desired"),
            "{text}"
        );
        assert!(text.contains("of flask-app-tg: initial"), "{text}");
        assert!(
            text.contains("DB instance flask-crud-db: rebooting"),
            "{text}"
        );
        assert_eq!(waiting.len(), 3, "{text}");
    }

    #[test]
    fn a_draining_target_is_not_waited_for() {
        let mut status = steady();
        status.target_groups[0].targets[0].state = TargetState::Draining;
        assert!(not_ready(&status).is_empty());
    }

    #[test]
    fn a_multi_az_instance_waits_for_its_standby_in_sync() {
        let mut status = steady();
        status.databases[0].multi_az = true;
        status.databases[0].standby = Some(StandbyStatus {
            state: StandbyState::Building,
            subnet: Some("private-db-subnet-1b".into()),
            container_id: None,
        });
        assert_eq!(
            not_ready(&status),
            ["DB instance flask-crud-db: standby building"]
        );
        status.databases[0].standby.as_mut().unwrap().state = StandbyState::InSync;
        assert!(not_ready(&status).is_empty());
    }
}
