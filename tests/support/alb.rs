//! A load balancer started for one test: its own CA, task tracker and state directory, with the
//! health checkers of its target groups running.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;
use tierlab::alb::{LoadBalancerHandle, LocalCa, TargetGroupHandle};
use tierlab::config::{LoadBalancer, TargetGroup};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::BackendHandle;

pub struct Alb {
    pub lb: LoadBalancerHandle,
    pub ca: LocalCa,
    tracker: TaskTracker,
    cancel: CancellationToken,
    state: TempDir,
}

impl Alb {
    /// Starts `cfg` over `groups`; access logs, when the config enables them, go under
    /// [`Alb::access_log_dir`].
    pub async fn start_config(cfg: &LoadBalancer, groups: &[&TargetGroupHandle]) -> Alb {
        super::init_tracing();
        let state = tempfile::tempdir().unwrap();
        let ca = LocalCa::load_or_create(&state.path().join("ca")).unwrap();
        let (tracker, cancel) = (TaskTracker::new(), CancellationToken::new());
        let map: HashMap<String, TargetGroupHandle> = groups
            .iter()
            .map(|g| (g.name().to_string(), (*g).clone()))
            .collect();
        for group in groups {
            group.spawn_health_checks(&tracker, cancel.clone());
        }
        let logs = state.path().join("access-logs");
        let lb =
            LoadBalancerHandle::start_with(cfg, &map, &ca, &tracker, cancel.clone(), Some(&logs))
                .await
                .unwrap();
        Alb {
            lb,
            ca,
            tracker,
            cancel,
            state,
        }
    }

    /// `path` on the first listener.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.lb.endpoints()[0].url)
    }

    pub fn http(&self, path: &str) -> String {
        format!("{}{path}", self.lb.http_url().unwrap())
    }

    pub fn https(&self, path: &str) -> String {
        format!("{}{path}", self.lb.https_url().unwrap())
    }

    pub fn access_log_dir(&self) -> PathBuf {
        self.state_path().join("access-logs")
    }

    pub fn state_path(&self) -> &Path {
        self.state.path()
    }

    /// Cancels and waits for every task (listeners, connections, health checks) to end; keeps
    /// the state directory until the returned guard is dropped (to read access logs).
    pub async fn stop(self) -> TempDir {
        self.cancel.cancel();
        self.tracker.close();
        tokio::time::timeout(Duration::from_secs(15), self.tracker.wait())
            .await
            .expect("load balancer tasks did not stop");
        self.state
    }
}

/// A target group with `backends` registered under their names.
pub fn group_of(cfg: TargetGroup, backends: &[&BackendHandle]) -> TargetGroupHandle {
    let group = TargetGroupHandle::new(cfg);
    for b in backends {
        group.register(b.name(), b.addr);
    }
    group
}
