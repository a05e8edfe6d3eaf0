//! The library's top-level error: one variant per tier, each keeping its source chain.

/// Anything that can go wrong starting, running or stopping a lab.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    // The three below are boxed: their bollard/rustls sources are large, and an error should not
    // make every `Result` of the library that large.
    #[error(transparent)]
    Docker(Box<crate::docker::DockerError>),
    /// The local CA (shared by the load balancers) could not be made or read.
    #[error(transparent)]
    Alb(Box<crate::alb::AlbError>),
    /// A load balancer of the config could not start (a port in use, a bad certificate...).
    #[error("load balancer {name}")]
    LoadBalancer {
        name: String,
        #[source]
        source: Box<crate::alb::AlbError>,
    },
    #[error(transparent)]
    Rds(Box<crate::rds::RdsError>),
    /// A bastion host could not start.
    #[error(transparent)]
    Bastion(Box<crate::bastion::BastionError>),
    /// The lab's secret store (Secrets Manager, Parameter Store) could not be opened.
    #[error(transparent)]
    Secrets(#[from] crate::secrets::StoreError),
    /// A declared secret could not be created, or a task secret names nothing.
    #[error(transparent)]
    SecretSetup(#[from] crate::lab::secret_seeds::SecretSetupError),
    #[error(transparent)]
    Environment(#[from] crate::ecs::environment::EnvironmentError),
    #[error(transparent)]
    NotSteady(#[from] crate::ecs::NotSteady),
    /// The command line asked for something the config does not have.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Control(#[from] crate::control::ControlError),
    /// The AWS API endpoint could not start (its port is taken).
    #[error(transparent)]
    Api(#[from] crate::api::server::ApiServerError),
    /// A call of the lab's AWS API by tierlab's own CLI (`scale`, `stop-task`).
    #[error(transparent)]
    AwsCall(#[from] crate::api::ecs::client::ClientError),
    /// `tierlab deploy`: the rollout failed (the circuit breaker) or did not end in time.
    #[error("{0}")]
    DeploymentFailed(String),
    /// The run lock or the reaper of a lab.
    #[error(transparent)]
    Run(#[from] crate::lab::RunError),
    /// The caller's shutdown token was cancelled while the lab was starting; what the start
    /// had made is removed.
    #[error("the start of lab `{lab}` was interrupted")]
    Interrupted { lab: String },
    /// The test harness (`Lab::builder`, `lab.mysql()`, `wait_until_steady`, ...).
    #[error(transparent)]
    Harness(Box<crate::harness::HarnessError>),
}

impl Error {
    /// Exit code for the CLI: 64 (EX_USAGE) for a bad configuration, 1 for anything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) => 64,
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}

impl From<crate::docker::DockerError> for Error {
    fn from(e: crate::docker::DockerError) -> Self {
        Error::Docker(Box::new(e))
    }
}

impl From<crate::alb::AlbError> for Error {
    fn from(e: crate::alb::AlbError) -> Self {
        Error::Alb(Box::new(e))
    }
}

impl From<crate::rds::RdsError> for Error {
    fn from(e: crate::rds::RdsError) -> Self {
        Error::Rds(Box::new(e))
    }
}

impl From<crate::harness::HarnessError> for Error {
    fn from(e: crate::harness::HarnessError) -> Self {
        Error::Harness(Box::new(e))
    }
}

impl From<crate::bastion::BastionError> for Error {
    fn from(e: crate::bastion::BastionError) -> Self {
        Error::Bastion(Box::new(e))
    }
}

/// An error with all its sources, joined as `outer: inner: root`: the one way tierlab shows an
/// error, in the CLI and in logs (`{e:#}` on a thiserror error shows only the outermost
/// message). A source whose text the message already contains is not repeated.
///
/// ```
/// let e = std::io::Error::other("disk full");
/// assert_eq!(tierlab::error::chain(&e).to_string(), "disk full");
/// ```
pub fn chain<'a>(error: &'a (dyn std::error::Error + 'static)) -> Chain<'a> {
    Chain(error)
}

/// [`chain`]'s result: formats lazily, so `tracing::warn!("...: {}", chain(&e))` costs nothing
/// when the level is off.
pub struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !shown.contains(&text) {
                write!(f, ": {text}")?;
                shown.push_str(": ");
                shown.push_str(&text);
            }
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("load balancer flask-app-alb")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("cannot bind 127.0.0.1:8443")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn chain_shows_every_source_once() {
        let root = std::io::Error::new(std::io::ErrorKind::AddrInUse, "address in use");
        let e = Outer(Middle(root));
        assert_eq!(
            chain(&e).to_string(),
            "load balancer flask-app-alb: cannot bind 127.0.0.1:8443: address in use"
        );
    }

    #[test]
    fn a_source_already_in_the_message_is_not_repeated() {
        #[derive(Debug, thiserror::Error)]
        #[error("failed: {0}")]
        struct Repeats(#[source] std::io::Error);
        let e = Repeats(std::io::Error::other("boom"));
        assert_eq!(chain(&e).to_string(), "failed: boom");
    }
}
