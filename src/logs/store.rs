//! Log groups, streams and events, read from the files the log shippers write
//! (`<logs>/<group without leading />/<stream>.log`, see `ecs::logs::stream_path`).
//!
//! The lab's log groups are those its task definitions name (`awslogs-group`), as the
//! reference's CloudFormation creates them with the service; a group exists before its first
//! stream. A stream is a file, named by its path under the group's directory.

use std::io::{BufRead, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::line::{self, LogEvent, epoch_ms};

/// How much of a stream file's end is read to find its last event's timestamp.
const TAIL_BYTES: u64 = 64 * 1024;

/// A log group, as DescribeLogGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroup {
    pub name: String,
    /// ms since the epoch.
    pub creation_time: i64,
    /// Bytes of all its streams.
    pub stored_bytes: u64,
}

/// A log stream, as DescribeLogStreams shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStream {
    pub name: String,
    /// ms since the epoch (when its file was created).
    pub creation_time: i64,
    pub first_event_timestamp: Option<i64>,
    pub last_event_timestamp: Option<i64>,
    /// When a line was last written to it.
    pub last_ingestion_time: Option<i64>,
    pub stored_bytes: u64,
}

/// A group or stream that does not exist; the messages are CloudWatch's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("The specified log group does not exist.")]
    GroupNotFound,
    #[error("The specified log stream does not exist.")]
    StreamNotFound,
}

/// The log store of one lab.
#[derive(Debug, Clone)]
pub struct LogStore {
    logs_dir: PathBuf,
    /// Sorted, without duplicates.
    groups: Vec<String>,
}

impl LogStore {
    /// The store under `logs_dir` (the lab's `logs` directory) holding `groups`.
    pub fn new(logs_dir: impl Into<PathBuf>, groups: impl IntoIterator<Item = String>) -> LogStore {
        let mut groups: Vec<String> = groups.into_iter().collect();
        groups.sort();
        groups.dedup();
        LogStore {
            logs_dir: logs_dir.into(),
            groups,
        }
    }

    /// The store of a lab's config: its task definitions' log groups.
    pub fn of_config(logs_dir: impl Into<PathBuf>, config: &crate::config::Config) -> LogStore {
        let groups = config
            .task_definitions
            .values()
            .map(|t| t.container.log_group.clone());
        LogStore::new(logs_dir, groups)
    }

    /// Every group, by name.
    pub fn groups(&self) -> Vec<LogGroup> {
        self.groups.iter().map(|g| self.group_info(g)).collect()
    }

    /// One group.
    pub fn group(&self, name: &str) -> Result<LogGroup, StoreError> {
        self.check_group(name)?;
        Ok(self.group_info(name))
    }

    /// The group's streams, by name.
    pub fn streams(&self, group: &str) -> Result<Vec<LogStream>, StoreError> {
        self.check_group(group)?;
        let mut streams: Vec<LogStream> = self
            .stream_files(group)
            .into_iter()
            .filter_map(|(name, path)| stream_info(name, &path))
            .collect();
        streams.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(streams)
    }

    /// Every event of a stream, oldest first (complete lines only: a line being written is
    /// read once it is whole).
    pub fn events(&self, group: &str, stream: &str) -> Result<Vec<LogEvent>, StoreError> {
        self.check_group(group)?;
        let path = self
            .stream_files(group)
            .into_iter()
            .find(|(name, _)| name == stream)
            .map(|(_, path)| path)
            .ok_or(StoreError::StreamNotFound)?;
        let mut bytes = std::fs::read(&path).map_err(|_| StoreError::StreamNotFound)?;
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        bytes.truncate(complete);
        Ok(line::events(&String::from_utf8_lossy(&bytes)))
    }

    fn check_group(&self, name: &str) -> Result<(), StoreError> {
        match self.groups.binary_search_by(|g| g.as_str().cmp(name)) {
            Ok(_) => Ok(()),
            Err(_) => Err(StoreError::GroupNotFound),
        }
    }

    fn group_dir(&self, group: &str) -> PathBuf {
        self.logs_dir.join(group.trim_start_matches('/'))
    }

    fn group_info(&self, name: &str) -> LogGroup {
        let dir = self.group_dir(name);
        let creation = std::fs::metadata(&dir)
            .or_else(|_| std::fs::metadata(&self.logs_dir))
            .ok()
            .and_then(|m| m.created().or_else(|_| m.modified()).ok())
            .unwrap_or_else(SystemTime::now);
        let stored_bytes = self
            .stream_files(name)
            .iter()
            .filter_map(|(_, path)| std::fs::metadata(path).ok())
            .map(|m| m.len())
            .sum();
        LogGroup {
            name: name.to_string(),
            creation_time: epoch_ms(creation),
            stored_bytes,
        }
    }

