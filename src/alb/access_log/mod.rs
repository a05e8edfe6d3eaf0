//! ALB access log entries: one line per request, fields in AWS's order and notation.
//!
//! ```text
//! type time elb client:port target:port request_processing_time target_processing_time
//! response_processing_time elb_status_code target_status_code received_bytes sent_bytes
//! "request" "user_agent" ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name"
//! "chosen_cert_arn" matched_rule_priority request_creation_time "actions_executed"
//! "redirect_url" "error_reason" "target:port_list" "target_status_code_list" "classification"
//! "classification_reason" conn_trace_id
//! ```
//!
//! Missing values are `-` and times that do not apply are `-1`, as AWS writes them. Files are
//! written by [`writer`] (plain text, not gzipped as on S3, so `tail -f` and `grep` work).
//! Two approximations, documented here because a reader comparing bytes would notice:
//! `received_bytes` is the request head's size plus `Content-Length` (a chunked upload's body is
//! not counted), and `sent_bytes` is the response head's estimated size plus the body bytes
//! actually sent.

pub mod writer;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use writer::{AccessLogSink, file_name, spawn_writer};

/// The `type` field: how the client spoke to the load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    /// HTTP/1.x without TLS.
    Http,
    /// HTTP/1.x over TLS.
    Https,
    /// HTTP/2 over TLS.
    H2,
    /// A WebSocket upgrade without TLS.
    Ws,
    /// A WebSocket upgrade over TLS.
    Wss,
}

impl RequestType {
    /// AWS's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Http => "http",
            RequestType::Https => "https",
            RequestType::H2 => "h2",
            RequestType::Ws => "ws",
            RequestType::Wss => "wss",
        }
    }
}

/// What a TLS connection negotiated, for the `ssl_*`, `domain_name` and `chosen_cert_arn` fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFields {
    /// OpenSSL-style cipher name, e.g. `ECDHE-ECDSA-AES128-GCM-SHA256` or `TLS_AES_128_GCM_SHA256`.
    pub cipher: &'static str,
    /// `TLSv1.2` or `TLSv1.3`.
    pub protocol: &'static str,
    /// The SNI the client sent.
    pub domain: Option<String>,
    /// ARN of the certificate presented.
    pub cert_arn: Arc<str>,
}

/// One access log entry. Built by [`super::observe`], formatted by [`AccessLogRecord::line`].
#[derive(Debug, Clone, PartialEq)]
pub struct AccessLogRecord {
    /// `type`.
    pub kind: RequestType,
    /// `time`: when the load balancer generated the response.
    pub time: SystemTime,
    /// `elb`: `app/<name>/<id>`.
    pub elb: Arc<str>,
    /// `client:port`.
    pub client: SocketAddr,
    /// `target:port`: the target that answered (or was last tried).
    pub target: Option<SocketAddr>,
    /// From receiving the request to sending it to a target; `None` → `-1`.
    pub request_processing: Option<Duration>,
    /// From sending to the target until its response head; `None` → `-1`.
    pub target_processing: Option<Duration>,
    /// From the target's response head until the load balancer started answering; `None` → `-1`.
    pub response_processing: Option<Duration>,
    /// `elb_status_code`: the status the client got.
    pub elb_status: u16,
    /// `target_status_code`.
    pub target_status: Option<u16>,
    /// `received_bytes`.
    pub received_bytes: u64,
    /// `sent_bytes`.
    pub sent_bytes: u64,
    /// `request`: `METHOD scheme://host:port/path?query HTTP/x.y`.
    pub request: String,
    /// `user_agent`.
    pub user_agent: Option<String>,
    /// TLS details; `None` for plain HTTP.
    pub tls: Option<TlsFields>,
    /// `target_group_arn`.
    pub target_group_arn: Option<Arc<str>>,
    /// `trace_id`: the `X-Amzn-Trace-Id` value.
    pub trace_id: Option<String>,
    /// `matched_rule_priority`: 0 for the default action, `None` → `-`.
    pub rule_priority: Option<u32>,
    /// `request_creation_time`: when the request was received.
    pub request_creation_time: SystemTime,
    /// `actions_executed`, e.g. `forward`, `redirect`, `fixed-response`.
    pub actions: &'static str,
    /// `redirect_url`.
    pub redirect_url: Option<String>,
    /// `error_reason`.
    pub error_reason: Option<&'static str>,
    /// `target:port_list` with `target_status_code_list`: every target tried, in order.
    pub tried: Vec<(SocketAddr, Option<u16>)>,
    /// `conn_trace_id`: identifies the client connection (`TID_<hex>`).
    pub conn_trace_id: u64,
}

