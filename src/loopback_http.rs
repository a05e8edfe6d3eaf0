//! The small HTTP/1.1 servers tierlab runs on 127.0.0.1 for itself (the control endpoint, a load
//! balancer's `metrics-port`): one accept loop, each connection tracked and ended on cancel.
//!
//! They are loopback-only but not trusted: a local process that opens connections and sends
//! nothing must not hold descriptors the lab needs. So a connection must send its request head
//! within [`HEAD_TIMEOUT`] (from accept, and again between keep-alive requests), at most
//! [`MAX_CONNECTIONS`] are open at once (more are closed at accept), and an accept error (out
//! of descriptors) pauses the loop instead of spinning.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alb::limits::ConnectionLimit;

/// A body that is either whole or streamed (server-sent events), for handlers that answer both.
pub type StreamBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// A whole body as a [`StreamBody`].
pub fn whole(body: impl Into<Bytes>) -> StreamBody {
    use http_body_util::BodyExt;
    Full::new(body.into()).boxed()
}

/// A connection that has not sent a whole request head by then is closed: tierlab's own clients
/// send theirs at once.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Open connections per server; more are closed as soon as they are accepted.
pub const MAX_CONNECTIONS: usize = 128;
/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves `listener` with `handler` until `cancel`; the accept loop and every connection are
/// spawned on `tracker`. Answers are whole bodies ([`Full`]) or, for a long-lived stream such
/// as the dashboard's server-sent events, any body of bytes ([`StreamBody`]).
pub fn serve<F, Fut, B>(
    listener: TcpListener,
    tracker: &TaskTracker,
    cancel: CancellationToken,
    handler: F,
) where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let conns = tracker.clone();
    let open = ConnectionLimit::new(MAX_CONNECTIONS);
    tracker.spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = cancel.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::debug!("loopback server: accept failed: {e}");
                    let pause = tokio::time::sleep(ACCEPT_ERROR_PAUSE);
                    if cancel.run_until_cancelled(pause).await.is_none() {
                        return;
                    }
                    continue;
                }
            };
            let Some(slot) = open.try_acquire() else {
                continue; // dropped: closed at once
            };
            let (handler, cancel) = (handler.clone(), cancel.clone());
            conns.spawn(async move {
                let _slot = slot;
                let service = hyper::service::service_fn(move |req| {
                    let answer = handler(req);
                    async move { Ok::<_, Infallible>(answer.await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEAD_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service);
                let _ = cancel.run_until_cancelled(conn).await;
            });
        }
    });
}

/// The client side: sends one HTTP/1.1 request to a loopback server of the lab (the control
/// endpoint, the AWS API) and reads the whole answer, within `timeout`. Errors are text for the
/// caller to put in its own error (which names the endpoint and the call).
pub async fn exchange(
    addr: std::net::SocketAddr,
    request: Request<Full<Bytes>>,
    timeout: Duration,
) -> Result<(http::StatusCode, Bytes), String> {
    use http_body_util::BodyExt;
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        // Ends with the exchange: the sender is dropped when this function returns.
        tokio::spawn(connection);
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, body))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")))
}
