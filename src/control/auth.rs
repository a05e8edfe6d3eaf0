//! Who may use the control endpoint: the lab's own commands, not any local user or web page.
//!
//! - Every call carries `Authorization: Bearer <token>`. The token is made fresh by each `up`
//!   and written only to the control file (mode 0600), so only the user who ran `up` can read it.
//! - `Host` must name the endpoint by loopback address or `localhost`: a page on another origin
//!   that rebinds its own DNS name to 127.0.0.1 still sends its own name, and is refused.
//! - A request from a browser (`Origin`, or `Sec-Fetch-Site: cross-site`/`same-site`) must come
//!   from the endpoint's own origin; a form or `fetch` posted by any other page is refused
//!   before its credential is even looked at.
//!
//! Pure decisions over the request head; [`super`] answers the refusal.

use http::HeaderMap;
use http::header::{AUTHORIZATION, HOST, ORIGIN};
use rand::Rng;
use rand::distr::Alphanumeric;

/// Length of a control token: 32 alphanumerics, about 190 bits.
const TOKEN_LEN: usize = 32;

/// Why a request was refused; its status and message are what the caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `Host` names something other than this endpoint on loopback (DNS rebinding).
    ForeignHost,
    /// A browser request from another origin.
    ForeignOrigin,
    /// No `Authorization: Bearer` header.
    MissingCredential,
    /// A bearer token that is not this lab's.
    WrongCredential,
}

impl Refusal {
    /// 403 for requests that may never pass, 401 for a missing or wrong credential.
    pub fn status(self) -> http::StatusCode {
        match self {
            Refusal::ForeignHost | Refusal::ForeignOrigin => http::StatusCode::FORBIDDEN,
            Refusal::MissingCredential | Refusal::WrongCredential => http::StatusCode::UNAUTHORIZED,
        }
    }

    /// An error code in AWS's style, for the JSON body.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::ForeignHost | Refusal::ForeignOrigin => "AccessDenied",
            Refusal::MissingCredential => "MissingAuthenticationToken",
            Refusal::WrongCredential => "UnrecognizedClientException",
        }
    }

    /// What the caller is told.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::ForeignHost => {
                "the Host header must name the control endpoint as 127.0.0.1, [::1] or localhost"
            }
            Refusal::ForeignOrigin => "requests from other web origins are refused",
            Refusal::MissingCredential => {
                "missing credential: send `Authorization: Bearer <token>` with the token from the lab's control file"
            }
            Refusal::WrongCredential => "the credential is not this lab's",
        }
    }
}

/// A new random token for one run of `up`.
pub fn new_token() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(TOKEN_LEN)
        .map(char::from)
        .collect()
}

/// Whether a request with `headers` may use the endpoint listening on `port` whose token is
/// `token`. Checked in this order: Host, Origin, credential.
pub fn authorize(headers: &HeaderMap, port: u16, token: &str) -> Result<(), Refusal> {
    same_origin(headers, port)?;
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .ok_or(Refusal::MissingCredential)?;
    if constant_time_eq(presented.trim().as_bytes(), token.as_bytes()) {
        Ok(())
    } else {
        Err(Refusal::WrongCredential)
    }
}

/// The checks before any credential: `Host` names this endpoint on loopback, and a browser's
/// request comes from this endpoint's own origin (the dashboard's page, not another site).
pub fn same_origin(headers: &HeaderMap, port: u16) -> Result<(), Refusal> {
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    if !host.is_some_and(|h| is_loopback_authority(h, port)) {
        return Err(Refusal::ForeignHost);
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let own = origin
            .to_str()
            .ok()
            .and_then(|o| o.strip_prefix("http://"))
            .is_some_and(|authority| is_loopback_authority(authority, port));
        if !own {
            return Err(Refusal::ForeignOrigin);
        }
    }
    let fetch_site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
    if matches!(fetch_site, Some(b"cross-site" | b"same-site")) {
        return Err(Refusal::ForeignOrigin);
    }
    Ok(())
}

