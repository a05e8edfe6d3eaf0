//! Chaos on a running lab, for demos and rehearsals: one enum, read by the CLI (`tierlab chaos
//! ...`, clap) and sent to the lab's control endpoint (`POST /chaos`, JSON). Adding a kind of
//! chaos is a variant here and its arm in [`LabView::chaos`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::LabView;
use super::replicas::ReplicaDelayError;

/// One kind of chaos and its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Subcommand)]
// Unknown fields are refused, not ignored: a `for` on a kind that takes none, or a misspelt
// key in a scenario file, must not pass for a fault that ends by itself.
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Chaos {
    /// Delay a read replica (`MASTER_DELAY`): it applies each change DELAY after its source
    /// committed it, so `ReplicaLag` shows in `status`, `/metrics` and `describe-db-instances`.
    /// `0s` removes the delay.
    ReplicaLag {
        /// The read replica's identifier.
        replica: String,
        /// How far behind, e.g. `5s` or `1m` (whole seconds); `0s` removes the delay.
        #[arg(value_parser = parse_delay)]
        #[serde(with = "text_duration")]
        delay: Duration,
    },
    /// Take an availability zone down: the lab's tasks and database nodes there are killed,
    /// services place tasks only in the other zones, a Multi-AZ primary there fails over, and
    /// nothing starts there again until `az-restore`.
    AzOutage {
        /// The zone, e.g. `us-east-1a`.
        zone: String,
    },
    /// Bring a zone taken down by `az-outage` back: services rebalance into it, databases
    /// recover there.
    AzRestore {
        /// The zone, e.g. `us-east-1a`.
        zone: String,
    },
    /// Fail a Multi-AZ DB instance over to its standby, as `aws rds reboot-db-instance
    /// --force-failover` does: the primary is fenced, the standby promoted, the endpoint moves.
    DbFailover {
        /// The DB instance (default: the lab's first one that is not a replica).
        #[arg(long)]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        database: Option<String>,
    },
    /// Kill a task's container abruptly (SIGKILL, no draining): its service sees the essential
    /// container exit and starts a replacement.
    KillTask {
        /// The task id, a unique prefix of it or its ARN (default: a running task of the first
        /// service).
        task: Option<String>,
    },
    /// Freeze every process of a task (the hung-process case: it accepts connections and never
    /// answers), until `--for` runs out or `tierlab chaos clear`; the target group's health
    /// checks must catch it.
    PauseTask {
        /// The task id, a unique prefix of it or its ARN (default: a running task of the first
        /// service).
        task: Option<String>,
        /// How long (e.g. `30s`); without it, until `tierlab chaos clear`.
        #[arg(long = "for", value_parser = parse_lasting)]
        #[serde(default, rename = "for", with = "text_duration::option")]
        lasting: Option<Duration>,
    },
    /// Add latency (and jitter) between two tiers: on `lb-task` every attempt of the load
    /// balancer on a target waits DELAY plus up to JITTER; on `task-db` every answer of the
    /// database to the tasks does (their connections go through a proxy meanwhile).
    Latency {
        /// Which path: `lb-task` or `task-db`.
        path: TierPath,
        /// Added to every request on the path, e.g. `200ms`.
        #[arg(value_parser = parse_lasting)]
        #[serde(with = "text_duration")]
        delay: Duration,
        /// Up to this much more, uniformly (e.g. `50ms`).
        #[arg(long, value_parser = parse_lasting, default_value = "0s")]
        #[serde(default, with = "text_duration")]
        jitter: Duration,
        /// On `task-db`: the DB instance (default: the lab's first one that is not a replica).
        #[arg(long)]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        database: Option<String>,
        /// How long (e.g. `30s`); without it, until `tierlab chaos clear`.
        #[arg(long = "for", value_parser = parse_lasting)]
        #[serde(default, rename = "for", with = "text_duration::option")]
        lasting: Option<Duration>,
    },
    /// Reset connections between two tiers: a fraction RATE of the load balancer's attempts on
    /// its targets is reset before the response (`lb-task`), or of the tasks' new connections
    /// to the database as they open (`task-db`).
    Reset {
        /// Which path: `lb-task` or `task-db`.
        path: TierPath,
        /// The fraction of connections reset, 0 to 1.
        #[arg(long, default_value_t = 1.0, value_parser = parse_rate)]
        #[serde(default = "all")]
        rate: f64,
        /// On `task-db`: the DB instance (default: the lab's first one that is not a replica).
        #[arg(long)]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        database: Option<String>,
        /// How long (e.g. `30s`); without it, until `tierlab chaos clear`.
        #[arg(long = "for", value_parser = parse_lasting)]
        #[serde(default, rename = "for", with = "text_duration::option")]
        lasting: Option<Duration>,
    },
    /// Limit the bandwidth between two tiers to RATE (e.g. `64KB/s`, `1MB/s`; KB = 1000
    /// bytes): the targets' answers to the load balancer (`lb-task`), or both directions of the
    /// tasks' database connections (`task-db`).
    Bandwidth {
        /// Which path: `lb-task` or `task-db`.
        path: TierPath,
        /// Bytes per second: `500B/s`, `64KB/s`, `2MB/s`.
        #[arg(value_parser = parse_bandwidth)]
        #[serde(with = "text_bandwidth")]
        rate: u64,
        /// On `task-db`: the DB instance (default: the lab's first one that is not a replica).
        #[arg(long)]
        #[serde(default, skip_serializing_if = "Option::is_none")]
        database: Option<String>,
        /// How long (e.g. `30s`); without it, until `tierlab chaos clear`.
        #[arg(long = "for", value_parser = parse_lasting)]
        #[serde(default, rename = "for", with = "text_duration::option")]
        lasting: Option<Duration>,
    },
    /// Make a task answer an error status (500 unless --status) for a fraction RATE of its
    /// requests.
    HttpErrors {
        /// The task id, a unique prefix of it or its ARN (default: a running task of the first
        /// service).
        task: Option<String>,
        /// The fraction of its requests that fail, 0 to 1.
        #[arg(long, default_value_t = 1.0, value_parser = parse_rate)]
        #[serde(default = "all")]
        rate: f64,
        /// The status it answers (500-599).
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(500..=599))]
        #[serde(default = "internal_error")]
        status: u16,
        /// How long (e.g. `30s`); without it, until `tierlab chaos clear`.
        #[arg(long = "for", value_parser = parse_lasting)]
        #[serde(default, rename = "for", with = "text_duration::option")]
        lasting: Option<Duration>,
    },
    /// List the faults active now.
    List,
    /// End every active fault (unpause tasks, remove latency, resets and errors, end replica
    /// lag, restore zones).
    Clear,
}

