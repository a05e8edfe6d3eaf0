//! The lab's one task tree, with names: every loop a lab runs belongs to a named group
//! ("health checks of target group flask-tg", "service controller flask-app-service",
//! "control endpoint"...). A group is a `TaskTracker` and a child of the lab's root
//! `CancellationToken`, so the subsystems keep their `(&TaskTracker, CancellationToken)`
//! signatures and may spawn as many tasks (connections, tunnels) as they need.
//!
//! Stopping is one shape: cancel the root, wait for every group up to a deadline, then name
//! each group that did not stop. A group that keeps running after cancel is a bug in its loop;
//! the warning says which one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The named task groups of one lab under one root token; cheap to clone (shared).
#[derive(Clone, Debug)]
pub struct Tasks {
    root: CancellationToken,
    groups: Arc<Mutex<Vec<Group>>>,
}

#[derive(Clone, Debug)]
struct Group {
    name: String,
    tracker: TaskTracker,
}

/// A group that was still running when the drain gave up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Straggler {
    pub name: String,
    /// Tasks of the group still running.
    pub tasks: usize,
}

impl std::fmt::Display for Straggler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = if self.tasks == 1 { "" } else { "s" };
        write!(f, "{} ({} task{s})", self.name, self.tasks)
    }
}

impl Tasks {
    /// A tree under `root`: cancelling `root` (the caller's token) stops every group.
    pub fn new(root: CancellationToken) -> Tasks {
        Tasks {
            root,
            groups: Arc::default(),
        }
    }

    /// The root token (cancelled: the lab is stopping).
    pub fn root(&self) -> &CancellationToken {
        &self.root
    }

    /// A new named group: a tracker to spawn its tasks on and a child token of the root that
    /// they stop on.
    pub fn group(&self, name: impl Into<String>) -> (TaskTracker, CancellationToken) {
        let tracker = TaskTracker::new();
        self.lock().push(Group {
            name: name.into(),
            tracker: tracker.clone(),
        });
        (tracker, self.root.child_token())
    }

    /// Spawns one task as a group of its own; `task` gets the group's token.
    pub fn spawn<F, Fut>(&self, name: impl Into<String>, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (tracker, cancel) = self.group(name);
        tracker.spawn(task(cancel));
    }

    /// Groups with tasks still running, in the order they were made.
    pub fn running(&self) -> Vec<Straggler> {
        self.lock()
            .iter()
            .filter(|g| !g.tracker.is_empty())
            .map(|g| Straggler {
                name: g.name.clone(),
                tasks: g.tracker.len(),
            })
            .collect()
    }

    /// Cancels the root and waits up to `deadline` for every group to finish; returns the
    /// groups that did not (empty: all stopped). Groups made later are still waited for by a
    /// second call.
    pub async fn stop(&self, deadline: Duration) -> Vec<Straggler> {
        self.root.cancel();
        let trackers: Vec<TaskTracker> = self.lock().iter().map(|g| g.tracker.clone()).collect();
        let all = async {
            for tracker in &trackers {
                tracker.close();
                tracker.wait().await;
            }
        };
        let _ = tokio::time::timeout(deadline, all).await;
        self.running()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Group>> {
        // A panic while holding this lock cannot leave the list half-changed (one push).
        self.groups.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The warning that names what did not stop, or `None` when everything did.
pub fn stragglers_warning(stragglers: &[Straggler], deadline: Duration) -> Option<String> {
    if stragglers.is_empty() {
        return None;
    }
    let names: Vec<String> = stragglers.iter().map(ToString::to_string).collect();
    Some(format!(
        "these tasks did not stop within {deadline:?} of the cancel: {}",
        names.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cancel_stops_groups_and_nothing_is_left() {
        let tasks = Tasks::new(CancellationToken::new());
        for name in ["a", "b"] {
            tasks.spawn(name, |cancel| async move { cancel.cancelled().await });
        }
        assert_eq!(tasks.running().len(), 2);
        assert!(tasks.stop(Duration::from_secs(5)).await.is_empty());
        assert!(tasks.running().is_empty());
    }

    #[tokio::test]
    async fn the_callers_token_is_the_root() {
        let root = CancellationToken::new();
        let tasks = Tasks::new(root.clone());
        let (tracker, cancel) = tasks.group("loop");
        tracker.spawn(async move { cancel.cancelled().await });
        root.cancel();
        tracker.close();
        tokio::time::timeout(Duration::from_secs(5), tracker.wait())
            .await
            .expect("the group stops when the caller's token is cancelled");
    }

    #[tokio::test]
    async fn a_task_that_ignores_cancel_is_named() {
        let tasks = Tasks::new(CancellationToken::new());
        tasks.spawn("polite", |cancel| async move { cancel.cancelled().await });
        let (tracker, _cancel) = tasks.group("stubborn loop");
        tracker.spawn(std::future::pending::<()>());
        tracker.spawn(std::future::pending::<()>());
        let left = tasks.stop(Duration::from_millis(200)).await;
        assert_eq!(
            left,
            vec![Straggler {
                name: "stubborn loop".into(),
                tasks: 2
            }]
        );
        assert_eq!(
            stragglers_warning(&left, Duration::from_secs(1)).unwrap(),
            "these tasks did not stop within 1s of the cancel: stubborn loop (2 tasks)"
        );
        assert_eq!(stragglers_warning(&[], Duration::from_secs(1)), None);
    }
}
