//! Firefox's Marionette protocol, as much as the dashboard tests need: Firefox listens on a
//! loopback TCP port (`--marionette`) and speaks length-prefixed JSON, `LEN:JSON`. On connect it
//! sends a greeting; then each command is `[0, id, "WebDriver:Name", {params}]` and its answer
//! `[1, id, error, result]`. The commands are WebDriver's (the same geckodriver translates
//! W3C WebDriver into), so no geckodriver is needed.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One Marionette connection.
pub struct Marionette {
    stream: BufReader<TcpStream>,
    next_id: u64,
}

impl Marionette {
    /// Connects to Marionette on 127.0.0.1:`port` and reads its greeting.
    pub async fn connect(port: u16) -> std::io::Result<Marionette> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let mut marionette = Marionette {
            stream: BufReader::new(stream),
            next_id: 0,
        };
        let hello = marionette.read().await?;
        if hello["marionetteProtocol"] != 3 {
            return Err(std::io::Error::other(format!(
                "not Marionette protocol 3: {hello}"
            )));
        }
        Ok(marionette)
    }

    /// Sends `command` with `params`; its result, or the error Firefox answered
    /// (`{"error": ..., "message": ...}`).
    pub async fn call(&mut self, command: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let body = json!([0, id, command, params]).to_string();
        let frame = format!("{}:{body}", body.len());
        self.stream
            .write_all(frame.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("Marionette {command}: cannot send: {e}"));
        loop {
            let answer = self
                .read()
                .await
                .unwrap_or_else(|e| panic!("Marionette {command}: no answer: {e}"));
            // Answers come in order; one of an earlier command abandoned by a timeout is skipped.
            if answer[0] != 1 || answer[1] != id {
                continue;
            }
            return match &answer[2] {
                Value::Null => Ok(answer[3].clone()),
                error => Err(error.clone()),
            };
        }
    }

    /// One `LEN:JSON` frame.
    async fn read(&mut self) -> std::io::Result<Value> {
        let mut length = Vec::new();
        if self.stream.read_until(b':', &mut length).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "Firefox closed the connection",
            ));
        }
        let length: usize = std::str::from_utf8(&length)
            .ok()
            .and_then(|l| l.strip_suffix(':'))
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| {
                std::io::Error::other(format!(
                    "not a Marionette frame: {}",
                    String::from_utf8_lossy(&length)
                ))
            })?;
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await?;
        serde_json::from_slice(&body).map_err(std::io::Error::other)
    }
}
