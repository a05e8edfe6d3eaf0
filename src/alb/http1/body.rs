//! [`Http1Body`]: a client's HTTP/1.1 request body, read from its connection as it is polled
//! (nothing is read ahead of the proxy's asking, so an upload is paced by its target).

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use super::wire::BodySource;

/// A request body of an HTTP/1.1 connection.
pub struct Http1Body {
    source: Arc<dyn BodySource>,
    generation: u64,
    hint: SizeHint,
    ended: bool,
}

impl Http1Body {
    pub(super) fn new(source: Arc<dyn BodySource>, generation: u64, length: Option<u64>) -> Self {
        Http1Body {
            source,
            generation,
            hint: length.map_or_else(SizeHint::new, SizeHint::with_exact),
            ended: false,
        }
    }
}

impl fmt::Debug for Http1Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http1Body")
            .field("generation", &self.generation)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Body for Http1Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        let polled = this.source.poll_body(this.generation, cx);
        match &polled {
            Poll::Ready(None) => this.ended = true,
            Poll::Ready(Some(Ok(frame))) if frame.is_trailers() => this.ended = true,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }

    fn size_hint(&self) -> SizeHint {
        self.hint
    }
}
