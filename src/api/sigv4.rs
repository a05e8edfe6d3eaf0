//! Verification of AWS Signature Version 4 (`AWS4-HMAC-SHA256`), in the `Authorization` header
//! or in a presigned URL's `X-Amz-*` query parameters, against the lab's credentials.
//!
//! The steps are AWS's: canonical request → string to sign → signing key (HMAC chain over date,
//! region, service) → signature, compared in constant time. The building blocks are pure and
//! tested against AWS's published SigV4 test suite. Failures are [`AuthFailure`]s; each
//! protocol names them its own way ([`AuthFailure::error`]).

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use ring::{digest, hmac};

use super::credentials::AwsCredentials;
use super::error::ApiError;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a header-signed request's `X-Amz-Date` may be from the server's clock (AWS: 5 min).
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);
/// The longest a presigned URL may live (AWS: 7 days).
const MAX_EXPIRES: u64 = 7 * 24 * 3600;
const TERMINATOR: &str = "aws4_request";

/// AWS's URI encoding: everything but `A-Z a-z 0-9 - _ . ~` as `%XX` (upper-case hex).
const URI_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The parts of a request the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as received (still percent-encoded).
    pub path: &'a str,
    /// The raw query string.
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Who signed, for which region and service (the credential scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// Neither an `Authorization` header nor presigned parameters.
    Missing,
    /// A signature that lacks parts or is malformed (the message says which).
    Incomplete(String),
    /// An access key id other than the lab's.
    UnknownKey,
    /// The signature does not match (wrong secret, altered request, wrong region...).
    Mismatch(String),
    /// `X-Amz-Date` too far from now (the message says by how much, as AWS does).
    Skewed(String),
    /// A presigned URL used after `X-Amz-Expires`.
    Expired,
}

/// How a protocol family names authentication failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// JSON 1.1 services (ECS, Logs).
    Json,
    /// Query services (ELBv2, RDS, STS).
    Query,
    /// EC2's Query flavour.
    Ec2,
}

const MISMATCH_MESSAGE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const INVALID_TOKEN_MESSAGE: &str = "The security token included in the request is invalid.";

impl AuthFailure {
    /// The error AWS answers for this failure in `family`'s protocol.
    pub fn error(&self, family: Family) -> ApiError {
        use AuthFailure::*;
        use Family::*;
        let (code, status, message): (&str, u16, String) = match (self, family) {
            (Missing, Json) => (
                "MissingAuthenticationTokenException",
                400,
                "Missing Authentication Token".into(),
            ),
            (Missing, _) => (
                "MissingAuthenticationToken",
                403,
                "Request is missing Authentication Token".into(),
            ),
            (Incomplete(m), Json) => ("IncompleteSignatureException", 400, m.clone()),
            (Incomplete(m), _) => ("IncompleteSignature", 400, m.clone()),
            (UnknownKey, Json) => (
                "UnrecognizedClientException",
                400,
                INVALID_TOKEN_MESSAGE.into(),
            ),
            (UnknownKey, Query) => ("InvalidClientTokenId", 403, INVALID_TOKEN_MESSAGE.into()),
            (UnknownKey, Ec2) => (
                "AuthFailure",
                401,
                "AWS was not able to validate the provided access credentials".into(),
            ),
            (Mismatch(m), Json) => ("InvalidSignatureException", 400, m.clone()),
            (Mismatch(m), _) => ("SignatureDoesNotMatch", 403, m.clone()),
            (Skewed(m), Json) => ("InvalidSignatureException", 400, m.clone()),
            (Skewed(m), Query) => ("SignatureDoesNotMatch", 403, m.clone()),
            (Skewed(_) | Expired, Ec2) | (Expired, Query) => {
                ("RequestExpired", 400, "Request has expired.".into())
            }
            (Expired, Json) => (
                "InvalidSignatureException",
                400,
                "Signature expired.".into(),
            ),
        };
        ApiError::new(code, message).with_status(status)
    }
}

