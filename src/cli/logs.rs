//! `tierlab logs [-f] [service]`: the tasks' log streams, as CloudWatch Logs keeps them: one
//! stream per task (`ecs/flask-app/<task-id>`), kept after the task is gone.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::Config;
use crate::error::Error;
use crate::state::StateDir;

/// How often `-f` looks for new lines and new streams.
const FOLLOW_POLL: Duration = Duration::from_millis(300);

pub async fn run(config: &Config, service: Option<&str>, follow: bool) -> Result<(), Error> {
    let groups = log_groups(config, service)?;
    let logs_dir = StateDir::resolve(config.lab.state_dir.as_deref()).logs_dir(&config.lab.name);
    let dirs: Vec<PathBuf> = groups.iter().map(|g| logs_dir.join(g.trim_start_matches('/'))).collect();

    // Existing lines, merged across streams by timestamp.
    let mut offsets: BTreeMap<PathBuf, u64> = BTreeMap::new();
    let mut lines = Vec::new();
    for (dir, path) in streams(&dirs) {
        let (text, len) = read_from(&path, 0);
        offsets.insert(path.clone(), len);
        let stream = stream_name(&dir, &path);
        lines.extend(text.lines().map(|l| (l.to_string(), stream.clone())));
    }
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    for (line, stream) in &lines {
        print_line(stream, line);
    }
    if !follow {
        if lines.is_empty() {
            eprintln!("no log lines yet under {}", logs_dir.display());
        }
        return Ok(());
    }
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
        }
        for (dir, path) in streams(&dirs) {
            let offset = offsets.get(&path).copied().unwrap_or(0);
            let (text, len) = read_from(&path, offset);
            offsets.insert(path.clone(), len);
            let stream = stream_name(&dir, &path);
            for line in text.lines() {
                print_line(&stream, line);
            }
        }
    }
}

/// The log groups to read: one service's, or every service's.
fn log_groups(config: &Config, service: Option<&str>) -> Result<Vec<String>, Error> {
    let group_of = |s: &crate::config::Service| config.task_definitions[&s.task_definition].container.log_group.clone();
    match service {
        Some(name) => match config.services.get(name) {
            Some(s) => Ok(vec![group_of(s)]),
            None => {
                let known: Vec<&str> = config.services.keys().map(String::as_str).collect();
                Err(Error::Usage(format!("no service `{name}` in {}; services: {}", config.source.display(), known.join(", "))))
            }
        },
        None => {
            let mut groups: Vec<String> = config.services.values().map(group_of).collect();
            groups.dedup();
            Ok(groups)
        }
    }
}

/// Every stream file under the group directories, with its group directory.
fn streams(dirs: &[PathBuf]) -> Vec<(PathBuf, PathBuf)> {
    let mut found = Vec::new();
    for dir in dirs {
        collect_logs(dir, dir, &mut found);
    }
    found.sort();
    found
}

fn collect_logs(root: &Path, dir: &Path, found: &mut Vec<(PathBuf, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_logs(root, &path, found);
        } else if path.extension().is_some_and(|e| e == "log") {
            found.push((root.to_path_buf(), path));
        }
    }
}

fn stream_name(group_dir: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(group_dir).unwrap_or(path);
    relative.with_extension("").display().to_string()
}

/// Complete lines from `offset` on, and the offset after the last complete line.
fn read_from(path: &Path, offset: u64) -> (String, u64) {
    let Ok(mut file) = std::fs::File::open(path) else { return (String::new(), offset) };
    if file.seek(SeekFrom::Start(offset)).is_err() {
        return (String::new(), offset);
    }
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    bytes.truncate(complete);
    (String::from_utf8_lossy(&bytes).into_owned(), offset + complete as u64)
}

fn print_line(stream: &str, line: &str) {
    println!("{stream} | {line}");
}
