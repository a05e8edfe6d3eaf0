//! Container resource usage: one sample of the stats API (`GET /containers/{id}/stats`,
//! `stream=false&one-shot=true`, so the engine answers at once instead of waiting a second for
//! a second sample; the caller takes the differences between its own samples).

use bollard::query_parameters::StatsOptions;
use futures_util::StreamExt;

use super::{DockerClient, DockerError, is_not_found};

/// One reading of a container's cumulative CPU time and current memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatsSample {
    /// CPU time the container has used since it started, in nanoseconds (all CPUs).
    pub cpu_total_ns: u64,
    /// Memory in use, less the page cache the kernel can drop (`inactive_file`), as
    /// `docker stats` counts it; bytes.
    pub memory_bytes: u64,
    /// When the engine read the counters (RFC 3339, when it said), else `None`.
    pub read_at: Option<std::time::SystemTime>,
}

impl DockerClient {
    /// One stats sample of container `id`; `None` when the container is gone or not running
    /// (the engine then reports no CPU counters).
    pub async fn container_stats(&self, id: &str) -> Result<Option<StatsSample>, DockerError> {
        let options = StatsOptions {
            stream: false,
            one_shot: true,
        };
        let mut stream = self.inner.stats(id, Some(options));
        let stats = match stream.next().await {
            Some(Ok(stats)) => stats,
            Some(Err(e)) if is_not_found(&e) => return Ok(None),
            Some(Err(source)) => {
                return Err(DockerError::Operation {
                    op: "read stats of container",
                    object: id.to_string(),
                    source,
                });
            }
            None => return Ok(None),
        };
        let Some(cpu_total_ns) = stats
            .cpu_stats
            .and_then(|c| c.cpu_usage)
            .and_then(|u| u.total_usage)
        else {
            return Ok(None);
        };
        let memory = stats.memory_stats.unwrap_or_default();
        let cache = memory
            .stats
            .as_ref()
            .and_then(|s| {
                s.get("inactive_file")
                    .or_else(|| s.get("total_inactive_file"))
            })
            .copied()
            .unwrap_or(0);
        Ok(Some(StatsSample {
            cpu_total_ns,
            memory_bytes: memory.usage.unwrap_or(0).saturating_sub(cache),
            read_at: stats
                .read
                .as_deref()
                .and_then(|t| humantime::parse_rfc3339_weak(t).ok()),
        }))
    }
}
