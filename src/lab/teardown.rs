//! Stopping a lab, the one way: cancel its task tree, drain it with a deadline (naming what did
//! not stop), remove its containers and networks (volumes kept, but for an ephemeral lab's), then release the run lock and
//! dismiss the reaper. Used by `Lab::shutdown`, by a cancel of the caller's token, and after a
//! failed start.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::docker::DockerClient;
use crate::error::Error;
use crate::rds;

use super::cleanup::remove_lab;
use super::reaper::Watchdog;
use super::run_lock::RunLock;
use super::tasks::{Tasks, stragglers_warning};

/// How long stopping waits for the lab's tasks (controllers remove their tasks' containers).
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(30);

/// What a lab holds while it runs containers: its run lock and its reaper. Released only after
/// a complete stop; dropped without release (a crash, a failed cleanup), the reaper takes over.
#[derive(Debug, Default)]
pub struct RunGuard {
    pub lock: Option<RunLock>,
    pub watchdog: Option<Watchdog>,
}

impl RunGuard {
    /// Dismisses the reaper (it exits quietly) and releases the lock.
    fn release(self) {
        if let Some(watchdog) = self.watchdog {
            watchdog.dismiss();
        }
        drop(self.lock);
    }
}

/// Everything stopping needs; shared by the lab, its stopper task and `Drop`.
#[derive(Clone)]
pub struct Teardown {
    pub lab: String,
    pub tasks: Tasks,
    pub docker: Option<DockerClient>,
    pub databases: rds::Fleet,
    pub guard: Arc<Mutex<Option<RunGuard>>>,
    /// Set once the lab is completely stopped (nothing left for `Drop`).
    pub stopped: Arc<AtomicBool>,
    /// Flips to true when a stop finished (successfully or not).
    pub done: Arc<tokio::sync::watch::Sender<bool>>,
    /// Remove the lab's volumes too (an ephemeral lab's).
    pub volumes: bool,
}

impl Teardown {
    /// Stops the lab (see the module docs). Repeatable: a second call finds nothing to remove.
    pub async fn run(&self) -> Result<(), Error> {
        let result = self.stop().await;
        self.done.send_replace(true);
        result
    }

    async fn stop(&self) -> Result<(), Error> {
        let left = self.tasks.stop(DRAIN_DEADLINE).await;
        if let Some(warning) = stragglers_warning(&left, DRAIN_DEADLINE) {
            tracing::warn!(
                "lab `{}`: {warning}; removing its containers anyway",
                self.lab
            );
        }
        // The supervisors have stopped: nobody takes the databases' shutdown for a crash.
        for db in &self.databases.list() {
            db.state().set_status(rds::InstanceStatus::Stopping);
        }
        if let Some(docker) = &self.docker {
            remove_lab(docker, &self.lab, self.volumes).await?;
        }
        for db in &self.databases.list() {
            db.state().set_status(rds::InstanceStatus::Stopped);
            db.state().record(&rds::EventKind::Stopped);
        }
        // Only now: a stop that is interrupted or fails half-way leaves the rest to `Drop` and
        // the reaper.
        self.stopped.store(true, Ordering::SeqCst);
        self.release_guard().await;
        Ok(())
    }

    /// Releases the run lock and dismisses the reaper (after a complete stop only).
    pub async fn release_guard(&self) {
        let guard = self.guard.lock().ok().and_then(|mut g| g.take());
        if let Some(guard) = guard {
            let _ = tokio::task::spawn_blocking(move || guard.release()).await;
        }
    }

    /// [`release_guard`](Self::release_guard) from synchronous code (`Drop`).
    pub fn release_guard_blocking(&self) {
        if let Some(guard) = self.guard.lock().ok().and_then(|mut g| g.take()) {
            guard.release();
        }
    }
}
