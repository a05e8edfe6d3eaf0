//! The status table: pure functions from the typed status to text, one section per tier. A tier
//! the lab does not have (no rows) is left out.

mod autoscaling;

use crate::cli::table;
use crate::lab::{DatabaseStatus, LabStatus, Orphan};

use super::report::{StatusReport, StoppedLab};

/// RDS events per database instance in the table (all of them are in `--json`).
const DATABASE_EVENTS_SHOWN: usize = 5;

/// Ids are shown as Docker shows them: the first 12 characters.
const SHORT_ID: usize = 12;

pub fn render_report(report: &StatusReport) -> String {
    match report {
        StatusReport::Running(lab) => render(&lab.status),
        StatusReport::NotRunning(stopped) => render_stopped(stopped),
    }
}

/// The running lab, tier by tier.
pub fn render(status: &LabStatus) -> String {
    let mut out = format!("lab `{}` ({})\n", status.lab, status.config);
    if let Some(aws) = &status.aws {
        out.push_str(&format!(
            "AWS API: {} (eval \"$(tierlab env)\")\n",
            aws.endpoint_url
        ));
    }
    out.push('\n');
    out.push_str(&load_balancers(status));
    for (headers, rows) in [
        target_health(status),
        services(status),
        tasks(status),
        stopped_tasks(status),
        autoscaling::metrics(status),
        autoscaling::targets(status),
        autoscaling::activities(status),
        databases(status),
        bastions(status),
        zone_outages(status),
        orphans(status),
        database_events(status),
    ] {
        section(&mut out, &headers, &rows);
    }
    out
}

/// What Docker still holds of a lab that no `up` answers for.
pub fn render_stopped(stopped: &StoppedLab) -> String {
    let mut out = format!(
        "lab `{}` is not running (no `tierlab up` answers for it).\n",
        stopped.lab
    );
    if !stopped.containers.is_empty() {
        let rows: Vec<Vec<String>> = stopped
            .containers
            .iter()
            .map(|c| vec![text(&c.name), text(&c.role), text(&c.state)])
            .collect();
        out.push_str("\nleftover containers (`tierlab down` removes them):\n");
        out.push_str(&table::render(&["CONTAINER", "ROLE", "STATE"], &rows));
    }
    if !stopped.networks.is_empty() {
        let rows: Vec<Vec<String>> = stopped
            .networks
            .iter()
            .map(|n| vec![n.name.clone(), text(&n.resource)])
            .collect();
        out.push_str("\nleftover networks (`tierlab down` removes them):\n");
        out.push_str(&table::render(&["NETWORK", "SUBNET"], &rows));
    }
    out
}

