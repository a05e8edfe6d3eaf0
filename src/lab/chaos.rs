//! Chaos on a running lab, for demos and rehearsals: one enum, read by the CLI (`tierlab chaos
//! ...`, clap) and sent to the lab's control endpoint (`POST /chaos`, JSON). Adding a kind of
//! chaos is a variant here and its arm in [`LabView::chaos`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::LabView;
use super::replicas::ReplicaDelayError;

/// One kind of chaos and its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, clap::Subcommand)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Chaos {
    /// Delay a read replica (`MASTER_DELAY`): it applies each change DELAY after its source
    /// committed it, so `ReplicaLag` shows in `status`, `/metrics` and `describe-db-instances`.
    /// `0s` removes the delay.
    ReplicaLag {
        /// The read replica's identifier.
        replica: String,
        /// How far behind, e.g. `5s` or `1m` (whole seconds); `0s` removes the delay.
        #[arg(value_parser = parse_delay)]
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
}

/// Why chaos could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    #[error(transparent)]
    ReplicaLag(#[from] ReplicaDelayError),
    #[error(transparent)]
    Zone(#[from] super::zone_outage::ZoneChaosError),
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
                Ok(if seconds == 0 {
                    format!("read replica {replica} applies its source's changes at once again")
                } else {
                    format!(
                        "read replica {replica} now applies each change {seconds}s after its source committed it; watch ReplicaLag in `tierlab status`"
                    )
                })
            }
            Chaos::AzOutage { zone } => Ok(self.az_outage(zone).await?),
            Chaos::AzRestore { zone } => Ok(self.az_restore(zone).await?),
        }
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
