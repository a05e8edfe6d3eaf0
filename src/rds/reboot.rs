//! Rebooting a DB instance on request (`aws rds reboot-db-instance`): the engine is shut down
//! cleanly and started again on its volume, as RDS restarts the engine service.
//!
//! The request goes to the instance's supervisor, which owns the recovery machine: it marks the
//! instance `rebooting` before anything stops, so the container's death that follows is the
//! reboot it asked for, not a crash to recover from. The caller gets its answer as soon as the
//! reboot is under way (RDS answers `rebooting` too), and follows the status to `available`.

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use super::DbInstance;
use super::state::InstanceStatus;

/// How long the engine is given to shut down cleanly before it is killed.
pub const SHUTDOWN_GRACE_SECS: i32 = 30;

/// Why a reboot was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RebootError {
    /// Only an `available` instance can be rebooted (RDS's InvalidDBInstanceState).
    #[error("Database instance is not in available state.")]
    NotAvailable(InstanceStatus),
    /// Nothing supervises the instance (the lab is stopping).
    #[error("Database instance is not in available state.")]
    NotSupervised,
}

/// Why a Multi-AZ failover or modification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FailoverError {
    /// Only an `available` instance can fail over or be modified.
    #[error("Database instance is not in available state.")]
    NotAvailable(InstanceStatus),
    #[error("Database instance is not in available state.")]
    NotSupervised,
    /// The failover rules say no (no standby, or one that is not ready or not in sync).
    #[error("Cannot fail over DB instance: {0}.")]
    Refused(#[from] super::multi_az::decision::Refusal),
}

/// A command to the supervisor.
#[derive(Debug)]
pub(super) enum Command {
    /// Reboot; the reply says whether the reboot started.
    Reboot(oneshot::Sender<Result<(), RebootError>>),
    /// Fail over to the standby; the reply says whether the failover started.
    Failover(oneshot::Sender<Result<(), FailoverError>>),
    /// Add (`true`) or remove the Multi-AZ standby; the reply says whether it started.
    SetMultiAz(bool, oneshot::Sender<Result<(), FailoverError>>),
}

/// The channel from an instance's handles to its supervisor. The supervisor takes the
/// receiving end once; handles keep the sending end.
#[derive(Debug)]
pub(super) struct Commands {
    tx: mpsc::Sender<Command>,
    rx: Mutex<Option<mpsc::Receiver<Command>>>,
}

impl Commands {
    pub(super) fn new() -> Arc<Commands> {
        let (tx, rx) = mpsc::channel(8);
        Arc::new(Commands {
            tx,
            rx: Mutex::new(Some(rx)),
        })
    }

    /// The receiving end, for the supervisor (`None` once taken).
    pub(super) fn take(&self) -> Option<mpsc::Receiver<Command>> {
        self.rx.lock().expect("commands lock").take()
    }
}

impl DbInstance {
    /// Reboots the instance: returns once it is `rebooting` (the restart goes on in the
    /// background; watch [`DbInstance::watch`] for `available`). Refused unless the instance
    /// is `available`.
    pub async fn reboot(&self) -> Result<(), RebootError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .tx
            .send(Command::Reboot(reply))
            .await
            .map_err(|_| RebootError::NotSupervised)?;
        answer.await.map_err(|_| RebootError::NotSupervised)?
    }

    /// Fails the instance over to its standby (`reboot-db-instance --force-failover`,
    /// `tierlab db failover`): returns once it is `rebooting`; watch for `available`.
    pub async fn fail_over(&self) -> Result<(), FailoverError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .tx
            .send(Command::Failover(reply))
            .await
            .map_err(|_| FailoverError::NotSupervised)?;
        answer.await.map_err(|_| FailoverError::NotSupervised)?
    }

    /// Converts the instance to Multi-AZ (`true`) or back to Single-AZ: returns once it is
    /// `modifying`; the standby is built (or removed) in the background.
    pub async fn set_multi_az(&self, multi_az: bool) -> Result<(), FailoverError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .tx
            .send(Command::SetMultiAz(multi_az, reply))
            .await
            .map_err(|_| FailoverError::NotSupervised)?;
        answer.await.map_err(|_| FailoverError::NotSupervised)?
    }
}
