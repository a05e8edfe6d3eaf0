//! How sending a request to a target failed, classified for the proxy's status codes and its
//! retry decision: what matters is whether any of the request may have reached the target.

use std::io;
use std::time::Duration;

use super::upload::BoxError;

/// Why [`UpstreamPool::send`](super::UpstreamPool::send) returned no response head.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The TCP connection could not be opened (refused, unreachable): nothing was sent, so any
    /// method may be retried on another target.
    #[error("connect failed: {0}")]
    Connect(#[source] io::Error),
    /// The pool's budget of open connections to targets is used up: tierlab's own limit,
    /// nothing was sent.
    #[error("no connection to a target may be opened: all {0} allowed are open")]
    Budget(usize),
    /// The TCP connection was not established within the connect timeout; nothing was sent.
    #[error("connect timed out after {0:?}")]
    ConnectTimeout(Duration),
    /// The connection closed or was reset before a complete response head arrived. The request
    /// may have been (partly) written, so only an idempotent request may be retried.
    #[error("connection closed before a response: {0}")]
    BeforeResponse(#[source] io::Error),
    /// The target answered bytes that are not a valid HTTP/1.1 response head; it got the request.
    #[error("invalid response from the target: {0}")]
    InvalidResponse(String),
    /// The request could not be written as given, usually because the client's body failed
    /// (the client went away mid-upload): not the target's fault.
    #[error("request could not be sent: {0}")]
    Request(#[source] BoxError),
}

impl UpstreamError {
    /// Whether nothing of the request can have reached the target (safe to retry any method).
    pub fn nothing_sent(&self) -> bool {
        matches!(
            self,
            UpstreamError::Connect(_) | UpstreamError::ConnectTimeout(_) | UpstreamError::Budget(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_connect_failures_are_known_unsent() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert!(UpstreamError::Connect(refused).nothing_sent());
        assert!(UpstreamError::ConnectTimeout(Duration::from_secs(1)).nothing_sent());
    }
}
