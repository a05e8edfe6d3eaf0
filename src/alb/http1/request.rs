//! A client's request head (RFC 9112 §3, §5, §6): parsed in two steps, apart from any I/O.
//! [`scan`] finds a complete head in bytes read so far and notes where its parts are; [`build`]
//! makes the request's parts from those bytes once they are kept (header values and the target
//! share that one allocation).

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, EXPECT, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, Version};

use crate::alb::headers;

/// Header fields a request may have; more is refused as too large (hyper's limit too).
pub const MAX_FIELDS: usize = 100;

/// Where a part of the head lies in its bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn of(part: &[u8], base: &[u8]) -> Span {
        let start = part.as_ptr() as usize - base.as_ptr() as usize;
        Span {
            start: start as u32,
            end: (start + part.len()) as u32,
        }
    }

    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A complete head found by [`scan`]: its length and where its parts are.
#[derive(Debug)]
pub struct Scanned {
    /// Bytes of the head, its final empty line included.
    pub len: usize,
    method: Span,
    target: Span,
    version: Version,
    fields: [(Span, Span); MAX_FIELDS],
    field_count: usize,
}

/// Why a head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// Not HTTP/1.x, or not well formed: `400 Bad Request`.
    #[error("malformed request head: {0}")]
    Malformed(&'static str),
    /// More than [`MAX_FIELDS`] fields (or, found by the caller, more bytes than it reads for a
    /// head): `431 Request Header Fields Too Large`.
    #[error("request head too large")]
    TooLarge,
}

/// How the request's body is framed (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head.
#[derive(Debug)]
pub struct RequestHead {
    /// The request's method, target, version and fields.
    pub parts: http::request::Parts,
    /// How its body is framed.
    pub framing: BodyFraming,
    /// Whether the client lets the connection stay open after this exchange.
    pub keep_alive: bool,
    /// `Expect: 100-continue` (HTTP/1.1): the client waits for `100 Continue` before its body.
    pub expect_continue: bool,
}

/// Finds a complete request head at the start of `bytes`; `None` while it is incomplete.
/// Empty lines before the request line are skipped (RFC 9112 §2.2).
pub fn scan(bytes: &[u8]) -> Result<Option<Scanned>, HeadError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut req = httparse::Request::new(&mut fields);
    let len = match req.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
        Err(httparse::Error::Version) => return Err(HeadError::Malformed("not HTTP/1.x")),
        Err(httparse::Error::Token) => return Err(HeadError::Malformed("invalid method")),
        Err(httparse::Error::HeaderName) => {
            return Err(HeadError::Malformed("invalid header name"));
        }
        Err(httparse::Error::HeaderValue) => {
            return Err(HeadError::Malformed("invalid header value"));
        }
        Err(_) => return Err(HeadError::Malformed("invalid request line")),
    };
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(HeadError::Malformed("incomplete request line"));
    };
    let mut scanned = Scanned {
        len,
        method: Span::of(method.as_bytes(), bytes),
        target: Span::of(target.as_bytes(), bytes),
        version: if minor == 0 {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        },
        fields: [(Span::default(), Span::default()); MAX_FIELDS],
        field_count: req.headers.len(),
    };
    for (slot, field) in scanned.fields.iter_mut().zip(req.headers.iter()) {
        *slot = (
            Span::of(field.name.as_bytes(), bytes),
            Span::of(field.value, bytes),
        );
    }
    Ok(Some(scanned))
}

