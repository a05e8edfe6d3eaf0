//! The library's top-level error: one variant per tier, each keeping its source chain.

/// Anything that can go wrong starting, running or stopping a lab.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error(transparent)]
    Docker(#[from] crate::docker::DockerError),
    #[error("load balancer")]
    Alb(#[from] crate::alb::AlbError),
    #[error(transparent)]
    Rds(#[from] crate::rds::RdsError),
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