/// The token of `Bearer TOKEN` (the scheme's name is case-insensitive, RFC 9110 §11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

/// `127.0.0.1:PORT`, `localhost:PORT` or `[::1]:PORT`, with exactly this endpoint's port.
fn is_loopback_authority(authority: &str, port: u16) -> bool {
    let Some((host, p)) = authority.rsplit_once(':') else {
        return false;
    };
    let loopback = matches!(
        host.to_ascii_lowercase().as_str(),
        "127.0.0.1" | "localhost" | "[::1]"
    );
    loopback && p.parse::<u16>() == Ok(port)
}

/// Compares without returning early, so the time taken says nothing about the token.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORT: u16 = 40123;
    const TOKEN: &str = "s3cr3t";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn own(extra: &[(&'static str, &str)]) -> HeaderMap {
        let mut pairs = vec![("host", "127.0.0.1:40123")];
        pairs.extend_from_slice(extra);
        headers(&pairs)
    }

    #[test]
    fn the_labs_own_cli_passes() {
        let h = own(&[("authorization", "Bearer s3cr3t")]);
        assert_eq!(authorize(&h, PORT, TOKEN), Ok(()));
        let h = headers(&[
            ("host", "localhost:40123"),
            ("authorization", "Bearer s3cr3t"),
        ]);
        assert_eq!(authorize(&h, PORT, TOKEN), Ok(()));
        let h = own(&[("authorization", "bearer s3cr3t")]);
        assert_eq!(
            authorize(&h, PORT, TOKEN),
            Ok(()),
            "the scheme is case-insensitive"
        );
    }

    #[test]
    fn no_or_wrong_credential_is_refused() {
        assert_eq!(
            authorize(&own(&[]), PORT, TOKEN),
            Err(Refusal::MissingCredential)
        );
        let h = own(&[("authorization", "Bearer guess")]);
        assert_eq!(authorize(&h, PORT, TOKEN), Err(Refusal::WrongCredential));
        let h = own(&[("authorization", "Basic czNjcjN0")]);
        assert_eq!(authorize(&h, PORT, TOKEN), Err(Refusal::MissingCredential));
    }

    #[test]
    fn a_rebound_or_missing_host_is_refused_even_with_the_token() {
        let h = headers(&[
            ("host", "evil.example:40123"),
            ("authorization", "Bearer s3cr3t"),
        ]);
        assert_eq!(authorize(&h, PORT, TOKEN), Err(Refusal::ForeignHost));
        let h = headers(&[("authorization", "Bearer s3cr3t")]);
        assert_eq!(authorize(&h, PORT, TOKEN), Err(Refusal::ForeignHost));
        let h = headers(&[("host", "127.0.0.1:1"), ("authorization", "Bearer s3cr3t")]);
        assert_eq!(authorize(&h, PORT, TOKEN), Err(Refusal::ForeignHost));
    }

    #[test]
    fn other_web_origins_are_refused() {
        for origin in ["http://evil.example", "null", "https://127.0.0.1:40123"] {
            let h = own(&[("origin", origin), ("authorization", "Bearer s3cr3t")]);
            assert_eq!(
                authorize(&h, PORT, TOKEN),
                Err(Refusal::ForeignOrigin),
                "{origin}"
            );
        }
        let h = own(&[
            ("sec-fetch-site", "cross-site"),
            ("authorization", "Bearer s3cr3t"),
        ]);
        assert_eq!(authorize(&h, PORT, TOKEN), Err(Refusal::ForeignOrigin));
        let h = own(&[
            ("origin", "http://127.0.0.1:40123"),
            ("authorization", "Bearer s3cr3t"),
        ]);
        assert_eq!(authorize(&h, PORT, TOKEN), Ok(()));
    }

    #[test]
    fn tokens_are_long_and_fresh() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), TOKEN_LEN);
        assert_ne!(a, b);
    }
}
