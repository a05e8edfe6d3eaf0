//! A response body that holds its request's place in the target's in-flight count (see
//! [`InFlight`]) from the moment the target is chosen until the body has been sent (or dropped).
//! Least outstanding requests reads that count, and draining waits for it to reach zero.

use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Body, Frame, SizeHint};

use crate::alb::target_group::InFlight;

/// A response body that releases its request's [`InFlight`] when the last frame has been read,
/// on an error, or when the client goes away and the body is dropped.
#[derive(Debug)]
pub struct CountedBody<B> {
    inner: B,
    in_flight: Option<InFlight>,
}

impl<B> CountedBody<B> {
    /// Wraps `inner`, holding `in_flight` until the body ends.
    pub fn new(inner: B, in_flight: InFlight) -> CountedBody<B> {
        CountedBody {
            inner,
            in_flight: Some(in_flight),
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
        let ended = match &polled {
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => true,
            Poll::Ready(Some(Ok(_))) => self.inner.is_end_stream(),
            Poll::Pending => false,
        };
        if ended {
            self.in_flight = None;
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
    use crate::alb::TargetGroupHandle;
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};

    #[tokio::test]
    async fn counter_drops_when_the_body_ends_or_is_dropped() {
        let mut cfg = crate::alb::target_group::tests::config();
        cfg.static_targets = vec!["127.0.0.1:9".parse().unwrap()];
        let group = TargetGroupHandle::new(cfg);
        let target = group.targets()[0].clone();
        let body = CountedBody::new(Full::new(Bytes::from("hi")), target.start_request());
        assert_eq!(target.in_flight(), 1);
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(collected, "hi");
        assert_eq!(target.in_flight(), 0);

        let body = CountedBody::new(Full::new(Bytes::from("x")), target.start_request());
        assert_eq!(target.in_flight(), 1);
        drop(body);
        assert_eq!(target.in_flight(), 0);
    }
}
