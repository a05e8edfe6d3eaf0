//! The status table: pure functions from the typed status to text, one section per tier. A tier
//! the lab does not have (no rows) is left out.

use crate::cli::table;
use crate::lab::{LabStatus, Orphan};

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
        tasks(status),
        stopped_tasks(status),
        databases(status),
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

fn tasks(status: &LabStatus) -> Section {
    let rows = status
        .services
        .iter()
        .flat_map(|s| {
            let service = format!("{} ({}/{})", s.name, s.running_count, s.desired_count);
            s.tasks.iter().map(move |t| {
                vec![
                    service.clone(),
                    short(&t.task_id),
                    short(&t.container_id),
                    t.subnet.clone(),
                    t.last_status.to_string(),
                    text(&t.health),
                    text(&t.target_address),
                ]
            })
        })
        .collect();
    (
        vec![
            "SERVICE (RUNNING/DESIRED)",
            "TASK",
            "CONTAINER",
            "SUBNET",
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
        ],
        rows,
    )
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
mod tests {
    use super::super::report::{Flag, LeftoverContainer, LeftoverNetwork};
    use super::super::sample;
    use super::*;

    #[test]
    fn every_tier_has_its_section() {
        let table = render(&sample::lab_status());
        for part in [
            "lab `flask-app` (emulator.toml)",
            "flask-app-alb  HTTPS     https://127.0.0.1:8443",
            "fedcba9876543210  127.0.0.1:41002  initial  Elb.InitialHealthChecking",
            "flask-app-service (1/2)    0123456789ab  c00123456789",
            "STOPPED TASK",
            "aaaabbbbcccc  2026-12-02T00:01:00Z  3     Essential container in task exited (exit code 3)",
            "tierlab-flask-app-svc-0rphan",
            "at the next pass",
            "failed 2 times, retrying: has active endpoints",
        ] {
            assert!(table.contains(part), "`{part}` missing from:\n{table}");
        }
    }

    #[test]
    fn the_aws_endpoint_follows_the_lab_line() {
        let mut status = sample::lab_status();
        let table = render(&status);
        assert!(
            table.starts_with(
                "lab `flask-app` (emulator.toml)\nAWS API: http://127.0.0.1:4600 (eval \"$(tierlab env)\")\n\nLOAD BALANCER"
            ),
            "{table}"
        );
        status.aws = None;
        assert!(render(&status).starts_with("lab `flask-app` (emulator.toml)\n\nLOAD BALANCER"));
    }

    #[test]
    fn absent_values_show_as_a_dash() {
        let table = render(&sample::lab_status());
        let healthy = table
            .lines()
            .find(|l| l.starts_with("flask-app-tg  0123456789abcdef"))
            .unwrap();
        assert!(healthy.ends_with("healthy  -"), "{table}");
        let orphan_network = table
            .lines()
            .find(|l| l.starts_with("tierlab-flask-app-old"))
            .unwrap();
        assert!(orphan_network.contains("svc       -"), "{table}");
    }

    #[test]
    fn databases_show_their_observed_status_and_latest_events() {
        let table = render(&sample::lab_status());
        let row = table
            .lines()
            .find(|l| l.starts_with("flask-crud-db"))
            .unwrap();
        assert!(
            row.contains("rebooting")
                && row.contains("flask-crud-db:3306")
                && row.contains("999988887777"),
            "{table}"
        );
        assert!(
            table.contains("EVENT") && table.contains("message 6."),
            "{table}"
        );
        assert!(
            table.contains("message 2.") && !table.contains("message 1."),
            "{table}"
        );
    }

    #[test]
    fn tiers_a_lab_does_not_have_are_left_out() {
        let mut status = sample::lab_status();
        status.databases.clear();
        status.orphans = Default::default();
        status.services[0].stopped_tasks.clear();
        let table = render(&status);
        for header in ["DATABASE", "ORPHAN", "STOPPED TASK", "EVENT"] {
            assert!(!table.contains(header), "`{header}` in:\n{table}");
        }
        assert!(table.contains("TARGET GROUP"), "{table}");
    }

    #[test]
    fn leftovers_are_listed_when_no_lab_runs() {
        let stopped = StoppedLab {
            running: Flag,
            lab: "t".into(),
            config: "t.toml".into(),
            alb: None,
            containers: vec![LeftoverContainer {
                container_id: Some("abc".into()),
                name: Some("tierlab-t-db".into()),
                role: Some("database".into()),
                resource: None,
                state: None,
            }],
            networks: vec![LeftoverNetwork {
                network_id: "n1".into(),
                name: "tierlab-t-app-a".into(),
                resource: Some("app-a".into()),
            }],
        };
        let table = render_report(&StatusReport::NotRunning(stopped));
        assert!(table.starts_with("lab `t` is not running"), "{table}");
        assert!(table.contains("tierlab-t-db  database  -"), "{table}");
        assert!(table.contains("leftover networks"), "{table}");
        assert!(table.contains("tierlab-t-app-a  app-a"), "{table}");
    }
}
