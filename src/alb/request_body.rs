//! [`RequestBody`], a client's request body as the listener hands it to the router: read by
//! tierlab's own HTTP/1.1 server ([`super::http1`]) or by hyper's HTTP/2 server. One type, so
//! rules, the proxy and the access log do not care which version the client spoke.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use super::http1;
use super::pool::BoxError;

/// A client's request body.
#[derive(Debug)]
pub enum RequestBody {
    /// No body (HTTP/1.1 without `Content-Length` or `Transfer-Encoding`, or a length of 0).
    Empty,
    /// An HTTP/1.1 body, read from the client's connection as it is polled.
    Http1(http1::Http1Body),
    /// An HTTP/2 stream's body (hyper's).
    Http2(Incoming),
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            RequestBody::Empty => Poll::Ready(None),
            RequestBody::Http1(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            RequestBody::Http2(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Empty => true,
            RequestBody::Http1(body) => body.is_end_stream(),
            RequestBody::Http2(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Empty => SizeHint::with_exact(0),
            RequestBody::Http1(body) => body.size_hint(),
            RequestBody::Http2(body) => body.size_hint(),
        }
    }
}
