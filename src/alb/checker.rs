//! Active health checks: every interval, an HTTP/1.1 `GET <path>` to each registered target, the
//! result fed to its [`HealthMachine`](super::health::HealthMachine). Flips are logged once.
//!
//! A check that fails because tierlab itself is short of descriptors, buffers or local ports
//! (see [`super::local_error`]) is not the target's fault: it is logged as tierlab's (a warning
//! once per episode) and the target keeps its state.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HOST, USER_AGENT};
use http::{Request, Version};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{MissedTickBehavior, interval, interval_at, timeout};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::health::{CheckOutcome, TargetState, Transition};
use super::local_error::{self, Episode};
use super::target_group::{Target, TargetGroupHandle};
use crate::config::HealthCheck;

/// What the checker sends as `User-Agent` (AWS's value, so apps that special-case it still work).
const USER_AGENT_VALUE: &str = "ELB-HealthChecker/2.0";

impl TargetGroupHandle {
    /// Starts this group's health checker on `tracker`; it stops when `cancel` fires. The
    /// group's drains run on `tracker` too.
    ///
    /// Every `interval` all registered targets are checked concurrently. A newly registered
    /// target is checked at once rather than after up to a full interval. A changed interval
    /// (`modify-target-group`) retimes the ticks at once; other health check settings apply
    /// from the next round.
    pub fn spawn_health_checks(&self, tracker: &TaskTracker, cancel: CancellationToken) {
        // Drains of deregistered targets run in the same tree.
        self.adopt_tree(tracker, &cancel);
        let group = self.clone();
        tracker.spawn(async move { run(group, cancel).await });
    }
}

async fn run(group: TargetGroupHandle, cancel: CancellationToken) {
    let mut period = group.config().health_check.interval;
    let mut ticks = interval(period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut changes = group.changes();
    let mut settings = group.settings_changes();
    let local = Episode::default();
    loop {
        let only_new = tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ticks.tick() => false,
            changed = changes.changed() => {
                if changed.is_err() {
                    break;
                }
                true
            }
            changed = settings.changed() => {
                if changed.is_err() {
                    break;
                }
                // `modify-target-group`: a new interval counts from now.
                let next = group.config().health_check.interval;
                if next != period {
                    period = next;
                    ticks = retimed(period);
                }
                continue;
            }
        };
        // Each round reads the current settings: path, timeout and matcher apply at once.
        let hc = group.config().health_check.clone();
        let round = check_all(&group, &hc, only_new, &local);
        if cancel.run_until_cancelled(round).await.is_none() {
            break;
        }
    }
    tracing::debug!(target_group = group.name(), "health checker stopped");
}

/// A ticker for a changed interval: its first tick one `period` from now.
fn retimed(period: Duration) -> tokio::time::Interval {
    let mut ticks = interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    ticks
}

/// Checks every registered target (or only the never-checked ones) concurrently.
async fn check_all(group: &TargetGroupHandle, hc: &HealthCheck, only_new: bool, local: &Episode) {
    let interval = hc.interval;
    check_all_with(group, only_new, interval, local, |addr| try_check(addr, hc)).await
}

