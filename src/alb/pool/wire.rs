//! HTTP/1.1 on the wire to targets, apart from any I/O: the request head as bytes, the
//! response head parsed, and how the response's body is framed (RFC 9112 §6).

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};

use crate::alb::headers;

/// Header fields a target may answer with, at most (hyper's default too); more is a 502.
const MAX_HEADERS: usize = 100;

/// How the request's body goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestFraming {
    /// No body: the head alone (a `Content-Length: 0` the client sent is kept).
    Empty,
    /// Exactly this many bytes, announced by `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding: chunked`, for a body whose length is not known in advance.
    Chunked,
}

impl RequestFraming {
    /// The framing for a body that is empty, or of `exact` length when known.
    pub(crate) fn for_body(end_of_stream: bool, exact: Option<u64>) -> RequestFraming {
        match (end_of_stream, exact) {
            (true, _) => RequestFraming::Empty,
            (false, Some(n)) => RequestFraming::Length(n),
            (false, None) => RequestFraming::Chunked,
        }
    }
}

/// `method path HTTP/1.1`, the headers as given (names as the `http` crate keeps them:
/// lower case) and the framing's own headers, which replace any the request carried.
///
/// Written into `out` (a connection's own buffer: once the last head written from it has been
/// sent and dropped, its memory is used again, so a request costs no allocation here).
pub(crate) fn encode_request_head(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    framing: RequestFraming,
    out: &mut BytesMut,
) -> Bytes {
    let size: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    out.clear();
    out.reserve(method.as_str().len() + path.len() + size + 64);
    out.put_slice(method.as_str().as_bytes());
    out.put_u8(b' ');
    out.put_slice(path.as_bytes());
    out.put_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        let framing_header = name == TRANSFER_ENCODING
            || (name == CONTENT_LENGTH && framing != RequestFraming::Empty);
        if framing_header {
            continue;
        }
        put_field(out, name.as_str().as_bytes(), value.as_bytes());
    }
    match framing {
        RequestFraming::Empty => {}
        RequestFraming::Length(n) => {
            let mut digits = itoa::Buffer::new();
            put_field(out, b"content-length", digits.format(n).as_bytes());
        }
        RequestFraming::Chunked => put_field(out, b"transfer-encoding", b"chunked"),
    }
    out.put_slice(b"\r\n");
    out.split().freeze()
}

fn put_field(out: &mut BytesMut, name: &[u8], value: &[u8]) {
    out.put_slice(name);
    out.put_slice(b": ");
    out.put_slice(value);
    out.put_slice(b"\r\n");
}

/// A target's response head.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
}

/// Why a target's response head was refused (a 502).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HeadError {
    #[error("invalid response head: {0}")]
    Parse(httparse::Error),
    #[error("invalid response head: status {0}")]
    Status(u16),
    #[error("invalid response head: header {0} is not valid")]
    Header(String),
    #[error("invalid response head: Content-Length {0:?}")]
    ContentLength(String),
}

/// Parses a complete response head off the front of `buf`, or `Ok(None)` when more bytes are
/// needed. Header values share the buffer's memory instead of being copied.
pub(crate) fn parse_response_head(buf: &mut BytesMut) -> Result<Option<ResponseHead>, HeadError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut fields);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(HeadError::Parse(e)),
    };
    let code = response.code.unwrap_or_default();
    let status = StatusCode::from_u16(code).map_err(|_| HeadError::Status(code))?;
    let version = match response.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    // Where each field lies in the head, kept on the stack: names and values are cut from the
    // head once it is split off the buffer (values share its memory).
    let start = buf.as_ptr() as usize;
    let mut spans = [(0u32, 0u32, 0u32, 0u32); MAX_HEADERS];
    let count = response.headers.len();
    for (span, h) in spans.iter_mut().zip(response.headers.iter()) {
        let name_at = (h.name.as_ptr() as usize - start) as u32;
        let value_at = (h.value.as_ptr() as usize - start) as u32;
        *span = (name_at, h.name.len() as u32, value_at, h.value.len() as u32);
    }
    let mut headers = HeaderMap::with_capacity(count);
    let head = buf.split_to(len).freeze();
    for &(name_at, name_len, value_at, value_len) in &spans[..count] {
        let name = &head[name_at as usize..(name_at + name_len) as usize];
        let bad = || HeadError::Header(String::from_utf8_lossy(name).into_owned());
        let name = HeaderName::from_bytes(name).map_err(|_| bad())?;
        let value = head.slice(value_at as usize..(value_at + value_len) as usize);
        let value = HeaderValue::from_maybe_shared(value).map_err(|_| bad())?;
        headers.append(name, value);
    }
    Ok(Some(ResponseHead {
        status,
        version,
        headers,
    }))
}

