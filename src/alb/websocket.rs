//! WebSocket (and any HTTP/1.1 `Upgrade`) pass-through: once the target has answered
//! `101 Switching Protocols`, the client's and the target's connections are joined byte for
//! byte until either side closes.

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use super::target_group::InFlight;

/// Joins the two upgraded connections on a task of its own. The target counts the tunnel as
/// in flight until it closes, so draining waits for open WebSockets (up to the delay).
pub(crate) fn spawn_tunnel(client: OnUpgrade, target: OnUpgrade, in_flight: InFlight) {
    tokio::spawn(async move {
        let addr = in_flight.target().addr();
        let (client, target) = match tokio::try_join!(client, target) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!(target = %addr, "upgrade failed: {e}");
                return;
            }
        };
        let (mut client, mut target) = (TokioIo::new(client), TokioIo::new(target));
        match tokio::io::copy_bidirectional(&mut client, &mut target).await {
            Ok((up, down)) => {
                tracing::debug!(target = %addr, up, down, "upgraded connection closed");
            }
            Err(e) => tracing::debug!(target = %addr, "upgraded connection ended: {e}"),
        }
        drop(in_flight);
    });
}
