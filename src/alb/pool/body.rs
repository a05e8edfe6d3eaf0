//! The response body handed to the proxy: it reads the target's body off the connection itself
//! (finishing the request's upload on the way), and gives the connection back to the pool the
//! moment the last byte has been read. A body dropped before its end drops the connection,
//! which closes it (the rest would otherwise be read as the next response).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use super::conn::UpgradedTarget;
use super::endpoint::Endpoint;
use super::exchange::{Answered, Exchange};
use super::upload::BoxError;
use super::wire::BodyFraming;
use crate::alb::chunked::{ChunkedDecoder, Decoded};

/// Why reading a target's response body failed (the client's response is cut off).
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The connection failed, or closed before the body's end.
    #[error("target connection failed mid-body: {0}")]
    Io(#[from] io::Error),
    /// The chunked body was malformed.
    #[error(transparent)]
    Chunked(#[from] crate::alb::chunked::ChunkError),
    /// The request's upload, still going under the answer, failed.
    #[error("request body failed mid-exchange: {0}")]
    Upload(#[source] super::error::UpstreamError),
}

/// How the rest of the body is read.
#[derive(Debug)]
enum Decoder {
    /// Bytes left under `Content-Length`.
    Length(u64),
    Chunked(ChunkedDecoder),
    /// Until the target closes.
    UntilClose,
    /// Read whole (or none, or the connection switched protocols).
    Done,
}

/// A target's response body.
pub struct PooledBody<B> {
    /// The exchange while the body is being read (and, after a `101`, the switched
    /// connection); `None` once given back or dropped.
    exchange: Option<Exchange<B>>,
    decoder: Decoder,
    /// Where the connection goes back, when it may carry another request.
    home: Option<Arc<Endpoint>>,
}

impl<B> PooledBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    /// The body of `answered`; `home` is where a connection that stays usable goes back.
    pub(crate) fn new(answered: Answered<B>, home: Arc<Endpoint>) -> Self {
        let switched = answered.head.status == http::StatusCode::SWITCHING_PROTOCOLS;
        let decoder = match answered.framing {
            BodyFraming::None | BodyFraming::Length(0) => Decoder::Done,
            BodyFraming::Length(n) => Decoder::Length(n),
            BodyFraming::Chunked => Decoder::Chunked(ChunkedDecoder::new()),
            BodyFraming::UntilClose => Decoder::UntilClose,
        };
        let mut body = PooledBody {
            exchange: Some(answered.exchange),
            decoder,
            home: answered.keep_alive.then_some(home),
        };
        // Empty bodies (HEAD, 204, 304, `Content-Length: 0`) may never be polled. A switched
        // connection stays for `into_upgraded`.
        if matches!(body.decoder, Decoder::Done) && !switched {
            body.release();
        }
        body
    }

    /// The connection after `101 Switching Protocols`, for the tunnel.
    pub fn into_upgraded(mut self) -> Option<UpgradedTarget> {
        self.exchange.take().map(|e| e.conn.into_upgraded())
    }

    /// The body has been read whole: the connection goes back if it is clean, else closes.
    fn release(&mut self) {
        self.decoder = Decoder::Done;
        let Some(exchange) = self.exchange.take() else {
            return;
        };
        if let Some(endpoint) = self.home.take()
            && exchange.finished_cleanly()
        {
            let mut conn = exchange.conn;
            conn.reused = true;
            conn.shrink_idle_buffers();
            endpoint.put(conn);
        }
    }

    fn fail(&mut self, e: BodyError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.decoder = Decoder::Done;
        self.exchange = None;
        Poll::Ready(Some(Err(Box::new(e))))
    }

    /// The next piece of the body from what has been read, if there is one.
    fn decode(&mut self) -> Result<Option<Frame<Bytes>>, BodyError> {
        let Some(exchange) = self.exchange.as_mut() else {
            return Ok(None);
        };
        let buf = &mut exchange.conn.buf;
        match &mut self.decoder {
            Decoder::Done => Ok(None),
            Decoder::Length(left) => {
                if buf.is_empty() {
                    return Ok(None);
                }
                let take = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
                *left -= take as u64;
                let data = buf.split_to(take).freeze();
                if *left == 0 {
                    self.release();
                }
                Ok(Some(Frame::data(data)))
            }
            Decoder::UntilClose => {
                if buf.is_empty() {
                    return Ok(None);
                }
                Ok(Some(Frame::data(buf.split().freeze())))
            }
            Decoder::Chunked(chunked) => match chunked.decode(buf)? {
                Decoded::Data(data) => Ok(Some(Frame::data(data))),
                Decoded::Trailers(trailers) => {
                    self.release();
                    Ok(Some(Frame::trailers(trailers)))
                }
                Decoded::End => {
                    self.release();
                    Ok(None)
                }
                Decoded::NeedMore => Ok(None),
            },
        }
    }
}

impl<B> Body for PooledBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    // Boxed as every body the proxy sends is (errors are rare; frames are not).
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            if matches!(this.decoder, Decoder::Done) {
                this.release();
                return Poll::Ready(None);
            }
            let Some(exchange) = this.exchange.as_mut() else {
                return Poll::Ready(None);
            };
            if let Err(e) = exchange.poll_upload(cx) {
                return this.fail(BodyError::Upload(e));
            }
            match this.decode() {
                Ok(Some(frame)) => return Poll::Ready(Some(Ok(frame))),
                Ok(None) if matches!(this.decoder, Decoder::Done) => continue,
                Ok(None) => {}
                Err(e) => return this.fail(e),
            }
            let Some(exchange) = this.exchange.as_mut() else {
                return Poll::Ready(None);
            };
            match exchange.conn.poll_fill(cx) {
                Poll::Pending => return Poll::Pending,
                // The body's end (such a connection never goes back to the pool).
                Poll::Ready(Ok(0)) if matches!(this.decoder, Decoder::UntilClose) => {
                    this.release();
                    return Poll::Ready(None);
                }
                Poll::Ready(Ok(0)) => {
                    let e = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed before the end of the response body",
                    );
                    return this.fail(e.into());
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return this.fail(e.into()),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.decoder, Decoder::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match self.decoder {
            Decoder::Length(n) => SizeHint::with_exact(n),
            Decoder::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

impl<B> std::fmt::Debug for PooledBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledBody")
            .field("decoder", &self.decoder)
            .field("pooled", &self.home.is_some())
            .finish()
    }
}
