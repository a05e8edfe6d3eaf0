//! The record of active faults: each with an id, what it is, when it started and when it ends
//! by itself (`--for`), or lasts until `tierlab chaos clear`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::alb::toxics::{Latency, TargetErrors, Toxics};

/// What a fault is, with what it takes to end it.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// Latency on the load balancer → task path.
    Latency { delay: Duration, jitter: Duration },
    /// Connection resets on the load balancer → task path.
    Reset { rate: f64 },
    /// One task answers an error status for a fraction of requests.
    HttpErrors {
        task_id: String,
        target: SocketAddr,
        rate: f64,
        status: u16,
    },
    /// One task's processes all stopped (frozen).
    PausedTask {
        task_id: String,
        container_id: String,
    },
    /// A read replica applying changes late.
    ReplicaLag { replica: String },
    /// An availability zone down.
    AzOutage { zone: String },
}

impl FaultKind {
    /// The kind as `tierlab chaos` names it.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Latency { .. } => "latency",
            FaultKind::Reset { .. } => "reset",
            FaultKind::HttpErrors { .. } => "http-errors",
            FaultKind::PausedTask { .. } => "pause-task",
            FaultKind::ReplicaLag { .. } => "replica-lag",
            FaultKind::AzOutage { .. } => "az-outage",
        }
    }

    /// Whether it changes the load balancer's path (its toxics).
    pub fn is_toxic(&self) -> bool {
        matches!(
            self,
            FaultKind::Latency { .. } | FaultKind::Reset { .. } | FaultKind::HttpErrors { .. }
        )
    }

    /// Two faults of which the newer replaces the older (the same replica's lag, the same
    /// zone, the same task paused or failing).
    fn replaces(&self, older: &FaultKind) -> bool {
        match (self, older) {
            (FaultKind::ReplicaLag { replica: a }, FaultKind::ReplicaLag { replica: b }) => a == b,
            (FaultKind::AzOutage { zone: a }, FaultKind::AzOutage { zone: b }) => a == b,
            (
                FaultKind::PausedTask { task_id: a, .. },
                FaultKind::PausedTask { task_id: b, .. },
            ) => a == b,
            (
                FaultKind::HttpErrors { task_id: a, .. },
                FaultKind::HttpErrors { task_id: b, .. },
            ) => a == b,
            (FaultKind::Latency { .. }, FaultKind::Latency { .. }) => true,
            (FaultKind::Reset { .. }, FaultKind::Reset { .. }) => true,
            _ => false,
        }
    }
}

/// One active fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub id: u64,
    pub kind: FaultKind,
    /// What it does, in a sentence (what `list` shows).
    pub description: String,
    /// RFC 3339.
    pub started_at: String,
    /// When it ends by itself (RFC 3339); `None`: until cleared.
    pub ends_at: Option<String>,
}

/// A fault as `status`, `tierlab chaos list` and the dashboard show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultStatus {
    pub id: u64,
    pub kind: String,
    pub description: String,
    pub started_at: String,
    pub ends_at: Option<String>,
}

