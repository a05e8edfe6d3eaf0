//! What a read replica's `SHOW SLAVE STATUS` means in RDS's terms: the replication state of
//! `describe-db-instances`' `StatusInfos` (`replicating`, `error`, `stopped`), the `ReplicaLag`
//! metric (Seconds_Behind_Master, −1 when replication is not running), and the RDS event a
//! change of state is reported with. Pure functions: the sampler feeds them what it read.

use serde::{Deserialize, Serialize};

use crate::rds::EventKind;

/// `ReplicaLag` when replication is not running, as RDS reports it.
pub const LAG_NOT_REPLICATING: i64 = -1;

/// RDS's read replication state (`StatusInfos` with `StatusType=read replication`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplicationState {
    /// Both threads run: the replica receives and applies the source's changes.
    Replicating,
    /// A thread stopped on an error (or cannot reach the source and says why).
    Error,
    /// Replication is not running and no error explains it (stopped on request, or never
    /// started).
    Stopped,
}

impl ReplicationState {
    /// RDS's word for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicationState::Replicating => "replicating",
            ReplicationState::Error => "error",
            ReplicationState::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for ReplicationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields of one `SHOW SLAVE STATUS` row that matter here; `None` for the whole status when
/// the server has no replication configured (no row).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlaveStatus {
    /// `Slave_IO_Running`: `Yes`, `No` or `Connecting`.
    pub io_running: String,
    /// `Slave_SQL_Running`: `Yes` or `No`.
    pub sql_running: String,
    /// `Seconds_Behind_Master`; `None` for NULL (a thread is not running, or the IO thread is
    /// not connected).
    pub seconds_behind_master: Option<u64>,
    /// `Last_IO_Error`, empty when none.
    pub last_io_error: String,
    /// `Last_SQL_Error`, empty when none.
    pub last_sql_error: String,
    /// `SQL_Delay`: the configured `MASTER_DELAY` (a delayed replica, `tierlab chaos
    /// replica-lag`).
    pub sql_delay: u64,
}

impl SlaveStatus {
    /// The fields of a `SHOW SLAVE STATUS` row read as column name → value (`NULL` as the
    /// string `NULL`, as the client prints it).
    pub fn from_row(row: &std::collections::HashMap<String, String>) -> SlaveStatus {
        let field = |name: &str| {
            row.get(name)
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        SlaveStatus {
            io_running: field("Slave_IO_Running"),
            sql_running: field("Slave_SQL_Running"),
            seconds_behind_master: field("Seconds_Behind_Master").parse().ok(),
            last_io_error: field("Last_IO_Error"),
            last_sql_error: field("Last_SQL_Error"),
            sql_delay: field("SQL_Delay").parse().unwrap_or(0),
        }
    }
}

/// What is known about a read replica's replication, as last sampled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaObserved {
    pub state: ReplicationState,
    /// `ReplicaLag` in seconds; [`LAG_NOT_REPLICATING`] when replication is not running.
    pub lag_seconds: i64,
    /// The error that stopped replication (the IO or SQL thread's last error), if any.
    pub error: Option<String>,
    /// The replica's configured delay (`MASTER_DELAY`), 0 when it applies changes at once.
    pub delay_seconds: u64,
}

impl ReplicaObserved {
    /// Before the first sample: replication is being set up.
    pub fn starting() -> ReplicaObserved {
        ReplicaObserved {
            state: ReplicationState::Stopped,
            lag_seconds: LAG_NOT_REPLICATING,
            error: None,
            delay_seconds: 0,
        }
    }
}

/// Classifies one sample. `None` (no replication configured) is `stopped`.
pub fn classify(status: Option<&SlaveStatus>) -> ReplicaObserved {
    let Some(s) = status else {
        return ReplicaObserved::starting();
    };
    let error = [&s.last_sql_error, &s.last_io_error]
        .into_iter()
        .find(|e| !e.trim().is_empty())
        .map(|e| e.trim().to_string());
    let sql = s.sql_running.eq_ignore_ascii_case("yes");
    let io = s.io_running.eq_ignore_ascii_case("yes");
    // The IO thread retrying a connection keeps its last error; while it retries without one it
    // is still replicating as far as anyone can tell (a source that restarts).
    let connecting = s.io_running.eq_ignore_ascii_case("connecting");
    let state = match (io, sql, &error) {
        (true, true, _) => ReplicationState::Replicating,
        (false, true, None) if connecting => ReplicationState::Replicating,
        (_, _, Some(_)) => ReplicationState::Error,
        _ => ReplicationState::Stopped,
    };
    let lag_seconds = match (state, io && sql, s.seconds_behind_master) {
        (ReplicationState::Replicating, true, Some(secs)) => {
            i64::try_from(secs).unwrap_or(i64::MAX)
        }
        _ => LAG_NOT_REPLICATING,
    };
    ReplicaObserved {
        state,
        lag_seconds,
        error: (state == ReplicationState::Error)
            .then_some(error)
            .flatten(),
        delay_seconds: s.sql_delay,
    }
}

