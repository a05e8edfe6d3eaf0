//! Writing a request to a target: its head, then its body as it comes from the client, framed
//! by `Content-Length` or chunked. It goes on while the answer streams back (a target may
//! answer before it has read the whole body, and an echoing one must), driven by whoever
//! polls the exchange.

use std::collections::VecDeque;
use std::error::Error as StdError;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;
use hyper::body::Body;

use super::conn::Conn;
use super::wire::RequestFraming;

/// An error of anything boxed: what the request body's own errors become.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// Body bytes queued beyond this wait until the socket takes some (uploads are streamed, not
/// buffered).
const MAX_QUEUED: usize = 64 * 1024;
/// Slices handed to one vectored write.
const MAX_SLICES: usize = 16;

/// Why an upload stopped.
#[derive(Debug)]
pub(crate) enum UploadError {
    /// The client's body failed (it went away, or sent a malformed body).
    Body(BoxError),
    /// The body did not match its `Content-Length`.
    Length,
    /// Writing to the target failed.
    Io(io::Error),
}

/// A request on its way to a target.
pub(crate) struct Upload<B> {
    /// The head, until written (apart from the queue, which then costs nothing for a
    /// request without a body).
    head: Bytes,
    /// Body data with its framing, in order, after the head.
    queue: VecDeque<Bytes>,
    queued: usize,
    /// The client's body; `None` once it ended.
    body: Option<B>,
    /// Whether the body is still to be read and sent (never for an empty one).
    sending: bool,
    framing: RequestFraming,
    /// Body bytes still owed under `Content-Length`.
    owed: u64,
    /// Whether any byte has been written.
    pub(crate) wrote_any: bool,
}

impl<B> Upload<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    /// An upload of `head` then `body`, framed as the head says.
    pub(crate) fn new(head: Bytes, body: B, framing: RequestFraming) -> Upload<B> {
        let owed = match framing {
            RequestFraming::Length(n) => n,
            _ => 0,
        };
        Upload {
            head,
            queue: VecDeque::new(),
            queued: 0,
            body: Some(body),
            sending: framing != RequestFraming::Empty,
            framing,
            owed,
            wrote_any: false,
        }
    }

    /// Whether the whole request has been written.
    pub(crate) fn is_done(&self) -> bool {
        self.head.is_empty() && self.queue.is_empty() && !self.sending
    }

    /// The body again, if nothing of the request has been written or read yet (the pool then
    /// sends it on another connection).
    pub(crate) fn into_unsent(self) -> Option<B> {
        if self.wrote_any || !self.queue.is_empty() {
            return None;
        }
        self.body
    }

    /// Writes what can be written now; `Ready(Ok)` once all of the request is out.
    pub(crate) fn poll_send(
        &mut self,
        conn: &mut Conn,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), UploadError>> {
        loop {
            // On a pooled connection the head goes out alone first: should the target have
            // closed it meanwhile, the body is still untouched, and the request can go whole to
            // another connection or (after a failed connect there) another target.
            if self.wrote_any || !conn.reused {
                self.poll_feed(cx)?;
            }
            if self.head.is_empty() && self.queue.is_empty() {
                return if !self.sending {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Pending
                };
            }
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let pending = std::iter::once(&self.head)
                .filter(|h| !h.is_empty())
                .chain(&self.queue);
            let mut count = 0;
            for (slice, bytes) in slices.iter_mut().zip(pending) {
                *slice = IoSlice::new(bytes);
                count += 1;
            }
            let written = match conn.poll_write(cx, &slices[..count]) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(UploadError::Io(e))),
                Poll::Ready(Ok(0)) => {
                    let e = io::Error::from(io::ErrorKind::WriteZero);
                    return Poll::Ready(Err(UploadError::Io(e)));
                }
                Poll::Ready(Ok(n)) => n,
            };
            self.wrote_any = true;
            self.advance(written);
        }
    }

    /// Queues body frames while the client has them ready and the queue has room.
    fn poll_feed(&mut self, cx: &mut Context<'_>) -> Result<(), UploadError> {
        while self.sending && self.queued < MAX_QUEUED {
            let Some(body) = self.body.as_mut() else {
                return Ok(());
            };
            let frame = match Pin::new(body).poll_frame(cx) {
                Poll::Pending => return Ok(()),
                Poll::Ready(None) => {
                    self.end(None)?;
                    continue;
                }
                Poll::Ready(Some(Err(e))) => return Err(UploadError::Body(e.into())),
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            match frame.into_data() {
                Ok(data) => self.data(data)?,
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        self.end(Some(trailers))?;
                    }
                }
            }
        }
        Ok(())
    }

    fn data(&mut self, data: Bytes) -> Result<(), UploadError> {
        if data.is_empty() {
            return Ok(());
        }
        match self.framing {
            RequestFraming::Chunked => {
                let mut size = BytesMut::with_capacity(18);
                size.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
                self.push(size.freeze());
                self.push(data);
                self.push(Bytes::from_static(b"\r\n"));
            }
            _ => {
                let len = data.len() as u64;
                if len > self.owed {
                    return Err(UploadError::Length);
                }
                self.owed -= len;
                self.push(data);
                // All that was announced is queued: the target needs nothing more.
                if self.owed == 0 {
                    self.sending = false;
                    self.body = None;
                }
            }
        }
        Ok(())
    }

    /// The body ended, with `trailers` if it had any (sent only when chunked: a
    /// `Content-Length` message has nowhere to put them).
    fn end(&mut self, trailers: Option<HeaderMap>) -> Result<(), UploadError> {
        self.sending = false;
        self.body = None;
        match self.framing {
            RequestFraming::Chunked => {
                let mut last = BytesMut::from(&b"0\r\n"[..]);
                for (name, value) in trailers.iter().flatten() {
                    last.extend_from_slice(name.as_str().as_bytes());
                    last.extend_from_slice(b": ");
                    last.extend_from_slice(value.as_bytes());
                    last.extend_from_slice(b"\r\n");
                }
                last.extend_from_slice(b"\r\n");
                self.push(last.freeze());
                Ok(())
            }
            _ if self.owed > 0 => Err(UploadError::Length),
            _ => Ok(()),
        }
    }

    fn push(&mut self, bytes: Bytes) {
        self.queued += bytes.len();
        self.queue.push_back(bytes);
    }

    fn advance(&mut self, mut written: usize) {
        let from_head = written.min(self.head.len());
        self.head.advance(from_head);
        written -= from_head;
        self.queued -= written;
        while written > 0 {
            let front = self.queue.front_mut().expect("wrote no more than queued");
            if written < front.len() {
                front.advance(written);
                return;
            }
            written -= front.len();
            self.queue.pop_front();
        }
    }
}
