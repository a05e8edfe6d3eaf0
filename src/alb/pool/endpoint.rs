//! One target's idle keep-alive connections: a bounded lock-free queue that requests take a
//! connection from and give it back to, with the idle timeout checked on both ends.

use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;

use super::conn::Conn;

/// An idle connection older than this is asked of the kernel before use (see
/// [`Conn::is_open`]); a younger one is trusted from the runtime's readiness. A data-plane
/// thread reads its socket events at least every 61 task polls, far sooner than this, so a
/// close that came well before the request has been seen either way; a target's keep-alive
/// timeout (seconds, usually) closes only connections much older. Under load connections come
/// back within a few milliseconds and cost no system call to check.
const PROBE_AFTER: Duration = Duration::from_millis(20);

/// An idle connection and since when it has been idle.
struct Idle {
    conn: Conn,
    since: Instant,
}

/// What to do with an idle connection found in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Ready for a request now.
    Use,
    /// Closed by the target (or it sent something unasked) or idle too long: drop it
    /// (dropping closes the socket).
    Discard,
}

/// The decision for one idle connection, apart from the I/O so it can be tested alone.
pub(crate) fn verdict(open: bool, idle_for: Duration, idle_timeout: Duration) -> Verdict {
    if !open || idle_for >= idle_timeout {
        Verdict::Discard
    } else {
        Verdict::Use
    }
}

/// The idle connections to one target. Shared (`Arc`) by the pool's map and by every response
/// body still streaming from this target, which puts its connection back when it ends.
pub struct Endpoint {
    idle: ArrayQueue<Idle>,
    idle_timeout: Duration,
}

impl Endpoint {
    /// An endpoint keeping at most `max_idle` idle connections, each for at most `idle_timeout`.
    pub(crate) fn new(max_idle: usize, idle_timeout: Duration) -> Endpoint {
        Endpoint {
            idle: ArrayQueue::new(max_idle.max(1)),
            idle_timeout,
        }
    }

    /// How many idle connections are pooled now (closed ones not yet noticed included).
    pub fn idle_count(&self) -> usize {
        self.idle.len()
    }

    /// Takes the oldest idle connection that is still open and not expired; discards the dead
    /// ones on the way.
    pub(crate) fn take(&self) -> Option<Conn> {
        let now = Instant::now();
        while let Some(idle) = self.idle.pop() {
            let idle_for = now.saturating_duration_since(idle.since);
            let open = idle.conn.is_open(idle_for >= PROBE_AFTER);
            if verdict(open, idle_for, self.idle_timeout) == Verdict::Use {
                return Some(idle.conn);
            }
        }
        None
    }

    /// Gives a connection back after its exchange ended cleanly. Dropped (closed) instead when
    /// the queue is full.
    pub(crate) fn put(&self, conn: Conn) {
        let since = Instant::now();
        // A full queue hands the entry back; dropping it closes the surplus connection.
        let _ = self.idle.push(Idle { conn, since });
    }

    /// Closes idle connections that expired or were closed by the target; returns how many
    /// stay. Entries taken by requests meanwhile are simply not seen.
    pub(crate) fn sweep(&self, now: Instant) -> usize {
        for _ in 0..self.idle.len() {
            let Some(idle) = self.idle.pop() else { break };
            let idle_for = now.saturating_duration_since(idle.since);
            if verdict(idle.conn.is_open(true), idle_for, self.idle_timeout) == Verdict::Use {
                let _ = self.idle.push(idle);
            }
        }
        self.idle.len()
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("idle", &self.idle.len())
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn open_fresh_connection_is_used() {
        assert_eq!(verdict(true, Duration::ZERO, MINUTE), Verdict::Use);
        assert_eq!(verdict(true, MINUTE / 2, MINUTE), Verdict::Use);
    }

    #[test]
    fn closed_or_expired_connections_are_discarded() {
        assert_eq!(verdict(false, Duration::ZERO, MINUTE), Verdict::Discard);
        assert_eq!(verdict(true, MINUTE, MINUTE), Verdict::Discard);
        assert_eq!(verdict(true, 2 * MINUTE, MINUTE), Verdict::Discard);
    }
}
