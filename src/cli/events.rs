//! `tierlab events [-f]`: what happened in the running lab, newest last, each as AWS words it:
//! the services' events (as `aws ecs describe-services` lists them), the DB instances' events
//! (as `aws rds describe-events`), and target health changes (state, reason code and
//! description as `aws elbv2 describe-target-health` gives them). `-f` keeps printing new ones.
//!
//! Everything comes from the running `up` (its control endpoint's `/status`). A target's
//! health history is not kept by the load balancer, so target changes are those seen while
//! following, each dated when it was seen.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde::Deserialize;

use crate::config::Config;
use crate::control;
use crate::error::Error;
use crate::rds::RdsEvent;
use crate::state::StateDir;

/// How often `-f` asks the lab.
const FOLLOW_POLL: Duration = Duration::from_secs(1);

/// The parts of the lab's status that carry events (a typed subset of `LabStatus`).
#[derive(Debug, Default, Deserialize)]
struct Snapshot {
    #[serde(default)]
    services: Vec<ServiceEvents>,
    #[serde(default)]
    databases: Vec<DatabaseEvents>,
    #[serde(default)]
    target_groups: Vec<TargetGroupHealth>,
}

#[derive(Debug, Deserialize)]
struct ServiceEvents {
    name: String,
    events: Vec<ServiceEvent>,
}

#[derive(Debug, Deserialize)]
struct ServiceEvent {
    created_at: String,
    message: String,
}

#[derive(Debug, Deserialize)]
struct DatabaseEvents {
    identifier: String,
    events: Vec<RdsEvent>,
}

#[derive(Debug, Deserialize)]
struct TargetGroupHealth {
    name: String,
    targets: Vec<TargetHealth>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct TargetHealth {
    id: String,
    address: Option<String>,
    state: String,
    reason: Option<String>,
    description: Option<String>,
}

/// One line of output.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Event {
    /// RFC 3339; lines are ordered by it.
    pub date: String,
    /// `service flask-app-service`, `db-instance flask-crud-db`, `target-group flask-app-tg`.
    pub source: String,
    pub message: String,
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}  {:<32} {}", self.date, self.source, self.message)
    }
}

pub async fn run(config: &Config, follow: bool) -> Result<(), Error> {
    let lab = &config.lab.name;
    let state = StateDir::resolve(config.lab.state_dir.as_deref());
    let path = state.control_file(lab);
    let file = control::read_control_file(&path).ok_or_else(|| {
        Error::Usage(format!(
            "lab `{lab}` is not running (no control file at {}); start it with `tierlab up`",
            path.display()
        ))
    })?;
    let first = fetch(&file).await?;
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
        let Ok(snapshot) = fetch(&file).await else {
            eprintln!("lab `{lab}` stopped");
            return Ok(());
        };
        let now = crate::ecs::now_rfc3339();
        let current = target_states(&snapshot);
        let mut events = recorded(&snapshot);
        events.extend(target_changes(&targets, &current, &now));
        targets = current;
        events.sort();
        for event in new_events(events, &mut seen) {
            println!("{event}");
        }
    }
}

async fn fetch(file: &control::ControlFile) -> Result<Snapshot, Error> {
    let body = control::request(file, http::Method::GET, "/status").await?;
    serde_json::from_slice(&body).map_err(|e| {
        Error::Usage(format!(
            "the lab answered a status tierlab cannot read: {e}"
        ))
    })
}

/// The events the lab keeps (services' and databases'), oldest first.
fn recorded(snapshot: &Snapshot) -> Vec<Event> {
    let mut events: Vec<Event> = snapshot
        .services
        .iter()
        .flat_map(|s| {
            s.events.iter().map(|e| Event {
                date: e.created_at.clone(),
                source: format!("service {}", s.name),
                message: e.message.clone(),
            })
        })
        .chain(snapshot.databases.iter().flat_map(|d| {
            d.events.iter().map(|e| Event {
                date: e.date.clone(),
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

type TargetKey = (String, String);

fn target_states(snapshot: &Snapshot) -> BTreeMap<TargetKey, TargetHealth> {
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
fn target_changes(
    before: &BTreeMap<TargetKey, TargetHealth>,
    after: &BTreeMap<TargetKey, TargetHealth>,
    now: &str,
) -> Vec<Event> {
    let event = |(group, _): &TargetKey, message: String| Event {
        date: now.to_string(),
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

fn name(target: &TargetHealth) -> String {
    match &target.address {
        Some(address) if *address != target.id => format!("{} ({address})", target.id),
        _ => target.id.clone(),
    }
}

fn describe(target: &TargetHealth) -> String {
    let mut text = format!("target {} is {}", name(target), target.state);
    if let Some(reason) = &target.reason {
        text.push_str(&format!(": {reason}"));
        if let Some(description) = &target.description {
            text.push_str(&format!(" ({description})"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(json: &str) -> Snapshot {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn service_and_database_events_are_merged_oldest_first() {
        let s = snapshot(
            r#"{"services":[{"name":"web","events":[
                  {"created_at":"2026-12-02T00:00:03Z","message":"(service web) has reached a steady state."},
                  {"created_at":"2026-12-02T00:00:01Z","message":"(service web) has started 1 tasks: (task a)."}]}],
                "databases":[{"identifier":"db","events":[{"date":"2026-12-02T00:00:02Z","event_id":"RDS-EVENT-0006",
                  "source_identifier":"db","source_type":"db-instance","event_categories":["availability"],
                  "message":"DB instance restarted."}]}],
                "lab":"x","target_groups":[]}"#,
        );
        let lines: Vec<String> = recorded(&s).iter().map(|e| e.message.clone()).collect();
        assert_eq!(
            lines,
            [
                "(service web) has started 1 tasks: (task a).",
                "DB instance restarted. (RDS-EVENT-0006)",
                "(service web) has reached a steady state."
            ]
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
        let before = target_states(&snapshot(
            r#"{"target_groups":[{"name":"tg","targets":[
                {"id":"t1","address":"127.0.0.1:1","state":"healthy","reason":null,"description":null},
                {"id":"t2","address":"127.0.0.1:2","state":"healthy","reason":null,"description":null}]}]}"#,
        ));
        let after = target_states(&snapshot(
            r#"{"target_groups":[{"name":"tg","targets":[
                {"id":"t1","address":"127.0.0.1:1","state":"unhealthy","reason":"Target.ResponseCodeMismatch","description":"Health checks failed with these codes: [500]"},
                {"id":"t3","address":"127.0.0.1:3","state":"initial","reason":"Elb.RegistrationInProgress","description":"Target registration is in progress"}]}]}"#,
        ));
        let changes: Vec<String> = target_changes(&before, &after, "now")
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
        assert!(target_changes(&after, &after, "now").is_empty());
    }
}