type Section = (Vec<&'static str>, Vec<Vec<String>>);

/// Always shown, even empty: it is where the lab is reached.
fn load_balancers(status: &LabStatus) -> String {
    let rows: Vec<Vec<String>> = status
        .load_balancers
        .iter()
        .flat_map(|lb| {
            lb.listeners
                .iter()
                .map(|l| vec![lb.name.clone(), l.protocol.clone(), l.url.clone()])
        })
        .collect();
    table::render(&["LOAD BALANCER", "LISTENER", "URL"], &rows)
}

fn target_health(status: &LabStatus) -> Section {
    let rows = status
        .target_groups
        .iter()
        .flat_map(|tg| {
            tg.targets.iter().map(|t| {
                vec![
                    tg.name.clone(),
                    t.id.clone(),
                    text(&t.address),
                    t.state.as_str().to_string(),
                    t.reason
                        .map_or_else(|| "-".into(), |r| r.as_str().to_string()),
                ]
            })
        })
        .collect();
    (
        vec!["TARGET GROUP", "TARGET", "ADDRESS", "HEALTH", "REASON"],
        rows,
    )
}

/// One row per service, so a service scaled to zero still shows, with a desired count changed
/// at run time next to the configured one.
fn services(status: &LabStatus) -> Section {
    let rows = status
        .services
        .iter()
        .map(|s| {
            let desired = if s.desired_count == s.configured_desired_count {
                s.desired_count.to_string()
            } else {
                format!(
                    "{} (emulator.toml: {})",
                    s.desired_count, s.configured_desired_count
                )
            };
            vec![
                s.name.clone(),
                desired,
                s.running_count.to_string(),
                s.pending_count.to_string(),
                s.task_definition.clone(),
                rollout(s),
                s.events
                    .last()
                    .map_or_else(|| "-".into(), |e| e.message.clone()),
            ]
        })
        .collect();
    (
        vec![
            "SERVICE",
            "DESIRED",
            "RUNNING",
            "PENDING",
            "TASK DEF",
            "ROLLOUT",
            "LATEST EVENT",
        ],
        rows,
    )
}

/// The PRIMARY deployment's rollout state, and the older deployments still being replaced
/// (`IN_PROGRESS (replacing flask-app-task:1)`).
fn rollout(s: &crate::ecs::ServiceStatus) -> String {
    let state = s.deployment.rollout_state.to_string();
    if s.active_deployments.is_empty() {
        return state;
    }
    let older: Vec<&str> = s
        .active_deployments
        .iter()
        .map(|d| d.task_definition.as_str())
        .collect();
    format!("{state} (replacing {})", older.join(", "))
}

/// The tasks that run and those being stopped (draining, stopping), with where they are.
fn tasks(status: &LabStatus) -> Section {
    let rows = status
        .services
        .iter()
        .flat_map(|s| {
            s.tasks.iter().chain(&s.stopping_tasks).map(|t| {
                vec![
                    s.name.clone(),
                    short(&t.task_id),
                    short(&t.container_id),
                    t.subnet.clone(),
                    t.availability_zone.clone(),
                    text(&t.private_ipv4_address),
                    t.last_status.to_string(),
                    text(&t.health),
                    text(&t.target_address),
                ]
            })
        })
        .collect();
    (
        vec![
            "SERVICE",
            "TASK",
            "CONTAINER",
            "SUBNET",
            "AZ",
            "PRIVATE IP",
            "STATUS",
            "HEALTH",
            "TARGET",
        ],
        rows,
    )
}

fn stopped_tasks(status: &LabStatus) -> Section {
    let rows = status
        .services
        .iter()
        .flat_map(|s| {
            s.stopped_tasks.iter().map(|t| {
                vec![
                    s.name.clone(),
                    short(&t.task_id),
                    text(&t.stopped_at),
                    text(&t.exit_code),
                    text(&t.stopped_reason),
                ]
            })
        })
        .collect();
    (
        vec![
            "SERVICE",
            "STOPPED TASK",
            "STOPPED AT",
            "EXIT",
            "STOPPED REASON",
        ],
        rows,
    )
}

fn databases(status: &LabStatus) -> Section {
    let rows = status
        .databases
        .iter()
        .map(|d| {
            vec![
                d.identifier.clone(),
                format!("{} {}", d.engine, d.engine_version),
                d.status.to_string(),
                format!("{}:{}", d.endpoint, d.port),
                d.subnet.clone(),
                short(&d.container_id),
                match &d.standby {
                    None => "-".to_string(),
                    Some(s) => match &s.subnet {
                        Some(subnet) => format!("{} {}", subnet, s.state.as_str()),
                        None => s.state.as_str().to_string(),
                    },
                },
                d.replica_lag.map_or_else(
                    || "-".into(),
                    |lag| match lag {
                        0.. => format!("{lag}s"),
                        _ => lag.to_string(),
                    },
                ),
                replication(d),
            ]
        })
        .collect();
    (
        vec![
            "DATABASE",
            "ENGINE",
            "STATUS",
            "ENDPOINT (private)",
            "SUBNET",
            "CONTAINER",
            "STANDBY",
            "REPLICA LAG",
            "REPLICATION",
        ],
        rows,
    )
}

/// Bastions with the command that logs in (`tierlab ssh NAME` does the same, host key checked).
fn bastions(status: &LabStatus) -> Section {
    let rows = status
        .bastions
        .iter()
        .map(|b| {
            let reaches = if b.databases.is_empty() {
                "-".to_string()
            } else {
                b.databases.join(", ")
            };
            let ssh = if b.running {
                format!("{}:{}", b.ssh_host, b.ssh_port)
            } else {
                "stopped (its availability zone is down)".to_string()
            };
            vec![
                b.name.clone(),
                ssh,
                b.subnet.clone(),
                reaches,
                b.ssh_command(),
            ]
        })
        .collect();
    (
        vec![
            "BASTION",
            "SSH",
            "SUBNET",
            "REACHES (security groups now)",
            "LOGIN",
        ],
        rows,
    )
}

/// A read replica's replication (`replicating from SOURCE`, with its delay or error), or the
/// replicas of a source; `-` for neither.
fn replication(d: &DatabaseStatus) -> String {
    if let Some(r) = &d.replication {
        let mut text = format!("{} from {}", r.state, r.source);
        if r.delay_seconds > 0 {
            text.push_str(&format!(" (delayed {}s)", r.delay_seconds));
        }
        if let Some(error) = &r.error {
            text.push_str(&format!(": {error}"));
        }
        return text;
    }
    match d.read_replicas.as_slice() {
        [] => "-".into(),
        replicas => format!("source of {}", replicas.join(", ")),
    }
}

/// Zones held down by `tierlab chaos az-outage` (nothing is shown while all are up).
fn zone_outages(status: &LabStatus) -> Section {
    let rows = status
        .availability_zones
        .iter()
        .filter(|z| z.state != "available")
        .map(|z| {
            vec![
                z.zone.clone(),
                z.state.clone(),
                format!("tierlab chaos az-restore {}", z.zone),
            ]
        })
        .collect();
    (vec!["AVAILABILITY ZONE", "STATE", "BRING IT BACK"], rows)
}

fn orphans(status: &LabStatus) -> Section {
    let orphans = &status.orphans;
    let rows = orphans
        .containers
        .iter()
        .chain(&orphans.networks)
        .map(orphan_row)
        .collect();
    (
        vec![
            "ORPHAN (no controller owns it)",
            "KIND",
            "ROLE",
            "RESOURCE",
            "STATE",
            "REMOVAL",
        ],
        rows,
    )
}

fn orphan_row(o: &Orphan) -> Vec<String> {
    let removal = match &o.last_error {
        None => "at the next pass".to_string(),
        Some(error) => format!("failed {} times, retrying: {error}", o.removal_attempts),
    };
    vec![
        o.name.clone(),
        o.kind.clone(),
        text(&o.role),
        text(&o.resource),
        text(&o.state),
        removal,
    ]
}

/// The latest RDS events of each instance.
fn database_events(status: &LabStatus) -> Section {
    let rows = status
        .databases
        .iter()
        .flat_map(|d| {
            let skip = d.events.len().saturating_sub(DATABASE_EVENTS_SHOWN);
            d.events.iter().skip(skip).map(|e| {
                vec![
                    e.date.clone(),
                    e.source_identifier.clone(),
                    e.event_id.clone(),
                    e.message.clone(),
                ]
            })
        })
        .collect();
    (vec!["DATE", "DATABASE", "EVENT", "MESSAGE"], rows)
}

/// Appends a table after a blank line, unless it has no rows.
fn section(out: &mut String, headers: &[&str], rows: &[Vec<String>]) {
    if !rows.is_empty() {
        out.push('\n');
        out.push_str(&table::render(headers, rows));
    }
}

/// An optional cell: `-` when absent.
fn text<T: std::fmt::Display>(value: &Option<T>) -> String {
    value
        .as_ref()
        .map_or_else(|| "-".to_string(), ToString::to_string)
}

fn short(id: &str) -> String {
    id.chars().take(SHORT_ID).collect()
}

#[cfg(test)]
mod tests;