/// How a response's body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// No body, whatever the headers say (`HEAD`, 1xx, 204, 304, a `CONNECT`'s 2xx).
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the target closes the connection.
    UntilClose,
}

/// The framing of a response to `method` with `status` and `headers`.
pub(crate) fn response_framing(
    method: &Method,
    status: StatusCode,
    headers: &HeaderMap,
) -> Result<BodyFraming, HeadError> {
    let code = status.as_u16();
    if method == Method::HEAD
        || status.is_informational()
        || code == 204
        || code == 304
        || (method == Method::CONNECT && status.is_success())
    {
        return Ok(BodyFraming::None);
    }
    if headers.contains_key(TRANSFER_ENCODING) {
        // Only a final `chunked` delimits the body; any other coding runs to the close.
        return Ok(if last_coding_is_chunked(headers) {
            BodyFraming::Chunked
        } else {
            BodyFraming::UntilClose
        });
    }
    match content_length(headers)? {
        Some(n) => Ok(BodyFraming::Length(n)),
        None => Ok(BodyFraming::UntilClose),
    }
}

fn last_coding_is_chunked(headers: &HeaderMap) -> bool {
    headers
        .get_all(TRANSFER_ENCODING)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .is_some_and(|coding| coding.trim().eq_ignore_ascii_case("chunked"))
}

/// Every `Content-Length` value (lines and comma-separated lists) must be the same number.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>, HeadError> {
    let mut length = None;
    for value in headers.get_all(CONTENT_LENGTH) {
        let bad = || HeadError::ContentLength(String::from_utf8_lossy(value.as_bytes()).into());
        let text = value.to_str().map_err(|_| bad())?;
        for part in text.split(',') {
            let part = part.trim();
            let all_digits = !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
            let n: u64 = part.parse().ok().filter(|_| all_digits).ok_or_else(bad)?;
            if length.is_some_and(|l| l != n) {
                return Err(bad());
            }
            length = Some(n);
        }
    }
    Ok(length)
}

