//! Point-in-time restore planning: for a restore time T, the newest snapshot complete by T, the
//! archived logs that may hold what was committed after it up to T, where replay starts (the
//! snapshot's GTID position) and where it stops (`--stop-datetime` T: events at T or later are
//! not applied).

use super::model::{ArchivedLog, Base};
use super::retention::restorable_window;

/// What a restore to T runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The snapshot restored first.
    pub snapshot: String,
    /// Archived logs replayed on it, in order (possibly none).
    pub logs: Vec<String>,
    /// `mariadb-binlog --start-position`: the snapshot's GTID position (replay starts after it).
    pub start_gtid: String,
    /// `mariadb-binlog --stop-datetime` (UTC, `YYYY-MM-DD hh:mm:ss`).
    pub stop_datetime: String,
    pub restore_time: u64,
}

/// Why a time cannot be restored, in RDS's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PitrError {
    #[error("The source DB instance has no automated backups yet to restore from.")]
    NoBackups,
    #[error(
        "The restore time {restore} is before the earliest restorable time {earliest} of the source DB instance."
    )]
    TooEarly { restore: String, earliest: String },
    #[error(
        "The restore time {restore} is after the latest restorable time {latest} of the source DB instance."
    )]
    TooLate { restore: String, latest: String },
}

/// Plans a restore to `t` (Unix seconds) from the instance's automated snapshots and archived
/// logs; `archived_until` is its `LatestRestorableTime` as the archive knows it.
pub fn plan(
    automated: &[Base],
    logs: &[ArchivedLog],
    archived_until: Option<u64>,
    t: u64,
) -> Result<Plan, PitrError> {
    let (earliest, latest) =
        restorable_window(automated, archived_until).ok_or(PitrError::NoBackups)?;
    if t < earliest {
        return Err(PitrError::TooEarly {
            restore: iso(t),
            earliest: iso(earliest),
        });
    }
    if t > latest {
        return Err(PitrError::TooLate {
            restore: iso(t),
            latest: iso(latest),
        });
    }
    let base = automated
        .iter()
        .filter(|b| b.completed_at <= t)
        .max_by_key(|b| b.completed_at)
        .ok_or(PitrError::NoBackups)?;
    let mut ordered: Vec<&ArchivedLog> = logs
        .iter()
        .filter(|l| l.closed_at >= base.started_at)
        .collect();
    ordered.sort_by_key(|l| l.sequence());
    // Up to the first archiving at or after T, all the logs it archived: `closed_at` is when
    // the archiving flushed (an upper bound), so a log it archived may have been closed earlier
    // (by a restart) and the next one of the same run still hold events before T. The first log
    // of a later run began at that flush, after T.
    let end = match ordered
        .iter()
        .map(|l| l.closed_at)
        .filter(|c| *c >= t)
        .min()
    {
        Some(run) => ordered.iter().filter(|l| l.closed_at <= run).count(),
        None => ordered.len(),
    };
    Ok(Plan {
        snapshot: base.id.clone(),
        logs: ordered[..end].iter().map(|l| l.name.clone()).collect(),
        start_gtid: base.gtid.clone(),
        stop_datetime: datetime(t),
        restore_time: t,
    })
}

/// RFC 3339 UTC seconds, as RDS writes times in messages.
pub fn iso(t: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t))
        .to_string()
}

/// `YYYY-MM-DD hh:mm:ss`, as `mariadb-binlog --stop-datetime` reads it (the container runs in UTC).
fn datetime(t: u64) -> String {
    iso(t).trim_end_matches('Z').replace('T', " ")
}

#[cfg(test)]
mod tests {
    use super::super::retention::tests::{base, log};
    use super::*;

    #[test]
    fn the_newest_snapshot_before_t_and_the_logs_up_to_t() {
        let snaps = vec![base("a", 1000), base("b", 2000)];
        let logs = vec![
            log(1, 1500),
            log(2, 1990), // closed before "b" began: not needed from "b"
            log(3, 2100),
            log(4, 2200),
            log(5, 2300),
        ];
        let p = plan(&snaps, &logs, Some(2300), 2150).unwrap();
        assert_eq!(p.snapshot, "b");
        assert_eq!(p.start_gtid, "0-1-2000");
        assert_eq!(p.logs, ["mysql-bin.000003", "mysql-bin.000004"]);
        // Between the two snapshots: "a" and the logs from it on.
        let p = plan(&snaps, &logs, Some(2300), 1600).unwrap();
        assert_eq!(p.snapshot, "a");
        assert_eq!(p.logs, ["mysql-bin.000001", "mysql-bin.000002"]);
        // The latest restorable time needs every log.
        let p = plan(&snaps, &logs, Some(2300), 2300).unwrap();
        assert_eq!(p.logs.len(), 3);
    }

    #[test]
    fn every_log_of_the_archiving_that_covers_t_is_replayed() {
        // Logs 2 and 3 were archived by the same run at 300 (2 closed earlier by a restart).
        let snaps = vec![base("a", 0)];
        let logs = vec![log(1, 100), log(2, 300), log(3, 300), log(4, 400)];
        let p = plan(&snaps, &logs, Some(400), 150).unwrap();
        assert_eq!(
            p.logs,
            ["mysql-bin.000001", "mysql-bin.000002", "mysql-bin.000003"]
        );
    }

    #[test]
    fn logs_are_replayed_in_sequence_order() {
        let snaps = vec![base("a", 0)];
        let logs = vec![log(10, 30), log(9, 20)];
        let p = plan(&snaps, &logs, Some(30), 25).unwrap();
        assert_eq!(p.logs, ["mysql-bin.000009", "mysql-bin.000010"]);
    }

    #[test]
    fn the_stop_datetime_is_t_in_utc() {
        let t = humantime::parse_rfc3339("2026-12-02T06:01:02Z")
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let p = plan(&[base("a", t - 100)], &[], Some(t), t).unwrap();
        assert_eq!(p.stop_datetime, "2026-12-02 06:01:02");
    }

    #[test]
    fn times_outside_the_restorable_window_are_refused() {
        let snaps = vec![base("a", 1000)];
        assert!(matches!(
            plan(&snaps, &[], Some(2000), 999),
            Err(PitrError::TooEarly { .. })
        ));
        let e = plan(&snaps, &[], Some(2000), 2001).unwrap_err();
        assert!(
            e.to_string().contains("after the latest restorable time"),
            "{e}"
        );
        assert_eq!(plan(&[], &[], Some(2000), 1500), Err(PitrError::NoBackups));
    }
}