/// A path between two tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TierPath {
    /// The load balancer → its targets (the tasks).
    LbTask,
    /// The tasks → the database.
    TaskDb,
}

/// Durations on the wire as people write them (`"300ms"`, `"1m 30s"`), in the JSON the
/// control endpoint and the dashboard send as in scenario files.
mod text_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            match Option::<String>::deserialize(d)? {
                Some(text) => humantime::parse_duration(&text)
                    .map(Some)
                    .map_err(serde::de::Error::custom),
                None => Ok(None),
            }
        }
    }
}

/// Bandwidths on the wire as people write them (`"64KB/s"`).
mod text_bandwidth {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(rate: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_bandwidth(*rate))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        super::parse_bandwidth(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A bandwidth: a number and `B/s`, `KB/s` or `MB/s` (powers of 1000, as Toxiproxy's KB/s),
/// at least 1 B/s.
pub fn parse_bandwidth(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let units = [("MB/s", 1_000_000.0), ("KB/s", 1_000.0), ("B/s", 1.0)];
    let Some((number, scale)) = units.iter().find_map(|(unit, scale)| {
        trimmed
            .strip_suffix(unit)
            .or_else(|| trimmed.strip_suffix(&unit.to_lowercase()))
            .map(|n| (n.trim(), *scale))
    }) else {
        return Err(format!(
            "{text:?} is not a bandwidth: give a number and B/s, KB/s or MB/s (e.g. 64KB/s)"
        ));
    };
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && n * scale >= 1.0 => Ok((n * scale).round() as u64),
        _ => Err(format!(
            "{text:?} is not a bandwidth of at least 1B/s (e.g. 64KB/s)"
        )),
    }
}

/// `64KB/s` for 64000: the largest unit that divides it.
pub fn format_bandwidth(rate: u64) -> String {
    match rate {
        r if r >= 1_000_000 && r % 1_000_000 == 0 => format!("{}MB/s", r / 1_000_000),
        r if r >= 1_000 && r % 1_000 == 0 => format!("{}KB/s", r / 1_000),
        r => format!("{r}B/s"),
    }
}

fn all() -> f64 {
    1.0
}

fn internal_error() -> u16 {
    500
}

/// Why chaos could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    #[error(transparent)]
    ReplicaLag(#[from] ReplicaDelayError),
    #[error(transparent)]
    Zone(#[from] super::zone_outage::ZoneChaosError),
    #[error(transparent)]
    Fault(#[from] super::chaos_faults::FaultError),
}

impl ChaosError {
    /// Whether the request was wrong (HTTP 400) rather than the lab failing to do it (500).
    pub fn is_request_error(&self) -> bool {
        match self {
            ChaosError::ReplicaLag(e) => matches!(
                e,
                ReplicaDelayError::NoSuchInstance { .. }
                    | ReplicaDelayError::NotAReplica(_)
                    | ReplicaDelayError::NotAvailable { .. }
            ),
            ChaosError::Zone(e) => e.is_request_error(),
            ChaosError::Fault(e) => e.is_request_error(),
        }
    }
}

impl LabView {
    /// Applies `chaos`; returns what it did, in a sentence.
    pub async fn chaos(&self, chaos: &Chaos) -> Result<String, ChaosError> {
        match chaos {
            Chaos::ReplicaLag { replica, delay } => {
                let seconds = delay.as_secs();
                self.rds().set_replica_delay(replica, seconds).await?;
                self.record_replica_lag(replica, seconds);
                Ok(if seconds == 0 {
                    format!("read replica {replica} applies its source's changes at once again")
                } else {
                    format!(
                        "read replica {replica} now applies each change {seconds}s after its source committed it; watch ReplicaLag in `tierlab status`"
                    )
                })
            }
            Chaos::AzOutage { zone } => {
                let said = self.az_outage(zone).await?;
                self.record_az_outage(zone);
                Ok(said)
            }
            Chaos::AzRestore { zone } => {
                self.forget_az_outage(zone);
                Ok(self.az_restore(zone).await?)
            }
            Chaos::DbFailover { database } => Ok(self.db_failover(database.as_deref()).await?),
            Chaos::KillTask { task } => Ok(self.kill_task(task.as_deref()).await?),
            Chaos::PauseTask { task, lasting } => {
                Ok(self.pause_task(task.as_deref(), *lasting).await?)
            }
            Chaos::Latency {
                path,
                delay,
                jitter,
                database,
                lasting,
            } => {
                let route = self.route(*path, database.as_deref())?;
                Ok(self.latency(route, *delay, *jitter, *lasting).await?)
            }
            Chaos::Reset {
                path,
                rate,
                database,
                lasting,
            } => {
                let route = self.route(*path, database.as_deref())?;
                Ok(self.reset(route, *rate, *lasting).await?)
            }
            Chaos::Bandwidth {
                path,
                rate,
                database,
                lasting,
            } => {
                let route = self.route(*path, database.as_deref())?;
                Ok(self.bandwidth(route, *rate, *lasting).await?)
            }
            Chaos::HttpErrors {
                task,
                rate,
                status,
                lasting,
            } => Ok(self
                .http_errors(task.as_deref(), *rate, *status, *lasting)
                .await?),
            Chaos::List => Ok(self.list_faults()),
            Chaos::Clear => Ok(self.clear_faults().await?),
        }
    }
}

/// How long a fault lasts, or a latency: a duration (`200ms`, `30s`), at most a day.
fn parse_lasting(text: &str) -> Result<Duration, String> {
    let lasting = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if lasting > Duration::from_secs(86_400) {
        return Err("at most a day (24h)".into());
    }
    Ok(lasting)
}

/// A fraction from 0 to 1.
fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!(
            "{text:?} is not a fraction from 0 to 1 (e.g. 0.25)"
        )),
    }
}

/// A delay in whole seconds (`5s`, `1m`, `0s`), at most a day.
fn parse_delay(text: &str) -> Result<Duration, String> {
    let delay = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if delay.subsec_nanos() != 0 {
        return Err("must be whole seconds (MASTER_DELAY counts seconds)".into());
    }
    if delay > Duration::from_secs(86_400) {
        return Err("at most a day (86400s)".into());
    }
    Ok(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_whole_seconds_up_to_a_day() {
        assert_eq!(parse_delay("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_delay("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_delay("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_delay("1500ms").unwrap_err().contains("whole seconds"));
        assert!(parse_delay("2d").unwrap_err().contains("at most a day"));
        assert!(parse_delay("soon").is_err());
    }

    #[test]
    fn durations_and_rates_are_checked() {
        assert_eq!(parse_lasting("200ms"), Ok(Duration::from_millis(200)));
        assert!(parse_lasting("2d").is_err());
        assert_eq!(parse_rate("0.25"), Ok(0.25));
        assert!(parse_rate("1.5").unwrap_err().contains("fraction"));
        assert!(parse_rate("x").is_err());
    }

    #[test]
    fn bandwidths_read_and_print_in_their_units() {
        assert_eq!(parse_bandwidth("64KB/s"), Ok(64_000));
        assert_eq!(parse_bandwidth("1.5MB/s"), Ok(1_500_000));
        assert_eq!(parse_bandwidth("500 B/s"), Ok(500));
        assert_eq!(parse_bandwidth("2kb/s"), Ok(2_000));
        assert!(
            parse_bandwidth("64")
                .unwrap_err()
                .contains("B/s, KB/s or MB/s")
        );
        assert!(
            parse_bandwidth("0KB/s")
                .unwrap_err()
                .contains("at least 1B/s")
        );
        assert_eq!(format_bandwidth(64_000), "64KB/s");
        assert_eq!(format_bandwidth(2_000_000), "2MB/s");
        assert_eq!(format_bandwidth(1_500), "1500B/s");
        let chaos: Chaos = serde_json::from_value(serde_json::json!({
            "kind": "bandwidth", "path": "task-db", "rate": "64KB/s", "database": "db"
        }))
        .unwrap();
        assert_eq!(
            chaos,
            Chaos::Bandwidth {
                path: TierPath::TaskDb,
                rate: 64_000,
                database: Some("db".into()),
                lasting: None
            }
        );
        assert_eq!(serde_json::to_value(&chaos).unwrap()["rate"], "64KB/s");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let error = serde_json::from_value::<Chaos>(serde_json::json!({
            "kind": "replica-lag", "replica": "r", "delay": "5s", "for": "30s"
        }))
        .unwrap_err();
        assert!(error.to_string().contains("unknown field `for`"), "{error}");
        let error = serde_json::from_value::<Chaos>(serde_json::json!({
            "kind": "latency", "path": "lb-task", "delay": "5ms", "jiter": "1ms"
        }))
        .unwrap_err();
        assert!(
            error.to_string().contains("unknown field `jiter`"),
            "{error}"
        );
    }

    #[test]
    fn faults_with_durations_travel_as_json() {
        let chaos = Chaos::Latency {
            path: TierPath::LbTask,
            delay: Duration::from_millis(200),
            jitter: Duration::ZERO,
            database: None,
            lasting: Some(Duration::from_secs(30)),
        };
        let json = serde_json::to_value(&chaos).unwrap();
        assert_eq!(json["kind"], "latency");
        assert_eq!(json["path"], "lb-task");
        assert_eq!(json["delay"], "200ms");
        assert_eq!(json["for"], "30s");
        assert_eq!(serde_json::from_value::<Chaos>(json).unwrap(), chaos);
        let errors: Chaos =
            serde_json::from_value(serde_json::json!({"kind": "http-errors"})).unwrap();
        assert_eq!(
            errors,
            Chaos::HttpErrors {
                task: None,
                rate: 1.0,
                status: 500,
                lasting: None
            }
        );
    }

    #[test]
    fn chaos_travels_as_tagged_json() {
        let chaos = Chaos::ReplicaLag {
            replica: "r".into(),
            delay: Duration::from_secs(5),
        };
        let json = serde_json::to_value(&chaos).unwrap();
        assert_eq!(json["kind"], "replica-lag");
        assert_eq!(json["replica"], "r");
        assert_eq!(serde_json::from_value::<Chaos>(json).unwrap(), chaos);
    }
}
