//! tierlab's own HTTP/1.1 server side: client connections of every listener, unless they speak
//! HTTP/2 (ALPN `h2`, or the h2c preface first), which go to hyper's HTTP/2 server.
//!
//! Why not hyper's HTTP/1.1 server, as before: its connection keeps a read and a write buffer
//! (8 to 16 KiB each) for as long as the client stays connected, boxes a new timer for each
//! request head, and hands each request to a dispatcher with its own buffering of the
//! response; here an idle connection holds no buffer, a head that arrives whole (nearly all)
//! is read on the stack and only its bytes are kept, one timer per connection covers slow
//! heads, and a small response leaves in one write with its head.
//!
//! - [`request`]: a request head, scanned and built (RFC 9112 §3, §6).
//! - [`response`]: the response head and how its body is framed (§4, §6, §7).
//! - [`conn`]: the connection's loop, [`serve`].
//! - [`body`] and [`wire`]: the request body, read from the connection as it is polled.
//! - [`upgrade`]: the stream handed on after `101`; [`rewind`]: bytes already read put back.
//! - [`date`]: the `Date` field, formatted once a second.
//!
//! Behaviour kept from hyper's server, pinned by tests (`tests/abuse`, `tests/alb*`):
//! `100 Continue` when the body is first read, a client closing while its request is answered
//! drops the answer (ALB's 460), a malformed head is answered 400 (431 when too large) and the
//! connection closed, pipelined requests are answered in order.

mod body;
mod conn;
mod date;
mod request;
mod response;
mod rewind;
mod upgrade;
mod wire;

pub use body::Http1Body;
pub use conn::{Handler, Http1Settings, MAX_HEAD, Served, serve};
pub use rewind::Rewind;
pub use upgrade::{ClientStream, ClientUpgrade, UpgradedClient};
