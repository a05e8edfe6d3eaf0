//! The data plane's threads: one single-threaded tokio runtime per core. Each thread accepts on
//! its own `SO_REUSEPORT` socket of every listener (the kernel spreads new connections over
//! them by their addresses) and keeps its own keep-alive connections to targets (the pool's
//! shard of that thread). A client connection, its requests and the target connections they use
//! stay on one thread: no work stealing and no hand-off between cores on the request path,
//! which is where a work-stealing runtime spends its wake-ups.
//!
//! Everything else (health checks, the control plane, Docker) stays on the lab's runtime.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

thread_local! {
    /// The index of the data-plane thread this is, on one.
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The data-plane thread the caller runs on (`0..threads`), or `None` elsewhere (the lab's
/// runtime, a test's).
pub fn current_worker() -> Option<usize> {
    WORKER.get()
}

/// How many threads a load balancer's data plane gets: `data-plane-threads` when set, else
/// one per CPU this process may use.
pub fn threads_for(configured: Option<std::num::NonZeroU32>) -> usize {
    match configured {
        Some(n) => n.get() as usize,
        None => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
    }
}

/// A load balancer's data-plane threads; cheap to clone (shared).
#[derive(Clone)]
pub struct DataPlane {
    inner: Arc<Inner>,
}

struct Inner {
    workers: Vec<Handle>,
    /// Every task that may run on a worker, and those of the load balancer that must end before
    /// the workers do: a worker's runtime lives until this is closed and empty.
    tasks: TaskTracker,
    /// Client connections each worker accepted.
    accepted: Vec<AtomicU64>,
}

impl std::fmt::Debug for DataPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataPlane")
            .field("threads", &self.threads())
            .field("accepted", &self.accepted())
            .finish()
    }
}

impl DataPlane {
    /// Starts `threads` data-plane threads (`alb-0`, `alb-1`, ...). They run until `cancel`
    /// fires and [`tracker`](Self::tracker)'s tasks have ended; `outer` (the lab's tree) tracks
    /// them, so waiting on it waits for the threads to finish.
    pub fn start(
        threads: usize,
        outer: &TaskTracker,
        cancel: CancellationToken,
    ) -> io::Result<DataPlane> {
        let tasks = TaskTracker::new();
        // Its own child token: a failed start ends the threads it started, and only those.
        let cancel = cancel.child_token();
        let mut workers = Vec::with_capacity(threads);
        let mut exits = Vec::with_capacity(threads);
        for index in 0..threads {
            let (started_tx, started_rx) = std::sync::mpsc::channel();
            let (exit_tx, exit_rx) = oneshot::channel::<()>();
            let (tasks, stop) = (tasks.clone(), cancel.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("alb-{index}"))
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    let runtime = match runtime {
                        Ok(runtime) => runtime,
                        Err(e) => {
                            let _ = started_tx.send(Err(e));
                            return;
                        }
                    };
                    WORKER.set(Some(index));
                    let _ = started_tx.send(Ok(runtime.handle().clone()));
                    runtime.block_on(async {
                        stop.cancelled().await;
                        tasks.close();
                        tasks.wait().await;
                    });
                    drop(exit_tx);
                });
            let started = spawned.and_then(|_| {
                started_rx
                    .recv()
                    .unwrap_or_else(|_| Err(io::Error::other("data-plane thread ended at start")))
            });
            match started {
                Ok(handle) => {
                    workers.push(handle);
                    exits.push(exit_rx);
                }
                Err(e) => {
                    cancel.cancel();
                    return Err(io::Error::new(e.kind(), format!("thread alb-{index}: {e}")));
                }
            }
        }
        outer.spawn(async move {
            for exit in exits {
                let _ = exit.await;
            }
        });
        let accepted = (0..threads).map(|_| AtomicU64::new(0)).collect();
        Ok(DataPlane {
            inner: Arc::new(Inner {
                workers,
                tasks,
                accepted,
            }),
        })
    }

    /// How many threads there are.
    pub fn threads(&self) -> usize {
        self.inner.workers.len()
    }

    /// The tracker of the load balancer's tasks: those spawned on a worker and those elsewhere
    /// that the workers must outlive.
    pub fn tracker(&self) -> &TaskTracker {
        &self.inner.tasks
    }

    /// Runs `task` on worker `index`, tracked.
    pub fn spawn_on<F>(&self, index: usize, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.inner.workers[index].spawn(self.inner.tasks.track_future(task));
    }

    /// Counts a client connection accepted by worker `index`.
    pub fn count_accept(&self, index: usize) {
        self.inner.accepted[index].fetch_add(1, Ordering::Relaxed);
    }

    /// Client connections accepted so far, per worker.
    pub fn accepted(&self) -> Vec<u64> {
        self.inner
            .accepted
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tasks_run_on_their_worker_and_threads_end_with_the_token() {
        let outer = TaskTracker::new();
        let cancel = CancellationToken::new();
        let plane = DataPlane::start(2, &outer, cancel.clone()).unwrap();
        assert_eq!(current_worker(), None);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for index in 0..plane.threads() {
            let tx = tx.clone();
            plane.spawn_on(index, async move {
                let name = std::thread::current().name().map(str::to_owned);
                let _ = tx.send((index, current_worker(), name));
            });
        }
        let mut seen = Vec::new();
        for _ in 0..2 {
            seen.push(rx.recv().await.unwrap());
        }
        seen.sort();
        assert_eq!(
            seen,
            vec![
                (0, Some(0), Some("alb-0".to_string())),
                (1, Some(1), Some("alb-1".to_string()))
            ]
        );
        outer.close();
        cancel.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(5), outer.wait())
            .await
            .expect("the data-plane threads end after the cancel");
    }
}
