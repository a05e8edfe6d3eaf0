//! The response body handed to the proxy: the target's streamed body, which gives its
//! connection back to the pool the moment the last byte has been read.
//!
//! Giving it back from the body (not from a task waiting for the connection to become ready,
//! as hyper-util's legacy client does) costs no task, channel or lock per request.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;

use super::endpoint::Endpoint;

/// A target's response body. Reusable connections go back to their [`Endpoint`] when the body
/// ends; a body dropped before its end drops the connection too, which closes it (the rest of
/// the response would otherwise be read as the next one's).
pub struct PooledBody<B> {
    inner: Incoming,
    /// The connection and where to return it; `None` once returned or when not reusable.
    home: Option<(SendRequest<B>, Arc<Endpoint<B>>)>,
}

impl<B> PooledBody<B> {
    /// Wraps `inner`; `home` is `None` for a connection that must not be reused (upgrades).
    pub(crate) fn new(inner: Incoming, home: Option<(SendRequest<B>, Arc<Endpoint<B>>)>) -> Self {
        let mut body = PooledBody { inner, home };
        // Empty bodies (HEAD, 204, 304, `Content-Length: 0`) may never be polled.
        if body.inner.is_end_stream() {
            body.release();
        }
        body
    }

    fn release(&mut self) {
        if let Some((conn, endpoint)) = self.home.take() {
            endpoint.put(conn);
        }
    }
}

impl<B> Body for PooledBody<B> {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &frame {
            // Servers stop polling once `is_end_stream` says so: check after every frame.
            Some(Ok(_)) if this.inner.is_end_stream() => this.release(),
            Some(Ok(_)) => {}
            None => this.release(),
            Some(Err(_)) => this.home = None,
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> std::fmt::Debug for PooledBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledBody")
            .field("inner", &self.inner)
            .field("pooled", &self.home.is_some())
            .finish()
    }
}
