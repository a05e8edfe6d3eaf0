//! Binary log archiving, as RDS ships transaction logs: `FLUSH BINARY LOGS` closes the current
//! log, then the closed logs not archived yet are copied from the data directory to
//! `binlogs/<instance>/` in the lab's storage, inside the instance's own container (which mounts
//! both). Every transaction committed before the flush is then in the archive: that time is the
//! instance's `LatestRestorableTime`.

use crate::docker::DockerClient;
use crate::rds::sql::Node;
use crate::rds::{DbInstance, STORAGE_MOUNT};

use super::model::{ArchiveIndex, ArchivedLog};
use super::store::Store;
use super::{BackupError, now_secs};

/// Copies the files named after `$2...` from the data directory to `$1` (under the storage).
const COPY: &str = r#"set -e
dest="$1"; shift
mkdir -p "$dest"
for f in "$@"; do cp "/var/lib/mysql/$f" "$dest/$f.tmp"; mv "$dest/$f.tmp" "$dest/$f"; done
"#;

/// Archives the instance's closed binary logs; returns the archive's index.
pub async fn archive(
    docker: &DockerClient,
    db: &DbInstance,
    store: &Store,
) -> Result<ArchiveIndex, BackupError> {
    let container = db.container_id();
    let node = Node {
        docker,
        container: &container,
        port: db.port,
    };
    // Taken before the flush: everything committed before it is in a log the flush closes.
    let flushed_at = now_secs();
    let logs = node.query("FLUSH BINARY LOGS; SHOW BINARY LOGS").await?;
    let mut index = store.archive(&db.identifier);
    let closed = closed_logs(&logs);
    let new: Vec<(String, u64)> = closed
        .into_iter()
        .filter(|(name, _)| !index.logs.iter().any(|l| &l.name == name))
        .collect();
    if !new.is_empty() {
        let dest = format!("{STORAGE_MOUNT}/binlogs/{}", db.identifier);
        let mut command = vec!["sh", "-c", COPY, "sh", dest.as_str()];
        command.extend(new.iter().map(|(name, _)| name.as_str()));
        let output = docker.exec_with_input(&container, &command, b"").await?;
        if output.exit_code != 0 {
            return Err(BackupError::Archive {
                identifier: db.identifier.clone(),
                message: output.stderr.trim().to_string(),
            });
        }
        index
            .logs
            .extend(new.into_iter().map(|(name, size_bytes)| ArchivedLog {
                name,
                closed_at: flushed_at,
                size_bytes,
            }));
    }
    index.archived_until = Some(flushed_at);
    store.put_archive(&db.identifier, &index)?;
    Ok(index)
}

/// The closed logs of `SHOW BINARY LOGS` (`Log_name`, `File_size`, ...): all but the last,
/// which the server is writing. Names that are not plain file names are skipped.
pub fn closed_logs(rows: &[Vec<String>]) -> Vec<(String, u64)> {
    let mut logs: Vec<(String, u64)> = rows
        .iter()
        .filter_map(|row| {
            let name = row.first()?;
            let size = row.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            let plain = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_');
            plain.then(|| (name.clone(), size))
        })
        .collect();
    logs.pop();
    logs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_log_but_the_current_one_is_closed() {
        let rows: Vec<Vec<String>> = [
            ["mysql-bin.000001", "500"],
            ["mysql-bin.000002", "385"],
            ["mysql-bin.000003", "342"],
        ]
        .iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect();
        assert_eq!(
            closed_logs(&rows),
            [
                ("mysql-bin.000001".to_string(), 500),
                ("mysql-bin.000002".to_string(), 385)
            ]
        );
        let odd = vec![
            vec!["../etc/passwd".to_string(), "1".into()],
            vec!["mysql-bin.000009".into(), "1".into()],
        ];
        assert!(closed_logs(&odd).is_empty());
    }
}