impl From<&Fault> for FaultStatus {
    fn from(f: &Fault) -> FaultStatus {
        FaultStatus {
            id: f.id,
            kind: f.kind.name().to_string(),
            description: f.description.clone(),
            started_at: f.started_at.clone(),
            ends_at: f.ends_at.clone(),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    faults: Vec<Fault>,
}

/// The lab's active faults; cheap to clone (clones share them).
#[derive(Debug, Clone, Default)]
pub struct ChaosBook(Arc<Mutex<State>>);

impl ChaosBook {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a fault (ending `lasting` from now, if given); returns it and the older faults
    /// it replaces (already ended in the record: the caller undoes nothing for them, as the
    /// new one takes their place).
    pub fn add(
        &self,
        kind: FaultKind,
        description: String,
        lasting: Option<Duration>,
    ) -> (Fault, Vec<Fault>) {
        let now = std::time::SystemTime::now();
        let mut state = self.lock();
        state.next_id += 1;
        let fault = Fault {
            id: state.next_id,
            description,
            started_at: humantime::format_rfc3339_seconds(now).to_string(),
            ends_at: lasting.map(|d| humantime::format_rfc3339_seconds(now + d).to_string()),
            kind,
        };
        let (replaced, kept): (Vec<Fault>, Vec<Fault>) = std::mem::take(&mut state.faults)
            .into_iter()
            .partition(|old| fault.kind.replaces(&old.kind));
        state.faults = kept;
        state.faults.push(fault.clone());
        (fault, replaced)
    }

    /// Takes fault `id` out of the record (it has ended); `None` if it already had.
    pub fn remove(&self, id: u64) -> Option<Fault> {
        let mut state = self.lock();
        let at = state.faults.iter().position(|f| f.id == id)?;
        Some(state.faults.remove(at))
    }

    /// Takes out the faults `which` selects.
    pub fn remove_where(&self, which: impl Fn(&FaultKind) -> bool) -> Vec<Fault> {
        let mut state = self.lock();
        let (gone, kept) = std::mem::take(&mut state.faults)
            .into_iter()
            .partition(|f| which(&f.kind));
        state.faults = kept;
        gone
    }

    /// The active faults, oldest first.
    pub fn faults(&self) -> Vec<Fault> {
        self.lock().faults.clone()
    }

    pub fn status(&self) -> Vec<FaultStatus> {
        self.lock().faults.iter().map(FaultStatus::from).collect()
    }
}

/// The load balancer's path with all of `faults` together: the latency of the (one) latency
/// fault, resets at the combined rate, each failing task's errors.
pub fn toxics_of(faults: &[Fault]) -> Toxics {
    let mut toxics = Toxics::default();
    let mut pass_rate = 1.0;
    for fault in faults {
        match &fault.kind {
            FaultKind::Latency { delay, jitter } => {
                toxics.latency = Some(Latency {
                    delay: *delay,
                    jitter: *jitter,
                });
            }
            FaultKind::Reset { rate } => pass_rate *= 1.0 - rate.clamp(0.0, 1.0),
            FaultKind::HttpErrors {
                target,
                rate,
                status,
                ..
            } => toxics.errors.push(TargetErrors {
                target: *target,
                rate: *rate,
                status: *status,
            }),
            _ => {}
        }
    }
    toxics.reset_rate = 1.0 - pass_rate;
    toxics
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_fault_of_the_same_thing_replaces_the_older() {
        let book = ChaosBook::default();
        let lag = |r: &str| FaultKind::ReplicaLag { replica: r.into() };
        let (a, replaced) = book.add(lag("r1"), "r1 5s".into(), None);
        assert!(replaced.is_empty());
        book.add(lag("r2"), "r2 5s".into(), Some(Duration::from_secs(30)));
        let (_, replaced) = book.add(lag("r1"), "r1 9s".into(), None);
        assert_eq!(replaced, vec![a]);
        let listed = book.status();
        assert_eq!(listed.len(), 2);
        assert!(listed[0].ends_at.is_some() && listed[1].ends_at.is_none());
        assert_eq!(listed[1].kind, "replica-lag");
    }

    #[test]
    fn faults_end_by_id_or_by_kind() {
        let book = ChaosBook::default();
        let (f, _) = book.add(FaultKind::Reset { rate: 0.5 }, "r".into(), None);
        book.add(FaultKind::AzOutage { zone: "z".into() }, "z".into(), None);
        assert_eq!(book.remove(f.id).map(|f| f.id), Some(f.id));
        assert_eq!(book.remove(f.id), None);
        let gone = book.remove_where(|k| matches!(k, FaultKind::AzOutage { .. }));
        assert_eq!(gone.len(), 1);
        assert!(book.faults().is_empty());
    }

    #[test]
    fn the_path_combines_every_toxic_fault() {
        let book = ChaosBook::default();
        let target = SocketAddr::from(([127, 0, 0, 1], 9000));
        book.add(
            FaultKind::Latency {
                delay: Duration::from_millis(100),
                jitter: Duration::ZERO,
            },
            "l".into(),
            None,
        );
        book.add(FaultKind::Reset { rate: 0.5 }, "r".into(), None);
        book.add(
            FaultKind::HttpErrors {
                task_id: "t".into(),
                target,
                rate: 0.3,
                status: 500,
            },
            "e".into(),
            None,
        );
        book.add(FaultKind::AzOutage { zone: "z".into() }, "z".into(), None);
        let toxics = toxics_of(&book.faults());
        assert_eq!(toxics.latency.unwrap().delay, Duration::from_millis(100));
        assert!((toxics.reset_rate - 0.5).abs() < 1e-9);
        assert_eq!(toxics.errors.len(), 1);
        assert!(toxics_of(&[]).is_empty());
    }
}
