//! Decoding a chunked body (RFC 9112 §7.1) from a connection's read buffer, apart from any
//! I/O: data comes out as slices of the buffer, without copies. Both directions use it: a
//! target's response ([`super::pool`]) and a client's request ([`super::http1`]).

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};

/// A chunk-size line (size and extensions) longer than this is refused.
const MAX_SIZE_LINE: usize = 4096;
/// Trailer section larger than this is refused.
const MAX_TRAILERS: usize = 16 * 1024;
/// Trailer fields at most.
const MAX_TRAILER_FIELDS: usize = 64;

/// What the next step of decoding gave.
#[derive(Debug, PartialEq)]
pub(crate) enum Decoded {
    /// Body bytes.
    Data(Bytes),
    /// The trailer fields after the last chunk; the body has ended.
    Trailers(HeaderMap),
    /// The body has ended (no trailers).
    End,
    /// The buffer holds no complete next piece: read more.
    NeedMore,
}

/// Why a chunked body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid chunked body: {0}")]
pub struct ChunkError(&'static str);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a chunk-size line.
    Size,
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// After the last chunk: trailer fields up to an empty line.
    Trailers,
    Done,
}

/// A chunked body's decoder, fed from the front of a buffer.
#[derive(Debug, Clone)]
pub(crate) struct ChunkedDecoder {
    state: State,
}

impl ChunkedDecoder {
    pub(crate) fn new() -> ChunkedDecoder {
        ChunkedDecoder { state: State::Size }
    }

    /// Whether the last chunk and trailers have been read.
    #[cfg(test)]
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Takes the next piece off the front of `buf`.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, ChunkError> {
        loop {
            match self.state {
                State::Done => return Ok(Decoded::End),
                State::Size => {
                    let Some(line_end) = find_crlf(buf, MAX_SIZE_LINE)? else {
                        return Ok(Decoded::NeedMore);
                    };
                    let size = chunk_size(&buf[..line_end])?;
                    let _ = buf.split_to(line_end + 2);
                    self.state = if size == 0 {
                        State::Trailers
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(left) => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let data = buf.split_to(take).freeze();
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                    return Ok(Decoded::Data(data));
                }
                State::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(Decoded::NeedMore);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(ChunkError("chunk data not followed by CRLF"));
                    }
                    let _ = buf.split_to(2);
                    self.state = State::Size;
                }
                State::Trailers => {
                    if buf.starts_with(b"\r\n") {
                        let _ = buf.split_to(2);
                        self.state = State::Done;
                        return Ok(Decoded::End);
                    }
                    let Some(end) = find(buf, b"\r\n\r\n", MAX_TRAILERS)? else {
                        return Ok(Decoded::NeedMore);
                    };
                    let section = buf.split_to(end + 4);
                    self.state = State::Done;
                    return trailers(&section).map(Decoded::Trailers);
                }
            }
        }
    }
}

/// The hex size at the start of a chunk-size line; extensions after `;` are ignored.
fn chunk_size(line: &[u8]) -> Result<u64, ChunkError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(ChunkError("chunk size is not hexadecimal"));
    }
    // Leading zeros are allowed (`1*HEXDIG`); what counts is the value's size.
    let zeros = line[..digits].iter().take_while(|&&b| b == b'0').count();
    let significant = &line[zeros.min(digits - 1)..digits];
    if significant.len() > 15 {
        return Err(ChunkError("chunk size too large"));
    }
    let rest = &line[digits..];
    let ext = rest.iter().position(|&b| b != b' ' && b != b'\t');
    if ext.is_some_and(|i| rest[i] != b';') {
        return Err(ChunkError("chunk size followed by garbage"));
    }
    let text = std::str::from_utf8(significant).expect("hex digits are ASCII");
    u64::from_str_radix(text, 16).map_err(|_| ChunkError("chunk size is not hexadecimal"))
}

/// The position of the first CRLF within `limit` bytes; a bare LF is refused (requests
/// smuggled through lenient parsers are made of them).
fn find_crlf(buf: &[u8], limit: usize) -> Result<Option<usize>, ChunkError> {
    let window = &buf[..buf.len().min(limit)];
    match window.iter().position(|&b| b == b'\n') {
        Some(0) => Err(ChunkError("bare LF in chunk size line")),
        Some(i) if window[i - 1] == b'\r' => Ok(Some(i - 1)),
        Some(_) => Err(ChunkError("bare LF in chunk size line")),
        None if buf.len() >= limit => Err(ChunkError("chunk size line too long")),
        None => Ok(None),
    }
}

