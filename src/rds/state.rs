//! What is known about a DB instance right now: its RDS status word, its current container and
//! its recent events. Written by whoever observes the instance (bring-up, the supervisor, the
//! lab's shutdown), read by `status`, the control API and tests.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::events::{EventKind, EventRing, RdsEvent};

/// RDS's `DBInstanceStatus`, for the states tierlab can observe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceStatus {
    /// First start on a new data volume, until the engine answers.
    Creating,
    /// Start on an existing data volume, until the engine answers.
    Starting,
    /// The container runs and `mysqladmin ping` answers.
    Available,
    /// The engine went down (or stopped answering) and is being restarted on its volume, or a
    /// Multi-AZ failover is under way.
    Rebooting,
    /// `modify-db-instance` is being applied (a Multi-AZ standby being added or removed), or a
    /// read replica is being promoted; see [`InstanceState::hold`].
    Modifying,
    /// Restarts keep failing; tierlab keeps retrying with growing pauses.
    Failed,
    /// The lab is shutting down; the engine is being stopped.
    Stopping,
    /// The engine is stopped.
    Stopped,
}

impl InstanceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceStatus::Creating => "creating",
            InstanceStatus::Starting => "starting",
            InstanceStatus::Available => "available",
            InstanceStatus::Rebooting => "rebooting",
            InstanceStatus::Modifying => "modifying",
            InstanceStatus::Failed => "failed",
            InstanceStatus::Stopping => "stopping",
            InstanceStatus::Stopped => "stopped",
        }
    }
}

impl fmt::Display for InstanceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A snapshot of what is observed about one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub status: InstanceStatus,
    /// The container now serving the instance (changes when it had to be recreated).
    pub container_id: String,
    /// Recoveries completed since the lab started.
    pub recoveries: u32,
    pub events: EventRing,
}

/// The shared, watchable state of one instance. Cheap to clone.
#[derive(Debug, Clone)]
pub struct InstanceState {
    identifier: Arc<str>,
    tx: Arc<watch::Sender<Observed>>,
    /// A status an operation shows instead of `available` while it runs ([`InstanceState::hold`]).
    held: Arc<std::sync::Mutex<Option<InstanceStatus>>>,
}

impl InstanceState {
    pub fn new(identifier: &str, status: InstanceStatus, container_id: String) -> InstanceState {
        let observed = Observed {
            status,
            container_id,
            recoveries: 0,
            events: EventRing::default(),
        };
        InstanceState {
            identifier: identifier.into(),
            tx: Arc::new(watch::Sender::new(observed)),
            held: Arc::default(),
        }
    }

    pub fn get(&self) -> Observed {
        self.tx.borrow().clone()
    }

    pub fn status(&self) -> InstanceStatus {
        self.tx.borrow().status
    }

    pub fn container_id(&self) -> String {
        self.tx.borrow().container_id.clone()
    }

    pub fn watch(&self) -> watch::Receiver<Observed> {
        self.tx.subscribe()
    }

    /// Sets the observed status. While an operation holds one ([`InstanceState::hold`]),
    /// `available` shows as the held status (the engine answering does not end the operation);
    /// trouble (`rebooting`, `failed`, ...) shows as it is.
    pub fn set_status(&self, status: InstanceStatus) {
        let held = *self.held.lock().unwrap_or_else(|e| e.into_inner());
        let status = match held {
            Some(held) if status == InstanceStatus::Available => held,
            _ => status,
        };
        self.show(status);
    }

    /// Shows `status` (e.g. `modifying`) until [`InstanceState::release`], whatever the
    /// supervisor observes meanwhile as long as the engine answers.
    pub fn hold(&self, status: InstanceStatus) {
        *self.held.lock().unwrap_or_else(|e| e.into_inner()) = Some(status);
        self.show(status);
    }

    /// Ends a [`InstanceState::hold`]: the status is `status` again (the supervisor's next
    /// observation corrects it if the engine is in trouble).
    pub fn release(&self, status: InstanceStatus) {
        *self.held.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.show(status);
    }

    fn show(&self, status: InstanceStatus) {
        self.tx.send_if_modified(|o| {
            let changed = o.status != status;
            o.status = status;
            changed
        });
    }

    pub fn set_container(&self, container_id: &str) {
        self.tx.send_if_modified(|o| {
            let changed = o.container_id != container_id;
            o.container_id = container_id.to_string();
            changed
        });
    }

    pub(crate) fn count_recovery(&self) {
        self.tx.send_modify(|o| o.recoveries += 1);
    }

    /// Records an event in the ring and logs it once (warn for trouble, else info).
    pub fn record(&self, kind: &EventKind) {
        self.record_as(kind, kind.is_trouble());
    }

    /// Records an event that was asked for (the shutdown of a requested reboot): logged at info
    /// even when the same event unasked would be trouble.
    pub fn record_expected(&self, kind: &EventKind) {
        self.record_as(kind, false);
    }

    fn record_as(&self, kind: &EventKind, trouble: bool) {
        let event = RdsEvent::new(&self.identifier, kind, now_rfc3339());
        if trouble {
            tracing::warn!(
                "database {}: {} {}",
                self.identifier,
                event.event_id,
                event.message
            );
        } else {
            tracing::info!(
                "database {}: {} {}",
                self.identifier,
                event.event_id,
                event.message
            );
        }
        self.tx.send_modify(|o| o.events.push(event));
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words_are_rds_db_instance_status_values() {
        let all = [
            (InstanceStatus::Creating, "creating"),
            (InstanceStatus::Starting, "starting"),
            (InstanceStatus::Available, "available"),
            (InstanceStatus::Rebooting, "rebooting"),
            (InstanceStatus::Failed, "failed"),
            (InstanceStatus::Modifying, "modifying"),
            (InstanceStatus::Stopping, "stopping"),
            (InstanceStatus::Stopped, "stopped"),
        ];
        for (status, word) in all {
            assert_eq!(status.to_string(), word);
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{word}\"")
            );
            let back: InstanceStatus = serde_json::from_str(&format!("\"{word}\"")).unwrap();
            assert_eq!(back, status);
        }
    }

    #[test]
    fn recorded_events_and_status_are_observable() {
        let state = InstanceState::new("db", InstanceStatus::Creating, "c1".into());
        let mut rx = state.watch();
        state.set_status(InstanceStatus::Available);
        assert!(rx.has_changed().unwrap());
        rx.borrow_and_update();
        state.set_status(InstanceStatus::Available);
        assert!(!rx.has_changed().unwrap(), "no change, no notification");
        state.record(&EventKind::Shutdown);
        let observed = state.get();
        assert_eq!(observed.events.len(), 1);
        assert_eq!(
            observed.events.iter().next().unwrap().event_id,
            "RDS-EVENT-0004"
        );
    }

    #[test]
    fn a_held_status_outlasts_available_but_not_trouble() {
        let state = InstanceState::new("db", InstanceStatus::Available, "c1".into());
        state.hold(InstanceStatus::Modifying);
        state.set_status(InstanceStatus::Available);
        assert_eq!(state.status(), InstanceStatus::Modifying);
        state.set_status(InstanceStatus::Rebooting);
        assert_eq!(state.status(), InstanceStatus::Rebooting);
        state.set_status(InstanceStatus::Available);
        assert_eq!(state.status(), InstanceStatus::Modifying);
        state.release(InstanceStatus::Available);
        assert_eq!(state.status(), InstanceStatus::Available);
        state.set_status(InstanceStatus::Available);
        assert_eq!(state.status(), InstanceStatus::Available);
    }
}