impl AccessLogRecord {
    /// The record as one log line (without the newline).
    pub fn line(&self) -> String {
        let mut out = String::with_capacity(512);
        self.write_line(&mut out);
        out
    }

    /// Appends the record's line (without the newline) to `out`, formatting every field in
    /// place: the writer reuses one buffer for all its lines.
    pub fn write_line(&self, out: &mut String) {
        let tls = self.tls.as_ref();
        let _ = write!(out, "{} ", self.kind.as_str());
        write_timestamp(out, self.time);
        let _ = write!(out, " {} {} ", self.elb, self.client);
        write_or_dash(out, self.target);
        for d in [
            self.request_processing,
            self.target_processing,
            self.response_processing,
        ] {
            out.push(' ');
            write_seconds(out, d);
        }
        let _ = write!(out, " {} ", self.elb_status);
        write_or_dash(out, self.target_status);
        let _ = write!(out, " {} {} ", self.received_bytes, self.sent_bytes);
        write_quoted(out, Some(&self.request));
        out.push(' ');
        write_quoted(out, self.user_agent.as_deref());
        let _ = write!(
            out,
            " {} {} {} ",
            tls.map_or("-", |t| t.cipher),
            tls.map_or("-", |t| t.protocol),
            self.target_group_arn.as_deref().unwrap_or("-"),
        );
        write_quoted(out, self.trace_id.as_deref());
        out.push(' ');
        write_quoted(out, tls.and_then(|t| t.domain.as_deref()));
        out.push(' ');
        write_quoted(out, tls.map(|t| &*t.cert_arn));
        out.push(' ');
        write_or_dash(out, self.rule_priority);
        out.push(' ');
        write_timestamp(out, self.request_creation_time);
        out.push(' ');
        write_quoted(out, Some(self.actions));
        out.push(' ');
        write_quoted(out, self.redirect_url.as_deref());
        out.push(' ');
        write_quoted(out, self.error_reason);
        out.push(' ');
        // `"10.0.0.1:80 10.0.0.2:80"` and `"- 200"`: targets and statuses, space-separated.
        write_list(out, self.tried.iter().map(|(a, _)| Some(a)));
        out.push(' ');
        write_list(out, self.tried.iter().map(|(_, s)| s.as_ref()));
        let _ = write!(out, " \"-\" \"-\" TID_{:016x}", self.conn_trace_id);
    }
}

/// `value`, or `-` without one.
fn write_or_dash(out: &mut String, value: Option<impl std::fmt::Display>) {
    match value {
        Some(v) => {
            let _ = write!(out, "{v}");
        }
        None => out.push('-'),
    }
}

/// `"a b c"` (each item, `-` for a missing one), or `"-"` for an empty list.
fn write_list<T: std::fmt::Display>(out: &mut String, items: impl Iterator<Item = Option<T>>) {
    out.push('"');
    let start = out.len();
    for item in items {
        if out.len() > start {
            out.push(' ');
        }
        write_or_dash(out, item);
    }
    if out.len() == start {
        out.push('-');
    }
    out.push('"');
}

/// ISO 8601 with microseconds, UTC: `2018-07-02T22:23:00.186641Z`.
pub fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_micros(t).to_string()
}

/// [`timestamp`], appended to `out`.
fn write_timestamp(out: &mut String, t: SystemTime) {
    let _ = write!(out, "{}", humantime::format_rfc3339_micros(t));
}

/// Seconds with millisecond precision (`0.001`), or `-1` when the time does not apply.
fn write_seconds(out: &mut String, d: Option<Duration>) {
    match d {
        Some(d) => {
            let _ = write!(out, "{:.3}", d.as_secs_f64());
        }
        None => out.push_str("-1"),
    }
}

/// `"value"` with `"`, `\` and control characters escaped; `"-"` when absent or empty.
fn write_quoted(out: &mut String, v: Option<&str>) {
    let v = v.filter(|v| !v.is_empty()).unwrap_or("-");
    out.push('"');
    for c in v.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// OpenSSL's name of a rustls cipher suite, as ALB logs it.
pub fn openssl_cipher_name(suite: rustls::CipherSuite) -> &'static str {
    use rustls::CipherSuite as C;
    match suite {
        C::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        C::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        C::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-ECDSA-CHACHA20-POLY1305",
        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        _ => "-",
    }
}

