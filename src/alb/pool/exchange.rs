//! One request and its answer on one connection, driven by the request's own task: the request
//! is written while the response head is awaited (no connection task, channel or wake-up of
//! another task in between), and the exchange then moves into the response body, which reads
//! the rest and finishes any upload still going.

use std::io;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Method, StatusCode};
use hyper::body::Body;

use super::conn::Conn;
use super::error::UpstreamError;
use super::upload::{BoxError, Upload, UploadError};
use super::wire::{self, BodyFraming, ResponseHead};

/// A response head (and everything before it) may take this much at most; more is a 502.
pub(crate) const MAX_HEAD: usize = 64 * 1024;

/// A request on a connection, from its first byte to the end of its answer.
pub(crate) struct Exchange<B> {
    pub(crate) conn: Conn,
    pub(crate) upload: Upload<B>,
    /// Writing failed (the target stopped reading): its answer may still come.
    write_failed: Option<io::Error>,
    method: Method,
}

/// How a send failed: before a byte went out (try another connection with the request given
/// back), or after.
pub(crate) enum SendFailure<B> {
    Unsent(B),
    Failed(UpstreamError),
}

/// What the head's wait ended with.
pub(crate) struct Answered<B> {
    pub(crate) exchange: Exchange<B>,
    pub(crate) head: ResponseHead,
    pub(crate) framing: BodyFraming,
    pub(crate) keep_alive: bool,
}

impl<B> Exchange<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    pub(crate) fn new(conn: Conn, upload: Upload<B>, method: Method) -> Exchange<B> {
        Exchange {
            conn,
            upload,
            write_failed: None,
            method,
        }
    }

    /// Writes the request and waits for the final response head (informational ones such as
    /// `100 Continue` are skipped; `101` is final).
    pub(crate) async fn send(mut self) -> Result<Answered<B>, SendFailure<B>> {
        let head = std::future::poll_fn(|cx| self.poll_head(cx)).await;
        let head = match head {
            Ok(head) => head,
            // A pooled connection the target closed: the request goes elsewhere if none of it
            // was written (`into_unsent` tells).
            Err(failure @ SendFailure::Failed(UpstreamError::BeforeResponse(_)))
                if self.conn.reused =>
            {
                return match self.upload.into_unsent() {
                    Some(body) => Err(SendFailure::Unsent(body)),
                    None => Err(failure),
                };
            }
            Err(failure) => return Err(failure),
        };
        let framing = wire::response_framing(&self.method, head.status, &head.headers)
            .map_err(|e| SendFailure::Failed(UpstreamError::InvalidResponse(e.to_string())))?;
        let keep_alive =
            self.write_failed.is_none() && wire::keeps_alive(&self.method, &head, framing);
        Ok(Answered {
            exchange: self,
            head,
            framing,
            keep_alive,
        })
    }

    fn poll_head(&mut self, cx: &mut Context<'_>) -> Poll<Result<ResponseHead, SendFailure<B>>> {
        loop {
            self.poll_upload(cx).map_err(SendFailure::Failed)?;
            match wire::parse_response_head(&mut self.conn.buf) {
                Ok(Some(head))
                    if head.status.is_informational()
                        && head.status != StatusCode::SWITCHING_PROTOCOLS =>
                {
                    continue;
                }
                Ok(Some(head)) => return Poll::Ready(Ok(head)),
                Ok(None) if self.conn.buf.len() >= MAX_HEAD => {
                    let e = format!("response head larger than {MAX_HEAD} bytes");
                    return Poll::Ready(Err(SendFailure::Failed(UpstreamError::InvalidResponse(
                        e,
                    ))));
                }
                Ok(None) => {}
                Err(e) => {
                    let e = UpstreamError::InvalidResponse(e.to_string());
                    return Poll::Ready(Err(SendFailure::Failed(e)));
                }
            }
            let read = match ready!(self.conn.poll_fill(cx)) {
                Ok(0) => Err(self.write_failed.take().unwrap_or_else(closed_io)),
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = read {
                return Poll::Ready(Err(SendFailure::Failed(UpstreamError::BeforeResponse(e))));
            }
        }
    }

    /// Moves the upload on, if it is still going. A failed write is kept: the target may have
    /// answered before it stopped reading, and that answer is what the client should get.
    pub(crate) fn poll_upload(&mut self, cx: &mut Context<'_>) -> Result<(), UpstreamError> {
        if self.upload.is_done() || self.write_failed.is_some() {
            return Ok(());
        }
        match self.upload.poll_send(&mut self.conn, cx) {
            Poll::Pending | Poll::Ready(Ok(())) => Ok(()),
            Poll::Ready(Err(UploadError::Io(e))) => {
                self.write_failed = Some(e);
                Ok(())
            }
            Poll::Ready(Err(UploadError::Body(e))) => Err(UpstreamError::Request(e)),
            Poll::Ready(Err(UploadError::Length)) => Err(UpstreamError::Request(
                "request body does not match its Content-Length".into(),
            )),
        }
    }

    /// Whether the connection can carry another request once the response has been read: the
    /// request was written whole and nothing was left unread.
    pub(crate) fn finished_cleanly(&self) -> bool {
        self.upload.is_done() && self.write_failed.is_none() && self.conn.buf.is_empty()
    }
}

fn closed_io() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "connection closed before any response",
    )
}