/// A signature as the request states it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Claimed {
    scope: Scope,
    signed_headers: Vec<String>,
    signature: String,
    amz_date: String,
    /// `X-Amz-Expires` of a presigned URL; `None` for the header form.
    expires: Option<u64>,
}

/// The credential scope of a signed request, read leniently (no verification): for routing
/// when `api-auth = "none"`.
pub fn scope(req: &Request<'_>) -> Option<Scope> {
    claimed(req).ok().map(|c| c.scope)
}

/// Checks `req`'s signature against `credentials` for `region` at `now`; returns its scope.
pub fn verify(
    req: &Request<'_>,
    credentials: &AwsCredentials,
    region: &str,
    now: SystemTime,
) -> Result<Scope, AuthFailure> {
    let claimed = claimed(req)?;
    let scope = &claimed.scope;
    if scope.access_key_id != credentials.access_key_id {
        return Err(AuthFailure::UnknownKey);
    }
    let signed_at = parse_amz_date(&claimed.amz_date).ok_or_else(|| {
        AuthFailure::Incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
            claimed.amz_date
        ))
    })?;
    if !claimed.amz_date.starts_with(&scope.date) {
        return Err(AuthFailure::Mismatch(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
            scope.date,
            &claimed.amz_date[..8],
            claimed.amz_date
        )));
    }
    check_time(signed_at, claimed.expires, now)?;
    if scope.region != region {
        return Err(AuthFailure::Mismatch(format!(
            "Credential should be scoped to a valid region, not '{}'. This lab's region is '{region}'.",
            scope.region
        )));
    }
    let canonical = canonical_request(req, &claimed.signed_headers, claimed.expires.is_some());
    let to_sign = string_to_sign(&claimed.amz_date, &scope_string(scope), &canonical);
    let key = signing_key(
        &credentials.secret_access_key,
        &scope.date,
        &scope.region,
        &scope.service,
    );
    let provided = decode_hex(&claimed.signature)
        .ok_or_else(|| AuthFailure::Mismatch(MISMATCH_MESSAGE.into()))?;
    // Constant time: ring compares the computed tag with the provided one.
    hmac::verify(&key, to_sign.as_bytes(), &provided)
        .map_err(|_| AuthFailure::Mismatch(MISMATCH_MESSAGE.into()))?;
    Ok(claimed.scope)
}

/// The clock check: header signatures within [`MAX_SKEW`] of now (either way); presigned URLs
/// from their date (less the skew) until date + `X-Amz-Expires`.
fn check_time(
    signed_at: SystemTime,
    expires: Option<u64>,
    now: SystemTime,
) -> Result<(), AuthFailure> {
    let date = |t: SystemTime| format_amz_date(t);
    if signed_at > now + MAX_SKEW {
        return Err(AuthFailure::Skewed(format!(
            "Signature not yet current: {} is still later than {} ({} + 5 min.)",
            date(signed_at),
            date(now + MAX_SKEW),
            date(now)
        )));
    }
    match expires {
        Some(secs) if signed_at + Duration::from_secs(secs) < now => Err(AuthFailure::Expired),
        Some(_) => Ok(()),
        None if signed_at + MAX_SKEW < now => Err(AuthFailure::Skewed(format!(
            "Signature expired: {} is now earlier than {} ({} - 5 min.)",
            date(signed_at),
            date(now - MAX_SKEW),
            date(now)
        ))),
        None => Ok(()),
    }
}

/// Reads the claimed signature from the `Authorization` header or the presigned parameters.
fn claimed(req: &Request<'_>) -> Result<Claimed, AuthFailure> {
    if let Some(header) = req.headers.get(http::header::AUTHORIZATION) {
        let header = header
            .to_str()
            .map_err(|_| AuthFailure::Incomplete("Authorization header is not ASCII".into()))?;
        return claimed_from_header(header, req.headers);
    }
    let params = query_pairs(req.query.unwrap_or_default());
    if params.iter().any(|(k, _)| k == "X-Amz-Algorithm") {
        return claimed_from_query(&params);
    }
    Err(AuthFailure::Missing)
}

