//! One client connection spoken to in HTTP/1.1: the loop of [`serve`], one exchange after
//! another, each a straight walk: the next head, the answer (while watching for the client
//! leaving), the response written, then whether the connection can carry another.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Method, Request, Response, StatusCode, Version};
use hyper::body::Body;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

use super::body::Http1Body;
use super::request::{self, BodyFraming, HeadError, RequestHead};
use super::response::{self, Framing};
use super::rewind::Rewind;
use super::upgrade::{self, ClientStream, HandOver};
use super::wire::{self, BodySource, READ_CHUNK, Reading, Wire};
use crate::alb::chunked::ChunkedDecoder;
use crate::alb::headers;
use crate::alb::proxy::{self, ProxyBody};
use crate::alb::request_body::RequestBody;

/// A request head larger than this is refused (431): ALB's limits on the request line and on
/// all fields (checked precisely by the router), plus room for line ends.
pub const MAX_HEAD: usize = headers::MAX_REQUEST_LINE + headers::MAX_HEADERS_TOTAL + 16 * 1024;
/// The first read of each head goes to the stack: a connection waiting for its next request
/// holds no read buffer (most heads arrive whole in one read, and only their bytes are kept).
const STACK_READ: usize = 4 * 1024;
/// While a request is answered, bytes a client pipelines after it are read (so that its
/// leaving is seen) up to this much.
const MAX_PIPELINED: usize = 64 * 1024;
/// A response body's pieces up to this size are copied next to their framing, so a small
/// response goes out in one write; larger ones are written as they are.
const COPY_AT_MOST: usize = 16 * 1024;
/// The response buffer a connection keeps between exchanges, at most.
const MAX_KEPT_OUT: usize = 16 * 1024;
/// Closing with part of a request body unread, the connection reads and drops what still
/// comes, for this long or this much, before the socket closes: a close with unread bytes
/// resets the connection, and the client could lose the response it has not read yet.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 1024 * 1024;
/// What an HTTP/2 client with prior knowledge sends first (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What answers the requests of a connection.
pub trait Handler: Sync {
    /// The response to `req`.
    fn handle(
        &self,
        req: Request<RequestBody>,
    ) -> impl Future<Output = Response<ProxyBody>> + Send + '_;
}

/// How a connection's HTTP/1.1 side ended.
pub enum Served<I> {
    /// The connection is done (closed, or to be dropped).
    Closed,
    /// Its first bytes were the HTTP/2 preface: the stream, with them, for the HTTP/2 server.
    Http2(Rewind<I>),
    /// Handed to a tunnel after `101`.
    Upgraded,
}

/// The bounds of a connection's HTTP/1.1 side.
#[derive(Debug, Clone, Copy)]
pub struct Http1Settings {
    /// A head not complete this long after its first byte closes the connection.
    pub head_timeout: Duration,
    /// Whether the HTTP/2 preface as first bytes hands the connection to HTTP/2 (h2c with
    /// prior knowledge, RFC 9113 §3.3).
    pub h2_prior_knowledge: bool,
}

