//! Limits on client connections, so that idle or abusive clients cannot take the descriptors
//! the rest of the lab needs (health checks, the upstream pool, Docker, logs, the database).
//!
//! - At start the process's soft `RLIMIT_NOFILE` is raised to its hard limit
//!   ([`raise_nofile_limit`]).
//! - All load balancers of the process share one budget of client connections
//!   ([`process_budget`]): the descriptor limit minus a reserve, halved because every client
//!   connection with a request in flight also holds a connection to a target.
//! - Each load balancer may have a smaller cap of its own (`max-connections`).
//!
//! A connection that finds either full is closed at once and counted as CloudWatch's
//! `RejectedConnectionCount`.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Once, OnceLock};

/// Descriptors kept out of the client budget at least: health checks (one socket per target
/// per interval), the Docker API, log files, the control endpoint, the database watcher.
const RESERVE_MIN: u64 = 64;
/// ... and at most: with a big limit, a thousand descriptors is plenty for all of the above.
const RESERVE_MAX: u64 = 1024;

/// Counts open connections against a maximum; cheap to share.
#[derive(Debug)]
pub struct ConnectionLimit {
    open: AtomicUsize,
    max: usize,
}

/// One admitted connection; gives its place back when dropped.
#[derive(Debug)]
pub struct ConnectionPermit(Arc<ConnectionLimit>);

impl ConnectionLimit {
    /// A limit of `max` open connections.
    pub fn new(max: usize) -> Arc<ConnectionLimit> {
        Arc::new(ConnectionLimit {
            open: AtomicUsize::new(0),
            max,
        })
    }

    /// A place for one more connection, or `None` when `max` are open.
    pub fn try_acquire(self: &Arc<Self>) -> Option<ConnectionPermit> {
        self.open
            .fetch_update(Relaxed, Relaxed, |n| (n < self.max).then_some(n + 1))
            .ok()
            .map(|_| ConnectionPermit(self.clone()))
    }

    /// Connections holding a permit now.
    pub fn open(&self) -> usize {
        self.open.load(Relaxed)
    }

    /// The maximum.
    pub fn max(&self) -> usize {
        self.max
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Relaxed);
    }
}

/// Descriptors kept for everything but client connections when the limit is `nofile`: an
/// eighth of it, between [`RESERVE_MIN`] and [`RESERVE_MAX`].
pub fn reserve_for(nofile: u64) -> u64 {
    (nofile / 8).clamp(RESERVE_MIN, RESERVE_MAX)
}

/// How many client connections the process may hold with a descriptor limit of `nofile`:
/// `(nofile - reserve) / 2`, since a client connection with a request in flight also holds one
/// to a target. At least 1, so a tiny limit degrades to refusing rather than to nothing.
pub fn client_budget(nofile: u64) -> usize {
    let budget = nofile.saturating_sub(reserve_for(nofile)) / 2;
    usize::try_from(budget).unwrap_or(usize::MAX).max(1)
}

/// The soft limit to ask for: the hard limit, but no more than `fs.nr_open` would accept when
/// the hard limit is "unlimited". `None` when nothing would change.
pub fn raised_soft_limit(soft: u64, hard: u64, unlimited: u64) -> Option<u64> {
    // An "unlimited" hard limit cannot be the soft one: Linux refuses above `fs.nr_open`.
    let target = if hard == unlimited { 1 << 20 } else { hard };
    (target > soft).then_some(target)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, once per process (later calls do
/// nothing). Logs at debug what the limit became; a failure is logged and ignored (the old
/// limit stays, and [`process_budget`] follows it).
pub fn raise_nofile_limit() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| match nofile_limits() {
        Err(e) => tracing::debug!("cannot read RLIMIT_NOFILE: {e}"),
        Ok((soft, hard)) => match raised_soft_limit(soft, hard, libc::RLIM_INFINITY) {
            None => tracing::debug!("RLIMIT_NOFILE soft limit is {soft} (hard {hard})"),
            Some(target) => match set_soft_nofile(target, hard) {
                Ok(()) => tracing::debug!("RLIMIT_NOFILE soft limit raised {soft} -> {target}"),
                Err(e) => {
                    tracing::debug!("RLIMIT_NOFILE soft limit stays {soft}: raising failed: {e}")
                }
            },
        },
    });
}

