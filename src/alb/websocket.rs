//! WebSocket (and any HTTP/1.1 `Upgrade`) pass-through: once the target has answered
//! `101 Switching Protocols`, the client's and the target's connections are joined byte for
//! byte until either side closes, nothing passes either way for the load balancer's idle
//! timeout (as ALB closes idle WebSocket connections), or the load balancer stops.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::deadlines::{self, Activity, ActivityIo};
use super::http1::ClientUpgrade;
use super::pool::UpgradedTarget;
use super::target_group::InFlight;

/// Where tunnels run: a task tree and its cancellation, or (by default, for a proxy outside a
/// load balancer) tasks of their own that end only with the tunnel.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tunnels {
    tasks: Option<(TaskTracker, CancellationToken)>,
}

impl Tunnels {
    pub(crate) fn new(tracker: TaskTracker, cancel: CancellationToken) -> Tunnels {
        Tunnels {
            tasks: Some((tracker, cancel)),
        }
    }

    /// Joins the two upgraded connections on a task of its own. The target counts the tunnel
    /// as in flight until it closes, so draining waits for open WebSockets (up to the delay).
    pub(crate) fn spawn(
        &self,
        client: ClientUpgrade,
        target: UpgradedTarget,
        in_flight: InFlight,
        idle: Duration,
    ) {
        let tunnel = run(client, target, in_flight, idle);
        match &self.tasks {
            Some((tracker, cancel)) => {
                let cancel = cancel.clone();
                tracker.spawn(async move { cancel.run_until_cancelled(tunnel).await });
            }
            None => {
                tokio::spawn(tunnel);
            }
        }
    }
}

async fn run(
    client: ClientUpgrade,
    mut target: UpgradedTarget,
    in_flight: InFlight,
    idle: Duration,
) {
    let addr = in_flight.target().addr();
    let client = match client.stream().await {
        Ok(client) => client,
        Err(e) => {
            tracing::debug!(target = %addr, "upgrade failed: {e}");
            return;
        }
    };
    // Bytes either way through the client's side keep the tunnel alive.
    let activity = Activity::new();
    let mut client = ActivityIo::new(client, activity.clone(), ());
    tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut client, &mut target) => match copied {
            Ok((up, down)) => {
                tracing::debug!(target = %addr, up, down, "upgraded connection closed");
            }
            Err(e) => tracing::debug!(target = %addr, "upgraded connection ended: {e}"),
        },
        _ = deadlines::idle(&activity, idle) => {
            tracing::debug!(target = %addr, "upgraded connection idle for {idle:?}: closed");
        }
    }
    drop(in_flight);
}
