//! The test harness: labs as easy to use in a test suite as Testcontainers' containers.
//!
//! ```no_run
//! # async fn t() -> Result<(), tierlab::Error> {
//! use tierlab::{Lab, harness::LabConfig};
//! let lab = Lab::builder().config(LabConfig::default()).start().await?;
//! let http = lab.http_client()?;                 // trusts the lab's CA
//! let url = lab.https_url().unwrap();
//! let pool = lab.mysql().await?;                 // through the bastion tunnel, on 127.0.0.1
//! lab.chaos().failover("flask-crud-db").await?;  // needs multi-az = true
//! lab.wait_until_steady(std::time::Duration::from_secs(60)).await?;
//! lab.shutdown().await?;                          // containers, networks and volumes go
//! # Ok(()) }
//! ```
//!
//! - [`builder`]: [`LabBuilder`] loads a config (a file, a TOML string, or the default
//!   topology that ships with the crate) and isolates it ([`isolate`]): a unique lab name, a
//!   VPC block no other Docker network uses ([`vpc_block`]), free listener ports, a temporary
//!   state directory. Several labs run at once in one process.
//! - A lab on a temporary state directory is ephemeral: its volumes go when it stops, and if
//!   the test process dies (a panic, SIGKILL) its reaper removes its containers, networks,
//!   volumes and state directory (see [`crate::lab::reaper`]).
//! - [`steady`]: what `wait_until_steady` waits for, as a pure function of the status.
//! - [`tunnel`]: `ssh -L` through the bastion, owned by the lab; [`clients`] builds the HTTPS
//!   client and the MySQL pool; [`chaos`]: faults through the lab's own chaos and commands.

pub mod builder;
pub mod chaos;
pub mod clients;
pub mod isolate;
mod lab_ext;
pub mod steady;
pub mod tunnel;
pub mod vpc_block;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use builder::{LabBuilder, LabConfig};
pub use chaos::LabChaos;
pub use isolate::{IsolateError, Isolation};

/// What the harness adds to a lab it started; dropped with the lab (after its teardown).
#[derive(Debug, Default)]
pub struct Extras {
    /// Open tunnels, by DB instance identifier.
    pub(crate) tunnels: tokio::sync::Mutex<HashMap<String, Arc<tunnel::Tunnel>>>,
    /// The VPC block this lab claimed in this process (held for its `Drop`, which frees it).
    #[allow(dead_code)]
    pub(crate) claim: Option<vpc_block::Claim>,
    /// The temporary state directory (held for its `Drop`, which removes it after the lab's).
    #[allow(dead_code)]
    pub(crate) temp_state: Option<tempfile::TempDir>,
}

impl Extras {
    /// Ends the tunnels (their `ssh` processes) now.
    pub(crate) fn close_tunnels(&mut self) {
        self.tunnels.get_mut().clear();
    }
}

/// Why the harness could not do what a test asked.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(transparent)]
    Isolate(#[from] IsolateError),
    #[error(
        "no free VPC block for a lab from `{lab}`: every block 10.{}.0.0/16 to 10.{}.0.0/16 overlaps a Docker network (`docker network ls`)",
        vpc_block::OCTETS.start(),
        vpc_block::OCTETS.end()
    )]
    NoFreeBlock { lab: String },
    #[error("cannot find a free port on 127.0.0.1 for listener port {port}")]
    Port {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create a temporary state directory")]
    TempDir(#[source] std::io::Error),
    #[error("the lab's CA certificate cannot be used: {0}")]
    Ca(String),
    #[error("cannot build the HTTP client")]
    Http(#[source] reqwest::Error),
    #[error("{0}")]
    Lookup(String),
    #[error("tunnel to DB instance `{database}`: {why}")]
    Tunnel { database: String, why: String },
    #[error("cannot read the master password of DB instance `{database}`")]
    Password {
        database: String,
        #[source]
        source: std::io::Error,
    },
    #[error("DB instance `{database}` through its tunnel on 127.0.0.1:{port}")]
    Mysql {
        database: String,
        port: u16,
        #[source]
        source: mysql_async::Error,
    },
    #[error("lab `{lab}` is not steady after {waited:?}; still waiting for: {}", waiting.join("; "))]
    NotSteady {
        lab: String,
        waited: Duration,
        waiting: Vec<String>,
    },
    /// Boxed: the lab's chaos errors are large.
    #[error(transparent)]
    Chaos(Box<crate::lab::ChaosError>),
    #[error("DB instance `{database}`: {why}")]
    Database { database: String, why: String },
    #[error("DB instance `{database}`: the failover was refused")]
    Failover {
        database: String,
        #[source]
        source: crate::rds::FailoverError,
    },
    #[error("service `{service}`: {why}")]
    Service { service: String, why: String },
    #[error(transparent)]
    Command(#[from] crate::lab::CommandError),
    #[error(transparent)]
    Docker(#[from] crate::docker::DockerError),
}

impl From<crate::lab::ChaosError> for HarnessError {
    fn from(e: crate::lab::ChaosError) -> Self {
        HarnessError::Chaos(Box::new(e))
    }
}

impl HarnessError {
    /// A lookup the CLI reports as a usage error (`DBInstanceNotFound`, no bastion, ...).
    pub(crate) fn from_usage(e: crate::error::Error) -> HarnessError {
        HarnessError::Lookup(e.to_string())
    }
}