fn find(buf: &[u8], needle: &[u8], limit: usize) -> Result<Option<usize>, ChunkError> {
    let found = buf.windows(needle.len()).position(|w| w == needle);
    match found {
        Some(i) if i <= limit => Ok(Some(i)),
        _ if buf.len() > limit => Err(ChunkError("trailer section too large")),
        other => Ok(other),
    }
}

/// The fields of a trailer section (`name: value` lines ending in an empty line).
fn trailers(section: &[u8]) -> Result<HeaderMap, ChunkError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_TRAILER_FIELDS];
    let parsed = httparse::parse_headers(section, &mut fields)
        .map_err(|_| ChunkError("invalid trailer field"))?;
    let httparse::Status::Complete((_, fields)) = parsed else {
        return Err(ChunkError("incomplete trailer section"));
    };
    let mut map = HeaderMap::with_capacity(fields.len());
    for field in fields {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| ChunkError("invalid trailer field name"))?;
        let value = HeaderValue::from_bytes(field.value)
            .map_err(|_| ChunkError("invalid trailer field value"))?;
        map.append(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `wire` fed in pieces of `step` bytes: the data, the trailers, and whether it ended.
    fn decode_in_steps(wire: &[u8], step: usize) -> (Vec<u8>, Option<HeaderMap>, bool) {
        let mut decoder = ChunkedDecoder::new();
        let mut buf = BytesMut::new();
        let (mut data, mut trailers) = (Vec::new(), None);
        for piece in wire.chunks(step) {
            buf.extend_from_slice(piece);
            loop {
                match decoder.decode(&mut buf).unwrap() {
                    Decoded::Data(d) => data.extend_from_slice(&d),
                    Decoded::Trailers(t) => trailers = Some(t),
                    Decoded::End | Decoded::NeedMore => break,
                }
            }
        }
        (data, trailers, decoder.is_done())
    }

    #[test]
    fn chunks_decode_whatever_the_reads_split() {
        let wire =
            b"5\r\nhello\r\n1;ext=1\r\n \r\nA \r\n0123456789\r\n00000000000000000\r\n\r\nNEXT";
        for step in [1, 2, 3, 7, wire.len()] {
            let (data, trailers, done) = decode_in_steps(wire, step);
            assert_eq!(data, b"hello 0123456789", "step {step}");
            assert!(trailers.is_none());
            assert!(done);
        }
    }

    #[test]
    fn bytes_after_the_body_stay_in_the_buffer() {
        let mut buf = BytesMut::from(&b"2\r\nok\r\n0\r\n\r\nHTTP/1.1"[..]);
        let mut decoder = ChunkedDecoder::new();
        assert_eq!(
            decoder.decode(&mut buf),
            Ok(Decoded::Data(Bytes::from("ok")))
        );
        assert_eq!(decoder.decode(&mut buf), Ok(Decoded::End));
        assert_eq!(&buf[..], b"HTTP/1.1");
    }

    #[test]
    fn trailers_come_after_the_last_chunk() {
        let wire = b"3\r\nabc\r\n0\r\nX-Checksum: 42\r\nX-More: a\r\n\r\n";
        for step in [1, 5, wire.len()] {
            let (data, trailers, done) = decode_in_steps(wire, step);
            assert_eq!(data, b"abc");
            let trailers = trailers.expect("trailers");
            assert_eq!(trailers["x-checksum"], "42");
            assert_eq!(trailers["x-more"], "a");
            assert!(done);
        }
    }

    #[test]
    fn malformed_chunks_are_refused() {
        for wire in [
            &b"zz\r\n"[..],
            b"5\nhello\r\n",
            b"5 x\r\n",
            b"2\r\nokXX",
            b"fffffffffffffffff\r\n",
        ] {
            let mut buf = BytesMut::from(wire);
            let mut decoder = ChunkedDecoder::new();
            let mut result = Ok(Decoded::NeedMore);
            for _ in 0..4 {
                result = decoder.decode(&mut buf);
                if !matches!(result, Ok(Decoded::Data(_))) {
                    break;
                }
            }
            assert!(
                result.is_err(),
                "{:?} gave {result:?}",
                String::from_utf8_lossy(wire)
            );
        }
        let mut long = BytesMut::from(&[b'1'; MAX_SIZE_LINE][..]);
        assert!(ChunkedDecoder::new().decode(&mut long).is_err());
    }
}