/// Serves requests on `io` until the client leaves, asks to close, or `stop` fires (between
/// requests; one in progress is answered first, with `Connection: close`).
pub async fn serve<I, H>(
    io: I,
    handler: &H,
    settings: Http1Settings,
    stop: &CancellationToken,
) -> Served<I>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    let wire = Arc::new(Mutex::new(Wire::new(io)));
    let source: Arc<dyn BodySource> = wire.clone();
    let mut out = Vec::new();
    let mut head_deadline = pin!(tokio::time::sleep(Duration::ZERO));
    let mut stopped = pin!(stop.cancelled());
    let mut first = true;
    loop {
        let mut reader = HeadReader {
            h2_preface: first && settings.h2_prior_knowledge,
            timeout: settings.head_timeout,
            deadline: head_deadline.as_mut(),
            armed: false,
            stopped: stopped.as_mut(),
        };
        let next = poll_fn(|cx| reader.poll_next(&wire, cx)).await;
        first = false;
        let head = match next {
            Next::Head(head) => head,
            Next::Closed => return Served::Closed,
            Next::Http2 => return hand_to_http2(&wire),
            Next::Refused(e) => {
                tracing::debug!("{e}: answering and closing");
                let status = match e {
                    HeadError::TooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    HeadError::Malformed(_) => StatusCode::BAD_REQUEST,
                };
                let page = proxy::error_page(status);
                let _ = respond(&wire, &mut out, page, &Method::GET, Version::HTTP_11, false).await;
                shut_down(&wire).await;
                return Served::Closed;
            }
        };
        let Exchange {
            request,
            hand_over,
            keep_alive,
        } = exchange(head, &wire, &source);
        let (method, version) = (request.method().clone(), request.version());
        let Some(response) = answer(handler, request, &wire).await else {
            // The client left: dropping the answer records its 460 (see `observe`).
            return Served::Closed;
        };
        let upgrading = response.status() == StatusCode::SWITCHING_PROTOCOLS && hand_over.is_some();
        let keep_alive = keep_alive && !upgrading && !stop.is_cancelled();
        let sent = respond(&wire, &mut out, response, &method, version, keep_alive).await;
        if out.capacity() > MAX_KEPT_OUT {
            out = Vec::new();
        }
        match sent {
            Ok(Sent::Whole) => {}
            Ok(Sent::UntilClose) => {
                shut_down(&wire).await;
                return Served::Closed;
            }
            Ok(Sent::Cut) | Err(_) => return Served::Closed,
        }
        if upgrading {
            hand_over_stream(&wire, hand_over);
            return Served::Upgraded;
        }
        let body_done = matches!(wire::lock(&wire).reading, Reading::Done);
        if !body_done {
            linger(&wire).await;
            return Served::Closed;
        }
        if !keep_alive {
            shut_down(&wire).await;
            return Served::Closed;
        }
        let mut w = wire::lock(&wire);
        if w.buf.is_empty() {
            // Nothing read ahead: the next head is read onto the stack.
            w.buf = BytesMut::new();
        }
    }
}

/// What reading the next head gave.
// Moved once per request, where boxing the head would cost an allocation.
#[allow(clippy::large_enum_variant)]
enum Next {
    Head(RequestHead),
    /// The client closed (or the stream failed, or the load balancer stops) between requests,
    /// or a head was not complete within the timeout.
    Closed,
    /// The HTTP/2 preface came first.
    Http2,
    Refused(HeadError),
}

/// The state of reading one head.
struct HeadReader<'a, 's> {
    h2_preface: bool,
    timeout: Duration,
    /// Armed once part of a head is in: one timer per connection, reset, never boxed.
    deadline: Pin<&'a mut Sleep>,
    armed: bool,
    stopped: Pin<&'a mut tokio_util::sync::WaitForCancellationFuture<'s>>,
}

impl HeadReader<'_, '_> {
    fn poll_next<I: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        wire: &Mutex<Wire<I>>,
        cx: &mut Context<'_>,
    ) -> Poll<Next> {
        let mut w = wire::lock(wire);
        loop {
            if w.buf.is_empty() {
                // Between requests: the load balancer stopping closes the connection now.
                if self.stopped.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Next::Closed);
                }
                match poll_read_to_stack(&mut w, cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(next)) => return Poll::Ready(next),
                    Poll::Ready(None) => {}
                }
            } else {
                if self.h2_preface && H2_PREFACE.starts_with(&w.buf[..w.buf.len().min(24)]) {
                    if w.buf.len() >= H2_PREFACE.len() {
                        return Poll::Ready(Next::Http2);
                    }
                } else {
                    match request::scan(&w.buf) {
                        Ok(Some(scanned)) => {
                            let head = w.buf.split_to(scanned.len).freeze();
                            return Poll::Ready(built(&scanned, &head));
                        }
                        Ok(None) if w.buf.len() >= MAX_HEAD => {
                            return Poll::Ready(Next::Refused(HeadError::TooLarge));
                        }
                        Ok(None) => {}
                        Err(e) => return Poll::Ready(Next::Refused(e)),
                    }
                }
                if !self.armed {
                    self.armed = true;
                    let at = Instant::now() + self.timeout;
                    self.deadline.as_mut().reset(at);
                }
                if self.deadline.as_mut().poll(cx).is_ready() {
                    tracing::debug!("request head not complete within {:?}", self.timeout);
                    return Poll::Ready(Next::Closed);
                }
                match w.poll_fill(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(Next::Closed),
                    Poll::Ready(Ok(_)) => {}
                }
            }
        }
    }
}