/// The client connection budget shared by every load balancer of this process, sized from
/// the descriptor limit (after [`raise_nofile_limit`]) the first time it is asked for.
pub fn process_budget() -> Arc<ConnectionLimit> {
    static BUDGET: OnceLock<Arc<ConnectionLimit>> = OnceLock::new();
    BUDGET
        .get_or_init(|| {
            raise_nofile_limit();
            let nofile = nofile_limits().map_or(1024, |(soft, _)| soft);
            let budget = client_budget(nofile);
            tracing::debug!(
                "client connections of all load balancers: at most {budget} \
                 (descriptor limit {nofile}, {} reserved)",
                reserve_for(nofile)
            );
            ConnectionLimit::new(budget)
        })
        .clone()
}

/// The budget of connections to targets shared by every load balancer of this process: as
/// many as client connections ([`client_budget`]), which the reserve was sized for. One
/// HTTP/2 client connection carries many requests, each of which may need its own connection
/// to a target; without this they could take the descriptors health checks need.
pub fn upstream_budget() -> Arc<ConnectionLimit> {
    static BUDGET: OnceLock<Arc<ConnectionLimit>> = OnceLock::new();
    BUDGET
        .get_or_init(|| ConnectionLimit::new(process_budget().max()))
        .clone()
}

fn nofile_limits() -> std::io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the duration of the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((lim.rlim_cur, lim.rlim_max))
}

fn set_soft_nofile(soft: u64, hard: u64) -> std::io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `lim` is a valid rlimit; setrlimit only reads it.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_stop_at_the_maximum_and_come_back_when_dropped() {
        let limit = ConnectionLimit::new(2);
        let a = limit.try_acquire().unwrap();
        let _b = limit.try_acquire().unwrap();
        assert!(limit.try_acquire().is_none());
        assert_eq!(limit.open(), 2);
        drop(a);
        assert_eq!(limit.open(), 1);
        assert!(limit.try_acquire().is_some());
    }

    #[test]
    fn a_refused_acquire_does_not_count() {
        let limit = ConnectionLimit::new(1);
        let _a = limit.try_acquire().unwrap();
        for _ in 0..10 {
            assert!(limit.try_acquire().is_none());
        }
        assert_eq!(limit.open(), 1);
    }

    #[test]
    fn reserve_is_an_eighth_within_bounds() {
        assert_eq!(reserve_for(256), 64);
        assert_eq!(reserve_for(1024), 128);
        assert_eq!(reserve_for(20_000), 1024);
        assert_eq!(reserve_for(1 << 20), 1024);
    }

    #[test]
    fn budget_leaves_the_reserve_and_a_target_socket_per_client() {
        assert_eq!(client_budget(1024), (1024 - 128) / 2);
        assert_eq!(client_budget(20_000), (20_000 - 1024) / 2);
        assert_eq!(client_budget(10), 1, "never zero");
    }

    #[test]
    fn soft_limit_is_raised_to_the_hard_one() {
        const INF: u64 = u64::MAX;
        assert_eq!(raised_soft_limit(1024, 524_288, INF), Some(524_288));
        assert_eq!(raised_soft_limit(20_000, 20_000, INF), None);
        assert_eq!(raised_soft_limit(1024, INF, INF), Some(1 << 20));
        assert_eq!(raised_soft_limit(INF, INF, INF), None);
    }

    #[test]
    fn raising_is_idempotent_and_never_lowers() {
        let (before, _) = nofile_limits().unwrap();
        raise_nofile_limit();
        raise_nofile_limit();
        let (after, hard) = nofile_limits().unwrap();
        assert!(after >= before);
        assert!(after <= hard);
    }
}
