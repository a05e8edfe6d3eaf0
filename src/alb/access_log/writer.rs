//! The background writer of access log files: one file per interval, named and laid out as AWS
//! delivers them to S3 (`AWSLogs/<account>/elasticloadbalancing/<region>/yyyy/mm/dd/<file>`),
//! under the lab's state directory.
//!
//! Requests hand their records to a bounded channel with `try_send`: the request path never
//! waits on the disk; when the writer falls behind, records are dropped and counted
//! (`tierlab_access_log_records_dropped_total`). The writer writes out what is queued, then
//! pauses for [`BATCH_PAUSE`] before it waits again: lines show up within moments (`tail -f`
//! works), and the requests meanwhile queue theirs without waking it (waiting on the channel,
//! it would be woken, on another thread, by every request, and write once per request).

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::Rng;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::AccessLogRecord;
use crate::alb::arn::{self, ACCOUNT, REGION};
use crate::alb::metrics::LoadBalancerMetrics;

/// Records waiting for the writer before new ones are dropped (and counted as dropped): a
/// pause and a batch's writing last a few tens of milliseconds, in which far fewer requests
/// than this finish even at this machine's top rate (about 50,000 a second).
pub const QUEUE: usize = 8192;

/// How long the writer leaves records queued after writing a batch.
pub const BATCH_PAUSE: Duration = Duration::from_millis(20);

/// Where requests send their records. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AccessLogSink {
    tx: mpsc::Sender<AccessLogRecord>,
    metrics: Arc<LoadBalancerMetrics>,
}

impl AccessLogSink {
    /// Queues `record` for writing, or drops and counts it when the queue is full.
    pub fn send(&self, record: AccessLogRecord) {
        if self.tx.try_send(record).is_err() {
            self.metrics.access_log_dropped();
        }
    }
}

/// Starts the writer of load balancer `lb`'s access logs under `dir` (one file per `interval`).
/// After `cancel` fires it stops pausing and writes what is queued and what the draining
/// connections still log, and ends when the last sender is dropped.
pub fn spawn_writer(
    dir: PathBuf,
    lb: &str,
    interval: Duration,
    metrics: Arc<LoadBalancerMetrics>,
    tracker: &TaskTracker,
    cancel: CancellationToken,
) -> AccessLogSink {
    let (tx, rx) = mpsc::channel(QUEUE);
    let files = Files {
        dir,
        lb: lb.to_string(),
        interval,
        current: None,
        line: String::with_capacity(1024),
    };
    tracker.spawn(run(rx, files, cancel));
    AccessLogSink { tx, metrics }
}

async fn run(mut rx: mpsc::Receiver<AccessLogRecord>, mut files: Files, cancel: CancellationToken) {
    loop {
        let record = tokio::select! {
            _ = cancel.cancelled() => break,
            record = rx.recv() => match record {
                Some(r) => r,
                None => break,
            },
        };
        files.write(&record);
        while let Ok(record) = rx.try_recv() {
            files.write(&record);
        }
        files.flush();
        let pause = tokio::time::sleep(BATCH_PAUSE);
        if cancel.run_until_cancelled(pause).await.is_none() {
            break;
        }
    }
    // Connections drain after the cancel and log as they finish: keep writing until the last
    // of them (each holds a sender) is gone. Closing the queue here would drop their records.
    while let Some(record) = rx.recv().await {
        files.write(&record);
    }
    files.flush();
}

/// The open file of the current interval.
struct Files {
    dir: PathBuf,
    lb: String,
    interval: Duration,
    current: Option<(SystemTime, BufWriter<File>)>,
    /// One line's text, reused for every line.
    line: String,
}

impl Files {
    fn write(&mut self, record: &AccessLogRecord) {
        let end = interval_end(record.time, self.interval);
        if self.current.as_ref().is_none_or(|(e, _)| *e != end) {
            self.flush();
            self.current = self.open(end);
        }
        if let Some((_, file)) = &mut self.current {
            self.line.clear();
            record.write_line(&mut self.line);
            self.line.push('\n');
            if let Err(e) = file.write_all(self.line.as_bytes()) {
                tracing::warn!("cannot write the access log: {e}");
            }
        }
    }

    fn flush(&mut self) {
        if let Some((_, file)) = &mut self.current {
            if let Err(e) = file.flush() {
                tracing::warn!("cannot write the access log: {e}");
            }
        }
    }

    fn open(&self, end: SystemTime) -> Option<(SystemTime, BufWriter<File>)> {
        let path = self.dir.join(file_path(&self.lb, end, &random_suffix()));
        let opened = path
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| File::create(&path));
        match opened {
            Ok(file) => {
                tracing::debug!(path = %path.display(), "access log file opened");
                Some((end, BufWriter::new(file)))
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), "cannot create the access log file: {e}");
                None
            }
        }
    }
}

