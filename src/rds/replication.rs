//! MariaDB GTID replication between DB nodes: the replication account, a node following another
//! from a copy's GTID position, semi-synchronous acknowledgement, the replica's state, and
//! promotion. All through [`Node`] (`docker exec`), so it works on internal networks.
//!
//! Semi-sync facts this relies on (MariaDB 10.11): `rpl_semi_sync_master_wait_point` defaults
//! to `AFTER_COMMIT`, which lets other sessions see (and a crash lose) a commit the replica does
//! not have; [`enable_semi_sync_primary`] sets `AFTER_SYNC`, so a commit is acknowledged to the
//! client only once the replica has it in its relay log. After `rpl_semi_sync_master_timeout`
//! without an acknowledgement the primary silently goes asynchronous
//! (`Rpl_semi_sync_master_status` = OFF, see [`primary_semi_sync`]) and back once the replica
//! catches up.

use std::collections::HashMap;
use std::time::Duration;

use super::sql::{Node, SqlError, literal};

/// The replication account, RDS's own name for it.
pub const REPLICATION_USER: &str = "rdsrepladmin";
/// The lab secret holding the replication account's password (state directory, mode 0600).
pub const PASSWORD_SECRET: &str = "rds-replication-password";

/// Errors of setting up or reading replication.
#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    #[error(transparent)]
    Sql(#[from] SqlError),
    #[error(
        "cannot promote: the replica has not applied what it received ({received}) within {waited:?}; applied: {applied}"
    )]
    NotApplied {
        received: String,
        applied: String,
        waited: Duration,
    },
    #[error("cannot promote: the replica's SQL thread stopped with an error: {error}")]
    ApplyFailed { error: String },
}

/// Creates (or updates) the replication account on `source` with `password`. Do it before
/// taking the copy a replica starts from, so the copy (and a replica promoted later) has the
/// account too.
pub async fn ensure_user(source: &Node<'_>, password: &str) -> Result<(), ReplicationError> {
    let user = format!("{}@'%'", literal(REPLICATION_USER));
    let pw = literal(password);
    // Not in the binary log: each node gets the account from its copy or from this call, and a
    // replica must not replay an account change of its source.
    let statements = format!(
        "SET SESSION sql_log_bin = 0;\n\
         CREATE USER IF NOT EXISTS {user} IDENTIFIED BY {pw};\n\
         ALTER USER {user} IDENTIFIED BY {pw};\n\
         GRANT REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR ON *.* TO {user};"
    );
    source
        .query_secret(
            &statements,
            &format!("CREATE USER {user} IDENTIFIED BY <secret>; GRANT REPLICATION SLAVE ..."),
        )
        .await?;
    Ok(())
}

/// Where a replica reads from: the source's address (as the replica resolves or reaches it)
/// and port, and the replication account's password.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    pub host: &'a str,
    pub port: u16,
    pub password: &'a str,
}

/// Makes `replica` (started on a copy consistent at `gtid`) replicate from `source` by GTID
/// (`MASTER_USE_GTID=slave_pos`), read-only, acknowledging semi-synchronously when `semi_sync`.
/// Idempotent: an existing replication setup is replaced.
pub async fn follow(
    replica: &Node<'_>,
    source: &Source<'_>,
    gtid: &str,
    semi_sync: bool,
) -> Result<(), ReplicationError> {
    let semi = if semi_sync { "ON" } else { "OFF" };
    let change = format!(
        "CHANGE MASTER TO MASTER_HOST={host}, MASTER_PORT={port}, MASTER_USER={user}, \
         MASTER_PASSWORD={pw}, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, \
         MASTER_HEARTBEAT_PERIOD=1",
        host = literal(source.host),
        port = source.port,
        user = literal(REPLICATION_USER),
        pw = literal(source.password),
    );
    let statements = format!(
        "SET GLOBAL read_only = ON;\n\
         STOP SLAVE;\n\
         RESET SLAVE ALL;\n\
         SET GLOBAL gtid_slave_pos = {gtid};\n\
         {change};\n\
         SET GLOBAL rpl_semi_sync_slave_enabled = {semi};\n\
         SET GLOBAL rpl_semi_sync_slave_kill_conn_timeout = 1;\n\
         START SLAVE;",
        gtid = literal(gtid),
    );
    let shown = format!(
        "CHANGE MASTER TO MASTER_HOST={}, MASTER_PORT={}, MASTER_USE_GTID=slave_pos (gtid {gtid}), semi-sync {semi}; START SLAVE",
        source.host, source.port
    );
    replica.query_secret(&statements, &shown).await?;
    Ok(())
}

