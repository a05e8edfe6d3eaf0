//! What `tierlab status` reports: the running lab's [`LabStatus`], or, when no `up` answers, what
//! Docker still holds of the lab. `--json` prints it with a `running` flag that scripts test
//! first; the running lab's fields sit beside it (`.alb.http_url`, `.services[0].tasks`, ...).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::config::Config;
use crate::docker::{DockerClient, labels};
use crate::error::Error;
use crate::lab::{AlbStatus, LabStatus};

/// The two shapes of `tierlab status --json`, told apart by `running`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StatusReport {
    Running(RunningLab),
    NotRunning(StoppedLab),
}

impl StatusReport {
    pub fn running(status: LabStatus) -> StatusReport {
        StatusReport::Running(RunningLab {
            running: Flag,
            status: Box::new(status),
        })
    }
}

/// A lab whose `up` answered: `{"running": true, ...LabStatus}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningLab {
    pub running: Flag<true>,
    #[serde(flatten)]
    pub status: Box<LabStatus>,
}

/// A lab that no `up` answers for, and what of it Docker still holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoppedLab {
    pub running: Flag<false>,
    pub lab: String,
    pub config: String,
    /// Always `null` here, so `.alb.http_url` reads the same whether the lab runs or not.
    pub alb: Option<AlbStatus>,
    pub containers: Vec<LeftoverContainer>,
    pub networks: Vec<LeftoverNetwork>,
}

/// A container with the lab's labels (`tierlab down` removes it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeftoverContainer {
    pub container_id: Option<String>,
    pub name: Option<String>,
    /// The `tierlab.role` label.
    pub role: Option<String>,
    /// The `tierlab.resource` label.
    pub resource: Option<String>,
    /// Docker's state (`running`, `exited`, ...).
    pub state: Option<String>,
}

/// A network with the lab's labels (`tierlab down` removes it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeftoverNetwork {
    pub network_id: String,
    pub name: String,
    /// The subnet it stands for (`tierlab.resource`).
    pub resource: Option<String>,
}

/// A boolean that is always `V` on the wire, so deserialising a [`StatusReport`] picks the
/// variant by `running` alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flag<const V: bool>;

impl<const V: bool> Serialize for Flag<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bool(V)
    }
}

impl<'de, const V: bool> Deserialize<'de> for Flag<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if bool::deserialize(deserializer)? == V {
            Ok(Flag)
        } else {
            Err(serde::de::Error::custom(format_args!("expected `{V}`")))
        }
    }
}

/// The lab's leftover containers and networks, straight from Docker (none when Docker does not
/// answer: there is nothing to show then, and `status` should still say the lab is down).
pub async fn stopped(config: &Config) -> Result<StoppedLab, Error> {
    let lab = &config.lab.name;
    let mut report = StoppedLab {
        running: Flag,
        lab: lab.clone(),
        config: config.source.display().to_string(),
        alb: None,
        containers: Vec::new(),
        networks: Vec::new(),
    };
    let Ok(docker) = DockerClient::connect().await else {
        return Ok(report);
    };
    report.networks = docker
        .list_network_summaries(labels::filter(lab, None, None))
        .await?
        .into_iter()
        .map(|n| LeftoverNetwork {
            resource: n.labels.get(labels::RESOURCE).cloned(),
            network_id: n.id,
            name: n.name,
        })
        .collect();
    report.containers = docker
        .list_containers(labels::filter(lab, None, None))
        .await?
        .into_iter()
        .map(|c| {
            let labels = c.labels.unwrap_or_default();
            LeftoverContainer {
                container_id: c.id,
                name: c
                    .names
                    .and_then(|n| n.first().cloned())
                    .map(|n| n.trim_start_matches('/').to_string()),
                role: labels.get(labels::ROLE).cloned(),
                resource: labels.get(labels::RESOURCE).cloned(),
                state: c.state.map(|s| s.to_string()),
            }
        })
        .collect();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::sample;
    use super::*;

    /// The control endpoint serialises a `LabStatus`; the CLI reads it back into the same type.
    #[test]
    fn lab_status_round_trips_through_json() {
        for status in [sample::lab_status(), sample::lab_status_with_replica()] {
            let text = serde_json::to_string(&status).unwrap();
            let back: LabStatus = serde_json::from_str(&text).unwrap();
            assert_eq!(back, status);
        }
        let value = serde_json::to_value(sample::lab_status_with_replica()).unwrap();
        assert_eq!(value["databases"][1]["replica_lag"], 5);
        assert_eq!(value["databases"][1]["replication"]["state"], "replicating");
        assert_eq!(
            value["databases"][0]["read_replicas"][0],
            "flask-crud-db-replica"
        );
    }

    #[test]
    fn running_report_keeps_the_paths_scripts_read() {
        let report = StatusReport::running(sample::lab_status());
        let value = serde_json::to_value(&report).unwrap();
        assert_eq!(value["running"], true);
        assert_eq!(value["alb"]["http_url"], "http://127.0.0.1:8080");
        assert_eq!(value["alb"]["https_url"], "https://127.0.0.1:8443");
        assert_eq!(value["services"][0]["running_count"], 1);
        assert_eq!(value["services"][0]["tasks"][0]["health"], "healthy");
        assert_eq!(
            value["services"][0]["tasks"][0]["target_address"],
            "127.0.0.1:41001"
        );
        assert_eq!(value["target_groups"][0]["targets"][1]["state"], "initial");
        assert_eq!(
            value["target_groups"][0]["targets"][1]["reason"],
            "Elb.InitialHealthChecking"
        );
        assert_eq!(value["databases"][0]["status"], "rebooting");
        let back: StatusReport = serde_json::from_value(value).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn stopped_report_has_running_false_and_a_null_alb() {
        let value = json!({
            "running": false, "lab": "t", "config": "t.toml", "alb": null,
            "containers": [{
                "container_id": "abc", "name": "tierlab-t-db", "role": "database",
                "resource": "db", "state": "exited",
            }],
            "networks": [{ "network_id": "n1", "name": "tierlab-t-app-a", "resource": "app-a" }],
        });
        let report: StatusReport = serde_json::from_value(value.clone()).unwrap();
        let StatusReport::NotRunning(stopped) = &report else {
            panic!("read as running: {report:?}");
        };
        assert_eq!(stopped.containers[0].state.as_deref(), Some("exited"));
        assert_eq!(serde_json::to_value(&report).unwrap(), value);
    }

    #[test]
    fn running_flag_decides_the_shape() {
        let mut value = serde_json::to_value(StatusReport::running(sample::lab_status())).unwrap();
        value["running"] = json!(false);
        assert!(serde_json::from_value::<StatusReport>(value).is_err());
    }
}
