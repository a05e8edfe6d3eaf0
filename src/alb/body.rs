//! [`OutBody`], the request body sent to a target, streamed (nothing is buffered). A body the
//! first attempt never started to read comes back through [`Reclaim`], so a retry can send it
//! whole; one that was read from cannot be sent again, and the request is then not retried.
//!
//! Whose fault a failed upload is cannot be read from the error the target connection reports:
//! the pool passes on the body's error as the request's, and the connection may instead look
//! closed by the target (the pool's `BeforeResponse`) because we stopped it mid-body. So the body itself
//! keeps a [`BodyWatch`]: how the client's side went ([`ClientBody`]), read by the proxy when an
//! attempt fails (see [`super::failover::blame`]). What the servers hand the body (tierlab's
//! own for HTTP/1.1, [`super::http1`]; hyper's for HTTP/2), and how it is sorted
//! ([`ClientBody::after_error`]):
//!
//! - a malformed chunk size or line: an io error `InvalidData` (hyper: a parse error or
//!   `InvalidInput`) → `Malformed`;
//! - the client closing mid-body (short `Content-Length`, unfinished chunks): `UnexpectedEof`;
//!   a reset: `ConnectionReset`; the request's exchange over → `Gone` (HTTP/2 stream errors
//!   too; a client's `RST_STREAM` usually drops the whole request first).
//!
//! A body that has not failed is `Flowing` (the last read got data), `Awaited` (the load
//! balancer waits for the client) or `Stalled` (waited for, the client silent for
//! [`STALLED_AFTER`]); the time of the client's last data also keeps the idle timeout from
//! cutting an upload that is still moving.
//!
//! (The response body's wrappers live where their job is: [`super::routing::inflight`] holds
//! the target's in-flight count until the last byte, [`super::observe`] counts the bytes sent
//! for the access log.)

use std::error::Error as StdError;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::oneshot;
// tokio's clock, so that tests with paused time see the same progress as the proxy's timers.
use tokio::time::Instant;

use super::pool::BoxError;
use super::request_body::RequestBody;

/// The request body sent to a target.
#[derive(Debug)]
pub enum OutBody {
    /// The client sent no body: can be sent again freely.
    Empty,
    /// The client's body, streamed.
    Stream(Reclaimable),
}

/// The client's body plus the way back to [`Reclaim`] while it is untouched.
#[derive(Debug)]
pub struct Reclaimable {
    body: Option<RequestBody>,
    give_back: Option<oneshot::Sender<RequestBody>>,
    watch: Arc<Watched>,
}

/// Where an untouched request body comes back after a failed attempt.
#[derive(Debug)]
pub enum Reclaim {
    /// There was no body.
    Empty,
    /// Waiting for the body to come back (it does when dropped unread).
    Pending(oneshot::Receiver<RequestBody>),
}

impl OutBody {
    /// Wraps the client's body; the [`Reclaim`] gets it back if it is dropped unread.
    pub fn new(body: RequestBody) -> (OutBody, Reclaim) {
        if body.is_end_stream() {
            return (OutBody::Empty, Reclaim::Empty);
        }
        let (tx, rx) = oneshot::channel();
        let body = Reclaimable {
            body: Some(body),
            give_back: Some(tx),
            watch: Arc::new(Watched::new()),
        };
        (OutBody::Stream(body), Reclaim::Pending(rx))
    }

    /// How the client's side of this body goes, readable after the body was handed to a
    /// target connection.
    pub fn watch(&self) -> BodyWatch {
        match self {
            OutBody::Empty => BodyWatch(None),
            OutBody::Stream(s) => BodyWatch(Some(Arc::clone(&s.watch))),
        }
    }
}

impl Reclaim {
    /// The body again, whole, for a second attempt; `None` when the first attempt read any of
    /// it (or still holds it).
    pub fn take_back(self) -> Option<(OutBody, Reclaim)> {
        match self {
            Reclaim::Empty => Some((OutBody::Empty, Reclaim::Empty)),
            Reclaim::Pending(mut rx) => rx.try_recv().ok().map(OutBody::new),
        }
    }
}

impl Body for OutBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            OutBody::Empty => Poll::Ready(None),
            OutBody::Stream(s) => {
                // Reading starts: from now on the body cannot be sent again.
                s.give_back = None;
                let Some(body) = s.body.as_mut() else {
                    return Poll::Ready(None);
                };
                let polled = Pin::new(&mut *body).poll_frame(cx);
                s.watch.saw(&polled, body.is_end_stream());
                polled
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            OutBody::Empty => true,
            OutBody::Stream(s) => s.body.as_ref().is_none_or(Body::is_end_stream),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            OutBody::Empty => SizeHint::with_exact(0),
            OutBody::Stream(s) => s
                .body
                .as_ref()
                .map_or_else(SizeHint::default, Body::size_hint),
        }
    }
}