fn claimed_from_header(header: &str, headers: &HeaderMap) -> Result<Claimed, AuthFailure> {
    let (algorithm, rest) = header.split_once(' ').unwrap_or((header, ""));
    if algorithm != ALGORITHM {
        return Err(AuthFailure::Incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'. tierlab verifies {ALGORITHM} (SigV4) only."
        )));
    }
    let field = |name: &str| {
        rest.split(',')
            .filter_map(|part| part.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim().to_string())
    };
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut missing = Vec::new();
    for name in ["Credential", "Signature", "SignedHeaders"] {
        if field(name).is_none() {
            missing.push(format!("Authorization header requires '{name}' parameter."));
        }
    }
    if amz_date.is_none() {
        // AWS also takes `Date`; every SDK sends `X-Amz-Date`, and so tierlab asks for it.
        missing.push("Authorization header requires existence of a 'X-Amz-Date' header.".into());
    }
    if !missing.is_empty() {
        return Err(AuthFailure::Incomplete(format!(
            "{} Authorization={header}",
            missing.join(" ")
        )));
    }
    let unwrap = |v: Option<String>| v.unwrap_or_default();
    Ok(Claimed {
        scope: parse_credential(&unwrap(field("Credential")))?,
        signed_headers: split_signed_headers(&unwrap(field("SignedHeaders"))),
        signature: unwrap(field("Signature")),
        amz_date: unwrap(amz_date),
        expires: None,
    })
}

