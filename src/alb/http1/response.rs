//! A response head for a client (RFC 9112 §4, §6): how its body is framed on the wire, and
//! the head's bytes, apart from any I/O.

use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{HeaderMap, Method, StatusCode, Version};
use hyper::body::SizeHint;

use super::date;

/// How a response's body goes to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body on the wire: `HEAD`, 1xx, 204, 304.
    None,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// Chunks (HTTP/1.1, length unknown).
    Chunked,
    /// Until the connection closes (HTTP/1.0, length unknown).
    UntilClose,
}

/// The framing of a response to a `method` request from an HTTP/`version` client: a
/// `Content-Length` the response has is kept (the proxy passes a target's on); else a body of
/// known size gets one; else chunks, or the close for HTTP/1.0 (which has no chunks).
pub fn framing(
    method: &Method,
    version: Version,
    status: StatusCode,
    headers: &HeaderMap,
    body: &SizeHint,
) -> Framing {
    if status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || method == Method::HEAD
    {
        return Framing::None;
    }
    let stated = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    match (stated, body.exact()) {
        (Some(n), _) | (None, Some(n)) => Framing::Length(n),
        _ if version == Version::HTTP_11 => Framing::Chunked,
        _ => Framing::UntilClose,
    }
}

/// Writes the head of a response into `out`: status line, `headers` (a `Transfer-Encoding`
/// among them is replaced by the framing's own), `Content-Length` or `Transfer-Encoding` as
/// `framing` says, `Date` unless given, and `Connection: close` when the connection ends after
/// it (or `keep-alive` for an HTTP/1.0 client it stays open for).
pub fn encode_head(
    out: &mut Vec<u8>,
    status: StatusCode,
    headers: &HeaderMap,
    framing: Framing,
    client: Version,
    keep_alive: bool,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        if name == TRANSFER_ENCODING || (name == CONTENT_LENGTH && framing == Framing::Chunked) {
            continue;
        }
        field(out, name.as_str().as_bytes(), value.as_bytes());
    }
    match framing {
        Framing::Length(n) if !headers.contains_key(CONTENT_LENGTH) => {
            field(
                out,
                b"content-length",
                itoa::Buffer::new().format(n).as_bytes(),
            );
        }
        Framing::Chunked => field(out, b"transfer-encoding", b"chunked"),
        _ => {}
    }
    if !headers.contains_key(DATE) {
        date::with_now(|now| field(out, b"date", now));
    }
    if !headers.contains_key(CONNECTION) {
        if !keep_alive {
            field(out, b"connection", b"close");
        } else if client == Version::HTTP_10 {
            field(out, b"connection", b"keep-alive");
        }
    }
    out.extend_from_slice(b"\r\n");
}

fn field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The size line before a chunk of `len` bytes.
pub fn chunk_size_line(out: &mut Vec<u8>, len: usize) {
    let mut hex = [0u8; 16];
    let mut at = hex.len();
    let mut n = len;
    loop {
        at -= 1;
        hex[at] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&hex[at..]);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk and the trailer section (RFC 9112 §7.1.2).
pub fn last_chunk(out: &mut Vec<u8>, trailers: Option<&HeaderMap>) {
    out.extend_from_slice(b"0\r\n");
    for (name, value) in trailers.into_iter().flatten() {
        field(out, name.as_str().as_bytes(), value.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn text(out: &[u8]) -> String {
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn bodyless_answers_have_no_framing() {
        let none = SizeHint::with_exact(10);
        let h = HeaderMap::new();
        for (method, status) in [
            (Method::HEAD, StatusCode::OK),
            (Method::GET, StatusCode::NO_CONTENT),
            (Method::GET, StatusCode::NOT_MODIFIED),
            (Method::GET, StatusCode::SWITCHING_PROTOCOLS),
        ] {
            let f = framing(&method, Version::HTTP_11, status, &h, &none);
            assert_eq!(f, Framing::None, "{method} {status}");
        }
    }

    #[test]
    fn the_length_comes_from_the_field_then_the_body_then_chunks_or_the_close() {
        let ok = StatusCode::OK;
        let mut stated = HeaderMap::new();
        stated.insert(CONTENT_LENGTH, HeaderValue::from_static("72"));
        let unknown = SizeHint::new();
        let get = Method::GET;
        assert_eq!(
            framing(&get, Version::HTTP_11, ok, &stated, &unknown),
            Framing::Length(72)
        );
        let h = HeaderMap::new();
        let exact = SizeHint::with_exact(5);
        assert_eq!(
            framing(&get, Version::HTTP_11, ok, &h, &exact),
            Framing::Length(5)
        );
        assert_eq!(
            framing(&get, Version::HTTP_11, ok, &h, &unknown),
            Framing::Chunked
        );
        assert_eq!(
            framing(&get, Version::HTTP_10, ok, &h, &unknown),
            Framing::UntilClose
        );
    }

    #[test]
    fn the_head_carries_framing_date_and_connection() {
        let mut h = HeaderMap::new();
        h.insert("x-a", HeaderValue::from_static("1"));
        h.insert(TRANSFER_ENCODING, HeaderValue::from_static("gzip"));
        let mut out = Vec::new();
        let ok = StatusCode::OK;
        encode_head(&mut out, ok, &h, Framing::Length(5), Version::HTTP_11, true);
        let t = text(&out);
        assert!(
            t.starts_with("HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 5\r\ndate: "),
            "{t}"
        );
        assert!(t.ends_with(" GMT\r\n\r\n"), "{t}");
        assert!(
            !t.contains("transfer-encoding") && !t.contains("connection"),
            "{t}"
        );

        out.clear();
        encode_head(&mut out, ok, &h, Framing::Chunked, Version::HTTP_11, false);
        let t = text(&out);
        assert!(t.contains("transfer-encoding: chunked\r\n"), "{t}");
        assert!(t.contains("connection: close\r\n"), "{t}");

        out.clear();
        encode_head(&mut out, ok, &h, Framing::Length(0), Version::HTTP_10, true);
        assert!(text(&out).contains("connection: keep-alive\r\n"));
    }

    #[test]
    fn chunks_are_framed_in_hex_with_trailers_last() {
        let mut out = Vec::new();
        chunk_size_line(&mut out, 0x1a2b);
        chunk_size_line(&mut out, 1);
        let mut trailers = HeaderMap::new();
        trailers.insert("x-sum", HeaderValue::from_static("9"));
        last_chunk(&mut out, Some(&trailers));
        assert_eq!(text(&out), "1a2b\r\n1\r\n0\r\nx-sum: 9\r\n\r\n");
    }
}