/// Reads onto the stack; a head that came whole is returned (only its bytes are kept, and what
/// follows it goes to the buffer); anything else goes to the buffer (`None`: go on from there).
fn poll_read_to_stack<I: AsyncRead + Unpin>(
    w: &mut Wire<I>,
    cx: &mut Context<'_>,
) -> Poll<Option<Next>> {
    let Some(io) = w.io.as_mut() else {
        return Poll::Ready(Some(Next::Closed));
    };
    let mut stack = [0u8; STACK_READ];
    let mut read = ReadBuf::new(&mut stack);
    match Pin::new(io).poll_read(cx, &mut read) {
        Poll::Pending => return Poll::Pending,
        Poll::Ready(Err(_)) => return Poll::Ready(Some(Next::Closed)),
        Poll::Ready(Ok(())) => {}
    }
    let filled = read.filled();
    if filled.is_empty() {
        return Poll::Ready(Some(Next::Closed));
    }
    if !filled.starts_with(b"PRI ") {
        match request::scan(filled) {
            Ok(Some(scanned)) => {
                let head = Bytes::copy_from_slice(&filled[..scanned.len]);
                w.buf.extend_from_slice(&filled[scanned.len..]);
                return Poll::Ready(Some(built(&scanned, &head)));
            }
            Ok(None) => {}
            Err(e) => return Poll::Ready(Some(Next::Refused(e))),
        }
    }
    w.buf.reserve(READ_CHUNK.max(filled.len()));
    w.buf.extend_from_slice(filled);
    Poll::Ready(None)
}

fn built(scanned: &request::Scanned, head: &Bytes) -> Next {
    match request::build(scanned, head) {
        Ok(head) => Next::Head(head),
        Err(e) => Next::Refused(e),
    }
}

/// A request ready for the handler, and what the connection keeps of it.
struct Exchange {
    request: Request<RequestBody>,
    /// Where the stream goes after a `101` (upgrade requests only).
    hand_over: Option<HandOver>,
    keep_alive: bool,
}

/// Starts the exchange of `head` on the connection: its body is read from here on.
fn exchange<I>(head: RequestHead, wire: &Mutex<Wire<I>>, source: &Arc<dyn BodySource>) -> Exchange {
    let RequestHead {
        parts,
        framing,
        keep_alive,
        expect_continue,
    } = head;
    let mut w = wire::lock(wire);
    w.generation += 1;
    let generation = w.generation;
    let (reading, body) = match framing {
        BodyFraming::None => (Reading::Done, RequestBody::Empty),
        BodyFraming::Length(n) => (
            Reading::Length(n),
            RequestBody::Http1(Http1Body::new(source.clone(), generation, Some(n))),
        ),
        BodyFraming::Chunked => (
            Reading::Chunked(ChunkedDecoder::new()),
            RequestBody::Http1(Http1Body::new(source.clone(), generation, None)),
        ),
    };
    w.reading = reading;
    w.continue_owed = (expect_continue && framing != BodyFraming::None).then_some(0);
    drop(w);
    let mut request = Request::from_parts(parts, body);
    let hand_over = headers::upgrade_protocol(request.version(), request.headers()).map(|_| {
        let (hand_over, upgrade) = upgrade::pair();
        request.extensions_mut().insert(upgrade);
        hand_over
    });
    Exchange {
        request,
        hand_over,
        keep_alive,
    }
}

