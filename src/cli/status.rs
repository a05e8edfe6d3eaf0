//! `tierlab status`: asks the running `up` for the lab's state; without one, says so and lists
//! what Docker still holds of the lab.

use serde_json::{Value, json};

use crate::config::Config;
use crate::control;
use crate::docker::{DockerClient, labels};
use crate::error::Error;
use crate::state::StateDir;

use super::table;

pub async fn run(config: &Config, as_json: bool) -> Result<(), Error> {
    let state = StateDir::resolve(config.lab.state_dir.as_deref());
    let running = match control::read_control_file(&state.control_file(&config.lab.name)) {
        Some(file) => control::request(&file, http::Method::GET, "/status")
            .await
            .ok(),
        None => None,
    };
    let status: Value = match running {
        Some(body) => {
            let mut value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            value["running"] = Value::Bool(true);
            value
        }
        None => not_running(config).await?,
    };
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status).expect("JSON value serialises")
        );
    } else {
        print!("{}", render(&status));
    }
    Ok(())
}

/// The status when no `up` answers: the lab's leftover containers and networks, straight from
/// Docker.
async fn not_running(config: &Config) -> Result<Value, Error> {
    let lab = &config.lab.name;
    let docker = DockerClient::connect().await.ok();
    let networks: Vec<Value> = match &docker {
        Some(docker) => docker
            .list_network_summaries(labels::filter(lab, None, None))
            .await?
            .into_iter()
            .map(|n| {
                json!({
                    "network_id": n.id,
                    "name": n.name,
                    "resource": n.labels.get(labels::RESOURCE),
                })
            })
            .collect(),
        None => Vec::new(),
    };
    let containers = match docker {
        Some(docker) => docker
            .list_containers(labels::filter(lab, None, None))
            .await?
            .into_iter()
            .map(|c| {
                let labels = c.labels.unwrap_or_default();
                json!({
                    "container_id": c.id,
                    "name": c.names.and_then(|n| n.first().cloned()).map(|n| n.trim_start_matches('/').to_string()),
                    "role": labels.get(labels::ROLE),
                    "resource": labels.get(labels::RESOURCE),
                    "state": c.state.map(|s| s.to_string()),
                })
            })
            .collect(),
        None => Vec::new(),
    };
    Ok(json!({
        "lab": lab,
        "config": config.source.display().to_string(),
        "running": false,
        "alb": null,
        "containers": containers,
        "networks": networks,
    }))
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn render(status: &Value) -> String {
    let mut out = String::new();
    let lab = text(&status["lab"]);
    if status["running"] != Value::Bool(true) {
        out.push_str(&format!(
            "lab `{lab}` is not running (no `tierlab up` answers for it).\n"
        ));
        let leftovers = status["containers"].as_array().cloned().unwrap_or_default();
        if !leftovers.is_empty() {
            let rows: Vec<Vec<String>> = leftovers
                .iter()
                .map(|c| vec![text(&c["name"]), text(&c["role"]), text(&c["state"])])
                .collect();
            out.push_str("\nleftover containers (`tierlab down` removes them):\n");
            out.push_str(&table::render(&["CONTAINER", "ROLE", "STATE"], &rows));
        }
        let networks = status["networks"].as_array().cloned().unwrap_or_default();
        if !networks.is_empty() {
            let rows: Vec<Vec<String>> = networks
                .iter()
                .map(|n| vec![text(&n["name"]), text(&n["resource"])])
                .collect();
            out.push_str("\nleftover networks (`tierlab down` removes them):\n");
            out.push_str(&table::render(&["NETWORK", "SUBNET"], &rows));
        }
        return out;
    }
    out.push_str(&format!("lab `{lab}` ({})\n\n", text(&status["config"])));
    let each = |key: &str| status[key].as_array().cloned().unwrap_or_default();

    let mut rows = Vec::new();
    for lb in each("load_balancers") {
        for l in lb["listeners"].as_array().cloned().unwrap_or_default() {
            rows.push(vec![
                text(&lb["name"]),
                text(&l["protocol"]),
                text(&l["url"]),
            ]);
        }
    }
    out.push_str(&table::render(&["LOAD BALANCER", "LISTENER", "URL"], &rows));

    let mut rows = Vec::new();
    for tg in each("target_groups") {
        for t in tg["targets"].as_array().cloned().unwrap_or_default() {
            rows.push(vec![
                text(&tg["name"]),
                text(&t["id"]),
                text(&t["address"]),
                text(&t["state"]),
                text(&t["reason"]),
            ]);
        }
    }
    section(
        &mut out,
        &["TARGET GROUP", "TARGET", "ADDRESS", "HEALTH", "REASON"],
        &rows,
    );

    let mut rows = Vec::new();
    for s in each("services") {
        for t in s["tasks"].as_array().cloned().unwrap_or_default() {
            rows.push(vec![
                format!(
                    "{} ({}/{})",
                    text(&s["name"]),
                    text(&s["running_count"]),
                    text(&s["desired_count"])
                ),
                text(&t["task_id"]).chars().take(12).collect(),
                text(&t["container_id"]).chars().take(12).collect(),
                text(&t["subnet"]),
                text(&t["last_status"]),
                text(&t["health"]),
                text(&t["target_address"]),
            ]);
        }
    }
    section(
        &mut out,
        &[
            "SERVICE (RUNNING/DESIRED)",
            "TASK",
            "CONTAINER",
            "SUBNET",
            "STATUS",
            "HEALTH",
            "TARGET",
        ],
        &rows,
    );

    let mut rows = Vec::new();
    for s in each("services") {
        for t in s["stopped_tasks"].as_array().cloned().unwrap_or_default() {
            rows.push(vec![
                text(&s["name"]),
                text(&t["task_id"]).chars().take(12).collect(),
                text(&t["stopped_at"]),
                text(&t["exit_code"]),
                text(&t["stopped_reason"]),
            ]);
        }
    }
    section(
        &mut out,
        &[
            "SERVICE",
            "STOPPED TASK",
            "STOPPED AT",
            "EXIT",
            "STOPPED REASON",
        ],
        &rows,
    );

    let rows: Vec<Vec<String>> = each("databases")
        .iter()
        .map(|d| {
            vec![
                text(&d["identifier"]),
                format!("{} {}", text(&d["engine"]), text(&d["engine_version"])),
                text(&d["status"]),
                format!("{}:{}", text(&d["endpoint"]), text(&d["port"])),
                text(&d["subnet"]),
                text(&d["container_id"]).chars().take(12).collect(),
            ]
        })
        .collect();
    section(
        &mut out,
        &[
            "DATABASE",
            "ENGINE",
            "STATUS",
            "ENDPOINT (private)",
            "SUBNET",
            "CONTAINER",
        ],
        &rows,
    );

    let orphans = &status["orphans"];
    let rows: Vec<Vec<String>> = ["containers", "networks"]
        .iter()
        .flat_map(|kind| orphans[kind].as_array().cloned().unwrap_or_default())
        .map(|o| {
            let removal = match &o["last_error"] {
                Value::Null => "at the next pass".to_string(),
                error => format!(
                    "failed {} times, retrying: {}",
                    text(&o["removal_attempts"]),
                    text(error)
                ),
            };
            vec![
                text(&o["name"]),
                text(&o["kind"]),
                text(&o["role"]),
                text(&o["resource"]),
                text(&o["state"]),
                removal,
            ]
        })
        .collect();
    section(
        &mut out,
        &[
            "ORPHAN (no controller owns it)",
            "KIND",
            "ROLE",
            "RESOURCE",
            "STATE",
            "REMOVAL",
        ],
        &rows,
    );

    // The latest RDS events of each instance (all of them are in `--json`).
    let mut rows = Vec::new();
    for d in each("databases") {
        let events = d["events"].as_array().cloned().unwrap_or_default();
        let skip = events.len().saturating_sub(DATABASE_EVENTS_SHOWN);
        for e in events.iter().skip(skip) {
            rows.push(vec![
                text(&e["date"]),
                text(&e["source_identifier"]),
                text(&e["event_id"]),
                text(&e["message"]),
            ]);
        }
    }
    section(&mut out, &["DATE", "DATABASE", "EVENT", "MESSAGE"], &rows);
    out
}

/// RDS events per database instance in the table.
const DATABASE_EVENTS_SHOWN: usize = 5;

/// Appends a table after a blank line; a tier the lab does not have (no rows) is left out.
fn section(out: &mut String, headers: &[&str], rows: &[Vec<String>]) {
    if !rows.is_empty() {
        out.push('\n');
        out.push_str(&table::render(headers, rows));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopped_tasks_and_orphans_have_rows() {
        let status = json!({
            "lab": "t", "config": "t.toml", "running": true,
            "services": [{
                "name": "svc", "running_count": 0, "desired_count": 2, "tasks": [],
                "stopped_tasks": [{
                    "task_id": "0123456789abcdef", "stopped_at": "2026-12-02T00:00:00Z",
                    "exit_code": 3,
                    "stopped_reason": "Essential container in task exited (exit code 3)",
                }],
            }],
            "orphans": {
                "containers": [{
                    "kind": "container", "name": "tierlab-t-svc-0rphan", "role": "task",
                    "resource": "svc", "state": "running", "last_error": null,
                    "removal_attempts": 0,
                }],
                "networks": [{
                    "kind": "network", "name": "tierlab-t-old", "role": "network",
                    "resource": "old", "state": null, "removal_attempts": 2,
                    "last_error": "has active endpoints",
                }],
            },
        });
        let table = render(&status);
        for part in [
            "STOPPED TASK",
            "0123456789ab",
            "Essential container in task exited (exit code 3)",
            "ORPHAN (no controller owns it)",
            "tierlab-t-svc-0rphan",
            "at the next pass",
            "failed 2 times, retrying: has active endpoints",
        ] {
            assert!(table.contains(part), "`{part}` missing from:\n{table}");
        }
    }

    #[test]
    fn leftover_networks_are_listed_when_no_lab_runs() {
        let status = json!({
            "lab": "t", "running": false, "containers": [],
            "networks": [{ "name": "tierlab-t-app-a", "resource": "app-a" }],
        });
        let table = render(&status);
        assert!(table.contains("leftover networks"), "{table}");
        assert!(table.contains("tierlab-t-app-a"), "{table}");
    }

    #[test]
    fn databases_show_their_observed_status_and_latest_events() {
        let events: Vec<Value> = (0..7)
            .map(|i| {
                json!({
                    "date": format!("2026-12-02T00:00:0{i}Z"),
                    "event_id": format!("RDS-EVENT-000{i}"),
                    "source_identifier": "flask-crud-db",
                    "source_type": "db-instance",
                    "event_categories": ["availability"],
                    "message": format!("message {i}."),
                })
            })
            .collect();
        let status = json!({
            "lab": "flask-app",
            "config": "emulator.toml",
            "running": true,
            "databases": [{
                "identifier": "flask-crud-db",
                "engine": "mysql",
                "engine_version": "8.0",
                "status": "rebooting",
                "endpoint": "flask-crud-db",
                "port": 3306,
                "subnet": "private-db-subnet-1a",
                "container_id": "0123456789abcdef",
                "events": events,
            }],
        });
        let table = render(&status);
        let row = table
            .lines()
            .find(|l| l.starts_with("flask-crud-db"))
            .unwrap();
        assert!(
            row.contains("rebooting") && row.contains("0123456789ab"),
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
}
