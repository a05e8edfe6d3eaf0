//! Waiting for a DB instance to accept connections, by condition and with a deadline.

use std::time::Duration;

use tokio::time::{Instant, sleep};

use crate::docker::DockerClient;

use super::{DbInstance, RdsError};

/// Pause between probes; a probe itself (`docker exec`) takes about 0.1 s.
const PROBE_PAUSE: Duration = Duration::from_millis(200);

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
    let port = db.port.to_string();
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
    loop {
        let info = docker
            .inspect_container(&db.container_id)
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
                    container: db.container_id.chars().take(12).collect(),
                    exit_code: other.and_then(|i| i.exit_code).unwrap_or(-1),
                });
            }
        }
        let last_output = match docker.exec(&db.container_id, &probe).await {
            Ok((0, _)) => return Ok(()),
            Ok((_, output)) => output,
            Err(e) => format!("{e}", e = crate::error::chain(&e)),
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