/// The handler's response to `request`; `None` when the client closes its connection first
/// (HTTP/1.1 has no half-close for a request: a client's end of stream is its leaving).
async fn answer<I, H>(
    handler: &H,
    request: Request<RequestBody>,
    wire: &Mutex<Wire<I>>,
) -> Option<Response<ProxyBody>>
where
    I: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    let mut answer = pin!(handler.handle(request));
    poll_fn(|cx| {
        if let Poll::Ready(response) = answer.as_mut().poll(cx) {
            return Poll::Ready(Some(response));
        }
        if client_left(wire, cx) {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// Whether the client has closed its connection, looked at once its body is read (before, the
/// body's reading sees it). Pipelined bytes are kept for the next request.
fn client_left<I: AsyncRead + AsyncWrite + Unpin>(
    wire: &Mutex<Wire<I>>,
    cx: &mut Context<'_>,
) -> bool {
    let mut w = wire::lock(wire);
    if !matches!(w.reading, Reading::Done) {
        return false;
    }
    while w.buf.len() < MAX_PIPELINED {
        match w.poll_fill(cx) {
            Poll::Ready(Ok(0) | Err(_)) => return true,
            Poll::Ready(Ok(_)) => {}
            Poll::Pending => return false,
        }
    }
    false
}

/// How a response went out.
enum Sent {
    /// Whole, as framed.
    Whole,
    /// Whole, framed by closing the connection.
    UntilClose,
    /// Cut short (the body failed, or did not match its length): the connection must close.
    Cut,
}

/// Writes `response` to a `method` request of an HTTP/`version` client.
async fn respond<I: AsyncRead + AsyncWrite + Unpin>(
    wire: &Mutex<Wire<I>>,
    out: &mut Vec<u8>,
    response: Response<ProxyBody>,
    method: &Method,
    version: Version,
    keep_alive: bool,
) -> io::Result<Sent> {
    let (parts, mut body) = response.into_parts();
    let framing = response::framing(
        method,
        version,
        parts.status,
        &parts.headers,
        &body.size_hint(),
    );
    let keep_alive = keep_alive && framing != Framing::UntilClose;
    out.clear();
    out.extend_from_slice(wire::lock(wire).settle_continue());
    response::encode_head(
        out,
        parts.status,
        &parts.headers,
        framing,
        version,
        keep_alive,
    );
    drop(parts);
    let mut left = match framing {
        Framing::None => {
            drop(body);
            return write_out(wire, out).await.map(|()| Sent::Whole);
        }
        Framing::Length(n) => Some(n),
        Framing::Chunked | Framing::UntilClose => None,
    };
    let chunked = framing == Framing::Chunked;
    loop {
        // Whatever the body has ready goes into one write with the head.
        let frame = match poll_fn(|cx| Poll::Ready(Pin::new(&mut body).poll_frame(cx))).await {
            Poll::Ready(frame) => frame,
            Poll::Pending => {
                write_out(wire, out).await?;
                poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
            }
        };
        let frame = match frame {
            None => {
                if chunked {
                    response::last_chunk(out, None);
                }
                write_out(wire, out).await?;
                return Ok(match (framing, left) {
                    (Framing::UntilClose, _) => Sent::UntilClose,
                    (_, Some(0) | None) => Sent::Whole,
                    _ => Sent::Cut,
                });
            }
            Some(Err(e)) => {
                tracing::debug!("response body failed: {e}");
                let _ = write_out(wire, out).await;
                return Ok(Sent::Cut);
            }
            Some(Ok(frame)) => frame,
        };
        let mut data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                if let (true, Ok(trailers)) = (chunked, frame.into_trailers()) {
                    response::last_chunk(out, Some(&trailers));
                    write_out(wire, out).await?;
                    return Ok(Sent::Whole);
                }
                continue;
            }
        };
        if data.is_empty() {
            continue;
        }
        if let Some(left) = left.as_mut() {
            if data.len() as u64 > *left {
                // More than the length said: what fits goes, then the connection closes.
                data.truncate(*left as usize);
                out.extend_from_slice(&data);
                write_out(wire, out).await?;
                return Ok(Sent::Cut);
            }
            *left -= data.len() as u64;
        }
        if chunked {
            response::chunk_size_line(out, data.len());
        }
        if data.len() <= COPY_AT_MOST {
            out.extend_from_slice(&data);
        } else {
            write_out(wire, out).await?;
            write_all(wire, &data).await?;
        }
        if chunked {
            out.extend_from_slice(b"\r\n");
        }
        if out.len() >= COPY_AT_MOST {
            write_out(wire, out).await?;
        }
    }
}

/// Writes and flushes `out`, then empties it.
async fn write_out<I: AsyncRead + AsyncWrite + Unpin>(
    wire: &Mutex<Wire<I>>,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    write_all(wire, out).await?;
    out.clear();
    poll_fn(|cx| wire::lock(wire).poll_flush(cx)).await
}

async fn write_all<I: AsyncRead + AsyncWrite + Unpin>(
    wire: &Mutex<Wire<I>>,
    bytes: &[u8],
) -> io::Result<()> {
    let mut written = 0;
    poll_fn(|cx| wire::lock(wire).poll_write_all(cx, bytes, &mut written)).await
}

/// Ends the connection's sending side (TLS: `close_notify`) before it is dropped.
async fn shut_down<I: AsyncRead + AsyncWrite + Unpin>(wire: &Mutex<Wire<I>>) {
    let _ = poll_fn(|cx| match wire::lock(wire).io.as_mut() {
        Some(io) => Pin::new(io).poll_shutdown(cx),
        None => Poll::Ready(Ok(())),
    })
    .await;
}

/// Closes after a response while part of the request body is unread (see [`LINGER`]).
async fn linger<I: AsyncRead + AsyncWrite + Unpin>(wire: &Mutex<Wire<I>>) {
    shut_down(wire).await;
    let drain = async {
        let mut dropped = 0;
        while dropped < LINGER_BYTES {
            let read = poll_fn(|cx| {
                let mut w = wire::lock(wire);
                let read = w.poll_fill(cx);
                w.buf.clear();
                read
            })
            .await;
            match read {
                Ok(0) | Err(_) => break,
                Ok(n) => dropped += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// The stream, with what was read of it, for the HTTP/2 server.
fn hand_to_http2<I>(wire: &Mutex<Wire<I>>) -> Served<I> {
    let mut w = wire::lock(wire);
    let read = std::mem::take(&mut w.buf).freeze();
    match w.io.take() {
        Some(io) => Served::Http2(Rewind::new(read, io)),
        None => Served::Closed,
    }
}

/// Gives the stream, with what the client sent past its request, to the upgrade's tunnel.
fn hand_over_stream<I>(wire: &Mutex<Wire<I>>, hand_over: Option<HandOver>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut w = wire::lock(wire);
    let read = std::mem::take(&mut w.buf).freeze();
    if let (Some(io), Some(hand_over)) = (w.io.take(), hand_over) {
        let stream: Box<dyn ClientStream> = Box::new(io);
        let _ = hand_over.send(Rewind::new(read, stream));
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use futures_util::StreamExt;
    use http_body_util::BodyExt;
    use hyper::body::Frame;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::alb::pool::BoxError;

    /// Answers at once with a body that, after its first piece, reads the request's body to
    /// its end (as a target answering early does, while the proxy still feeds it the upload).
    struct EarlyAnswer;

    impl Handler for EarlyAnswer {
        async fn handle(&self, req: Request<RequestBody>) -> Response<ProxyBody> {
            let upload = req.into_body();
            let body = futures_util::stream::unfold((0, upload), |(step, mut upload)| async move {
                match step {
                    0 => Some((Bytes::from_static(b"early"), (1, upload))),
                    _ => {
                        while upload.frame().await.is_some() {}
                        None
                    }
                }
            })
            .map(|data| Ok::<_, BoxError>(Frame::data(data)));
            Response::new(BodyExt::boxed(http_body_util::StreamBody::new(body)))
        }
    }

    #[tokio::test]
    async fn a_final_answer_before_the_body_replaces_the_100_continue() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let settings = Http1Settings {
            head_timeout: Duration::from_secs(5),
            h2_prior_knowledge: false,
        };
        let served = tokio::spawn(async move {
            let stop = CancellationToken::new();
            serve(server, &EarlyAnswer, settings, &stop).await;
        });
        client
            .write_all(
                b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
            )
            .await
            .unwrap();
        let mut seen = Vec::new();
        let mut chunk = [0u8; 1024];
        while !seen.windows(5).any(|w| w == b"early") {
            let n = client.read(&mut chunk).await.unwrap();
            assert!(n > 0);
            seen.extend_from_slice(&chunk[..n]);
        }
        client.write_all(b"hello").await.unwrap();
        while !seen.ends_with(b"0\r\n\r\n") {
            let n = client.read(&mut chunk).await.unwrap();
            assert!(n > 0, "{:?}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&chunk[..n]);
        }
        let text = String::from_utf8_lossy(&seen);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(!text.contains("100 Continue"), "{text}");
        assert!(text.contains("transfer-encoding: chunked\r\n"), "{text}");
        // The body was read whole: the connection takes another request.
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let n = client.read(&mut chunk).await.unwrap();
        assert!(chunk[..n].starts_with(b"HTTP/1.1 200"));
        drop(client);
        served.await.unwrap();
    }
}
