//! `uri-host [ ":" port ]` (RFC 3986 §3.2.2–3.2.3, the grammar of `Host` in RFC 9112 §3.2),
//! read in place: every request's `Host` is checked and stripped of its port for routing, so
//! this borrows from the value instead of building an `http::uri::Authority` (a copy each).

/// `value` split into its host and its port (empty when there is none), or `None` when it is
/// not `uri-host [ ":" port ]` with a non-empty host.
pub fn split(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let (host, port) = if value.first() == Some(&b'[') {
        // IP-literal: `[` IPv6address or IPvFuture `]`, then nothing or `:port`.
        let end = value.iter().position(|&b| b == b']')?;
        let (host, rest) = value.split_at(end + 1);
        if end == 1 || !host[1..end].iter().all(|&b| is_ip_literal_byte(b)) {
            return None;
        }
        let port = match rest {
            [] => rest,
            [b':', port @ ..] => port,
            _ => return None,
        };
        (host, port)
    } else {
        let (host, port) = match value.iter().rposition(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon + 1..]),
            None => (value, &value[value.len()..]),
        };
        if host.is_empty() || !is_reg_name(host) {
            return None;
        }
        (host, port)
    };
    port.iter().all(u8::is_ascii_digit).then_some((host, port))
}

/// The host of `value` without its port (`example.test:8080` → `example.test`, `[::1]:8080` →
/// `[::1]`), for routing. A value that is not `uri-host [ ":" port ]` (an HTTP/2 `:authority`
/// or absolute-form target with a port that is not digits, which the header check does not
/// see) still loses what follows its last `:` outside brackets, so a host condition matches
/// the name as it would for any other port.
pub fn without_port(value: &str) -> &str {
    match split(value.as_bytes()) {
        // `split` only cuts before an ASCII `:`, so the host ends on a character boundary.
        Some((host, _)) => &value[..host.len()],
        None => match value.rfind(':') {
            Some(colon) if !value.starts_with('[') || value[..colon].ends_with(']') => {
                &value[..colon]
            }
            _ => value,
        },
    }
}

/// reg-name (an IPv4 address is one too): unreserved and sub-delims. RFC 3986 also allows
/// `%XX`, but a percent-encoded name is refused, as `http::uri::Authority` (hyper's parser for
/// targets and `:authority`) refuses it, so that `Host` and the target agree on what is valid.
fn is_reg_name(host: &[u8]) -> bool {
    host.iter().all(|&b| is_unreserved(b) || is_sub_delim(b))
}

/// What may stand between the brackets: IPv6 (hex, `:`, `.` for an embedded IPv4, `%25` and a
/// zone, RFC 6874) or IPvFuture (`v`, hex, `.`, then unreserved, sub-delims and `:`). Checked
/// byte by byte only: which of those forms the text is, is the target's business.
fn is_ip_literal_byte(b: u8) -> bool {
    is_unreserved(b) || is_sub_delim(b) || b == b':' || b == b'%'
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(value: &str) -> Option<(&str, &str)> {
        let (host, port) = split(value.as_bytes())?;
        let text = |b| std::str::from_utf8(b).unwrap();
        Some((text(host), text(port)))
    }

    #[test]
    fn names_addresses_and_literals_split_from_their_port() {
        assert_eq!(parts("a.example"), Some(("a.example", "")));
        assert_eq!(parts("a.example:8080"), Some(("a.example", "8080")));
        assert_eq!(
            parts("a.example:"),
            Some(("a.example", "")),
            "port = *DIGIT"
        );
        assert_eq!(parts("10.0.1.7:80"), Some(("10.0.1.7", "80")));
        assert_eq!(parts("[::1]:8080"), Some(("[::1]", "8080")));
        assert_eq!(parts("[fe80::1%25eth0]"), Some(("[fe80::1%25eth0]", "")));
        assert_eq!(
            parts("xn--bcher-kva.example"),
            Some(("xn--bcher-kva.example", ""))
        );
    }

    #[test]
    fn what_is_not_a_host_is_refused() {
        for bad in [
            "",
            ":80",
            "user@a.example",
            "a example",
            "a.example:port",
            "a.example:80:80",
            "[::1",
            "[]",
            "[::1]x",
            "[::1]:x",
            "a/b",
            "a%2",
            "a%zz",
            "a%2Eb",
            "a[b]",
            "ünï.example",
        ] {
            assert_eq!(split(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn the_port_is_dropped_for_routing() {
        assert_eq!(without_port("a.test:8080"), "a.test");
        assert_eq!(without_port("[::1]:8080"), "[::1]");
        assert_eq!(without_port("A.test"), "A.test");
        assert_eq!(without_port("not a host"), "not a host");
        assert_eq!(without_port("a.test:abc"), "a.test", "any port is dropped");
        assert_eq!(without_port("[::1]:abc"), "[::1]");
        assert_eq!(
            without_port("[::1"),
            "[::1",
            "an unclosed literal is left whole"
        );
    }
}
