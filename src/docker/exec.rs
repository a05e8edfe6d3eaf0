//! Running a command inside a container (database readiness, later replication setup).

use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;

use super::{DockerClient, DockerError};

/// Output kept from an exec, enough for an error message.
const MAX_OUTPUT: usize = 4096;

impl DockerClient {
    /// Runs `command` in `container` and returns its exit code and combined output.
    pub async fn exec(
        &self,
        container: &str,
        command: &[&str],
    ) -> Result<(i64, String), DockerError> {
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
        if let StartExecResults::Attached {
            output: mut stream, ..
        } = started
        {
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

/// What a command run with [`DockerClient::exec_with_input`] printed, stream by stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

/// Output kept per stream by [`DockerClient::exec_with_input`] (query results can be long).
const MAX_STREAM_OUTPUT: usize = 1 << 20;

impl DockerClient {
    /// Runs `command` in `container` with `input` on its standard input (closed after it), and
    /// returns its exit code and its two output streams apart. Secrets go in `input`, never in
    /// `command`: an exec's arguments show in `docker inspect` and in `ps` inside the container.
    pub async fn exec_with_input(
        &self,
        container: &str,
        command: &[&str],
        input: &[u8],
    ) -> Result<ExecOutput, DockerError> {
        use bollard::container::LogOutput;
        use tokio::io::AsyncWriteExt;

        let options = CreateExecOptions {
            cmd: Some(command.iter().map(|s| s.to_string()).collect()),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec = self
            .inner
            .create_exec(container, options)
            .await
            .map_err(DockerError::op("create exec in", container))?;
        let started = self
            .inner
            .start_exec(&exec.id, None)
            .await
            .map_err(DockerError::op("start exec in", container))?;
        let (mut stdout, mut stderr) = (String::new(), String::new());
        if let StartExecResults::Attached {
            output: mut stream,
            input: mut stdin,
        } = started
        {
            // A command that exits without reading its input makes the write fail: its output
            // and exit code still say what happened.
            let _ = stdin.write_all(input).await;
            let _ = stdin.shutdown().await;
            drop(stdin);
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(DockerError::op("read exec output of", container))?;
                let (buffer, bytes) = match chunk {
                    LogOutput::StdErr { message } => (&mut stderr, message),
                    other => (&mut stdout, other.into_bytes()),
                };
                if buffer.len() < MAX_STREAM_OUTPUT {
                    buffer.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
        }
        let inspect = self
            .inner
            .inspect_exec(&exec.id)
            .await
            .map_err(DockerError::op("inspect exec in", container))?;
        Ok(ExecOutput {
            exit_code: inspect.exit_code.unwrap_or(-1),
            stdout,
            stderr,
        })
    }
}
