//! `X-Amzn-Trace-Id`, as ALB writes it (AWS's "Request tracing for your Application Load
//! Balancer"):
//!
//! - no header: `Root=1-<8 hex epoch seconds>-<24 hex random>`;
//! - a header with `Root`: a `Self=` field with a new id is put first, the rest is kept
//!   (`Self=1-...;Root=1-...;CalledFrom=app`);
//! - a header with `Self`: its value is replaced, the rest is kept.
//!
//! A header with neither (only an application's own fields) gets a new `Root` put first, so the
//! request can still be traced; its fields are kept.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderName;
use http::header::{HeaderMap, HeaderValue};

use super::headers;

/// `X-Amzn-Trace-Id`.
pub const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

/// Length of one id: `1-` + 8 hex + `-` + 24 hex.
const ID_LEN: usize = 35;

/// One id: `1-<epoch seconds, 8 hex>-<96 random bits, 24 hex>`, formatted in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceId([u8; ID_LEN]);

impl TraceId {
    /// The id of a request stamped at `epoch_secs` with `random` (its low 96 bits).
    pub fn new(epoch_secs: u64, random: u128) -> TraceId {
        let random = random & ((1u128 << 96) - 1);
        let mut id = [0u8; ID_LEN];
        // Epoch seconds fit 8 hex digits until 2106; keep the low 32 bits so the width never
        // grows. 35 bytes hold exactly this, so the write cannot run out of room.
        let _ = write!(&mut id[..], "1-{:08x}-{random:024x}", epoch_secs as u32);
        TraceId(id)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("an id is ASCII hex")
    }
}

/// The header value to forward, given the client's (if any) and a freshly made `id`.
pub fn next_value(existing: Option<&str>, id: &str) -> String {
    let Some(existing) = existing.map(str::trim).filter(|v| !v.is_empty()) else {
        return format!("Root={id}");
    };
    let fields: Vec<&str> = existing
        .split(';')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    let name = |f: &str| f.split_once('=').map_or(f, |(n, _)| n).trim().to_string();
    if fields.iter().any(|f| name(f) == "Self") {
        let updated: Vec<String> = fields
            .iter()
            .map(|f| {
                if name(f) == "Self" {
                    format!("Self={id}")
                } else {
                    f.to_string()
                }
            })
            .collect();
        return updated.join(";");
    }
    let first = if fields.iter().any(|f| name(f) == "Root") {
        "Self"
    } else {
        "Root"
    };
    let mut out = format!("{first}={id}");
    for f in fields {
        out.push(';');
        out.push_str(f);
    }
    out
}

/// Sets the request's `X-Amzn-Trace-Id` as ALB does, with a new random id stamped now.
/// The value clones without allocating (the access log and a retry each keep one).
pub fn apply(headers: &mut HeaderMap) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let id = TraceId::new(now, rand::random::<u128>());
    let existing = headers.get(&X_AMZN_TRACE_ID).and_then(|v| v.to_str().ok());
    let value = match existing {
        // The usual case, a new root, written on the stack.
        None => {
            let mut root = [0u8; 5 + ID_LEN];
            root[..5].copy_from_slice(b"Root=");
            root[5..].copy_from_slice(id.as_str().as_bytes());
            headers::shared_value(&root)
        }
        // Built only from the client's visible ASCII and hex digits, so it is a valid value.
        Some(existing) => headers::shared_value(next_value(Some(existing), id.as_str()).as_bytes()),
    };
    // A client header that was not text is replaced by a fresh root.
    let value = value.unwrap_or_else(|| {
        HeaderValue::try_from(format!("Root={}", id.as_str())).expect("hex is ASCII")
    });
    headers.insert(X_AMZN_TRACE_ID, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "1-67891233-12456789abcdef0123456789";

    #[test]
    fn id_has_aws_shape() {
        let id = TraceId::new(0x6789_1233, 0xabcdef01_23456789_12345678);
        assert_eq!(id.as_str(), "1-67891233-abcdef012345678912345678");
        let id = TraceId::new(1, u128::MAX);
        assert_eq!(id.as_str(), "1-00000001-ffffffffffffffffffffffff");
        let id = TraceId::new(u64::MAX, 0);
        assert_eq!(id.as_str(), "1-ffffffff-000000000000000000000000");
    }

    #[test]
    fn absent_header_gets_a_root() {
        assert_eq!(next_value(None, ID), format!("Root={ID}"));
        assert_eq!(next_value(Some("  "), ID), format!("Root={ID}"));
    }

    #[test]
    fn root_is_kept_and_self_inserted_first() {
        let v = next_value(Some("Root=1-67891233-abcdef012345678912345678"), ID);
        assert_eq!(
            v,
            format!("Self={ID};Root=1-67891233-abcdef012345678912345678")
        );
        let v = next_value(
            Some("Root=1-67891233-abcdef012345678912345678;CalledFrom=app"),
            ID,
        );
        assert_eq!(
            v,
            format!("Self={ID};Root=1-67891233-abcdef012345678912345678;CalledFrom=app")
        );
    }

    #[test]
    fn existing_self_is_updated_in_place() {
        let v = next_value(
            Some("Self=1-00000000-000000000000000000000000;Root=1-a-b"),
            ID,
        );
        assert_eq!(v, format!("Self={ID};Root=1-a-b"));
    }

    #[test]
    fn custom_fields_without_root_get_a_root() {
        assert_eq!(
            next_value(Some("CalledFrom=app"), ID),
            format!("Root={ID};CalledFrom=app")
        );
    }

    #[test]
    fn apply_sets_the_header() {
        let mut headers = HeaderMap::new();
        apply(&mut headers);
        let v = headers[&X_AMZN_TRACE_ID].to_str().unwrap().to_string();
        let (root, id) = v.split_once('=').unwrap();
        assert_eq!(root, "Root");
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            (parts[0], parts[1].len(), parts[2].len()),
            ("1", 8, 24),
            "{v}"
        );
        apply(&mut headers);
        let v2 = headers[&X_AMZN_TRACE_ID].to_str().unwrap();
        assert!(v2.starts_with("Self=1-") && v2.ends_with(&v), "{v2}");
    }
}
