//! Which task containers the lab's controllers own, for the orphan sweep.
//!
//! A controller claims a task id *before* it creates the container and releases it only once the
//! container is removed, or when removing it failed (the sweep then retries). So a task
//! container whose id is not claimed, read after listing containers, belongs to no controller.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Task ids claimed by live controllers; cheap to clone, shared by the lab's controllers.
#[derive(Debug, Clone, Default)]
pub struct Claims {
    // A std mutex: held for a set operation only, never across an await.
    inner: Arc<Mutex<HashSet<String>>>,
}

impl Claims {
    pub fn claim(&self, task_id: &str) {
        self.lock().insert(task_id.to_string());
    }

    pub fn release(&self, task_id: &str) {
        self.lock().remove(task_id);
    }

    pub fn contains(&self, task_id: &str) -> bool {
        self.lock().contains(task_id)
    }

    /// The claimed ids at this moment.
    pub fn snapshot(&self) -> HashSet<String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // A panic while holding the lock leaves a set that is still valid.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_shared_between_clones() {
        let a = Claims::default();
        let b = a.clone();
        a.claim("t1");
        assert!(b.contains("t1"));
        b.release("t1");
        assert!(!a.contains("t1"));
        assert!(a.snapshot().is_empty());
    }
}
