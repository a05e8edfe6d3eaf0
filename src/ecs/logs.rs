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

/// Log stream files that earlier runs of the lab left in `dir`, oldest first: those last
/// written before `started` (no task of this run writes them), so they can be pruned with this
/// run's stopped tasks' files. A directory that cannot be read has none.
pub fn earlier_streams(dir: &Path, started: std::time::SystemTime) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .filter(|(modified, _)| *modified < started)
        .collect();
    files.sort();
    files.into_iter().map(|(_, path)| path).collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn earlier_runs_streams_are_listed_oldest_first_and_this_runs_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        for (name, age) in [("b.log", 10), ("a.log", 20), ("notes.txt", 30)] {
            let path = dir.path().join(name);
            std::fs::write(&path, "x").unwrap();
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(old - Duration::from_secs(age)).unwrap();
        }
        std::fs::write(dir.path().join("current.log"), "x").unwrap();
        let started = SystemTime::now() - Duration::from_secs(60);
        let names: Vec<String> = earlier_streams(dir.path(), started)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.log", "b.log"]);
        assert!(earlier_streams(&dir.path().join("missing"), started).is_empty());
    }
}
