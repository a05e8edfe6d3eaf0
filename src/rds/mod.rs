//! The RDS tier: a MySQL-family database instance in a container on the private DB subnet's
//! internal network, with its data on a named volume that survives `down`/`up`.
//!
//! Each instance is supervised once it is available ([`spawn_supervisor`]): its status is what
//! its container and `mysqladmin ping` say ([`InstanceStatus`]), a dead or hung engine is
//! restarted on its volume as RDS recovers a single-AZ instance ([`recovery`]), and what happens
//! is recorded as RDS events ([`events`]).

pub mod backups;
pub mod copy;
pub mod credentials;
pub mod detour;
mod endpoint;
pub mod events;
mod fleet;
mod instance;
pub mod multi_az;
pub mod nodes;
pub mod read_replica;
mod readiness;
mod reboot;
pub mod recovery;
pub mod replication;
pub mod sql;
mod state;
mod supervisor;

pub use events::{EventKind, RdsEvent};
pub use fleet::Fleet;
pub use instance::{
    DbInstance, STORAGE_MOUNT, container_name, server_id, start, storage_dir, volume_name,
};
pub use readiness::wait_ready;
pub use reboot::{FailoverError, RebootError, SHUTDOWN_GRACE_SECS};
pub use state::{InstanceState, InstanceStatus, Observed};
pub use supervisor::{PROBE_INTERVAL, RECOVERY_TIMEOUT, spawn_supervisor};

/// Errors of the database tier.
#[derive(Debug, thiserror::Error)]
pub enum RdsError {
    #[error("this lab runs no containers, so it has no database tier (add a [databases.ID] table)")]
    NoDocker,
    #[error("database `{identifier}`")]
    Docker {
        identifier: String,
        #[source]
        source: crate::docker::DockerError,
    },
    #[error("database `{identifier}`: cannot read or create its master password")]
    Secret {
        identifier: String,
        #[source]
        source: crate::state::StateError,
    },
    #[error("database `{identifier}`: cannot create the lab's RDS storage (backups, snapshots)")]
    Storage {
        identifier: String,
        #[source]
        source: crate::state::StateError,
    },
    #[error(
        "database `{identifier}`: its data volume `{volume}` exists, but the password it was created with is not at {secret} \
         (was the state directory removed or changed?). Restore that file, or start with fresh data: `tierlab down --volumes`"
    )]
    PasswordLost {
        identifier: String,
        volume: String,
        secret: std::path::PathBuf,
    },
    #[error(
        "database `{identifier}` was not ready after {waited:?} (waited for `mysqladmin ping` over TCP inside the container){last_output}"
    )]
    NotReady {
        identifier: String,
        waited: std::time::Duration,
        last_output: String,
    },
    #[error("backups and snapshots")]
    Backup(#[source] Box<backups::BackupError>),
    /// A step of creating, running or promoting a read replica failed.
    #[error("read replica `{identifier}`: {step}")]
    ReadReplica {
        identifier: String,
        /// What was being done, e.g. "copying `flask-crud-db`".
        step: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "database `{identifier}`: its container exited with code {exit_code} while starting; see `docker logs {container}`"
    )]
    Exited {
        identifier: String,
        container: String,
        exit_code: i64,
    },
}

impl From<backups::BackupError> for RdsError {
    fn from(e: backups::BackupError) -> Self {
        RdsError::Backup(Box::new(e))
    }
}