fn claimed_from_query(params: &[(String, String)]) -> Result<Claimed, AuthFailure> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let missing: Vec<&str> = [
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ]
    .into_iter()
    .filter(|name| get(name).is_none())
    .collect();
    if !missing.is_empty() {
        return Err(AuthFailure::Incomplete(format!(
            "AWS query-string parameters must include {}. Re-examine the query-string parameters.",
            missing
                .iter()
                .map(|m| format!("'{m}'"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let algorithm = get("X-Amz-Algorithm").unwrap_or_default();
    if algorithm != ALGORITHM {
        return Err(AuthFailure::Incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'"
        )));
    }
    let expires = match get("X-Amz-Expires") {
        None => MAX_EXPIRES,
        Some(v) => v
            .parse()
            .ok()
            .filter(|s| *s <= MAX_EXPIRES)
            .ok_or_else(|| {
                AuthFailure::Incomplete(format!(
                    "X-Amz-Expires must be a number of seconds from 0 to {MAX_EXPIRES}, not '{v}'"
                ))
            })?,
    };
    let unwrap = |name: &str| get(name).unwrap_or_default();
    Ok(Claimed {
        scope: parse_credential(&unwrap("X-Amz-Credential"))?,
        signed_headers: split_signed_headers(&unwrap("X-Amz-SignedHeaders")),
        signature: unwrap("X-Amz-Signature"),
        amz_date: unwrap("X-Amz-Date"),
        expires: Some(expires),
    })
}

/// `AKID/20150830/us-east-1/service/aws4_request` → [`Scope`].
fn parse_credential(credential: &str) -> Result<Scope, AuthFailure> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [key, date, region, service, terminator] = parts[..] else {
        return Err(AuthFailure::Incomplete(format!(
            "Credential should have exactly 5 slash-separated parts (key/date/region/service/aws4_request), not {}: '{credential}'",
            parts.len()
        )));
    };
    if terminator != TERMINATOR {
        return Err(AuthFailure::Incomplete(format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'."
        )));
    }
    Ok(Scope {
        access_key_id: key.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
    })
}

fn split_signed_headers(list: &str) -> Vec<String> {
    list.split(';')
        .filter(|h| !h.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The canonical request: method, canonical URI, canonical query string, canonical headers,
/// signed headers, payload hash. A presigned request leaves `X-Amz-Signature` out of its query.
pub fn canonical_request(req: &Request<'_>, signed_headers: &[String], presigned: bool) -> String {
    let mut sorted: Vec<&String> = signed_headers.iter().collect();
    sorted.sort();
    sorted.dedup();
    let headers: String = sorted
        .iter()
        .map(|name| format!("{name}:{}\n", header_value(req.headers, name)))
        .collect();
    let names: Vec<&str> = sorted.iter().map(|s| s.as_str()).collect();
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_uri(req.path),
        canonical_query(req.query.unwrap_or_default(), presigned),
        headers,
        names.join(";"),
        hex(digest::digest(&digest::SHA256, req.body).as_ref())
    )
}

/// Every value of header `name`, each trimmed with inner runs of spaces made one, joined by `,`.
fn header_value(headers: &HeaderMap, name: &str) -> String {
    headers
        .get_all(name)
        .iter()
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The path with `.`/`..` segments and repeated slashes removed, each segment URI-encoded (a
/// path that arrives percent-encoded is encoded again, as SDKs sign it for every service but S3).
fn canonical_uri(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let encoded: Vec<String> = segments
        .iter()
        .map(|s| utf8_percent_encode(s, URI_ENCODE).to_string())
        .collect();
    let mut uri = format!("/{}", encoded.join("/"));
    if path.ends_with('/') && !encoded.is_empty() {
        uri.push('/');
    }
    uri
}

/// Query parameters decoded, re-encoded the AWS way, sorted by name then value.
fn canonical_query(query: &str, presigned: bool) -> String {
    let mut pairs: Vec<(String, String)> = query_pairs(query)
        .into_iter()
        .filter(|(k, _)| !(presigned && k == "X-Amz-Signature"))
        .map(|(k, v)| {
            (
                utf8_percent_encode(&k, URI_ENCODE).to_string(),
                utf8_percent_encode(&v, URI_ENCODE).to_string(),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `a=1&b=%2F` → decoded pairs (percent-decoding only: a `+` is a plus, as SigV4 clients encode
/// spaces as `%20`).
fn query_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// `date/region/service/aws4_request`.
fn scope_string(scope: &Scope) -> String {
    format!(
        "{}/{}/{}/{TERMINATOR}",
        scope.date, scope.region, scope.service
    )
}

pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let hash = digest::digest(&digest::SHA256, canonical_request.as_bytes());
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", hex(hash.as_ref()))
}

/// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> hmac::Key {
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [date, region, service, TERMINATOR] {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), part.as_bytes());
        key = tag.as_ref().to_vec();
    }
    hmac::Key::new(hmac::HMAC_SHA256, &key)
}

/// Signs `req` (the header form) as a client would: the `Authorization` header value for
/// `signed_headers`. For tests and tierlab's own callers; the request must carry `X-Amz-Date`.
pub fn authorization(
    req: &Request<'_>,
    credentials: &AwsCredentials,
    scope_date_region_service: (&str, &str, &str),
    amz_date: &str,
    signed_headers: &[&str],
) -> String {
    let (date, region, service) = scope_date_region_service;
    let scope = Scope {
        access_key_id: credentials.access_key_id.clone(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
    };
    let mut names: Vec<String> = signed_headers.iter().map(|h| h.to_string()).collect();
    names.sort();
    let canonical = canonical_request(req, &names, false);
    let to_sign = string_to_sign(amz_date, &scope_string(&scope), &canonical);
    let key = signing_key(&credentials.secret_access_key, date, region, service);
    let signature = hex(hmac::sign(&key, to_sign.as_bytes()).as_ref());
    format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={signature}",
        credentials.access_key_id,
        scope_string(&scope),
        names.join(";")
    )
}

/// `20150830T123600Z` → time.
pub fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' || !digits(0..8) || !digits(9..15) {
        return None;
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &text[0..4],
        &text[4..6],
        &text[6..8],
        &text[9..11],
        &text[11..13],
        &text[13..15]
    );
    humantime::parse_rfc3339(&rfc3339).ok()
}

/// Time → `20150830T123600Z`.
pub fn format_amz_date(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time)
        .to_string()
        .replace(['-', ':'], "")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
#[path = "sigv4_tests.rs"]
mod tests;