/// `TLSv1.2` / `TLSv1.3`, as ALB logs the protocol.
pub fn protocol_name(version: rustls::ProtocolVersion) -> &'static str {
    match version {
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
        _ => "-",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, micros: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros)
    }

    pub(super) fn forwarded() -> AccessLogRecord {
        AccessLogRecord {
            kind: RequestType::Http,
            time: at(1_530_570_180, 186_641),
            elb: "app/my-loadbalancer/50dc6c495c0c9188".into(),
            client: "192.168.131.39:2817".parse().unwrap(),
            target: Some("10.0.0.1:80".parse().unwrap()),
            request_processing: Some(Duration::ZERO),
            target_processing: Some(Duration::from_micros(1_400)),
            response_processing: Some(Duration::ZERO),
            elb_status: 200,
            target_status: Some(200),
            received_bytes: 34,
            sent_bytes: 366,
            request: "GET http://www.example.com:80/ HTTP/1.1".into(),
            user_agent: Some("curl/7.46.0".into()),
            tls: None,
            target_group_arn: Some(
                "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067".into(),
            ),
            trace_id: Some("Root=1-58337262-36d228ad5d99923122bbe354".into()),
            rule_priority: Some(0),
            request_creation_time: at(1_530_570_168, 364_000),
            actions: "forward",
            redirect_url: None,
            error_reason: None,
            tried: vec![("10.0.0.1:80".parse().unwrap(), Some(200))],
            conn_trace_id: 0x1234_abcd_5678_ef90,
        }
    }

    #[test]
    fn http_entry_matches_awss_example() {
        // AWS's documented HTTP example, field for field.
        let expected = "http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 \
192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 \
\"GET http://www.example.com:80/ HTTP/1.1\" \"curl/7.46.0\" - - \
arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 \
\"Root=1-58337262-36d228ad5d99923122bbe354\" \"-\" \"-\" \
0 2018-07-02T22:22:48.364000Z \"forward\" \"-\" \"-\" \"10.0.0.1:80\" \"200\" \"-\" \"-\" \
TID_1234abcd5678ef90";
        assert_eq!(forwarded().line(), expected);
    }

    #[test]
    fn https_redirect_and_failures_use_dashes_and_minus_one() {
        let mut r = forwarded();
        r.kind = RequestType::H2;
        r.tls = Some(TlsFields {
            cipher: "TLS_AES_128_GCM_SHA256",
            protocol: "TLSv1.3",
            domain: Some("www.example.com".into()),
            cert_arn: "arn:aws:acm:us-east-1:000000000000:certificate/x".into(),
        });
        r.target = None;
        r.target_processing = None;
        r.response_processing = None;
        r.elb_status = 301;
        r.target_status = None;
        r.target_group_arn = None;
        r.actions = "redirect";
        r.redirect_url = Some("https://www.example.com:443/".into());
        r.tried.clear();
        r.user_agent = Some("say \"hi\"\n".into());
        let line = r.line();
        assert!(line.starts_with("h2 "), "{line}");
        assert!(line.contains(" - 0.000 -1 -1 301 - 34 366 "), "{line}");
        assert!(
            line.contains("\"say \\\"hi\\\"\\x0a\" TLS_AES_128_GCM_SHA256 TLSv1.3 - "),
            "{line}"
        );
        assert!(
            line.contains("\"www.example.com\" \"arn:aws:acm:"),
            "{line}"
        );
        assert!(
            line.contains("\"redirect\" \"https://www.example.com:443/\" \"-\" \"-\" \"-\""),
            "{line}"
        );
    }

    #[test]
    fn retried_request_lists_every_target() {
        let mut r = forwarded();
        r.tried = vec![
            ("127.0.0.1:9001".parse().unwrap(), None),
            ("127.0.0.1:9002".parse().unwrap(), Some(200)),
        ];
        let line = r.line();
        assert!(
            line.contains("\"127.0.0.1:9001 127.0.0.1:9002\" \"- 200\""),
            "{line}"
        );
    }

    #[test]
    fn cipher_and_protocol_names_are_openssls() {
        assert_eq!(
            openssl_cipher_name(rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
            "ECDHE-ECDSA-AES128-GCM-SHA256"
        );
        assert_eq!(
            openssl_cipher_name(rustls::CipherSuite::TLS13_AES_256_GCM_SHA384),
            "TLS_AES_256_GCM_SHA384"
        );
        assert_eq!(protocol_name(rustls::ProtocolVersion::TLSv1_3), "TLSv1.3");
    }
}