impl Drop for Reclaimable {
    fn drop(&mut self) {
        if let (Some(tx), Some(body)) = (self.give_back.take(), self.body.take()) {
            let _ = tx.send(body);
        }
    }
}

/// A client that has sent nothing of its body for this long, while the load balancer waits
/// for more, has stalled: a target that gives up on it (closes the connection) is not at fault.
pub const STALLED_AFTER: Duration = Duration::from_secs(1);

/// How the client's body stands, as far as the load balancer has read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientBody {
    /// No body, or read to its end.
    Whole,
    /// Not read to its end, and the last read got data: the target side is what is not taking
    /// more (or has not started to).
    Flowing,
    /// The load balancer is waiting for the client to send more.
    Awaited,
    /// Waiting for the client, which has sent nothing of its body for [`STALLED_AFTER`].
    Stalled,
    /// The client's framing is invalid (a bad chunk size or chunk line): ALB's 400.
    Malformed,
    /// The client closed or reset its connection before the body's end: ALB's 460.
    Gone,
}

impl ClientBody {
    /// How a body ends that the server reported `err` for (see the module docs).
    pub fn after_error(err: &(dyn StdError + 'static)) -> ClientBody {
        let mut causes = std::iter::successors(Some(err), |e| (*e).source());
        let malformed = causes.any(|e| match e.downcast_ref::<io::Error>() {
            Some(io) => matches!(
                io.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData
            ),
            None => e
                .downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_parse),
        });
        if malformed {
            ClientBody::Malformed
        } else {
            ClientBody::Gone
        }
    }

    const fn code(self) -> u8 {
        match self {
            ClientBody::Whole => 0,
            ClientBody::Flowing => 1,
            // Never stored: derived from `Awaited` and the time since the last data.
            ClientBody::Awaited | ClientBody::Stalled => 2,
            ClientBody::Malformed => 3,
            ClientBody::Gone => 4,
        }
    }

    fn from_code(code: u8) -> ClientBody {
        match code {
            0 => ClientBody::Whole,
            2 => ClientBody::Awaited,
            3 => ClientBody::Malformed,
            4 => ClientBody::Gone,
            _ => ClientBody::Flowing,
        }
    }

    /// Whether the body still has to come (it neither ended nor failed).
    fn is_open(self) -> bool {
        matches!(
            self,
            ClientBody::Flowing | ClientBody::Awaited | ClientBody::Stalled
        )
    }

    /// `Awaited` turns `Stalled` once the client has been silent for [`STALLED_AFTER`].
    fn after_silence(self, silent: Duration) -> ClientBody {
        match self {
            ClientBody::Awaited if silent >= STALLED_AFTER => ClientBody::Stalled,
            other => other,
        }
    }
}

/// A shared view of an [`OutBody`]'s client side: its [`ClientBody`] state and when the client
/// last sent some of it. Cheap to clone; `None` inside for a request without a body.
#[derive(Debug, Clone)]
pub struct BodyWatch(Option<Arc<Watched>>);

impl BodyWatch {
    /// The body's state now.
    pub fn state(&self) -> ClientBody {
        let Some(w) = self.0.as_ref() else {
            return ClientBody::Whole;
        };
        let state = ClientBody::from_code(w.state.load(Ordering::Acquire));
        let silent_since = self.last_progress().unwrap_or(w.since);
        state.after_silence(silent_since.elapsed())
    }

    /// When the client last sent part of the body; `None` for no body or none yet.
    pub fn last_progress(&self) -> Option<Instant> {
        let w = self.0.as_ref()?;
        match w.progress_micros.load(Ordering::Acquire) {
            0 => None,
            micros => Some(w.since + Duration::from_micros(micros)),
        }
    }
}

/// The atomics behind a [`BodyWatch`] (the request path takes no lock).
#[derive(Debug)]
struct Watched {
    state: AtomicU8,
    /// Microseconds after `since` of the last data frame (0: none yet).
    progress_micros: AtomicU64,
    since: Instant,
}

impl Watched {
    fn new() -> Watched {
        Watched {
            state: AtomicU8::new(ClientBody::Flowing.code()),
            progress_micros: AtomicU64::new(0),
            since: Instant::now(),
        }
    }

