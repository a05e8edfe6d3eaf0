//! What a client connection's HTTP/1.1 side shares between the connection's loop (reading
//! heads, writing responses) and the request body being read ([`super::body`]): the stream,
//! the bytes read and not yet used, and where the current body's reading stands. Both run in
//! the connection's one task, so the lock is never contended; it is there because the body
//! travels through the proxy as a value of its own.

use std::io;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use hyper::body::Frame;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::alb::chunked::{ChunkedDecoder, Decoded};

/// Read from the stream in pieces of this much (the buffer grows to it when it runs low).
pub(super) const READ_CHUNK: usize = 8 * 1024;

/// Written when a body is first asked for of a client that said `Expect: 100-continue`.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// How far the current request's body has been read.
#[derive(Debug)]
pub(super) enum Reading {
    /// Read to its end, or there was none: the buffer's bytes belong to the next request.
    Done,
    /// This many bytes still to come (`Content-Length`).
    Length(u64),
    /// Chunks (`Transfer-Encoding: chunked`).
    Chunked(ChunkedDecoder),
    /// Malformed, or the client left mid-body: the connection cannot carry another request.
    Failed,
}

/// The shared state of one client connection.
pub(super) struct Wire<I> {
    /// The stream; taken when the connection is handed on (`101`, h2c).
    pub io: Option<I>,
    /// Bytes read and not yet used.
    pub buf: BytesMut,
    pub reading: Reading,
    /// Counts requests: a body of an earlier one reads nothing more.
    pub generation: u64,
    /// Bytes of `100 Continue` already written, while one is owed.
    pub continue_owed: Option<usize>,
}

impl<I: AsyncRead + AsyncWrite + Unpin> Wire<I> {
    pub fn new(io: I) -> Wire<I> {
        Wire {
            io: Some(io),
            buf: BytesMut::new(),
            reading: Reading::Done,
            generation: 0,
            continue_owed: None,
        }
    }

    /// Reads what the stream has into the buffer: the count, 0 at the client's close.
    pub fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some(io) = self.io.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        tokio_util::io::poll_read_buf(Pin::new(io), cx, &mut self.buf)
    }

    /// Writes all of `bytes[*written..]`, counting into `written`.
    pub fn poll_write_all(
        &mut self,
        cx: &mut Context<'_>,
        bytes: &[u8],
        written: &mut usize,
    ) -> Poll<io::Result<()>> {
        let Some(io) = self.io.as_mut() else {
            return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
        };
        while *written < bytes.len() {
            match Pin::new(&mut *io).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.io.as_mut() {
            Some(io) => Pin::new(io).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    /// A final response is about to be written: a `100 Continue` not started is owed no more
    /// (RFC 9110 §10.1.1; written later it would land inside the response); the rest of one
    /// started must go first.
    pub fn settle_continue(&mut self) -> &'static [u8] {
        match self.continue_owed.take() {
            Some(0) | None => &[],
            Some(written) => &CONTINUE[written..],
        }
    }

    /// The next piece of the current body (see [`BodySource`]).
    fn poll_body(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        if let Some(mut written) = self.continue_owed {
            let sent = self.poll_write_all(cx, CONTINUE, &mut written);
            self.continue_owed = Some(written);
            match sent {
                Poll::Ready(Ok(())) => self.continue_owed = None,
                Poll::Ready(Err(e)) => return self.fail(e),
                Poll::Pending => return Poll::Pending,
            }
            if let Poll::Ready(Err(e)) = self.poll_flush(cx) {
                return self.fail(e);
            }
        }
        loop {
            match &mut self.reading {
                Reading::Done => return Poll::Ready(None),
                Reading::Failed => {
                    return Poll::Ready(Some(Err(io::Error::other("the body already failed"))));
                }
                Reading::Length(left) if !self.buf.is_empty() => {
                    let take = usize::try_from(*left)
                        .unwrap_or(usize::MAX)
                        .min(self.buf.len());
                    let data = self.buf.split_to(take).freeze();
                    *left -= take as u64;
                    if *left == 0 {
                        self.reading = Reading::Done;
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Reading::Length(_) => {}
                Reading::Chunked(decoder) => match decoder.decode(&mut self.buf) {
                    Ok(Decoded::Data(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                    Ok(Decoded::Trailers(fields)) => {
                        self.reading = Reading::Done;
                        return Poll::Ready(Some(Ok(Frame::trailers(fields))));
                    }
                    Ok(Decoded::End) => {
                        self.reading = Reading::Done;
                        return Poll::Ready(None);
                    }
                    Ok(Decoded::NeedMore) => {}
                    Err(e) => return self.fail(io::Error::new(io::ErrorKind::InvalidData, e)),
                },
            }
            match self.poll_fill(cx) {
                Poll::Ready(Ok(0)) => {
                    return self.fail(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the client closed its connection before the end of the body",
                    ));
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return self.fail(e),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn fail(&mut self, e: io::Error) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        self.reading = Reading::Failed;
        Poll::Ready(Some(Err(e)))
    }
}

/// Locks `wire` (a panic while it was held leaves nothing a later user could trip on: the
/// connection is dropped with the task).
pub(super) fn lock<I>(wire: &Mutex<Wire<I>>) -> MutexGuard<'_, Wire<I>> {
    wire.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The body's view of a connection, without its stream's type.
pub(super) trait BodySource: Send + Sync {
    /// The next frame of request `generation`'s body; an error once the connection has moved
    /// on to a later request.
    fn poll_body(
        &self,
        generation: u64,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<Frame<Bytes>>>>;
}

impl<I: AsyncRead + AsyncWrite + Unpin + Send> BodySource for Mutex<Wire<I>> {
    fn poll_body(
        &self,
        generation: u64,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        let mut wire = lock(self);
        if wire.generation != generation {
            return Poll::Ready(Some(Err(io::Error::other(
                "the request's exchange is over",
            ))));
        }
        wire.poll_body(cx)
    }
}
