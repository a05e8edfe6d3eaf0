//! `tierlab events [-f]`: what happened in the running lab, newest last, each as AWS words it:
//! the services' events (as `aws ecs describe-services` lists them), the DB instances' events
//! (as `aws rds describe-events`), and target health changes (state, reason code and
//! description as `aws elbv2 describe-target-health` gives them). `-f` keeps printing new ones.
//!
//! Everything comes from the running `up` (its control endpoint's `/status`, read into the one
//! typed [`LabStatus`]). A target's health history is not kept by the load balancer, so target
//! changes are those seen while following, each dated when it was seen.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime};

use crate::alb::TargetDescription;
use crate::config::Config;
use crate::control;
use crate::error::Error;
use crate::lab::LabStatus;

/// How often `-f` asks the lab.
const FOLLOW_POLL: Duration = Duration::from_secs(1);

/// One line of output.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Event {
    /// When it happened; lines are ordered by it. The lab's models keep seconds (RDS) or
    /// milliseconds (ECS): read back as times, they sort and print alike.
    pub at: SystemTime,
    /// `service flask-app-service`, `db-instance flask-crud-db`, `target-group flask-app-tg`.
    pub source: String,
    pub message: String,
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = humantime::format_rfc3339_millis(self.at);
        write!(f, "{at}  {:<32} {}", self.source, self.message)
    }
}

pub async fn run(config: &Config, follow: bool) -> Result<(), Error> {
    let lab = &config.lab.name;
    let file = super::running::control_file(config)?;
    let first = super::running::status_from(config, &file).await?;
    let mut seen = HashSet::new();
    let mut targets = target_states(&first);
    for event in new_events(recorded(&first), &mut seen) {
        println!("{event}");
    }
    if !follow {
        return Ok(());
    }
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
        }
        let Ok(snapshot) = control::status(&file).await else {
            eprintln!("lab `{lab}` stopped");
            return Ok(());
        };
        let now = SystemTime::now();
        let current = target_states(&snapshot);
        let mut events = recorded(&snapshot);
        events.extend(target_changes(&targets, &current, now));
        targets = current;
        events.sort();
        for event in new_events(events, &mut seen) {
            println!("{event}");
        }
    }
}

