//! Retention: which automated snapshots and archived binary logs may go. RDS keeps what a
//! restore to any time of the last `backup-retention-period` days needs: every automated
//! snapshot newer than the window's start, the newest one before it (the base for restoring to
//! the window's first minutes), and the logs from that base on. Manual snapshots are never
//! pruned.

use std::time::Duration;

use super::model::{ArchivedLog, Base};

/// What may be deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruning {
    /// Automated snapshot ids.
    pub snapshots: Vec<String>,
    /// Archived log file names.
    pub logs: Vec<String>,
}

impl Pruning {
    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty() && self.logs.is_empty()
    }
}

/// Decides what of `automated` (the instance's available automated snapshots) and `logs` (its
/// archived binary logs) is outside a retention of `retention` at `now` (Unix seconds) and not
/// needed by any time in it.
pub fn prune(automated: &[Base], logs: &[ArchivedLog], now: u64, retention: Duration) -> Pruning {
    let window_start = now.saturating_sub(retention.as_secs());
    let mut by_age: Vec<&Base> = automated.iter().collect();
    by_age.sort_by_key(|b| b.completed_at);
    // The newest snapshot complete at or before the window's start is the oldest one kept.
    let oldest_kept = by_age
        .iter()
        .rposition(|b| b.completed_at <= window_start)
        .unwrap_or(0);
    let snapshots = by_age[..oldest_kept.min(by_age.len())]
        .iter()
        .map(|b| b.id.clone())
        .collect();
    // Logs closed before the oldest kept base began hold nothing a restore replays; without any
    // base, logs are only useful once one exists, so keep those inside the window.
    let keep_from = by_age
        .get(oldest_kept)
        .map_or(window_start, |b| b.started_at);
    let logs = logs
        .iter()
        .filter(|l| l.closed_at < keep_from)
        .map(|l| l.name.clone())
        .collect();
    Pruning { snapshots, logs }
}

/// `EarliestRestorableTime` and `LatestRestorableTime` (Unix seconds) of an instance: from its
/// oldest automated snapshot to the last archiving (or the newest snapshot, if later). `None`
/// without an automated snapshot.
pub fn restorable_window(automated: &[Base], archived_until: Option<u64>) -> Option<(u64, u64)> {
    let earliest = automated.iter().map(|b| b.completed_at).min()?;
    let newest = automated.iter().map(|b| b.completed_at).max()?;
    Some((earliest, archived_until.unwrap_or(newest).max(newest)))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub fn base(id: &str, at: u64) -> Base {
        Base {
            id: id.into(),
            started_at: at,
            completed_at: at + 5,
            gtid: format!("0-1-{at}"),
        }
    }

    pub fn log(seq: u32, closed_at: u64) -> ArchivedLog {
        ArchivedLog {
            name: format!("mysql-bin.{seq:06}"),
            closed_at,
            size_bytes: 1,
        }
    }

    const DAY: u64 = 86_400;

    #[test]
    fn snapshots_older_than_the_window_go_except_the_base_of_its_start() {
        // Daily backups on days 0..=9; now is day 9 + 1h; retention 7 days: the window starts
        // on day 2 + 1h, so day 2's backup (at day 2 + 0) is the base of its first hours.
        let snaps: Vec<Base> = (0..10).map(|d| base(&format!("d{d}"), d * DAY)).collect();
        let now = 9 * DAY + 3600;
        let p = prune(&snaps, &[], now, Duration::from_secs(7 * DAY));
        assert_eq!(p.snapshots, ["d0", "d1"]);
    }

    #[test]
    fn logs_before_the_oldest_kept_base_go() {
        let snaps = vec![base("old", 0), base("base", 2 * DAY), base("new", 8 * DAY)];
        let logs = vec![
            log(1, DAY),
            log(2, 2 * DAY - 1),
            log(3, 2 * DAY + 1), // may hold events after "base" began: kept
            log(4, 5 * DAY),
        ];
        let p = prune(&snaps, &logs, 9 * DAY + 3600, Duration::from_secs(7 * DAY));
        assert_eq!(p.snapshots, ["old"]);
        assert_eq!(p.logs, ["mysql-bin.000001", "mysql-bin.000002"]);
    }

    #[test]
    fn nothing_goes_inside_the_window() {
        let snaps = vec![base("a", 100), base("b", 200)];
        let logs = vec![log(1, 150), log(2, 250)];
        assert!(prune(&snaps, &logs, 300, Duration::from_secs(1000)).is_empty());
        // A single old snapshot is still the base of the whole window.
        let p = prune(
            &[base("only", 0)],
            &[log(1, 10)],
            10 * DAY,
            Duration::from_secs(DAY),
        );
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn without_a_snapshot_only_logs_outside_the_window_go() {
        let logs = vec![log(1, 10), log(2, 990)];
        let p = prune(&[], &logs, 1000, Duration::from_secs(100));
        assert_eq!(p.logs, ["mysql-bin.000001"]);
    }

    #[test]
    fn the_restorable_window_runs_from_the_oldest_backup_to_the_last_archiving() {
        let snaps = vec![base("a", 100), base("b", 200)];
        assert_eq!(restorable_window(&snaps, Some(400)), Some((105, 400)));
        assert_eq!(restorable_window(&snaps, None), Some((105, 205)));
        assert_eq!(restorable_window(&snaps, Some(150)), Some((105, 205)));
        assert_eq!(restorable_window(&[], Some(400)), None);
    }
}