/// The end of the interval `t` falls in (intervals are aligned on the epoch, like AWS's 5-minute
/// files ending at :00, :05, ...).
pub fn interval_end(t: SystemTime, interval: Duration) -> SystemTime {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let step = interval.as_millis().max(1);
    let end = (since.as_millis() / step + 1) * step;
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(end).unwrap_or(u64::MAX))
}

/// `<account>_elasticloadbalancing_<region>_app.<lb>.<id>_<YYYYMMDDTHHMMZ>_<ip>_<random>.log`
/// (AWS's name without `.gz`: tierlab writes plain text).
pub fn file_name(lb: &str, end: SystemTime, random: &str) -> String {
    let id = arn::resource_id("loadbalancer", lb);
    format!(
        "{ACCOUNT}_elasticloadbalancing_{REGION}_app.{lb}.{id}_{}_127.0.0.1_{random}.log",
        compact_minute(end)
    )
}

/// `AWSLogs/<account>/elasticloadbalancing/<region>/yyyy/mm/dd/<file name>`.
pub fn file_path(lb: &str, end: SystemTime, random: &str) -> PathBuf {
    let day = &super::timestamp(end)[..10];
    let mut path = Path::new("AWSLogs")
        .join(ACCOUNT)
        .join("elasticloadbalancing")
        .join(REGION);
    for part in day.split('-') {
        path.push(part);
    }
    path.join(file_name(lb, end, random))
}

/// `20180702T2225Z`.
fn compact_minute(t: SystemTime) -> String {
    let iso = super::timestamp(t); // 2018-07-02T22:25:00.000000Z
    format!(
        "{}{}{}T{}{}Z",
        &iso[0..4],
        &iso[5..7],
        &iso[8..10],
        &iso[11..13],
        &iso[14..16]
    )
}

/// Eight lowercase letters and digits, as AWS's file names end.
fn random_suffix() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..8)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alb::access_log::tests::forwarded;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn intervals_are_aligned_and_end_exclusive() {
        let five = Duration::from_secs(300);
        // 2018-07-02T22:23:00Z falls in the file ending 22:25.
        assert_eq!(interval_end(at(1_530_570_180), five), at(1_530_570_300));
        // Exactly on a boundary starts the next interval.
        assert_eq!(interval_end(at(1_530_570_300), five), at(1_530_570_600));
        assert_eq!(interval_end(at(10), Duration::from_secs(1)), at(11));
    }

    #[test]
    fn names_follow_aws() {
        let end = at(1_530_570_300);
        let id = arn::resource_id("loadbalancer", "my-alb");
        assert_eq!(
            file_name("my-alb", end, "abcd1234"),
            format!(
                "000000000000_elasticloadbalancing_us-east-1_app.my-alb.{id}_20180702T2225Z_127.0.0.1_abcd1234.log"
            )
        );
        let path = file_path("my-alb", end, "abcd1234");
        assert!(
            path.starts_with("AWSLogs/000000000000/elasticloadbalancing/us-east-1/2018/07/02"),
            "{}",
            path.display()
        );
        let r = random_suffix();
        assert_eq!(r.len(), 8);
        assert!(
            r.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
    }

    /// Every queued record is written, within a pause or so of being sent, and what is queued
    /// when the writer stops is written too.
    #[tokio::test]
    async fn batches_reach_the_file_within_a_pause_and_nothing_is_lost_at_stop() {
        let dir = tempfile::tempdir().unwrap();
        let (tracker, cancel) = (TaskTracker::new(), CancellationToken::new());
        let metrics = Arc::new(LoadBalancerMetrics::new("my-alb", []));
        let interval = Duration::from_secs(3600);
        let sink = spawn_writer(
            dir.path().into(),
            "my-alb",
            interval,
            metrics,
            &tracker,
            cancel.clone(),
        );
        let now = SystemTime::now();
        let record = || {
            let mut r = forwarded();
            r.time = now;
            r
        };
        let lines = || {
            let path = dir
                .path()
                .join(file_path("my-alb", interval_end(now, interval), "x"));
            let day = path.parent().unwrap();
            fs::read_dir(day).map_or(0, |files| {
                files
                    .map(|f| {
                        fs::read_to_string(f.unwrap().path())
                            .unwrap()
                            .lines()
                            .count()
                    })
                    .sum()
            })
        };
        for batch in 1..=3 {
            for _ in 0..500 {
                sink.send(record());
            }
            let sent = std::time::Instant::now();
            while lines() < batch * 500 {
                assert!(sent.elapsed() < Duration::from_secs(2), "{} lines", lines());
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        assert_eq!(lines(), 1500);
        // Queued during the writer's pause, then the stop: written all the same.
        for _ in 0..100 {
            sink.send(record());
        }
        cancel.cancel();
        // A connection that finishes while the load balancer drains logs after the cancel.
        tokio::time::sleep(BATCH_PAUSE).await;
        sink.send(record());
        drop(sink);
        tracker.close();
        tracker.wait().await;
        assert_eq!(lines(), 1601);
    }
}