/// Turns on semi-synchronous replication on a primary: commits wait for a replica's
/// acknowledgement after the binary log is synced (`AFTER_SYNC`, set explicitly: MariaDB's
/// default is `AFTER_COMMIT`), for at most `timeout` before falling back to asynchronous.
pub async fn enable_semi_sync_primary(
    primary: &Node<'_>,
    timeout: Duration,
) -> Result<(), ReplicationError> {
    let statements = format!(
        "SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC;\n\
         SET GLOBAL rpl_semi_sync_master_timeout = {};\n\
         SET GLOBAL rpl_semi_sync_master_enabled = ON;",
        timeout.as_millis()
    );
    primary.query(&statements).await?;
    Ok(())
}

/// Turns semi-synchronous waiting off on a primary (no standby any more).
pub async fn disable_semi_sync_primary(primary: &Node<'_>) -> Result<(), ReplicationError> {
    primary
        .query("SET GLOBAL rpl_semi_sync_master_enabled = OFF")
        .await?;
    Ok(())
}

/// The primary side of semi-sync, from its status variables.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SemiSyncState {
    /// `rpl_semi_sync_master_enabled`: commits are meant to wait for an acknowledgement.
    pub enabled: bool,
    /// `Rpl_semi_sync_master_status`: they actually do (OFF while fallen back to async).
    pub active: bool,
    /// `Rpl_semi_sync_master_clients`: replicas connected with semi-sync on.
    pub clients: u32,
    /// `Rpl_semi_sync_master_no_tx`: commits not acknowledged by a replica, since start.
    pub unacknowledged_commits: u64,
}

/// Reads the primary's semi-sync state.
pub async fn primary_semi_sync(primary: &Node<'_>) -> Result<SemiSyncState, ReplicationError> {
    let rows = primary
        .query(
            "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES \
             WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_ENABLED' \
             UNION ALL SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
             WHERE VARIABLE_NAME IN ('RPL_SEMI_SYNC_MASTER_STATUS', \
             'RPL_SEMI_SYNC_MASTER_CLIENTS', 'RPL_SEMI_SYNC_MASTER_NO_TX')",
        )
        .await?;
    Ok(semi_sync_from(&rows))
}

fn semi_sync_from(rows: &[Vec<String>]) -> SemiSyncState {
    let value = |name: &str| {
        rows.iter()
            .find(|r| r.first().is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .and_then(|r| r.get(1))
            .map(String::as_str)
            .unwrap_or("")
    };
    SemiSyncState {
        enabled: value("RPL_SEMI_SYNC_MASTER_ENABLED").eq_ignore_ascii_case("ON"),
        active: value("RPL_SEMI_SYNC_MASTER_STATUS").eq_ignore_ascii_case("ON"),
        clients: value("RPL_SEMI_SYNC_MASTER_CLIENTS").parse().unwrap_or(0),
        unacknowledged_commits: value("RPL_SEMI_SYNC_MASTER_NO_TX").parse().unwrap_or(0),
    }
}

/// A replica's state, from `SHOW SLAVE STATUS` and its GTID positions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplicaState {
    /// Replication is configured on the node at all.
    pub configured: bool,
    /// `Slave_IO_Running` is `Yes` (`Connecting` counts as not running).
    pub io_running: bool,
    pub sql_running: bool,
    /// `Seconds_Behind_Master`; `None` when replication is not running (RDS's ReplicaLag −1).
    pub seconds_behind: Option<u64>,
    /// What the IO thread has received (`Gtid_IO_Pos`).
    pub gtid_received: String,
    /// What the SQL thread has applied (`gtid_slave_pos`).
    pub gtid_applied: String,
    /// The IO thread's last error (connecting to or reading from the source), if any.
    pub last_io_error: Option<String>,
    /// The SQL thread's last error (applying), if any.
    pub last_sql_error: Option<String>,
}

/// Reads `replica`'s replication state.
pub async fn status(replica: &Node<'_>) -> Result<ReplicaState, ReplicationError> {
    let rows = replica.query_named("SHOW SLAVE STATUS").await?;
    let applied = replica
        .value("SELECT @@GLOBAL.gtid_slave_pos")
        .await?
        .unwrap_or_default();
    Ok(replica_state_from(rows.first(), applied))
}

fn replica_state_from(row: Option<&HashMap<String, String>>, applied: String) -> ReplicaState {
    let Some(row) = row else {
        return ReplicaState {
            gtid_applied: applied,
            ..Default::default()
        };
    };
    let field = |name: &str| row.get(name).map(String::as_str).unwrap_or("");
    let io_running = field("Slave_IO_Running") == "Yes";
    let sql_running = field("Slave_SQL_Running") == "Yes";
    let error = |name: &str| Some(field(name).to_string()).filter(|e| !e.is_empty());
    ReplicaState {
        configured: true,
        io_running,
        sql_running,
        seconds_behind: field("Seconds_Behind_Master").parse().ok(),
        gtid_received: field("Gtid_IO_Pos").to_string(),
        gtid_applied: applied,
        last_io_error: error("Last_IO_Error"),
        last_sql_error: error("Last_SQL_Error"),
    }
}

