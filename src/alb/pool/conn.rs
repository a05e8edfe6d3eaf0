//! One connection to a target: the socket, what has been read from it and not yet used, and
//! its place in the connection budget. It has no task of its own: whoever holds it (a request
//! waiting for its answer, the response body streaming, the pool while idle) does its I/O.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::alb::limits::ConnectionPermit;

/// Read from the socket in pieces of this much (the buffer grows to it when it runs low).
const READ_CHUNK: usize = 8 * 1024;
/// A pooled connection keeps buffers up to this size; larger ones are dropped when it goes idle.
const MAX_IDLE_BUFFER: usize = 16 * 1024;

/// An open connection to a target.
pub(crate) struct Conn {
    stream: TcpStream,
    /// Bytes read and not yet parsed.
    pub(crate) buf: BytesMut,
    /// Where request heads are written (its memory is reused once a head has been sent).
    pub(crate) head_buf: BytesMut,
    /// The connection's place in the budget, given back when it closes (is dropped).
    _permit: Option<ConnectionPermit>,
    /// Whether an exchange has been completed on it before (then it came from the pool).
    pub(crate) reused: bool,
}

impl Conn {
    pub(crate) fn new(stream: TcpStream, permit: Option<ConnectionPermit>) -> Conn {
        Conn {
            stream,
            buf: BytesMut::new(),
            head_buf: BytesMut::new(),
            _permit: permit,
            reused: false,
        }
    }

    /// Reads what the socket has into the buffer: the count, 0 at the target's close.
    ///
    /// Through `AsyncRead` rather than `try_read`: a read that does not fill the buffer tells
    /// tokio the socket is drained, so [`is_open`](Self::is_open) later needs no system call
    /// to know nothing came since.
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.buf)
    }

    /// Writes as much of `slices` as the socket takes now.
    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        slices: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, slices)
    }

    /// Whether an idle connection can carry a request: nothing arrived on it since its last
    /// answer (no close, no reset, no stray bytes).
    ///
    /// Fresh from its last exchange (`probe` false), the readiness the runtime holds says it
    /// for free. An older one (`probe`) is asked of the kernel with a peek: a target's
    /// keep-alive timeout closes connections that sat idle, and under load the runtime may not
    /// yet have read the event that says so.
    pub(crate) fn is_open(&self, probe: bool) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        if probe {
            let mut byte = [std::mem::MaybeUninit::<u8>::uninit()];
            let peeked = socket2::SockRef::from(&self.stream).peek(&mut byte);
            return matches!(peeked, Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        }
        let mut cx = Context::from_waker(Waker::noop());
        match self.stream.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }

    /// Gives back buffers that grew past what a usual exchange needs (a large response head,
    /// a long request head), so an idle connection holds little.
    pub(crate) fn shrink_idle_buffers(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > MAX_IDLE_BUFFER {
            self.buf = BytesMut::new();
        }
        if self.head_buf.capacity() > MAX_IDLE_BUFFER {
            self.head_buf = BytesMut::new();
        }
    }

    /// The socket for a protocol switched to (`101`), with the bytes already read after the
    /// response head.
    pub(crate) fn into_upgraded(self) -> UpgradedTarget {
        UpgradedTarget {
            stream: self.stream,
            read_first: self.buf.freeze(),
            _permit: self._permit,
        }
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("peer", &self.stream.peer_addr().ok())
            .field("buffered", &self.buf.len())
            .field("reused", &self.reused)
            .finish()
    }
}

/// A target's connection after `101 Switching Protocols`: raw bytes both ways, the ones that
/// came with the response head first.
pub struct UpgradedTarget {
    stream: TcpStream,
    read_first: Bytes,
    _permit: Option<ConnectionPermit>,
}

impl std::fmt::Debug for UpgradedTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpgradedTarget")
            .field("peer", &self.stream.peer_addr().ok())
            .field("read_first", &self.read_first.len())
            .finish()
    }
}

impl AsyncRead for UpgradedTarget {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.read_first.is_empty() {
            let n = this.read_first.len().min(out.remaining());
            out.put_slice(&this.read_first[..n]);
            this.read_first.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_read(cx, out)
    }
}

impl AsyncWrite for UpgradedTarget {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
