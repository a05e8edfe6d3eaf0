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
    #[error("load balancer")]
    Alb(Box<crate::alb::AlbError>),
    #[error(transparent)]
    Rds(Box<crate::rds::RdsError>),
    #[error(transparent)]
    Environment(#[from] crate::ecs::environment::EnvironmentError),
    #[error(transparent)]
    NotSteady(#[from] crate::ecs::NotSteady),
    /// The command line asked for something the config does not have.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Control(#[from] crate::control::ControlError),
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