    /// Records what one poll of the client's body gave.
    fn saw(&self, polled: &Poll<Option<Result<Frame<Bytes>, BoxError>>>, at_end: bool) {
        let state = match polled {
            Poll::Pending => ClientBody::Awaited,
            Poll::Ready(None) => ClientBody::Whole,
            Poll::Ready(Some(Err(e))) => ClientBody::after_error(&**e),
            Poll::Ready(Some(Ok(_))) => {
                let micros = self.since.elapsed().as_micros().max(1);
                let micros = u64::try_from(micros).unwrap_or(u64::MAX);
                self.progress_micros.store(micros, Ordering::Release);
                if at_end {
                    ClientBody::Whole
                } else {
                    ClientBody::Flowing
                }
            }
        };
        // Once ended or failed, it stays so (a body is not polled after its end anyway).
        let _ = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                ClientBody::from_code(now).is_open().then_some(state.code())
            });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures_util::FutureExt;
    use http::{Request, Response};
    use http_body_util::{BodyExt, Empty};
    use tokio::io::AsyncWriteExt;

    use super::*;
    use crate::alb::http1;
    use crate::alb::proxy::ProxyBody;

    /// Records the state of each request's body once reading it stopped.
    struct Probe {
        tx: Mutex<Option<oneshot::Sender<ClientBody>>>,
        first_only: bool,
    }

    impl http1::Handler for Probe {
        async fn handle(&self, req: Request<RequestBody>) -> Response<ProxyBody> {
            let (mut body, _reclaim) = OutBody::new(req.into_body());
            let watch = body.watch();
            while let Some(Ok(_)) = body.frame().await {
                if self.first_only {
                    assert!(body.frame().now_or_never().is_none(), "more was read");
                    break;
                }
            }
            if let Some(tx) = self.tx.lock().unwrap().take() {
                let _ = tx.send(watch.state());
            }
            Response::new(Empty::new().map_err(|never| match never {}).boxed())
        }
    }

    /// Serves one connection with tierlab's HTTP/1.1 server (as listeners do) on an in-memory
    /// socket, writes `raw` as the client (then closes its side when `close`), and returns the
    /// state of the request's body once reading it stopped: at its end or error, or
    /// (`first_only`) after the first data frame and one more poll, which finds nothing more
    /// sent.
    async fn state_after(raw: &'static str, close: bool, first_only: bool) -> ClientBody {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let (tx, rx) = oneshot::channel();
        let probe = Probe {
            tx: Mutex::new(Some(tx)),
            first_only,
        };
        let settings = http1::Http1Settings {
            head_timeout: Duration::from_secs(5),
            h2_prior_knowledge: false,
        };
        let served = tokio::spawn(async move {
            let stop = tokio_util::sync::CancellationToken::new();
            http1::serve(server, &probe, settings, &stop).await;
        });
        client.write_all(raw.as_bytes()).await.unwrap();
        if close {
            drop(client);
            let state = tokio::time::timeout(Duration::from_secs(5), rx).await;
            served.abort();
            return state.unwrap().unwrap();
        }
        let state = tokio::time::timeout(Duration::from_secs(5), rx).await;
        drop(client);
        served.abort();
        state.unwrap().unwrap()
    }

    #[tokio::test]
    async fn invalid_chunk_sizes_are_malformed() {
        for raw in [
            "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
            "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n-1\r\n",
            "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n",
        ] {
            assert_eq!(
                state_after(raw, false, false).await,
                ClientBody::Malformed,
                "{raw:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_client_closing_mid_body_is_gone() {
        let short = "POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 100000\r\n\r\npart";
        assert_eq!(state_after(short, true, false).await, ClientBody::Gone);
        let chunks =
            "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n3";
        assert_eq!(state_after(chunks, true, false).await, ClientBody::Gone);
    }

    #[tokio::test]
    async fn a_body_waiting_on_the_client_is_awaited_and_a_whole_one_whole() {
        let short = "POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 100000\r\n\r\npart";
        assert_eq!(state_after(short, false, true).await, ClientBody::Awaited);
        let whole = "POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(state_after(whole, false, false).await, ClientBody::Whole);
        let chunked = "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        assert_eq!(state_after(chunked, false, false).await, ClientBody::Whole);
    }

    #[test]
    fn no_body_is_whole_with_no_progress() {
        let watch = OutBody::Empty.watch();
        assert_eq!(watch.state(), ClientBody::Whole);
        assert_eq!(watch.last_progress(), None);
    }

    #[test]
    fn a_client_silent_for_a_while_has_stalled() {
        let awaited = ClientBody::Awaited;
        assert_eq!(awaited.after_silence(Duration::from_millis(10)), awaited);
        assert_eq!(awaited.after_silence(STALLED_AFTER), ClientBody::Stalled);
        // Only a body still waited for stalls.
        for other in [ClientBody::Flowing, ClientBody::Whole, ClientBody::Gone] {
            assert_eq!(other.after_silence(STALLED_AFTER * 10), other);
        }
    }

    #[test]
    fn an_ended_or_failed_body_keeps_its_state() {
        let w = Watched::new();
        w.saw(
            &Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"x"))))),
            false,
        );
        assert_eq!(
            ClientBody::from_code(w.state.load(Ordering::Relaxed)),
            ClientBody::Flowing
        );
        assert!(w.progress_micros.load(Ordering::Relaxed) > 0);
        w.saw(&Poll::Pending, false);
        assert_eq!(
            ClientBody::from_code(w.state.load(Ordering::Relaxed)),
            ClientBody::Awaited
        );
        w.saw(&Poll::Ready(None), true);
        w.saw(&Poll::Pending, false);
        assert_eq!(
            ClientBody::from_code(w.state.load(Ordering::Relaxed)),
            ClientBody::Whole
        );
    }
}