/// Whether the connection may carry another request after this response: HTTP/1.1 unless it
/// says `close`, HTTP/1.0 only if it says `keep-alive`; never after a body that ran to the
/// close, a `CONNECT` tunnel, or a message framed twice (smuggling's shape).
pub(crate) fn keeps_alive(method: &Method, head: &ResponseHead, framing: BodyFraming) -> bool {
    let framed_twice =
        head.headers.contains_key(TRANSFER_ENCODING) && head.headers.contains_key(CONTENT_LENGTH);
    if framing == BodyFraming::UntilClose
        || framed_twice
        || method == Method::CONNECT
        || head.status == StatusCode::SWITCHING_PROTOCOLS
    {
        return false;
    }
    let says = |token: &str| headers::connection_has(&head.headers, token);
    match head.version {
        // Transfer-Encoding in HTTP/1.0 is faulty framing (RFC 9112 §6.1): close after it.
        Version::HTTP_10 if head.headers.contains_key(TRANSFER_ENCODING) => false,
        Version::HTTP_10 => says("keep-alive") && !says("close"),
        _ => !says("close"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> ResponseHead {
        parse_response_head(&mut BytesMut::from(text))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn request_head_carries_the_framing_of_its_body() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("app.test"));
        headers.insert("content-length", HeaderValue::from_static("3"));
        headers.insert("transfer-encoding", HeaderValue::from_static("gzip"));
        let mut out = BytesMut::new();
        let get = encode_request_head(
            &Method::GET,
            "/a?b",
            &headers,
            RequestFraming::Empty,
            &mut out,
        );
        assert_eq!(
            &get[..],
            b"GET /a?b HTTP/1.1\r\nhost: app.test\r\ncontent-length: 3\r\n\r\n"
        );
        let framing = RequestFraming::Length(7);
        let put = encode_request_head(&Method::PUT, "/", &headers, framing, &mut out);
        assert_eq!(
            &put[..],
            b"PUT / HTTP/1.1\r\nhost: app.test\r\ncontent-length: 7\r\n\r\n"
        );
        let framing = RequestFraming::Chunked;
        let post = encode_request_head(&Method::POST, "/", &headers, framing, &mut out);
        assert_eq!(
            &post[..],
            b"POST / HTTP/1.1\r\nhost: app.test\r\ntransfer-encoding: chunked\r\n\r\n"
        );
    }

    #[test]
    fn framing_follows_the_body() {
        assert_eq!(
            RequestFraming::for_body(true, Some(0)),
            RequestFraming::Empty
        );
        assert_eq!(
            RequestFraming::for_body(false, Some(5)),
            RequestFraming::Length(5)
        );
        assert_eq!(
            RequestFraming::for_body(false, None),
            RequestFraming::Chunked
        );
    }

    #[test]
    fn response_head_is_parsed_and_the_rest_stays() {
        let mut buf = BytesMut::from(
            "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-A: 1\r\nX-A: 2\r\n\r\nokHTTP",
        );
        let head = parse_response_head(&mut buf).unwrap().unwrap();
        assert_eq!(head.status, 201);
        assert_eq!(head.version, Version::HTTP_11);
        assert_eq!(head.headers.get_all("x-a").iter().count(), 2);
        assert_eq!(&buf[..], b"okHTTP");
        let mut partial = BytesMut::from("HTTP/1.1 200 OK\r\nContent-Le");
        assert!(parse_response_head(&mut partial).unwrap().is_none());
        assert_eq!(partial.len(), 27, "nothing taken from a partial head");
    }

    #[test]
    fn garbage_and_bad_statuses_are_refused() {
        let mut ssh = BytesMut::from("SSH-2.0-OpenSSH_9.2\r\n\r\n");
        assert!(matches!(
            parse_response_head(&mut ssh),
            Err(HeadError::Parse(_))
        ));
        let mut zero = BytesMut::from("HTTP/1.1 000 Nope\r\n\r\n");
        assert!(parse_response_head(&mut zero).is_err());
    }

    #[test]
    fn bodies_are_framed_as_rfc_9112_says() {
        let get = Method::GET;
        let framing = |method: &Method, text: &str| {
            let h = head(text);
            response_framing(method, h.status, &h.headers)
        };
        let ok = "HTTP/1.1 200 OK\r\n";
        assert_eq!(
            framing(&get, &format!("{ok}Content-Length: 5\r\n\r\n")),
            Ok(BodyFraming::Length(5))
        );
        assert_eq!(
            framing(&Method::HEAD, &format!("{ok}Content-Length: 5\r\n\r\n")),
            Ok(BodyFraming::None)
        );
        assert_eq!(
            framing(
                &get,
                "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"
            ),
            Ok(BodyFraming::None)
        );
        assert_eq!(
            framing(&get, "HTTP/1.1 204 No Content\r\n\r\n"),
            Ok(BodyFraming::None)
        );
        assert_eq!(
            framing(
                &get,
                &format!("{ok}Transfer-Encoding: gzip, Chunked\r\n\r\n")
            ),
            Ok(BodyFraming::Chunked)
        );
        assert_eq!(
            framing(
                &get,
                &format!("{ok}Transfer-Encoding: chunked, gzip\r\n\r\n")
            ),
            Ok(BodyFraming::UntilClose)
        );
        // Transfer-Encoding wins over Content-Length (and the connection is not reused).
        assert_eq!(
            framing(
                &get,
                &format!("{ok}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
            ),
            Ok(BodyFraming::Chunked)
        );
        assert_eq!(
            framing(&get, &format!("{ok}\r\n")),
            Ok(BodyFraming::UntilClose)
        );
        assert_eq!(
            framing(
                &get,
                &format!("{ok}Content-Length: 4, 4\r\nContent-Length: 4\r\n\r\n")
            ),
            Ok(BodyFraming::Length(4))
        );
        for bad in ["4, 5", "-1", "+4", "0x10", ""] {
            let text = format!("{ok}Content-Length: {bad}\r\n\r\n");
            assert!(
                matches!(framing(&get, &text), Err(HeadError::ContentLength(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection() {
        let get = Method::GET;
        let alive = |text: &str| {
            let h = head(text);
            let framing = response_framing(&get, h.status, &h.headers).unwrap();
            keeps_alive(&get, &h, framing)
        };
        assert!(alive("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        assert!(!alive(
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: Close\r\n\r\n"
        ));
        assert!(!alive("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
        assert!(alive(
            "HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"
        ));
        assert!(!alive("HTTP/1.1 200 OK\r\n\r\n"), "read to the close");
        assert!(!alive(
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        ));
        assert!(!alive(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        ));
    }
}
