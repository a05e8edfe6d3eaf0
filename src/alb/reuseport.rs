//! A listener's sockets: one per data-plane thread, all on one address with `SO_REUSEPORT`, so
//! the kernel spreads new connections over the threads (by a hash of their addresses) and no
//! two threads wake for the same connection.
//!
//! `SO_REUSEPORT` would also let another process of this user that sets it (a second lab on
//! the same port, say) join the group and take half the connections without an error. So the
//! address is first bound once without it: if anything listens there, that bind fails with
//! "address in use" as a plain bind would, and the group is bound only on a free port.

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// The kernel's queue of connections not yet accepted, per socket (tokio's default).
const BACKLOG: i32 = 1024;

/// Binds `count` (at least one) non-blocking listening sockets to `addr`, sharing its port;
/// port 0 takes a free port for all of them.
pub fn bind_group(addr: SocketAddr, count: usize) -> io::Result<Vec<TcpListener>> {
    if addr.port() != 0 {
        drop(socket(addr, false)?);
    }
    let first = socket(addr, true)?;
    let port = first
        .local_addr()?
        .as_socket()
        .map_or(addr.port(), |a| a.port());
    let shared = SocketAddr::new(addr.ip(), port);
    let mut sockets = vec![first];
    for _ in 1..count {
        sockets.push(socket(shared, true)?);
    }
    sockets
        .into_iter()
        .map(|s| {
            s.listen(BACKLOG)?;
            Ok(TcpListener::from(s))
        })
        .collect()
}

/// A non-blocking TCP socket bound to `addr` (not yet listening), with `SO_REUSEADDR` as
/// every listener here has (a restart does not wait for old connections' `TIME_WAIT`).
fn socket(addr: SocketAddr, reuse_port: bool) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_shares_one_port_and_port_zero_picks_it() {
        let sockets = bind_group("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        let ports: Vec<u16> = sockets
            .iter()
            .map(|s| s.local_addr().unwrap().port())
            .collect();
        assert_ne!(ports[0], 0);
        assert!(ports.iter().all(|p| *p == ports[0]), "{ports:?}");
    }

    #[test]
    fn a_port_in_use_is_refused_even_to_a_group() {
        // Someone else's group on the port (another lab): ours must not join it.
        let theirs = bind_group("127.0.0.1:0".parse().unwrap(), 1).unwrap();
        let addr = theirs[0].local_addr().unwrap();
        let err = bind_group(addr, 2).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        // And a plain listener's port, as before.
        let plain = TcpListener::bind("127.0.0.1:0").unwrap();
        let err = bind_group(plain.local_addr().unwrap(), 2).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}
