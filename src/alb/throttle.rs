//! A response body held to a bandwidth (`tierlab chaos bandwidth lb-task RATE`): data goes on
//! in slices of a tenth of a second's worth, each followed by the wait its size costs at that
//! rate, as Toxiproxy's bandwidth toxic does.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};

use super::pool::BoxError;
use super::proxy::ProxyBody;

/// `inner`, at most `bytes_per_second`.
pub struct Throttled {
    inner: ProxyBody,
    bytes_per_second: u64,
    /// What is left of a data frame larger than a slice.
    pending: Option<Bytes>,
    /// The wait the last slice costs.
    wait: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Throttled {
    /// `inner` held to `bytes_per_second`, boxed as the proxy sends bodies.
    pub fn boxed_at(inner: ProxyBody, bytes_per_second: u64) -> ProxyBody {
        Throttled {
            inner,
            bytes_per_second: bytes_per_second.max(1),
            pending: None,
            wait: None,
        }
        .boxed()
    }

    /// The most one slice holds: a tenth of a second's worth (at least a byte).
    fn slice(&self) -> usize {
        (self.bytes_per_second / 10).max(1) as usize
    }
}

impl Body for Throttled {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(wait) = self.wait.as_mut() {
            ready!(wait.as_mut().poll(cx));
            self.wait = None;
        }
        let mut data = match self.pending.take() {
            Some(rest) => rest,
            None => match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => data,
                    Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                },
                other => return Poll::Ready(other),
            },
        };
        if data.len() > self.slice() {
            self.pending = Some(data.split_off(self.slice()));
        }
        let cost = Duration::from_secs_f64(data.len() as f64 / self.bytes_per_second as f64);
        self.wait = Some(Box::pin(tokio::time::sleep(cost)));
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        let extra = self.pending.as_ref().map_or(0, |p| p.len() as u64);
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + extra);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + extra);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    #[tokio::test]
    async fn a_body_takes_its_size_over_the_rate() {
        let body = Full::new(Bytes::from(vec![7u8; 400]))
            .map_err(|never| match never {})
            .boxed();
        let started = std::time::Instant::now();
        let throttled = Throttled::boxed_at(body, 1000);
        assert_eq!(throttled.size_hint().exact(), Some(400));
        let collected = throttled.collect().await.unwrap().to_bytes();
        assert_eq!(collected, Bytes::from(vec![7u8; 400]));
        // 4 slices of 100 bytes, each costing 0.1 s; the last one's wait is not awaited.
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(2),
            "{took:?}"
        );
    }
}
