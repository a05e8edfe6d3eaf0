//! The record of active faults: each with an id, what it is, when it started and when it ends
//! by itself (`--for`), or lasts until `tierlab chaos clear`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::alb::toxics::{Latency, TargetErrors, Toxics};
use crate::rds::detour::PathToxics;

/// The path between two tiers a toxic fault is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The load balancer → its targets (the tasks).
    LbTask,
    /// The tasks → a DB instance (its identifier).
    TaskDb(String),
}

impl Route {
    /// How `list` and the dashboard name it.
    pub fn describe(&self) -> String {
        match self {
            Route::LbTask => "load balancer → tasks".to_string(),
            Route::TaskDb(db) => format!("tasks → database {db}"),
        }
    }
}

/// What a fault is, with what it takes to end it.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// Latency on a path.
    Latency {
        route: Route,
        delay: Duration,
        jitter: Duration,
    },
    /// Connection resets on a path.
    Reset { route: Route, rate: f64 },
    /// A bandwidth limit on a path (each direction).
    Bandwidth { route: Route, bytes_per_second: u64 },
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
            FaultKind::Bandwidth { .. } => "bandwidth",
            FaultKind::HttpErrors { .. } => "http-errors",
            FaultKind::PausedTask { .. } => "pause-task",
            FaultKind::ReplicaLag { .. } => "replica-lag",
            FaultKind::AzOutage { .. } => "az-outage",
        }
    }

    /// The path a toxic fault is on (`None`: not a toxic).
    pub fn route(&self) -> Option<&Route> {
        match self {
            FaultKind::Latency { route, .. }
            | FaultKind::Reset { route, .. }
            | FaultKind::Bandwidth { route, .. } => Some(route),
            _ => None,
        }
    }

    /// Whether it changes the load balancer's path (its toxics).
    pub fn is_toxic(&self) -> bool {
        matches!(self, FaultKind::HttpErrors { .. }) || self.route() == Some(&Route::LbTask)
    }

    /// The DB instance whose path it is on, if it is on a task → database path.
    pub fn database_path(&self) -> Option<&str> {
        match self.route() {
            Some(Route::TaskDb(db)) => Some(db),
            _ => None,
        }
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
            (FaultKind::Latency { route: a, .. }, FaultKind::Latency { route: b, .. })
            | (FaultKind::Reset { route: a, .. }, FaultKind::Reset { route: b, .. })
            | (FaultKind::Bandwidth { route: a, .. }, FaultKind::Bandwidth { route: b, .. }) => {
                a == b
            }
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
/// fault, resets at the combined rate, the bandwidth limit, each failing task's errors.
pub fn toxics_of(faults: &[Fault]) -> Toxics {
    let mut toxics = Toxics::default();
    let mut pass_rate = 1.0;
    for fault in faults {
        if fault.kind.route().is_some_and(|r| *r != Route::LbTask) {
            continue;
        }
        match &fault.kind {
            FaultKind::Latency { delay, jitter, .. } => {
                toxics.latency = Some(Latency {
                    delay: *delay,
                    jitter: *jitter,
                });
            }
            FaultKind::Reset { rate, .. } => pass_rate *= 1.0 - rate.clamp(0.0, 1.0),
            FaultKind::Bandwidth {
                bytes_per_second, ..
            } => toxics.bytes_per_second = Some(*bytes_per_second),
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

/// DB instance `database`'s task → database path with all of `faults` together.
pub fn path_toxics_of(faults: &[Fault], database: &str) -> PathToxics {
    let mut toxics = PathToxics::default();
    let mut pass_rate = 1.0;
    for fault in faults {
        if fault.kind.database_path() != Some(database) {
            continue;
        }
        match &fault.kind {
            FaultKind::Latency { delay, jitter, .. } => {
                toxics.latency = *delay;
                toxics.jitter = *jitter;
            }
            FaultKind::Reset { rate, .. } => pass_rate *= 1.0 - rate.clamp(0.0, 1.0),
            FaultKind::Bandwidth {
                bytes_per_second, ..
            } => toxics.bytes_per_second = Some(*bytes_per_second),
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
        let reset = FaultKind::Reset {
            route: Route::LbTask,
            rate: 0.5,
        };
        let (f, _) = book.add(reset, "r".into(), None);
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
                route: Route::LbTask,
                delay: Duration::from_millis(100),
                jitter: Duration::ZERO,
            },
            "l".into(),
            None,
        );
        let reset = FaultKind::Reset {
            route: Route::LbTask,
            rate: 0.5,
        };
        book.add(reset, "r".into(), None);
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

    #[test]
    fn each_path_takes_only_its_own_faults() {
        let book = ChaosBook::default();
        let db = || Route::TaskDb("db".into());
        let latency = |route| FaultKind::Latency {
            route,
            delay: Duration::from_millis(150),
            jitter: Duration::from_millis(10),
        };
        book.add(latency(db()), "db".into(), None);
        book.add(latency(Route::TaskDb("other".into())), "o".into(), None);
        let reset = FaultKind::Reset {
            route: db(),
            rate: 0.5,
        };
        book.add(reset, "r".into(), None);
        let bandwidth = FaultKind::Bandwidth {
            route: db(),
            bytes_per_second: 1000,
        };
        book.add(bandwidth, "b".into(), None);
        // A newer latency on the same path replaces the older; on another path it does not.
        let (_, replaced) = book.add(latency(db()), "db again".into(), None);
        assert_eq!(replaced.len(), 1);
        assert_eq!(book.faults().len(), 4);
        let path = path_toxics_of(&book.faults(), "db");
        assert_eq!(path.latency, Duration::from_millis(150));
        assert!((path.reset_rate - 0.5).abs() < 1e-9);
        assert_eq!(path.bytes_per_second, Some(1000));
        assert!(path_toxics_of(&book.faults(), "nobody").is_empty());
        // None of them is on the load balancer's path.
        assert!(toxics_of(&book.faults()).is_empty());
    }
}