/// The RDS event a change from `before` (`None`: the first sample since the replica was
/// created) to `now` is reported with, if any.
pub fn transition(before: Option<ReplicationState>, now: ReplicationState) -> Option<EventKind> {
    use ReplicationState::*;
    match (before, now) {
        (Some(Replicating), Replicating) => None,
        (_, Replicating) => Some(EventKind::ReplicationResumed),
        (Some(Error), Error) => None,
        (_, Error) => Some(EventKind::ReplicationStopped),
        // Stopped on request: whoever stopped it recorded why.
        (_, Stopped) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(io: &str, sql: &str, behind: Option<u64>) -> SlaveStatus {
        SlaveStatus {
            io_running: io.into(),
            sql_running: sql.into(),
            seconds_behind_master: behind,
            ..Default::default()
        }
    }

    #[test]
    fn lag_is_seconds_behind_master_while_both_threads_run() {
        let o = classify(Some(&row("Yes", "Yes", Some(0))));
        assert_eq!(
            (o.state, o.lag_seconds, o.error),
            (ReplicationState::Replicating, 0, None)
        );
        assert_eq!(classify(Some(&row("Yes", "Yes", Some(7)))).lag_seconds, 7);
        // Running but the server cannot tell (NULL): not a number to report.
        assert_eq!(classify(Some(&row("Yes", "Yes", None))).lag_seconds, -1);
    }

    #[test]
    fn lag_is_minus_one_when_replication_is_not_running() {
        for status in [
            None,
            Some(row("No", "No", None)),
            Some(row("Yes", "No", None)),
            Some(row("Connecting", "Yes", None)),
        ] {
            assert_eq!(
                classify(status.as_ref()).lag_seconds,
                LAG_NOT_REPLICATING,
                "{status:?}"
            );
        }
        assert_eq!(classify(None).state, ReplicationState::Stopped);
        assert_eq!(
            classify(Some(&row("No", "No", None))).state,
            ReplicationState::Stopped
        );
    }

    #[test]
    fn a_thread_stopped_by_an_error_is_an_error_with_its_message() {
        let mut s = row("Yes", "No", None);
        s.last_sql_error = "Error 'Duplicate entry '1' for key 'PRIMARY'' on query".into();
        let o = classify(Some(&s));
        assert_eq!(o.state, ReplicationState::Error);
        assert_eq!(o.lag_seconds, -1);
        assert!(o.error.unwrap().starts_with("Error 'Duplicate entry"));
        let mut s = row("Connecting", "Yes", None);
        s.last_io_error = "error connecting to master 'repl@db:3306' - retry-time: 1".into();
        assert_eq!(classify(Some(&s)).state, ReplicationState::Error);
        // Reconnecting without an error yet: still replicating, lag unknown.
        let o = classify(Some(&row("Connecting", "Yes", None)));
        assert_eq!(
            (o.state, o.lag_seconds),
            (ReplicationState::Replicating, -1)
        );
    }

    #[test]
    fn a_show_slave_status_row_reads_by_column_name() {
        let row: std::collections::HashMap<String, String> = [
            ("Slave_IO_Running", "Yes"),
            ("Slave_SQL_Running", "Yes"),
            ("Seconds_Behind_Master", "NULL"),
            ("Last_IO_Error", ""),
            ("Last_SQL_Error", ""),
            ("SQL_Delay", "5"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let s = SlaveStatus::from_row(&row);
        assert_eq!((s.seconds_behind_master, s.sql_delay), (None, 5));
        let o = classify(Some(&s));
        assert_eq!(
            (o.state, o.lag_seconds, o.delay_seconds),
            (ReplicationState::Replicating, -1, 5)
        );
    }

    #[test]
    fn changes_of_state_are_rds_events() {
        use ReplicationState::*;
        assert_eq!(
            transition(None, Replicating),
            Some(EventKind::ReplicationResumed)
        );
        assert_eq!(transition(Some(Replicating), Replicating), None);
        assert_eq!(
            transition(Some(Replicating), Error),
            Some(EventKind::ReplicationStopped)
        );
        assert_eq!(transition(Some(Error), Error), None);
        assert_eq!(
            transition(Some(Error), Replicating),
            Some(EventKind::ReplicationResumed)
        );
        assert_eq!(transition(Some(Replicating), Stopped), None);
    }
}
