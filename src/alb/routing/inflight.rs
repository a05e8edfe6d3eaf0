//! Requests in flight per target, for least outstanding requests: a guard counts a request from
//! the moment its target is chosen until its response body has been sent (or dropped).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use hyper::body::{Body, Frame, SizeHint};

/// Holds one unit of a target's in-flight counter; releases it on drop.
#[derive(Debug)]
pub struct InFlightGuard {
    counter: Arc<AtomicUsize>,
}

impl InFlightGuard {
    /// Counts one more request on `counter`.
    pub fn new(counter: Arc<AtomicUsize>) -> InFlightGuard {
        counter.fetch_add(1, Ordering::Relaxed);
        InFlightGuard { counter }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that releases its request's guard when the last frame has been read, on an
/// error, or when the client goes away and the body is dropped.
#[derive(Debug)]
pub struct CountedBody<B> {
    inner: B,
    guard: Option<InFlightGuard>,
}

impl<B> CountedBody<B> {
    /// Wraps `inner`, holding `guard` until the body ends.
    pub fn new(inner: B, guard: InFlightGuard) -> CountedBody<B> {
        CountedBody {
            inner,
            guard: Some(guard),
        }
    }
}

impl<B: Body + Unpin> Body for CountedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.guard = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};

    #[tokio::test]
    async fn counter_drops_when_the_body_ends_or_is_dropped() {
        let counter = Arc::new(AtomicUsize::new(0));
        let body = CountedBody::new(
            Full::new(Bytes::from("hi")),
            InFlightGuard::new(counter.clone()),
        );
        assert_eq!(counter.load(Ordering::Relaxed), 1);
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(collected, "hi");
        assert_eq!(counter.load(Ordering::Relaxed), 0);

        let body = CountedBody::new(
            Full::new(Bytes::from("x")),
            InFlightGuard::new(counter.clone()),
        );
        assert_eq!(counter.load(Ordering::Relaxed), 1);
        drop(body);
        assert_eq!(counter.load(Ordering::Relaxed), 0);
    }
}
