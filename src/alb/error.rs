//! Errors of the load balancer: one variant per operation that can fail, each naming the file or
//! address involved so the message alone tells the user what to fix.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::state::StateError;

/// Why starting the load balancer (or its local CA) failed.
// Fields are the file, address or name each message shows; they need no docs of their own.
#[allow(missing_docs)]
#[derive(Debug, thiserror::Error)]
pub enum AlbError {
    /// The CA directory or one of its files could not be written.
    #[error("failed to create the local CA in {dir}")]
    CreateCaFiles {
        dir: PathBuf,
        #[source]
        source: StateError,
    },
    /// rcgen refused to build the CA key or certificate.
    #[error("failed to generate the local CA certificate")]
    GenerateCa(#[source] rcgen::Error),
    /// The CA directory exists but a file of it could not be read.
    #[error("failed to read {path}")]
    ReadCa {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A CA file is there but is not what tierlab wrote.
    #[error(
        "{path} is not a valid local CA file ({reason}); remove the directory to create a new CA"
    )]
    InvalidCa { path: PathBuf, reason: String },
    /// Issuing a server certificate for the listed names failed.
    #[error("failed to issue a certificate for {hostnames}")]
    IssueCertificate {
        hostnames: String,
        #[source]
        source: rcgen::Error,
    },
    /// A user-supplied PEM file (`certificate = { cert, key }`) could not be read or parsed.
    #[error("failed to load {path}: {reason}")]
    LoadPem { path: PathBuf, reason: String },
    /// rustls rejected the certificate/key pair of a listener.
    #[error("invalid TLS certificate or key for the listener on {addr}")]
    TlsConfig {
        addr: SocketAddr,
        #[source]
        source: rustls::Error,
    },
    /// A listener (or the metrics port) could not bind its address. The message says the cause
    /// in plain words and the key to change ([`super::bind::explain`]); the OS error is kept in
    /// `cause` rather than as the source, so the error chain does not repeat it in its own words.
    #[error("cannot bind {addr}: {}", super::bind::explain(*.addr, .cause.kind(), .setting))]
    Bind {
        addr: SocketAddr,
        setting: super::bind::BindSetting,
        cause: std::io::Error,
    },
    /// The data plane's threads could not be started.
    #[error("load balancer `{load_balancer}`: cannot start its data-plane threads")]
    DataPlane {
        load_balancer: String,
        #[source]
        source: std::io::Error,
    },
    /// A listener forwards to a target group that was not handed to the load balancer.
    #[error("load balancer `{load_balancer}` forwards to unknown target group `{target_group}`")]
    UnknownTargetGroup {
        load_balancer: String,
        target_group: String,
    },
}

impl AlbError {
    /// Names load balancer `name` in a bind error made before the name was known.
    pub fn in_load_balancer(self, name: &str) -> AlbError {
        match self {
            AlbError::Bind {
                addr,
                setting:
                    super::bind::BindSetting::Listener {
                        load_balancer: None,
                    },
                cause,
            } => AlbError::Bind {
                addr,
                setting: super::bind::BindSetting::Listener {
                    load_balancer: Some(name.to_string()),
                },
                cause,
            },
            other => other,
        }
    }
}
