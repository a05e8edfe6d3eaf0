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
        Some(file) => control::request(file.address, http::Method::GET, "/status")
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

/// The status when no `up` answers: the lab's leftover containers, straight from Docker.
async fn not_running(config: &Config) -> Result<Value, Error> {
    let lab = &config.lab.name;
    let containers = match DockerClient::connect().await {
        Ok(docker) => docker
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
        Err(_) => Vec::new(),
    };
    Ok(json!({
        "lab": lab,
        "config": config.source.display().to_string(),
        "running": false,
        "alb": null,
        "containers": containers,
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
