//! Multi-AZ: a standby in another availability zone, kept in sync by semi-synchronous GTID
//! replication (`AFTER_SYNC`), and failover to it that loses no acknowledged write.
//!
//! - [`standby`]: build the standby from a copy of the primary while the primary serves
//!   (`modify-db-instance --multi-az`, `multi-az = true`, and after every failover), watch it,
//!   remove it (`--no-multi-az`).
//! - [`failover`]: fence the old primary (its connections are cut), promote the standby once it
//!   applied everything it received, move the endpoint's aliases onto it, rebuild a standby.
//! - [`decision`]: the pure rules (when, to whom, what if the standby is behind).
//!
//! All of it runs in the instance's supervisor, one step at a time, so a failover never races
//! a standby rebuild or a reboot.

pub mod decision;
pub mod failover;
pub mod standby;
pub(crate) mod supervise;

use std::time::Duration;

use crate::docker::DockerError;

use super::copy::CopyError;
use super::replication::ReplicationError;

/// How long a commit on the primary waits for the standby's acknowledgement before
/// replication falls back to asynchronous (`rpl_semi_sync_master_timeout`; MariaDB's default
/// is 10 s).
pub const SEMI_SYNC_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a promoted standby may take to apply its relay log.
pub const APPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long RDS takes before the endpoint points at the new primary (`failover = "aws"`):
/// RDS documents 60–120 s for a Multi-AZ instance failover.
pub const AWS_FAILOVER_DELAY: Duration = Duration::from_secs(60);
/// How long a new node may take to answer SQL.
pub const NODE_READY_TIMEOUT: Duration = Duration::from_secs(90);

/// Errors of building a standby or failing over.
#[derive(Debug, thiserror::Error)]
pub enum MultiAzError {
    #[error("database `{identifier}`: {message}")]
    Invalid { identifier: String, message: String },
    #[error("database `{identifier}`")]
    Docker {
        identifier: String,
        #[source]
        source: DockerError,
    },
    #[error("database `{identifier}`: copy for the standby")]
    Copy {
        identifier: String,
        #[source]
        source: CopyError,
    },
    #[error("database `{identifier}`: replication")]
    Replication {
        identifier: String,
        #[source]
        source: ReplicationError,
    },
}
