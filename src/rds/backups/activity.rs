//! What the backup machinery is doing to each instance right now: the status word RDS shows
//! meanwhile (`backing-up`, `deleting`) and one lock per instance, so that an automated backup,
//! a manual snapshot and a final snapshot never run `mariadb-backup` on one server at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Shared by the lab's instances; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    status: Arc<Mutex<HashMap<String, &'static str>>>,
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl Activity {
    /// The status word to show instead of the observed one while an operation runs.
    pub fn status_of(&self, identifier: &str) -> Option<&'static str> {
        self.map().get(identifier).copied()
    }

    /// Shows `status` for the instance until the guard is dropped.
    pub fn show(&self, identifier: &str, status: &'static str) -> ShowGuard {
        self.map().insert(identifier.to_string(), status);
        ShowGuard {
            activity: self.clone(),
            identifier: identifier.to_string(),
        }
    }

    /// The instance's backup lock.
    pub fn lock(&self, identifier: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(identifier.to_string())
            .or_default()
            .clone()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, &'static str>> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Clears the shown status when dropped.
#[derive(Debug)]
pub struct ShowGuard {
    activity: Activity,
    identifier: String,
}

impl Drop for ShowGuard {
    fn drop(&mut self) {
        self.activity.map().remove(&self.identifier);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_shows_while_its_guard_lives() {
        let a = Activity::default();
        assert_eq!(a.status_of("db"), None);
        {
            let _g = a.show("db", "backing-up");
            assert_eq!(a.status_of("db"), Some("backing-up"));
        }
        assert_eq!(a.status_of("db"), None);
        assert!(Arc::ptr_eq(&a.lock("db"), &a.lock("db")));
    }
}