/// [`check_all`] with `probe` in place of [`try_check`] (tests give it tierlab's own errors).
async fn check_all_with<F, Fut>(
    group: &TargetGroupHandle,
    only_new: bool,
    interval: Duration,
    local: &Episode,
    probe: F,
) where
    F: Fn(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = Result<CheckOutcome, io::Error>>,
{
    let targets = group.targets();
    let probe = &probe;
    let now = Instant::now();
    let checks = targets
        .iter()
        .filter(|t| !only_new || t.is_unchecked())
        // Spaced by at least half an interval, even right after a new target's first check.
        .filter(|t| t.begin_check(now, interval))
        .map(|t| async move {
            let outcome = match probe(t.addr()).await {
                Ok(outcome) => outcome,
                Err(shortage) => {
                    if local.failed() {
                        tracing::warn!(
                            "tierlab cannot health-check target group {}: {shortage}; \
                             this is a shortage of tierlab's own (see `ulimit -n`), \
                             so targets keep their health state until checks can run again",
                            group.name()
                        );
                    }
                    return;
                }
            };
            if local.worked() {
                tracing::info!("health checks of target group {} run again", group.name());
            }
            tracing::trace!(target = t.id(), ?outcome, "health check");
            if let Some(transition) = t.record(&outcome) {
                // A target deregistered while being checked is nobody's concern any more.
                if group.is_registered(t) {
                    log_transition(group.name(), t, &transition);
                    group.notify();
                }
            }
        });
    futures_util::future::join_all(checks).await;
}

/// One health check of the target at `addr`, bounded by the configured timeout. A local
/// shortage (see [`try_check`]) is reported as a failed connection.
pub async fn check(addr: SocketAddr, hc: &HealthCheck) -> CheckOutcome {
    try_check(addr, hc)
        .await
        .unwrap_or_else(|local| CheckOutcome::ConnectFailed(local.to_string()))
}

/// [`check`], or `Err` when tierlab itself could not run it (out of descriptors, buffers or
/// local ports): then the check says nothing about the target.
pub async fn try_check(addr: SocketAddr, hc: &HealthCheck) -> Result<CheckOutcome, io::Error> {
    Ok(match timeout(hc.timeout, probe(addr, &hc.path)).await {
        Err(_) => CheckOutcome::Timeout,
        Ok(Err(ProbeError::Local(e))) => return Err(e),
        Ok(Err(ProbeError::Target(reason))) => CheckOutcome::ConnectFailed(reason),
        Ok(Ok(status)) if hc.matcher.matches(status) => CheckOutcome::Ok(status),
        Ok(Ok(status)) => CheckOutcome::Mismatch(status),
    })
}

/// Why a probe got no status.
enum ProbeError {
    /// tierlab's own shortage (see [`local_error::is_local_shortage`]).
    Local(io::Error),
    /// The target's doing: refused, reset, not HTTP...
    Target(String),
}

impl ProbeError {
    fn of(e: impl std::error::Error + 'static) -> ProbeError {
        match local_error::local_shortage(&e) {
            Some(io) => ProbeError::Local(io::Error::from_raw_os_error(
                io.raw_os_error().unwrap_or_default(),
            )),
            None => ProbeError::Target(e.to_string()),
        }
    }
}

/// A fresh connection per check (as ELB does), so a dead target cannot hide behind a pool.
async fn probe(addr: SocketAddr, path: &str) -> Result<u16, ProbeError> {
    let stream = TcpStream::connect(addr).await.map_err(ProbeError::of)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(ProbeError::of)?;
    let request = Request::get(path)
        .version(Version::HTTP_11)
        .header(HOST, addr.to_string())
        .header(USER_AGENT, USER_AGENT_VALUE)
        .body(Empty::<Bytes>::new())
        .map_err(ProbeError::of)?;
    // Drive the connection here instead of spawning it: it dies with the check.
    let send = sender.send_request(request);
    tokio::pin!(send, conn);
    let response = tokio::select! {
        response = &mut send => response,
        closed = &mut conn => match closed {
            Err(e) => return Err(ProbeError::of(e)),
            // The connection ended first; the request's own result says why.
            Ok(()) => send.await,
        },
    };
    response
        .map(|r| r.status().as_u16())
        .map_err(ProbeError::of)
}

fn log_transition(group: &str, target: &Arc<Target>, t: &Transition) {
    let (id, addr) = (target.id(), target.addr());
    match (&t.to, &t.reason) {
        (TargetState::Healthy, _) | (_, None) => {
            tracing::info!("target {group}/{id} {addr}: {} -> {}", t.from, t.to);
        }
        (_, Some(reason)) => {
            tracing::warn!(
                "target {group}/{id} {addr}: {} -> {} ({reason})",
                t.from,
                t.to
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alb::target_group::check_due;

    #[test]
    fn tierlabs_own_shortages_are_not_the_targets() {
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        assert!(
            matches!(ProbeError::of(emfile), ProbeError::Local(e) if e.raw_os_error() == Some(libc::EMFILE))
        );
        let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert!(
            matches!(ProbeError::of(refused), ProbeError::Target(why) if why.contains("refused"))
        );
    }

    fn group() -> TargetGroupHandle {
        TargetGroupHandle::new(crate::config::TargetGroup {
            name: "tg".into(),
            port: 80,
            health_check: health_check(),
            deregistration_delay: std::time::Duration::from_secs(1),
            static_targets: vec!["127.0.0.1:9001".parse().unwrap()],
            algorithm: Default::default(),
            slow_start: std::time::Duration::ZERO,
            stickiness: None,
            outlier_consecutive_5xx: 5,
        })
    }

    fn health_check() -> HealthCheck {
        HealthCheck {
            path: "/".into(),
            interval: std::time::Duration::from_secs(5),
            timeout: std::time::Duration::from_secs(2),
            healthy_threshold: 2,
            unhealthy_threshold: 2,
            matcher: crate::config::Matcher {
                ranges: vec![(200, 200)],
            },
        }
    }

    #[tokio::test]
    async fn a_target_keeps_its_state_while_tierlab_is_out_of_descriptors() {
        let group = group();
        let local = Episode::default();
        let pass = |_| async { Ok(CheckOutcome::Ok(200)) };
        check_all_with(&group, false, Duration::ZERO, &local, pass).await;
        let id = group.targets()[0].id().to_string();
        assert_eq!(group.state_of(&id), Some(TargetState::Healthy));
        // Many rounds of EMFILE: still healthy (one warning, for the whole episode).
        let emfile = |_| async { Err(io::Error::from_raw_os_error(libc::EMFILE)) };
        for _ in 0..5 {
            check_all_with(&group, false, Duration::ZERO, &local, emfile).await;
        }
        assert_eq!(group.state_of(&id), Some(TargetState::Healthy));
        assert!(!local.failed(), "the episode is still on");
        // The target's own failures still count.
        let refused = |_| async { Ok(CheckOutcome::ConnectFailed("connection refused".into())) };
        for _ in 0..2 {
            check_all_with(&group, false, Duration::ZERO, &local, refused).await;
        }
        assert_eq!(group.state_of(&id), Some(TargetState::Unhealthy));
    }

    #[tokio::test]
    async fn a_new_target_is_not_checked_twice_in_a_moment() {
        let group = group();
        let local = Episode::default();
        let id = group.targets()[0].id().to_string();
        let refused = |_| async { Ok(CheckOutcome::ConnectFailed("connection refused".into())) };
        // The check on registration, then the group's tick a moment later: one failure, not two.
        let interval = Duration::from_secs(5);
        check_all_with(&group, true, interval, &local, refused).await;
        check_all_with(&group, false, interval, &local, refused).await;
        assert_eq!(group.state_of(&id), Some(TargetState::Initial));
    }

    #[test]
    fn checks_are_spaced_by_half_an_interval() {
        let interval = Duration::from_secs(2);
        let t0 = Instant::now();
        assert!(check_due(None, t0, interval));
        assert!(!check_due(
            Some(t0),
            t0 + Duration::from_millis(10),
            interval
        ));
        assert!(!check_due(
            Some(t0),
            t0 + Duration::from_millis(999),
            interval
        ));
        assert!(check_due(Some(t0), t0 + Duration::from_secs(1), interval));
        assert!(check_due(Some(t0), t0 + interval, interval));
    }

    #[tokio::test]
    async fn a_refused_connection_is_the_targets_failure() {
        // A port that was free a moment ago: nothing listens there.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        match try_check(addr, &health_check()).await {
            Ok(CheckOutcome::ConnectFailed(why)) => assert!(why.contains("refused"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    /// A target that answers every request `200 OK` until the returned task is aborted.
    async fn passing_target() -> (SocketAddr, tokio::task::JoinHandle<()>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf).await;
                let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                let _ = conn.write_all(ok).await;
            }
        });
        (addr, task)
    }

    #[tokio::test]
    async fn a_new_interval_retimes_the_checker_at_once() {
        let (addr, target) = passing_target().await;
        let mut cfg = (*group().config()).clone();
        cfg.static_targets = vec![addr];
        cfg.health_check.interval = Duration::from_secs(60);
        cfg.health_check.timeout = Duration::from_millis(500);
        let group = TargetGroupHandle::new(cfg);
        let id = addr.to_string();
        let mut changes = group.changes();
        let (tracker, cancel) = (TaskTracker::new(), CancellationToken::new());
        group.spawn_health_checks(&tracker, cancel.clone());
        // The first check, at once: healthy. The checker now waits 60 s for the next.
        while group.state_of(&id) != Some(TargetState::Healthy) {
            changes.changed().await.unwrap();
        }
        target.abort();
        let _ = target.await;
        let started = Instant::now();
        let change = crate::alb::settings::HealthCheckChange {
            interval_seconds: Some(1),
            ..Default::default()
        };
        group
            .modify_health_check(&change, crate::config::TimingProfile::Fast)
            .unwrap();
        // Two failed checks (1 s apart) make it unhealthy: at the old interval, two minutes.
        let unhealthy = async {
            while group.state_of(&id) != Some(TargetState::Unhealthy) {
                changes.changed().await.unwrap();
            }
        };
        tokio::time::timeout(Duration::from_secs(10), unhealthy)
            .await
            .expect("checks came at the new interval, not the old one");
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(1900), "{waited:?}");
        cancel.cancel();
        tracker.close();
        tracker.wait().await;
    }
}