/// What a promotion leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promoted {
    /// The GTID position the node was promoted at (all it had received, applied).
    pub gtid: String,
}

/// Promotes `replica` to a writable standalone primary: stops receiving, applies everything it
/// had received (its relay log) within `apply_timeout`, then `STOP SLAVE; RESET SLAVE ALL;
/// read_only = OFF`. Refuses (leaving the node a read-only replica) when the relay log cannot be
/// applied: a primary that lacks received transactions could lack acknowledged ones.
pub async fn promote(
    replica: &Node<'_>,
    apply_timeout: Duration,
) -> Result<Promoted, ReplicationError> {
    // Nothing more from the old primary: what was received is what there is. With
    // rpl_semi_sync_slave_kill_conn_timeout = 1 this returns within about a second even when the
    // old primary is dead.
    replica.query("STOP SLAVE IO_THREAD").await?;
    let state = status(replica).await?;
    if state.configured && !state.gtid_received.is_empty() {
        if !state.sql_running {
            if let Some(error) = state.last_sql_error {
                return Err(ReplicationError::ApplyFailed { error });
            }
            // Stopped on purpose (a delayed or paused replica): start it to apply.
            replica.query("START SLAVE SQL_THREAD").await?;
        }
        let waited = replica
            .value(&format!(
                "SELECT MASTER_GTID_WAIT({}, {})",
                literal(&state.gtid_received),
                apply_timeout.as_secs_f64()
            ))
            .await?;
        if waited.as_deref() != Some("0") {
            let applied = replica
                .value("SELECT @@GLOBAL.gtid_slave_pos")
                .await?
                .unwrap_or_default();
            return Err(ReplicationError::NotApplied {
                received: state.gtid_received,
                applied,
                waited: apply_timeout,
            });
        }
    }
    let rows = replica
        .query(
            "STOP SLAVE;\n\
             RESET SLAVE ALL;\n\
             SET GLOBAL rpl_semi_sync_slave_enabled = OFF;\n\
             SET GLOBAL read_only = OFF;\n\
             SELECT @@GLOBAL.gtid_current_pos;",
        )
        .await?;
    let gtid = rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next())
        .unwrap_or_default();
    Ok(Promoted { gtid })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_running_replica_reports_its_lag_and_positions() {
        let r = row(&[
            ("Slave_IO_Running", "Yes"),
            ("Slave_SQL_Running", "Yes"),
            ("Seconds_Behind_Master", "3"),
            ("Gtid_IO_Pos", "0-1-42"),
            ("Last_IO_Error", ""),
            ("Last_SQL_Error", ""),
        ]);
        let state = replica_state_from(Some(&r), "0-1-40".into());
        assert!(state.configured && state.io_running && state.sql_running);
        assert_eq!(state.seconds_behind, Some(3));
        assert_eq!(state.gtid_received, "0-1-42");
        assert_eq!(state.gtid_applied, "0-1-40");
        assert_eq!(state.last_io_error, None);
        assert_eq!(state.last_sql_error, None);
    }

    #[test]
    fn a_broken_replica_has_no_lag_and_says_why() {
        let r = row(&[
            ("Slave_IO_Running", "Connecting"),
            ("Slave_SQL_Running", "Yes"),
            ("Seconds_Behind_Master", "NULL"),
            ("Last_IO_Error", "error connecting to master"),
            ("Last_SQL_Error", ""),
        ]);
        let state = replica_state_from(Some(&r), String::new());
        assert!(!state.io_running);
        assert_eq!(state.seconds_behind, None);
        assert_eq!(
            state.last_io_error.as_deref(),
            Some("error connecting to master")
        );
        assert_eq!(state.last_sql_error, None);
    }

    #[test]
    fn a_node_without_replication_is_not_configured() {
        let state = replica_state_from(None, "0-1-3".into());
        assert!(!state.configured && !state.io_running);
        assert_eq!(state.seconds_behind, None);
    }

    #[test]
    fn semi_sync_state_reads_the_status_variables() {
        let rows: Vec<Vec<String>> = [
            ["RPL_SEMI_SYNC_MASTER_ENABLED", "ON"],
            ["Rpl_semi_sync_master_status", "OFF"],
            ["RPL_SEMI_SYNC_MASTER_CLIENTS", "0"],
            ["RPL_SEMI_SYNC_MASTER_NO_TX", "7"],
        ]
        .iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect();
        assert_eq!(
            semi_sync_from(&rows),
            SemiSyncState {
                enabled: true,
                active: false,
                clients: 0,
                unacknowledged_commits: 7
            }
        );
    }
}
