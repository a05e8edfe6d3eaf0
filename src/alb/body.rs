//! [`OutBody`], the request body sent to a target, streamed (nothing is buffered). A body the
//! first attempt never started to read comes back through [`Reclaim`], so a retry can send it
//! whole; one that was read from cannot be sent again, and the request is then not retried.
//!
//! (The response body's wrappers live where their job is: [`super::routing::inflight`] holds
//! the target's in-flight count until the last byte, [`super::observe`] counts the bytes sent
//! for the access log.)

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::sync::oneshot;

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
    body: Option<Incoming>,
    give_back: Option<oneshot::Sender<Incoming>>,
}

/// Where an untouched request body comes back after a failed attempt.
#[derive(Debug)]
pub enum Reclaim {
    /// There was no body.
    Empty,
    /// Waiting for the body to come back (it does when dropped unread).
    Pending(oneshot::Receiver<Incoming>),
}

impl OutBody {
    /// Wraps the client's body; the [`Reclaim`] gets it back if it is dropped unread.
    pub fn new(body: Incoming) -> (OutBody, Reclaim) {
        if body.is_end_stream() {
            return (OutBody::Empty, Reclaim::Empty);
        }
        let (tx, rx) = oneshot::channel();
        let body = Reclaimable {
            body: Some(body),
            give_back: Some(tx),
        };
        (OutBody::Stream(body), Reclaim::Pending(rx))
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
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            OutBody::Empty => Poll::Ready(None),
            OutBody::Stream(s) => {
                // Reading starts: from now on the body cannot be sent again.
                s.give_back = None;
                match s.body.as_mut() {
                    Some(body) => Pin::new(body).poll_frame(cx),
                    None => Poll::Ready(None),
                }
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
