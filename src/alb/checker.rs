//! Active health checks: every interval, an HTTP/1.1 `GET <path>` to each registered target, the
//! result fed to its [`HealthMachine`](super::health::HealthMachine). Flips are logged once.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HOST, USER_AGENT};
use http::{Request, Version};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{MissedTickBehavior, interval, timeout};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::health::{CheckOutcome, TargetState, Transition};
use super::target_group::{Target, TargetGroupHandle};
use crate::config::HealthCheck;

/// What the checker sends as `User-Agent` (AWS's value, so apps that special-case it still work).
const USER_AGENT_VALUE: &str = "ELB-HealthChecker/2.0";

impl TargetGroupHandle {
    /// Starts this group's health checker on `tracker`; it stops when `cancel` fires.
    ///
    /// Every `interval` all registered targets are checked concurrently. A newly registered
    /// target is checked at once rather than after up to a full interval.
    pub fn spawn_health_checks(&self, tracker: &TaskTracker, cancel: CancellationToken) {
        let group = self.clone();
        tracker.spawn(async move { run(group, cancel).await });
    }
}

async fn run(group: TargetGroupHandle, cancel: CancellationToken) {
    let hc = group.config().health_check.clone();
    let mut ticks = interval(hc.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut changes = group.changes();
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
        };
        let round = check_all(&group, &hc, only_new);
        if cancel.run_until_cancelled(round).await.is_none() {
            break;
        }
    }
    tracing::debug!(target_group = group.name(), "health checker stopped");
}

/// Checks every registered target (or only the never-checked ones) concurrently.
async fn check_all(group: &TargetGroupHandle, hc: &HealthCheck, only_new: bool) {
    let targets = group.targets();
    let checks = targets
        .iter()
        .filter(|t| !only_new || t.is_unchecked())
        .map(|t| async move {
            let outcome = check(t.addr(), hc).await;
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

/// One health check of the target at `addr`, bounded by the configured timeout.
pub async fn check(addr: SocketAddr, hc: &HealthCheck) -> CheckOutcome {
    match timeout(hc.timeout, probe(addr, &hc.path)).await {
        Err(_) => CheckOutcome::Timeout,
        Ok(Err(reason)) => CheckOutcome::ConnectFailed(reason),
        Ok(Ok(status)) if hc.matcher.matches(status) => CheckOutcome::Ok(status),
        Ok(Ok(status)) => CheckOutcome::Mismatch(status),
    }
}

/// A fresh connection per check (as ELB does), so a dead target cannot hide behind a pool.
async fn probe(addr: SocketAddr, path: &str) -> Result<u16, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    let request = Request::get(path)
        .version(Version::HTTP_11)
        .header(HOST, addr.to_string())
        .header(USER_AGENT, USER_AGENT_VALUE)
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    // Drive the connection here instead of spawning it: it dies with the check.
    let send = sender.send_request(request);
    tokio::pin!(send, conn);
    let response = tokio::select! {
        response = &mut send => response,
        closed = &mut conn => match closed {
            Err(e) => return Err(e.to_string()),
            // The connection ended first; the request's own result says why.
            Ok(()) => send.await,
        },
    };
    response
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
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
