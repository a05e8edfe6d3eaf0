//! CloudWatch-style log shipping: each task's output is appended to a file per log stream under
//! the state directory, so logs outlive the container (as CloudWatch keeps a stopped task's
//! stream) and `tierlab logs` can read them while `up` runs or after.

use std::path::{Path, PathBuf};

use bollard::query_parameters::LogsOptions;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

use crate::docker::DockerClient;

/// File holding a log stream: `<logs>/<group without leading />/<stream>.log`.
pub fn stream_path(logs_dir: &Path, group: &str, stream: &str) -> PathBuf {
    logs_dir
        .join(group.trim_start_matches('/'))
        .join(format!("{stream}.log"))
}

/// Follows the container's stdout/stderr until it ends (or `cancel`), appending each line as
/// `<RFC 3339 timestamp> <message>`.
pub async fn ship(
    docker: DockerClient,
    container_id: String,
    path: PathBuf,
    cancel: CancellationToken,
) {
    if let Err(e) = ship_inner(&docker, &container_id, &path, &cancel).await {
        tracing::warn!(container = %short(&container_id), path = %path.display(), "log shipping stopped: {e}", e = crate::error::chain(e.as_ref()));
    }
}

async fn ship_inner(
    docker: &DockerClient,
    container_id: &str,
    path: &Path,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await?;
    let options = LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        timestamps: true,
        ..Default::default()
    };
    let mut stream = docker.bollard().logs(container_id, Some(options));
    loop {
        let chunk = tokio::select! {
            _ = cancel.cancelled() => break,
            chunk = stream.next() => chunk,
        };
        let Some(chunk) = chunk else { break };
        let bytes = chunk?.into_bytes();
        file.write_all(&bytes).await?;
        if !bytes.ends_with(b"\n") {
            file.write_all(b"\n").await?;
        }
    }
    file.flush().await?;
    Ok(())
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}