/// An RFC 3339 date of the lab's models (one that does not parse sorts first).
fn when(date: &str) -> SystemTime {
    humantime::parse_rfc3339_weak(date).unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The events the lab keeps (services' and databases'), oldest first.
pub(crate) fn recorded(snapshot: &LabStatus) -> Vec<Event> {
    let mut events: Vec<Event> = snapshot
        .services
        .iter()
        .flat_map(|s| {
            s.events.iter().map(|e| Event {
                at: when(&e.created_at),
                source: format!("service {}", s.name),
                message: e.message.clone(),
            })
        })
        .chain(snapshot.databases.iter().flat_map(|d| {
            d.events.iter().map(|e| Event {
                at: when(&e.date),
                source: format!("db-instance {}", d.identifier),
                message: format!("{} ({})", e.message, e.event_id),
            })
        }))
        .collect();
    events.sort();
    events
}

/// The events not printed yet, in order; remembers them.
fn new_events(events: Vec<Event>, seen: &mut HashSet<Event>) -> Vec<Event> {
    events
        .into_iter()
        .filter(|e| seen.insert(e.clone()))
        .collect()
}

pub(crate) type TargetKey = (String, String);

pub(crate) fn target_states(snapshot: &LabStatus) -> BTreeMap<TargetKey, TargetDescription> {
    snapshot
        .target_groups
        .iter()
        .flat_map(|tg| {
            tg.targets
                .iter()
                .map(|t| ((tg.name.clone(), t.id.clone()), t.clone()))
        })
        .collect()
}

/// Targets whose health changed between two snapshots (new targets and removed ones too),
/// dated `now`.
pub(crate) fn target_changes(
    before: &BTreeMap<TargetKey, TargetDescription>,
    after: &BTreeMap<TargetKey, TargetDescription>,
    now: SystemTime,
) -> Vec<Event> {
    let event = |(group, _): &TargetKey, message: String| Event {
        at: now,
        source: format!("target-group {group}"),
        message,
    };
    let mut events = Vec::new();
    for (key, target) in after {
        if before
            .get(key)
            .is_some_and(|b| b.state == target.state && b.reason == target.reason)
        {
            continue;
        }
        events.push(event(key, describe(target)));
    }
    for (key, target) in before.iter().filter(|(k, _)| !after.contains_key(*k)) {
        events.push(event(
            key,
            format!("target {} is no longer registered", name(target)),
        ));
    }
    events
}

fn name(target: &TargetDescription) -> String {
    match target.address {
        Some(address) if address.to_string() != target.id => format!("{} ({address})", target.id),
        _ => target.id.clone(),
    }
}

fn describe(target: &TargetDescription) -> String {
    let mut text = format!("target {} is {}", name(target), target.state.as_str());
    if let Some(reason) = target.reason {
        text.push_str(&format!(": {}", reason.as_str()));
        if let Some(description) = &target.description {
            text.push_str(&format!(" ({description})"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alb::{ReasonCode, TargetState};
    use crate::ecs::{ServiceEvent, ServiceStatus};
    use crate::lab::{DatabaseStatus, TargetGroupStatus};
    use crate::rds::{EventKind, InstanceStatus, RdsEvent};

    fn status() -> LabStatus {
        LabStatus {
            lab: "x".into(),
            config: "x".into(),
            alb: None,
            load_balancers: vec![],
            target_groups: vec![],
            services: vec![],
            databases: vec![],
            orphans: Default::default(),
            aws: None,
            bastions: vec![],
            autoscaling: Default::default(),
            availability_zones: vec![],
            vpc: Default::default(),
            dashboard: None,
            chaos: vec![],
        }
    }

    fn database(events: Vec<RdsEvent>) -> DatabaseStatus {
        DatabaseStatus {
            identifier: "db".into(),
            master_username: "admin".into(),
            db_name: "app".into(),
            engine: "mysql".into(),
            engine_version: "8.0".into(),
            instance_class: "db.t3.micro".into(),
            image: "i".into(),
            container_id: "c".into(),
            status: InstanceStatus::Available,
            endpoint: "db".into(),
            port: 3306,
            subnet: "s".into(),
            network: "n".into(),
            volume: "v".into(),
            multi_az: false,
            standby: None,
            backup_retention_period: 7,
            recoveries: 0,
            events,
            read_replicas: Vec::new(),
            replica_lag: None,
            replication: None,
        }
    }

    fn target(
        id: u16,
        state: TargetState,
        reason: Option<ReasonCode>,
        description: Option<&str>,
    ) -> TargetDescription {
        TargetDescription {
            id: format!("t{id}"),
            address: Some(format!("127.0.0.1:{id}").parse().unwrap()),
            state,
            reason,
            description: description.map(str::to_string),
        }
    }

    fn with_targets(targets: Vec<TargetDescription>) -> LabStatus {
        let mut s = status();
        s.target_groups = vec![TargetGroupStatus {
            name: "tg".into(),
            port: 8000,
            targets,
        }];
        s
    }

    #[test]
    fn service_and_database_events_are_merged_oldest_first() {
        let mut s = status();
        s.services = vec![ServiceStatus {
            name: "web".into(),
            events: vec![
                ServiceEvent {
                    id: "e2".into(),
                    created_at: "2026-12-02T00:00:02.500Z".into(),
                    message: "(service web) has reached a steady state.".into(),
                },
                ServiceEvent {
                    id: "e1".into(),
                    created_at: "2026-12-02T00:00:01Z".into(),
                    message: "(service web) has started 1 tasks: (task a).".into(),
                },
            ],
            ..Default::default()
        }];
        s.databases = vec![database(vec![RdsEvent::new(
            "db",
            &EventKind::Restarted,
            "2026-12-02T00:00:02Z".into(),
        )])];
        let lines: Vec<String> = recorded(&s).iter().map(|e| e.message.clone()).collect();
        assert_eq!(
            lines,
            [
                "(service web) has started 1 tasks: (task a).",
                "DB instance restarted. (RDS-EVENT-0006)",
                "(service web) has reached a steady state."
            ]
        );
        // Seconds (RDS) and milliseconds (ECS) sort by time and print alike.
        assert_eq!(
            recorded(&s)[1].to_string(),
            "2026-12-02T00:00:02.000Z  db-instance db                   DB instance restarted. (RDS-EVENT-0006)"
        );
        let mut seen = HashSet::new();
        assert_eq!(new_events(recorded(&s), &mut seen).len(), 3);
        assert!(
            new_events(recorded(&s), &mut seen).is_empty(),
            "printed once"
        );
    }

    #[test]
    fn target_health_changes_are_reported_in_elb_words() {
        let before = target_states(&with_targets(vec![
            target(1, TargetState::Healthy, None, None),
            target(2, TargetState::Healthy, None, None),
        ]));
        let after = target_states(&with_targets(vec![
            target(
                1,
                TargetState::Unhealthy,
                Some(ReasonCode::ResponseCodeMismatch),
                Some("Health checks failed with these codes: [500]"),
            ),
            target(
                3,
                TargetState::Initial,
                Some(ReasonCode::RegistrationInProgress),
                Some("Target registration is in progress"),
            ),
        ]));
        let changes: Vec<String> = target_changes(&before, &after, SystemTime::now())
            .iter()
            .map(|e| e.message.clone())
            .collect();
        assert_eq!(
            changes,
            [
                "target t1 (127.0.0.1:1) is unhealthy: Target.ResponseCodeMismatch (Health checks failed with these codes: [500])",
                "target t3 (127.0.0.1:3) is initial: Elb.RegistrationInProgress (Target registration is in progress)",
                "target t2 (127.0.0.1:2) is no longer registered",
            ]
        );
        assert!(target_changes(&after, &after, SystemTime::now()).is_empty());
    }
}
