//! The deadlines of a client connection, as ALB applies them:
//!
//! - **First byte**: a connection that has not sent a byte of a request within
//!   `first-byte-timeout` of being accepted (HTTPS: of finishing its TLS handshake) is closed.
//! - **Idle**: a connection with no request in progress and no data sent or received for the
//!   load balancer's `idle-timeout` is closed, for HTTP/1.1 and HTTP/2 alike.
//!
//! [`ActivityIo`] wraps the connection's byte stream (after TLS, so only request bytes count)
//! and notes when bytes pass; [`Activity::request`] marks a request in progress; the pure
//! [`next_step`] decides, and [`watch`] sleeps until it says to close.

use std::any::Any;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// The timeouts [`watch`] enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// From the start of the connection to its first byte.
    pub first_byte: Duration,
    /// Without data either way and with no request in progress.
    pub idle: Duration,
}

/// What has happened on one connection, shared by its I/O, its requests and its watchdog.
#[derive(Debug)]
pub struct Activity {
    start: Instant,
    /// Time of the last byte read or written, in milliseconds since `start`.
    last_ms: AtomicU64,
    read_any: AtomicBool,
    requests: AtomicUsize,
}

/// A request in progress on a connection; the idle deadline waits while one is alive.
#[derive(Debug)]
pub struct RequestInProgress(Arc<Activity>);

impl Drop for RequestInProgress {
    fn drop(&mut self) {
        self.0.requests.fetch_sub(1, Relaxed);
        self.0.touch();
    }
}

impl Activity {
    /// A connection starting now.
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            read_any: AtomicBool::new(false),
            requests: AtomicUsize::new(0),
        })
    }

    /// Marks a request in progress until the guard is dropped.
    pub fn request(self: &Arc<Self>) -> RequestInProgress {
        self.requests.fetch_add(1, Relaxed);
        RequestInProgress(self.clone())
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(ms, Relaxed);
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            read_any: self.read_any.load(Relaxed),
            last: Duration::from_millis(self.last_ms.load(Relaxed)),
            requests: self.requests.load(Relaxed),
        }
    }
}

/// A connection's activity at one moment, times relative to its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Whether the client has sent any byte (after TLS).
    pub read_any: bool,
    /// When the last byte was read or written.
    pub last: Duration,
    /// Requests in progress.
    pub requests: usize,
}

/// What [`watch`] does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Close the connection at this time (relative to its start) unless something happens.
    CloseAt(Duration, Why),
    /// A request is in progress (the proxy bounds it); look again at this time.
    LookAgainAt(Duration),
}

/// Which deadline closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Nothing was sent within `first-byte-timeout`.
    FirstByte,
    /// Nothing was sent or received for `idle-timeout`.
    Idle,
}

/// The deadline that applies to a connection in state `now`.
pub fn next_step(now: Snapshot, deadlines: Deadlines) -> Step {
    if !now.read_any {
        return Step::CloseAt(deadlines.first_byte, Why::FirstByte);
    }
    let idle_until = now.last + deadlines.idle;
    if now.requests > 0 {
        return Step::LookAgainAt(idle_until);
    }
    Step::CloseAt(idle_until, Why::Idle)
}

/// Resolves when the connection should be closed, saying why.
pub async fn watch(activity: &Activity, deadlines: Deadlines) -> Why {
    loop {
        let (at, why) = match next_step(activity.snapshot(), deadlines) {
            Step::CloseAt(at, why) => (at, Some(why)),
            Step::LookAgainAt(at) => (at, None),
        };
        let at = activity.start + at;
        if Instant::now() < at {
            tokio::time::sleep_until(at).await;
            continue; // Something may have happened meanwhile: decide again.
        }
        if let Some(why) = why {
            return why;
        }
        // A request still in progress after a whole idle period: look again a period later.
        tokio::time::sleep(deadlines.idle).await;
    }
}

