//! Errors that are tierlab's own, not a target's: the process or the machine ran out of
//! descriptors, buffers, memory or local ports. A health check that fails this way says
//! nothing about the target, so it must not count against it.

use std::error::Error as StdError;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// Whether `e` is a shortage of this process or machine, not a fault of the peer:
/// `EMFILE`/`ENFILE` (descriptors), `ENOBUFS`/`ENOMEM` (kernel memory), `EADDRNOTAVAIL` (no
/// free local port for `connect`), `EAGAIN` from `connect` (the same, for some families).
pub fn is_local_shortage(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::EMFILE
                | libc::ENFILE
                | libc::ENOBUFS
                | libc::ENOMEM
                | libc::EADDRNOTAVAIL
                | libc::EAGAIN
        )
    )
}

/// The first local shortage in `e`'s chain of causes (hyper wraps the I/O error it hit).
pub fn local_shortage<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a io::Error> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if is_local_shortage(io) {
                return Some(io);
            }
        }
        next = e.source();
    }
    None
}

/// Logs local shortages once per episode: a warning when the first one happens, an info line
/// when things work again, nothing in between.
#[derive(Debug, Default)]
pub struct Episode {
    active: AtomicBool,
}

impl Episode {
    /// Something failed for a local reason; `true` the first time of an episode (log it then).
    pub fn failed(&self) -> bool {
        !self.active.swap(true, Relaxed)
    }

    /// Something worked; `true` when that ends an episode.
    pub fn worked(&self) -> bool {
        self.active.swap(false, Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(code: i32) -> io::Error {
        io::Error::from_raw_os_error(code)
    }

    #[test]
    fn descriptor_buffer_and_port_shortages_are_local() {
        for code in [
            libc::EMFILE,
            libc::ENFILE,
            libc::ENOBUFS,
            libc::ENOMEM,
            libc::EADDRNOTAVAIL,
        ] {
            assert!(is_local_shortage(&os(code)), "{}", os(code));
        }
    }

    #[test]
    fn what_the_target_does_is_not_local() {
        for code in [
            libc::ECONNREFUSED,
            libc::ECONNRESET,
            libc::EHOSTUNREACH,
            libc::ENETUNREACH,
            libc::ETIMEDOUT,
            libc::EPIPE,
        ] {
            assert!(!is_local_shortage(&os(code)), "{}", os(code));
        }
        assert!(!is_local_shortage(&io::Error::other("garbage")));
    }

    #[test]
    fn a_shortage_is_found_under_wrappers() {
        #[derive(Debug)]
        struct Wrapper(io::Error);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("connect failed")
            }
        }
        impl StdError for Wrapper {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let wrapped = Wrapper(os(libc::EMFILE));
        assert_eq!(
            local_shortage(&wrapped).and_then(|e| e.raw_os_error()),
            Some(libc::EMFILE)
        );
        let refused = Wrapper(os(libc::ECONNREFUSED));
        assert!(local_shortage(&refused).is_none());
    }

    #[test]
    fn an_episode_is_reported_once() {
        let episode = Episode::default();
        assert!(!episode.worked(), "no episode yet");
        assert!(episode.failed());
        assert!(!episode.failed());
        assert!(!episode.failed());
        assert!(episode.worked());
        assert!(!episode.worked());
        assert!(episode.failed(), "a new episode");
    }
}
