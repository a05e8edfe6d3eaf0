//! Waiting for a DB instance to accept connections, by condition and with a deadline.

use std::time::Duration;

use tokio::time::{Instant, sleep};

use crate::docker::DockerClient;

use super::{DbInstance, RdsError};

/// Pause between probes; a probe itself (`docker exec`) takes about 0.1 s.
const PROBE_PAUSE: Duration = Duration::from_millis(200);
/// A ping that has not answered by then counts as unanswered (`mysqladmin` itself gives up
/// connecting after 2 s, but a hung engine can accept and then say nothing, and an exec into a
/// frozen container can hang).
pub(super) const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Waits until the instance's real server answers over TCP inside its container.
///
/// MySQL-family images first run a temporary server with networking off to initialise the data
/// directory; `mysqladmin ping --protocol=tcp` fails against it, so success means the real server
/// is up. (A ping answered with "access denied" still exits 0: the server is alive.)
pub async fn wait_ready(
    docker: &DockerClient,
    db: &DbInstance,
    timeout: Duration,
) -> Result<(), RdsError> {
    let started = Instant::now();
    // The container serving the instance now (a new one after the supervisor recreated it).
    let container_id = &db.container_id();
    loop {
        let info = docker
            .inspect_container(container_id)
            .await
            .map_err(|source| RdsError::Docker {
                identifier: db.identifier.clone(),
                source,
            })?;
        match info {
            Some(info) if info.running => {}
            other => {
                return Err(RdsError::Exited {
                    identifier: db.identifier.clone(),
                    container: container_id.chars().take(12).collect(),
                    exit_code: other.and_then(|i| i.exit_code).unwrap_or(-1),
                });
            }
        }
        // Bounded: an exec that hangs (a frozen container) must not outlast the deadline.
        let pinged = tokio::time::timeout(PING_TIMEOUT, ping(docker, container_id, db.port));
        let last_output = match pinged.await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(output)) => output,
            Err(_) => format!("no answer to `mysqladmin ping` within {PING_TIMEOUT:?}"),
        };
        if started.elapsed() >= timeout {
            let last_output = if last_output.trim().is_empty() {
                String::new()
            } else {
                format!("; last probe said: {}", last_output.trim())
            };
            return Err(RdsError::NotReady {
                identifier: db.identifier.clone(),
                waited: timeout,
                last_output,
            });
        }
        sleep(PROBE_PAUSE).await;
    }
}

/// One `mysqladmin ping` over TCP inside the container; `Err` carries what the probe said.
pub(super) async fn ping(
    docker: &DockerClient,
    container_id: &str,
    port: u16,
) -> Result<(), String> {
    let port = port.to_string();
    let probe = [
        "mysqladmin",
        "ping",
        "--protocol=tcp",
        "-h",
        "127.0.0.1",
        "-P",
        &port,
        "--connect-timeout=2",
    ];
    match docker.exec(container_id, &probe).await {
        Ok((0, _)) => Ok(()),
        Ok((_, output)) => Err(output),
        Err(e) => Err(crate::error::chain(&e).to_string()),
    }
}