/// The request's parts from `head`, the bytes [`scan`] looked at (at least its `len`).
pub fn build(scanned: &Scanned, head: &Bytes) -> Result<RequestHead, HeadError> {
    let method = Method::from_bytes(&head[scanned.method.range()])
        .map_err(|_| HeadError::Malformed("invalid method"))?;
    let uri = Uri::from_maybe_shared(head.slice(scanned.target.range()))
        .map_err(|_| HeadError::Malformed("invalid request target"))?;
    let mut fields = HeaderMap::with_capacity(scanned.field_count);
    for &(name, value) in &scanned.fields[..scanned.field_count] {
        let name = HeaderName::from_bytes(&head[name.range()])
            .map_err(|_| HeadError::Malformed("invalid header name"))?;
        let value = HeaderValue::from_maybe_shared(head.slice(value.range()))
            .map_err(|_| HeadError::Malformed("invalid header value"))?;
        fields.append(name, value);
    }
    let version = scanned.version;
    let (framing, ambiguous) = body_framing(version, &mut fields)?;
    let keep_alive = !ambiguous && keeps_alive(version, &fields);
    let expect_continue = version == Version::HTTP_11
        && fields
            .get(EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let mut parts = http::Request::new(()).into_parts().0;
    parts.method = method;
    parts.uri = uri;
    parts.version = version;
    parts.headers = fields;
    Ok(RequestHead {
        parts,
        framing,
        keep_alive,
        expect_continue,
    })
}

/// The body's framing from the fields, and whether it was ambiguous (both `Transfer-Encoding`
/// and `Content-Length`: the length is dropped, the transfer coding wins, and the connection
/// closes after the exchange, RFC 9112 §6.3 and ALB's defensive desync mitigation).
fn body_framing(
    version: Version,
    fields: &mut HeaderMap,
) -> Result<(BodyFraming, bool), HeadError> {
    let has_length = fields.contains_key(CONTENT_LENGTH);
    if fields.contains_key(TRANSFER_ENCODING) {
        if version == Version::HTTP_10 {
            return Err(HeadError::Malformed(
                "Transfer-Encoding in an HTTP/1.0 request",
            ));
        }
        // The last coding must be chunked, or the body's end cannot be known (§6.3 rule 4).
        let last = fields
            .get_all(TRANSFER_ENCODING)
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .map(trim)
            .rfind(|coding| !coding.is_empty());
        if !last.is_some_and(|c| c.eq_ignore_ascii_case(b"chunked")) {
            return Err(HeadError::Malformed(
                "Transfer-Encoding does not end in chunked",
            ));
        }
        fields.remove(CONTENT_LENGTH);
        return Ok((BodyFraming::Chunked, has_length));
    }
    if !has_length {
        return Ok((BodyFraming::None, false));
    }
    // Several fields or a list are fine if they all say the same (§6.3 rule 5).
    let mut length = None;
    for value in fields.get_all(CONTENT_LENGTH) {
        for item in value.as_bytes().split(|&b| b == b',').map(trim) {
            let n = parse_length(item).ok_or(HeadError::Malformed("invalid Content-Length"))?;
            if length.is_some_and(|seen| seen != n) {
                return Err(HeadError::Malformed("conflicting Content-Length values"));
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(0) | None => (BodyFraming::None, false),
        Some(n) => (BodyFraming::Length(n), false),
    })
}

/// RFC 9110 §8.6: digits only, no sign, fits in a u64.
fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// HTTP/1.1 stays open unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
fn keeps_alive(version: Version, fields: &HeaderMap) -> bool {
    let has = |token: &str| headers::connection_has(fields, token);
    match version {
        Version::HTTP_11 => !has("close"),
        _ => has("keep-alive") && !has("close"),
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Option<RequestHead>, HeadError> {
        let Some(scanned) = scan(raw.as_bytes())? else {
            return Ok(None);
        };
        let head = Bytes::copy_from_slice(&raw.as_bytes()[..scanned.len]);
        build(&scanned, &head).map(Some)
    }

    fn head(raw: &str) -> RequestHead {
        parse(raw).unwrap().expect("complete")
    }

    #[test]
    fn a_get_is_parsed_with_its_fields_and_stays_open() {
        let h = head("GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\n\r\nrest");
        assert_eq!(h.parts.method, Method::GET);
        assert_eq!(h.parts.uri, "/a?b=1");
        assert_eq!(h.parts.version, Version::HTTP_11);
        assert_eq!(h.parts.headers["host"], "x");
        assert_eq!(h.parts.headers.get_all("x-a").iter().count(), 2);
        assert_eq!(h.framing, BodyFraming::None);
        assert!(h.keep_alive && !h.expect_continue);
        let scanned = scan(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nrest")
            .unwrap()
            .unwrap();
        assert_eq!(scanned.len, 27);
    }

    #[test]
    fn an_incomplete_head_waits_for_more() {
        for raw in [
            "",
            "GE",
            "GET / HTTP/1.1\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n",
        ] {
            assert!(parse(raw).unwrap().is_none(), "{raw:?}");
        }
    }

    #[test]
    fn empty_lines_before_the_request_line_are_skipped() {
        assert_eq!(
            head("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n").parts.method,
            "GET"
        );
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection() {
        assert!(!head("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(!head("GET / HTTP/1.1\r\nConnection: foo, Close\r\n\r\n").keep_alive);
        assert!(!head("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
    }

    #[test]
    fn bodies_are_framed_by_length_or_chunks() {
        let len = head("POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n");
        assert_eq!(len.framing, BodyFraming::Length(12));
        let same = head("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(same.framing, BodyFraming::Length(5));
        let zero = head("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(zero.framing, BodyFraming::None);
        let chunked = head("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert_eq!(chunked.framing, BodyFraming::Chunked);
        assert!(chunked.keep_alive);
    }

    #[test]
    fn both_framings_take_the_chunks_drop_the_length_and_close() {
        let h = head("POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(h.framing, BodyFraming::Chunked);
        assert!(!h.parts.headers.contains_key(CONTENT_LENGTH));
        assert!(!h.keep_alive);
    }

    #[test]
    fn bad_framing_is_malformed() {
        for raw in [
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert!(
                matches!(parse(raw), Err(HeadError::Malformed(_))),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn bad_heads_are_refused() {
        for raw in [
            "GET / HTTP/2.0\r\n\r\n",
            "GET / FOO/1.1\r\n\r\n",
            "G(T / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nbad name: x\r\n\r\n",
            "GET / HTTP/1.1\r\nx: a\0b\r\n\r\n",
            "GET  HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                matches!(parse(raw), Err(HeadError::Malformed(_))),
                "{raw:?}"
            );
        }
        let many: String = (0..=MAX_FIELDS).map(|i| format!("x-{i}: v\r\n")).collect();
        let raw = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(parse(&raw).unwrap_err(), HeadError::TooLarge);
    }

    #[test]
    fn expect_continue_is_noted_for_http11_only() {
        let h = head("POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n");
        assert!(h.expect_continue);
        let old = head("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
        assert!(!old.expect_continue);
    }
}
