//! Errors of Docker operations.

use bollard::errors::Error as BollardError;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "cannot reach the Docker engine at {endpoint}. Start one with `sudo scripts/docker-engine.sh` \
         (installs docker.io and starts dockerd), or point DOCKER_HOST at a running engine"
    )]
    Connect {
        endpoint: String,
        #[source]
        source: BollardError,
    },
    /// Any single operation on a named object failed.
    #[error("failed to {op} `{object}`")]
    Operation {
        op: &'static str,
        object: String,
        #[source]
        source: BollardError,
    },
    #[error("building image `{image}` from {context} failed: {message}{hint}")]
    Build {
        image: String,
        context: String,
        message: String,
        hint: &'static str,
    },
    #[error("cannot read build context {context}")]
    BuildContext {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot make the archive of files for container {context}")]
    Archive {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "image `{image}` is missing and has no build context; build or pull it, or set `build` in the config"
    )]
    ImageMissing { image: String },
    #[error(
        "subnet {cidr} of `{subnet}` overlaps the existing Docker network `{network}` ({existing}); \
         change `cidr` of [vpc.subnets.{subnet}] (and the VPC's) in the config, or remove that network"
    )]
    SubnetClash {
        subnet: String,
        cidr: String,
        network: String,
        existing: String,
    },
    #[error("container `{container}`: command {command:?} exited with {exit_code}: {output}")]
    Exec {
        container: String,
        command: Vec<String>,
        exit_code: i64,
        output: String,
    },
}

impl DockerError {
    pub(crate) fn op(
        op: &'static str,
        object: impl Into<String>,
    ) -> impl FnOnce(BollardError) -> DockerError {
        let object = object.into();
        move |source| DockerError::Operation { op, object, source }
    }
}

fn status_of(e: &BollardError) -> Option<u16> {
    match e {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// 404: the object is gone (or never existed).
pub fn is_not_found(e: &BollardError) -> bool {
    status_of(e) == Some(404)
}

/// 409: the object already exists, or an operation on it is already under way.
pub fn is_conflict(e: &BollardError) -> bool {
    status_of(e) == Some(409)
}

/// Unpausing a container that is not paused (it was thawed, or stopped, meanwhile). Docker
/// 20.10 answers it with a plain 500 and "Container <id> is not paused"; later engines with 409.
pub fn is_not_paused(e: &BollardError) -> bool {
    is_conflict(e)
        || matches!(e, BollardError::DockerResponseServerError { status_code: 500, message }
            if message.ends_with("is not paused"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status_code: u16, message: &str) -> BollardError {
        BollardError::DockerResponseServerError {
            status_code,
            message: message.to_string(),
        }
    }

    #[test]
    fn a_container_not_paused_is_told_apart_from_other_failures() {
        assert!(is_not_paused(&answer(
            500,
            "Container 7ec74a3e is not paused"
        )));
        assert!(is_not_paused(&answer(
            409,
            "Container 7ec74a3e is not paused"
        )));
        assert!(!is_not_paused(&answer(
            500,
            "cannot unpause: cgroup freezer busy"
        )));
        assert!(!is_not_paused(&answer(404, "No such container: 7ec74a3e")));
    }
}
