//! A client's connection after `101 Switching Protocols` (a WebSocket, say): the HTTP/1.1
//! connection hands its stream over once the `101` is written, and the proxy's tunnel, which
//! asked for it when it forwarded the request, takes it.

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;

use super::rewind::Rewind;

/// A client's byte stream, whatever is under it (TCP, TLS, counters).
pub trait ClientStream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<S: AsyncRead + AsyncWrite + Send + Unpin> ClientStream for S {}

/// The client's stream after `101`, bytes it sent past the request head first.
pub type UpgradedClient = Rewind<Box<dyn ClientStream>>;

/// Carried in an upgrade request's extensions: resolves to the client's stream once the
/// response (`101`) has been written, or fails when the connection answered anything else.
/// (Clones share the one stream, which the first to ask takes: extensions must be `Clone`.)
#[derive(Clone)]
pub struct ClientUpgrade(Arc<Mutex<Option<oneshot::Receiver<UpgradedClient>>>>);

impl fmt::Debug for ClientUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientUpgrade")
    }
}

/// The connection's end of a [`ClientUpgrade`].
pub(super) type HandOver = oneshot::Sender<UpgradedClient>;

/// A new pair: the connection keeps the [`HandOver`], the request carries the
/// [`ClientUpgrade`].
pub(super) fn pair() -> (HandOver, ClientUpgrade) {
    let (tx, rx) = oneshot::channel();
    (tx, ClientUpgrade(Arc::new(Mutex::new(Some(rx)))))
}

impl ClientUpgrade {
    /// The client's stream, once the `101` has gone out.
    pub async fn stream(self) -> io::Result<UpgradedClient> {
        let taken = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        let Some(rx) = taken else {
            return Err(io::Error::other("the client connection was already taken"));
        };
        rx.await.map_err(|_| {
            io::Error::new(
                io::ErrorKind::NotConnected,
                "the client connection was not upgraded",
            )
        })
    }
}
