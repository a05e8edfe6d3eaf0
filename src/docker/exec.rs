//! Running a command inside a container (database readiness, later replication setup).

use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;

use super::{DockerClient, DockerError};

/// Output kept from an exec, enough for an error message.
const MAX_OUTPUT: usize = 4096;

impl DockerClient {
    /// Runs `command` in `container` and returns its exit code and combined output.
    pub async fn exec(&self, container: &str, command: &[&str]) -> Result<(i64, String), DockerError> {
        let options = CreateExecOptions {
            cmd: Some(command.iter().map(|s| s.to_string()).collect()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec = self
            .inner
            .create_exec(container, options)
            .await
            .map_err(DockerError::op("create exec in", container))?;
        let mut output = String::new();
        let started = self
            .inner
            .start_exec(&exec.id, None)
            .await
            .map_err(DockerError::op("start exec in", container))?;
        if let StartExecResults::Attached { output: mut stream, .. } = started {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(DockerError::op("read exec output of", container))?;
                if output.len() < MAX_OUTPUT {
                    output.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                }
            }
        }
        let inspect = self
            .inner
            .inspect_exec(&exec.id)
            .await
            .map_err(DockerError::op("inspect exec in", container))?;
        Ok((inspect.exit_code.unwrap_or(-1), output))
    }
}