    /// `(stream name, file)` for each stream file of `group`, leaving out the directories of
    /// other groups nested inside it (`/ecs` holds `/ecs/flask-app`'s directory).
    fn stream_files(&self, group: &str) -> Vec<(String, PathBuf)> {
        let root = self.group_dir(group);
        let others: Vec<PathBuf> = self
            .groups
            .iter()
            .filter(|g| g.as_str() != group)
            .map(|g| self.group_dir(g))
            .collect();
        let mut found = Vec::new();
        collect(&root, &root, &others, &mut found);
        found
    }
}

fn collect(root: &Path, dir: &Path, others: &[PathBuf], found: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if !others.contains(&path) {
                collect(root, &path, others, found);
            }
        } else if path.extension().is_some_and(|e| e == "log") {
            let relative = path.strip_prefix(root).unwrap_or(&path).with_extension("");
            found.push((relative.to_string_lossy().into_owned(), path));
        }
    }
}

/// A stream's description from its file: timestamps from its first and last lines.
fn stream_info(name: String, path: &Path) -> Option<LogStream> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta.modified().ok().map(epoch_ms);
    let (first, last) = first_and_last_timestamps(path, meta.len());
    let creation_time = meta
        .created()
        .ok()
        .map(epoch_ms)
        .or(first)
        .or(modified)
        .unwrap_or(0);
    Some(LogStream {
        name,
        creation_time,
        first_event_timestamp: first,
        last_event_timestamp: last,
        last_ingestion_time: first.and(modified),
        stored_bytes: meta.len(),
    })
}

fn first_and_last_timestamps(path: &Path, len: u64) -> (Option<i64>, Option<i64>) {
    let Ok(mut file) = std::fs::File::open(path) else {
        return (None, None);
    };
    let mut first_line = String::new();
    let _ = std::io::BufReader::new(&file).read_line(&mut first_line);
    let first = line::parse(first_line.trim_end()).map(|(t, _)| t);
    let mut tail = Vec::new();
    let from = len.saturating_sub(TAIL_BYTES);
    if file.seek(SeekFrom::Start(from)).is_ok() {
        let _ = file.take(TAIL_BYTES).read_to_end(&mut tail);
    }
    // Complete lines only, as `events` reads them.
    let complete = tail.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let text = String::from_utf8_lossy(&tail[..complete]);
    let last = text
        .lines()
        .rev()
        .find_map(|l| line::parse(l).map(|(t, _)| t))
        .or(first);
    (first, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn store() -> (tempfile::TempDir, LogStore) {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "ecs/flask-app/ecs/flask-app/aaa.log",
            "2026-12-02T00:00:01Z one\n2026-12-02T00:00:02Z two\n2026-12-02T00:00:03Z partial",
        );
        write(
            dir.path(),
            "ecs/flask-app/ecs/flask-app/bbb.log",
            "2026-12-02T00:00:05Z b\n",
        );
        write(
            dir.path(),
            "ecs/x.log",
            "2026-12-02T00:00:09Z other group\n",
        );
        let store = LogStore::new(
            dir.path(),
            [
                "/ecs/flask-app".to_string(),
                "/ecs".to_string(),
                "/ecs/flask-app".to_string(),
            ],
        );
        (dir, store)
    }

    #[test]
    fn groups_are_those_named_with_their_streams_bytes() {
        let (_dir, store) = store();
        let groups = store.groups();
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["/ecs", "/ecs/flask-app"]);
        // `/ecs` does not count `/ecs/flask-app`'s files.
        assert_eq!(
            groups[0].stored_bytes,
            "2026-12-02T00:00:09Z other group\n".len() as u64
        );
        assert!(groups[1].creation_time > 0);
        assert_eq!(store.group("/nope"), Err(StoreError::GroupNotFound));
    }

    #[test]
    fn streams_carry_first_and_last_event_times() {
        let (_dir, store) = store();
        let streams = store.streams("/ecs/flask-app").unwrap();
        let names: Vec<&str> = streams.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["ecs/flask-app/aaa", "ecs/flask-app/bbb"]);
        let a = &streams[0];
        let t1 = line::parse("2026-12-02T00:00:01Z").unwrap().0;
        assert_eq!(a.first_event_timestamp, Some(t1));
        assert_eq!(a.last_event_timestamp, Some(t1 + 1000));
        assert!(a.last_ingestion_time.is_some());
        assert_eq!(store.streams("/ecs").unwrap().len(), 1);
        assert_eq!(store.streams("/missing"), Err(StoreError::GroupNotFound));
    }

    #[test]
    fn events_are_the_complete_lines() {
        let (_dir, store) = store();
        let events = store.events("/ecs/flask-app", "ecs/flask-app/aaa").unwrap();
        let messages: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["one", "two"]);
        assert_eq!(
            store.events("/ecs/flask-app", "ecs/flask-app/zzz"),
            Err(StoreError::StreamNotFound)
        );
        assert_eq!(
            store.events("/nope", "ecs/flask-app/aaa"),
            Err(StoreError::GroupNotFound)
        );
    }
}
