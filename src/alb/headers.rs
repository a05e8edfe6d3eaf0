//! Header rewriting done by the load balancer, as pure functions: hop-by-hop removal (keeping a
//! WebSocket upgrade), the `X-Forwarded-*` headers in each `xff-header-processing-mode`, ALB's
//! request head limits and HTTP/2 → HTTP/1.1 fixes. (Redirect locations are
//! [`super::rules::redirect`]'s.)

use std::io::Write;
use std::net::IpAddr;

use bytes::Bytes;

use http::header::{
    CONNECTION, COOKIE, HOST, HeaderMap, HeaderName, HeaderValue, PROXY_AUTHENTICATE,
    PROXY_AUTHORIZATION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE,
};
use http::uri::Uri;
use http::{Method, Version};

use crate::config::{ListenerProtocol, XffMode};

/// ALB's limit on the request line (method, target, version).
pub const MAX_REQUEST_LINE: usize = 16 * 1024;
/// ALB's limit on one header (name, `: `, value).
pub const MAX_HEADER: usize = 16 * 1024;
/// ALB's limit on the whole request header block.
pub const MAX_HEADERS_TOTAL: usize = 64 * 1024;

/// `X-Forwarded-For`: the chain of client addresses, the load balancer appending its client's.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`: the scheme the client used to reach the load balancer.
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Port`: the listener port the client connected to.
pub const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus the
/// non-standard ones proxies conventionally drop.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Whether `name` is one of [`HOP_BY_HOP`]: the standard ones compare as `http`'s enum
/// constants (no string hashing), the two non-standard ones by text.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == CONNECTION
        || name == TE
        || name == TRAILER
        || name == TRANSFER_ENCODING
        || name == UPGRADE
        || name == PROXY_AUTHENTICATE
        || name == PROXY_AUTHORIZATION
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

/// Removes hop-by-hop headers, including any that `Connection` names.
///
/// Runs twice per proxied request and usually finds nothing: one pass over the names present
/// answers that, before any of the nine removals (each hashing a name) is tried. (Headers
/// that `Connection` names need `Connection` itself, which the pass finds.)
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    // The names `Connection` lists, removed by text (no `HeaderName` built for each). A value
    // is a shared `Bytes`: cloning it out of the map lets the map change meanwhile, and costs
    // no allocation. `Connection` itself is skipped: removing it here would take its later
    // lines, and their names, out of the walk (it goes below with the other hop-by-hop ones).
    let mut line = 0;
    while let Some(value) = headers.get_all(CONNECTION).iter().nth(line).cloned() {
        let names = value.to_str().unwrap_or("").split(',').map(str::trim);
        for name in names.filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case("connection")) {
            headers.remove(name);
        }
        line += 1;
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Values up to this long are held inline by [`shared_value`].
const INLINE_VALUE: usize = 64;

/// A value's bytes kept inline in the one allocation [`Bytes::from_owner`] makes.
struct InlineValue {
    len: u8,
    bytes: [u8; INLINE_VALUE],
}

impl AsRef<[u8]> for InlineValue {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// A header value of `text` whose clones share it: `None` if `text` is not a valid value.
///
/// `HeaderValue::from_bytes` copies into a vector that the value's first clone turns into a
/// shared buffer, a second allocation. The proxy clones the values it makes (a retry's spare
/// head, the access log's trace id), so these are made shared from the start: one allocation
/// holding the text (up to 64 bytes, the usual case) and a counter.
pub fn shared_value(text: &[u8]) -> Option<HeaderValue> {
    let bytes = match u8::try_from(text.len()) {
        Ok(len) if text.len() <= INLINE_VALUE => {
            let mut inline = InlineValue {
                len,
                bytes: [0; INLINE_VALUE],
            };
            inline.bytes[..text.len()].copy_from_slice(text);
            Bytes::from_owner(inline)
        }
        // `from_owner` shares from the start here too (`Bytes::from(Vec)` would be promoted
        // to a shared buffer by the first clone: a second allocation).
        _ => Bytes::from_owner(text.to_vec()),
    };
    HeaderValue::from_maybe_shared(bytes).ok()
}

/// A listener's `X-Forwarded-Proto` and `X-Forwarded-Port` values, built once when it starts
/// so that each request only clones them (no formatting, no allocation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedValues {
    proto: HeaderValue,
    port: HeaderValue,
}

impl ForwardedValues {
    /// The values for a listener of `protocol` on `port`.
    pub fn new(protocol: ListenerProtocol, port: u16) -> ForwardedValues {
        ForwardedValues {
            proto: HeaderValue::from_static(protocol.scheme()),
            port: HeaderValue::from(port),
        }
    }
}

/// Appends `client` to `X-Forwarded-For` (merging any earlier values into one header) and sets
/// `X-Forwarded-Proto` and `X-Forwarded-Port`, replacing whatever the client sent for those.
pub fn add_forwarded(headers: &mut HeaderMap, client: IpAddr, proto: ListenerProtocol, port: u16) {
    add_forwarded_with(headers, client, proto, port, XffMode::Append);
}

/// [`add_forwarded`] with `X-Forwarded-For` handled as `mode` says: appended to, passed on as
/// the client sent it, or removed. `X-Forwarded-Proto` and `-Port` are always the listener's
/// (the mode is only about `X-Forwarded-For`, as on AWS).
pub fn add_forwarded_with(
    headers: &mut HeaderMap,
    client: IpAddr,
    proto: ListenerProtocol,
    port: u16,
    mode: XffMode,
) {
    add_forwarded_values(headers, client, &ForwardedValues::new(proto, port), mode);
}

/// [`add_forwarded_with`] for a listener whose values were built once ([`ForwardedValues`]):
/// what the proxy calls per request.
pub fn add_forwarded_values(
    headers: &mut HeaderMap,
    client: IpAddr,
    listener: &ForwardedValues,
    mode: XffMode,
) {
    match mode {
        XffMode::Append => append_forwarded_for(headers, client),
        XffMode::Preserve => {}
        XffMode::Remove => {
            headers.remove(X_FORWARDED_FOR);
        }
    }
    headers.insert(X_FORWARDED_PROTO, listener.proto.clone());
    headers.insert(X_FORWARDED_PORT, listener.port.clone());
}

/// Whether a `Connection` field of `headers` lists `token` (case-insensitive).
pub fn connection_has(headers: &HeaderMap, token: &str) -> bool {
    headers.get_all(CONNECTION).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// The protocol an HTTP/1.1 request asks to switch to (`Connection: upgrade` with `Upgrade`),
/// e.g. `websocket`. HTTP/2 has no such upgrade (RFC 9113 §8.6).
pub fn upgrade_protocol(version: Version, headers: &HeaderMap) -> Option<HeaderValue> {
    if version != Version::HTTP_11 {
        return None;
    }
    if connection_has(headers, "upgrade") {
        headers.get(UPGRADE).cloned()
    } else {
        None
    }
}

/// Hop-by-hop removal for an upgrade exchange: everything goes except `Connection: upgrade` and
/// `Upgrade: <protocol>`, which the other side needs to switch protocols.
pub fn remove_hop_by_hop_keep_upgrade(headers: &mut HeaderMap, protocol: HeaderValue) {
    remove_hop_by_hop(headers);
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, protocol);
}

/// Which of ALB's request head limits a request breaks, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadTooLarge {
    /// The request line is over [`MAX_REQUEST_LINE`].
    RequestLine,
    /// One header is over [`MAX_HEADER`].
    Header,
    /// All headers together are over [`MAX_HEADERS_TOTAL`].
    Headers,
}

/// Checks ALB's limits (request line 16 KiB, one header 16 KiB, all headers 64 KiB), counting
/// bytes as HTTP/1.1 writes them.
pub fn check_head(method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<(), HeadTooLarge> {
    let target = uri.path_and_query().map_or(1, |p| p.as_str().len());
    // `GET /path HTTP/1.1`
    if method.as_str().len() + 1 + target + 9 > MAX_REQUEST_LINE {
        return Err(HeadTooLarge::RequestLine);
    }
    let mut total = 0;
    for (name, value) in headers {
        let line = name.as_str().len() + 2 + value.len() + 2;
        if line > MAX_HEADER {
            return Err(HeadTooLarge::Header);
        }
        total += line;
    }
    if total > MAX_HEADERS_TOTAL {
        return Err(HeadTooLarge::Headers);
    }
    Ok(())
}

/// What is wrong with a request's `Host` field (RFC 9112 §3.2); each is a 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostProblem {
    /// An HTTP/1.1 request without `Host`.
    Missing,
    /// More than one `Host` field line (any version).
    Duplicate,
    /// A value that is not `host[:port]` (an empty value is allowed).
    Invalid,
}

/// Why a request is refused before any rule sees it: ALB's 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadRequest {
    /// The head breaks ALB's size limits.
    TooLarge(HeadTooLarge),
    /// `Host` is missing, repeated or invalid.
    Host(HostProblem),
}

/// The checks every request passes before routing, whatever its listener's action: ALB's head
/// limits ([`check_head`]) and RFC 9112's `Host` rules ([`check_host`]).
pub fn check_request(
    version: Version,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(), BadRequest> {
    check_head(method, uri, headers).map_err(BadRequest::TooLarge)?;
    check_host(version, headers).map_err(BadRequest::Host)
}

/// RFC 9112 §3.2: an HTTP/1.1 request must carry exactly one `Host`, and any request at most
/// one, with a valid value. HTTP/1.0 may omit it; HTTP/2 names its host in `:authority`.
pub fn check_host(version: Version, headers: &HeaderMap) -> Result<(), HostProblem> {
    let mut hosts = headers.get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => Err(HostProblem::Duplicate),
        (None, _) if version == Version::HTTP_11 => Err(HostProblem::Missing),
        (None, _) => Ok(()),
        (Some(value), None) if is_host_value(value.as_bytes()) => Ok(()),
        (Some(_), None) => Err(HostProblem::Invalid),
    }
}

/// `uri-host [ ":" port ]`, or empty (a target URI without authority).
fn is_host_value(value: &[u8]) -> bool {
    value.is_empty() || super::host::split(value).is_some()
}

/// `X-Forwarded-For: <earlier>, <client>`; the client's address alone when there was none.
pub fn append_forwarded_for(headers: &mut HeaderMap, client: IpAddr) {
    let client = client.to_canonical();
    if !headers.contains_key(X_FORWARDED_FOR) {
        // The usual case: the address formatted on the stack, copied once into the value.
        let mut buf = [0u8; 64];
        let len = {
            let mut rest = &mut buf[..];
            // 64 bytes hold any IPv6 text (at most 45), so this cannot run out of room.
            let _ = write!(rest, "{client}");
            64 - rest.len()
        };
        if let Some(value) = shared_value(&buf[..len]) {
            headers.insert(X_FORWARDED_FOR, value);
        }
        return;
    }
    let client = client.to_string();
    let mut chain: Vec<&str> = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    chain.push(&client);
    if let Some(value) = shared_value(chain.join(", ").as_bytes()) {
        headers.insert(X_FORWARDED_FOR, value);
    }
}

/// The host the client asked for: the request target's authority when it has one (HTTP/1.1
/// absolute-form, whose authority wins over `Host` (RFC 9112 §3.2.2), or HTTP/2's
/// `:authority`), else `Host`. Any `user@` of the authority is not part of the host.
pub fn request_host(headers: &HeaderMap, uri: &Uri) -> Option<HeaderValue> {
    let authority = uri.authority().map(|a| {
        let text = a.as_str();
        text.rsplit_once('@').map_or(text, |(_, host)| host)
    });
    match authority {
        Some(host) if !host.is_empty() => HeaderValue::from_str(host).ok(),
        _ => headers.get(HOST).cloned(),
    }
}

/// HTTP/2 clients may split `Cookie` into several fields; HTTP/1.1 wants one, joined by `; `
/// (RFC 9113 §8.2.3).
pub fn merge_cookies(headers: &mut HeaderMap) {
    if headers.get_all(COOKIE).iter().count() < 2 {
        return;
    }
    let joined = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("; ");
    if let Ok(value) = HeaderValue::from_str(&joined) {
        headers.insert(COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_appended() {
        let mut headers = HeaderMap::new();
        append_forwarded_for(&mut headers, "10.0.0.1".parse().unwrap());
        assert_eq!(headers[X_FORWARDED_FOR], "10.0.0.1");
        headers.append(X_FORWARDED_FOR, HeaderValue::from_static("192.0.2.9"));
        append_forwarded_for(&mut headers, "::ffff:127.0.0.1".parse().unwrap());
        assert_eq!(headers[X_FORWARDED_FOR], "10.0.0.1, 192.0.2.9, 127.0.0.1");
        assert_eq!(headers.get_all(X_FORWARDED_FOR).iter().count(), 1);
    }

    #[test]
    fn forwarded_proto_and_port_replace_client_values() {
        let mut headers = HeaderMap::new();
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("gopher"));
        add_forwarded(
            &mut headers,
            "127.0.0.1".parse().unwrap(),
            ListenerProtocol::Https,
            8443,
        );
        assert_eq!(headers[X_FORWARDED_PROTO], "https");
        assert_eq!(headers[X_FORWARDED_PORT], "8443");
        assert_eq!(headers[X_FORWARDED_FOR], "127.0.0.1");
    }

    #[test]
    fn xff_modes() {
        let client: IpAddr = "10.0.0.9".parse().unwrap();
        let with_client_chain = || {
            let mut h = HeaderMap::new();
            h.insert(X_FORWARDED_FOR, HeaderValue::from_static("203.0.113.7"));
            h
        };
        let mut h = with_client_chain();
        add_forwarded_with(&mut h, client, ListenerProtocol::Http, 80, XffMode::Append);
        assert_eq!(h[X_FORWARDED_FOR], "203.0.113.7, 10.0.0.9");
        let mut h = with_client_chain();
        add_forwarded_with(
            &mut h,
            client,
            ListenerProtocol::Http,
            80,
            XffMode::Preserve,
        );
        assert_eq!(h[X_FORWARDED_FOR], "203.0.113.7");
        let mut h = HeaderMap::new();
        add_forwarded_with(
            &mut h,
            client,
            ListenerProtocol::Http,
            80,
            XffMode::Preserve,
        );
        assert!(h.get(X_FORWARDED_FOR).is_none(), "preserve adds nothing");
        let mut h = with_client_chain();
        add_forwarded_with(
            &mut h,
            client,
            ListenerProtocol::Https,
            443,
            XffMode::Remove,
        );
        assert!(h.get(X_FORWARDED_FOR).is_none());
        assert_eq!(
            (&h[X_FORWARDED_PROTO], &h[X_FORWARDED_PORT]),
            (&HeaderValue::from_static("https"), &HeaderValue::from(443))
        );
    }

    #[test]
    fn upgrade_is_detected_only_for_http11_with_connection_upgrade() {
        let mut h = HeaderMap::new();
        h.insert(UPGRADE, HeaderValue::from_static("websocket"));
        assert_eq!(upgrade_protocol(Version::HTTP_11, &h), None);
        h.insert(CONNECTION, HeaderValue::from_static("keep-alive, Upgrade"));
        assert_eq!(upgrade_protocol(Version::HTTP_11, &h).unwrap(), "websocket");
        assert_eq!(upgrade_protocol(Version::HTTP_2, &h), None);
        remove_hop_by_hop_keep_upgrade(&mut h, HeaderValue::from_static("websocket"));
        assert_eq!(
            (&h[CONNECTION], &h[UPGRADE]),
            (
                &HeaderValue::from_static("upgrade"),
                &HeaderValue::from_static("websocket")
            )
        );
        assert!(h.get("keep-alive").is_none());
    }

    #[test]
    fn head_limits_are_albs() {
        let get = Method::GET;
        let ok: Uri = "/a".parse().unwrap();
        let long: Uri = format!("/{}", "a".repeat(MAX_REQUEST_LINE))
            .parse()
            .unwrap();
        assert_eq!(check_head(&get, &ok, &HeaderMap::new()), Ok(()));
        assert_eq!(
            check_head(&get, &long, &HeaderMap::new()),
            Err(HeadTooLarge::RequestLine)
        );
        let mut h = HeaderMap::new();
        let big = HeaderValue::try_from("v".repeat(MAX_HEADER)).unwrap();
        h.insert("x-big", big);
        assert_eq!(check_head(&get, &ok, &h), Err(HeadTooLarge::Header));
        let mut h = HeaderMap::new();
        for i in 0..5 {
            let v = HeaderValue::try_from("v".repeat(15 * 1024)).unwrap();
            h.insert(HeaderName::try_from(format!("x-{i}")).unwrap(), v);
        }
        assert_eq!(check_head(&get, &ok, &h), Err(HeadTooLarge::Headers));
        h.remove("x-4");
        assert_eq!(check_head(&get, &ok, &h), Ok(()), "60 KiB of headers pass");
    }

    #[test]
    fn hop_by_hop_headers_are_removed_with_those_connection_names() {
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTION, HeaderValue::from_static("keep-alive, x-secret"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        headers.insert("x-app", HeaderValue::from_static("kept"));
        remove_hop_by_hop(&mut headers);
        let names: Vec<_> = headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-app"]);
    }

    #[test]
    fn every_connection_line_is_read_even_after_one_naming_itself() {
        let mut headers = HeaderMap::new();
        headers.append(CONNECTION, HeaderValue::from_static("Connection, x-first"));
        headers.append(CONNECTION, HeaderValue::from_static("x-second"));
        headers.insert("x-first", HeaderValue::from_static("1"));
        headers.insert("x-second", HeaderValue::from_static("2"));
        headers.insert("x-app", HeaderValue::from_static("kept"));
        remove_hop_by_hop(&mut headers);
        let names: Vec<_> = headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-app"]);
    }

    #[test]
    fn shared_values_hold_any_valid_text() {
        let short = shared_value(b"Root=1-67891233-abcdef012345678912345678").unwrap();
        assert_eq!(short, "Root=1-67891233-abcdef012345678912345678");
        let spare = short.clone();
        assert_eq!(
            spare.as_bytes().as_ptr(),
            short.as_bytes().as_ptr(),
            "shared"
        );
        let long = "10.0.0.1, ".repeat(20);
        let long_value = shared_value(long.as_bytes()).unwrap();
        assert_eq!(long_value, long.as_str());
        let spare = long_value.clone();
        assert_eq!(
            spare.as_bytes().as_ptr(),
            long_value.as_bytes().as_ptr(),
            "shared"
        );
        assert_eq!(shared_value(&[b'x'; INLINE_VALUE]).unwrap().len(), 64);
        assert_eq!(shared_value(b""), Some(HeaderValue::from_static("")));
        assert_eq!(shared_value(b"a\r\nb"), None, "no line breaks in a value");
    }

    #[test]
    fn forwarded_for_formats_ipv6_and_mapped_addresses_alone() {
        let mut headers = HeaderMap::new();
        append_forwarded_for(&mut headers, "2001:db8::1".parse().unwrap());
        assert_eq!(headers[X_FORWARDED_FOR], "2001:db8::1");
        let mut headers = HeaderMap::new();
        let longest = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
        append_forwarded_for(&mut headers, longest.parse().unwrap());
        assert_eq!(headers[X_FORWARDED_FOR], longest);
        let mut headers = HeaderMap::new();
        append_forwarded_for(&mut headers, "::ffff:10.1.2.3".parse().unwrap());
        assert_eq!(headers[X_FORWARDED_FOR], "10.1.2.3");
    }

    #[test]
    fn listener_values_are_the_ones_built_per_request() {
        let listener = ForwardedValues::new(ListenerProtocol::Https, 8443);
        let mut once = HeaderMap::new();
        let client: IpAddr = "10.0.0.9".parse().unwrap();
        add_forwarded_values(&mut once, client, &listener, XffMode::Append);
        let mut each = HeaderMap::new();
        add_forwarded(&mut each, client, ListenerProtocol::Https, 8443);
        assert_eq!(once, each);
    }

    #[test]
    fn headers_without_hop_by_hop_ones_are_left_alone() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("h"));
        headers.insert("x-app", HeaderValue::from_static("kept"));
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 2);
        headers.insert("proxy-connection", HeaderValue::from_static("keep-alive"));
        headers.insert(TE, HeaderValue::from_static("trailers"));
        remove_hop_by_hop(&mut headers);
        let names: Vec<_> = headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["host", "x-app"]);
    }

    #[test]
    fn host_comes_from_header_or_authority() {
        let mut headers = HeaderMap::new();
        let uri: Uri = "https://example.test:8443/x".parse().unwrap();
        assert_eq!(request_host(&headers, &uri).unwrap(), "example.test:8443");
        headers.insert(HOST, HeaderValue::from_static("h1.test"));
        assert_eq!(
            request_host(&headers, &Uri::from_static("/x")).unwrap(),
            "h1.test"
        );
    }

    #[test]
    fn absolute_form_authority_wins_over_host() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("a.example"));
        let uri: Uri = "http://b.example/x".parse().unwrap();
        assert_eq!(request_host(&headers, &uri).unwrap(), "b.example");
        let with_user: Uri = "http://u:p@b.example:81/x".parse().unwrap();
        assert_eq!(request_host(&headers, &with_user).unwrap(), "b.example:81");
    }

    #[test]
    fn host_must_be_single_and_present_on_http11() {
        let none = HeaderMap::new();
        assert_eq!(
            check_host(Version::HTTP_11, &none),
            Err(HostProblem::Missing)
        );
        assert_eq!(check_host(Version::HTTP_10, &none), Ok(()));
        assert_eq!(check_host(Version::HTTP_2, &none), Ok(()));
        let mut two = HeaderMap::new();
        two.append(HOST, HeaderValue::from_static("a.example"));
        two.append(HOST, HeaderValue::from_static("a.example"));
        for v in [Version::HTTP_10, Version::HTTP_11, Version::HTTP_2] {
            assert_eq!(check_host(v, &two), Err(HostProblem::Duplicate), "{v:?}");
        }
        let one = |value: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(HOST, HeaderValue::from_static(value));
            check_host(Version::HTTP_11, &h)
        };
        assert_eq!(one("a.example"), Ok(()));
        assert_eq!(one("a.example:8080"), Ok(()));
        assert_eq!(one("[::1]:8080"), Ok(()));
        assert_eq!(one(""), Ok(()), "empty: a target URI without authority");
        assert_eq!(one("user@a.example"), Err(HostProblem::Invalid));
        assert_eq!(one("a example"), Err(HostProblem::Invalid));
        assert_eq!(one("a.example:port"), Err(HostProblem::Invalid));
        assert_eq!(
            one("a%2Eb"),
            Err(HostProblem::Invalid),
            "as http's Authority refuses"
        );
        assert_eq!(one("[]"), Err(HostProblem::Invalid));
        assert_eq!(one("a[b]"), Err(HostProblem::Invalid));
    }

    #[test]
    fn request_checks_cover_size_then_host() {
        let get = Method::GET;
        let ok: Uri = "/".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            "x-big",
            HeaderValue::try_from("v".repeat(MAX_HEADER)).unwrap(),
        );
        assert_eq!(
            check_request(Version::HTTP_11, &get, &ok, &h),
            Err(BadRequest::TooLarge(HeadTooLarge::Header))
        );
        h.remove("x-big");
        assert_eq!(
            check_request(Version::HTTP_11, &get, &ok, &h),
            Err(BadRequest::Host(HostProblem::Missing))
        );
        h.insert(HOST, HeaderValue::from_static("a.example"));
        assert_eq!(check_request(Version::HTTP_11, &get, &ok, &h), Ok(()));
    }

    #[test]
    fn split_cookies_are_joined() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1"));
        headers.append(COOKIE, HeaderValue::from_static("b=2"));
        merge_cookies(&mut headers);
        assert_eq!(headers.get_all(COOKIE).iter().count(), 1);
        assert_eq!(headers[COOKIE], "a=1; b=2");
    }
}