/// Resolves once nothing has passed either way for `idle`, counted from the later of the
/// connection's start and its last byte. No first-byte rule: a tunnel's client may stay silent
/// while the target talks.
pub async fn idle(activity: &Activity, idle: Duration) {
    activity.read_any.store(true, Relaxed);
    watch(
        activity,
        Deadlines {
            first_byte: idle,
            idle,
        },
    )
    .await;
}

/// A client's byte stream that notes its [`Activity`], and keeps a guard alive as long as the
/// stream itself (through a WebSocket upgrade too, where the stream outlives the HTTP
/// connection).
pub struct ActivityIo<I> {
    inner: I,
    activity: Arc<Activity>,
    _guard: Box<dyn Any + Send + Sync>,
}

impl<I> ActivityIo<I> {
    /// Wraps `inner`; bytes through it count as `activity`; `guard` is dropped with it.
    pub fn new(inner: I, activity: Arc<Activity>, guard: impl Any + Send + Sync) -> ActivityIo<I> {
        ActivityIo {
            inner,
            activity,
            _guard: Box::new(guard),
        }
    }
}

impl<I: std::fmt::Debug> std::fmt::Debug for ActivityIo<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivityIo")
            .field("inner", &self.inner)
            .field("activity", &self.activity)
            .finish_non_exhaustive()
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for ActivityIo<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read_any.store(true, Relaxed);
            self.activity.touch();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for ActivityIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Deadlines = Deadlines {
        first_byte: Duration::from_secs(5),
        idle: Duration::from_secs(60),
    };

    fn at(read_any: bool, last_s: u64, requests: usize) -> Snapshot {
        Snapshot {
            read_any,
            last: Duration::from_secs(last_s),
            requests,
        }
    }

    #[test]
    fn a_silent_connection_closes_at_the_first_byte_deadline() {
        assert_eq!(
            next_step(at(false, 0, 0), D),
            Step::CloseAt(Duration::from_secs(5), Why::FirstByte)
        );
        // Bytes written to it (none are, before a request) do not excuse the client.
        assert_eq!(
            next_step(at(false, 3, 0), D),
            Step::CloseAt(Duration::from_secs(5), Why::FirstByte)
        );
    }

    #[test]
    fn after_the_first_byte_the_idle_timeout_counts_from_the_last_byte() {
        assert_eq!(
            next_step(at(true, 10, 0), D),
            Step::CloseAt(Duration::from_secs(70), Why::Idle)
        );
    }

    #[test]
    fn a_request_in_progress_is_never_idle() {
        assert_eq!(
            next_step(at(true, 10, 1), D),
            Step::LookAgainAt(Duration::from_secs(70))
        );
    }

    /// Short real deadlines (no paused clock: tokio's test-util is not a dependency).
    const SHORT: Deadlines = Deadlines {
        first_byte: Duration::from_millis(150),
        idle: Duration::from_millis(300),
    };

    #[tokio::test]
    async fn watch_closes_a_silent_connection_at_the_first_byte_deadline() {
        let activity = Activity::new();
        assert_eq!(watch(&activity, SHORT).await, Why::FirstByte);
        let took = activity.start.elapsed();
        assert!(took >= SHORT.first_byte && took < SHORT.idle, "{took:?}");
    }

    #[tokio::test]
    async fn watch_waits_for_requests_then_counts_idle_from_their_end() {
        let activity = Activity::new();
        activity.read_any.store(true, Relaxed);
        let request = activity.request();
        let watching = watch(&activity, SHORT);
        tokio::pin!(watching);
        // Two idle periods pass with the request in progress: not closed.
        let early = tokio::time::timeout(SHORT.idle * 2, &mut watching);
        assert!(early.await.is_err());
        let ended = Instant::now();
        drop(request);
        assert_eq!(watching.await, Why::Idle);
        let took = ended.elapsed();
        assert!(took >= SHORT.idle - Duration::from_millis(2), "{took:?}");
        assert!(took < SHORT.idle * 2, "{took:?}");
    }
}
