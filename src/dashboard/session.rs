//! Who may see the dashboard: a browser that was given the lab's token once, in the URL
//! `tierlab dashboard` opens (`/dashboard/?token=...`), and exchanged it for a cookie.
//!
//! - The cookie is `HttpOnly` (page scripts cannot read it) and `SameSite=Strict` (no other
//!   site's page can make the browser send it), scoped to `/dashboard`, and named after the
//!   endpoint's port, because cookies are per host, not per port: two labs' dashboards in one
//!   browser each keep their own.
//! - Its value is not the token but an HMAC of it: it opens the dashboard only, never the
//!   control API the CLI uses (which still wants `Authorization: Bearer <token>`).
//! - Host and Origin are checked as for the API ([`crate::control::auth::same_origin`]).
//!
//! Pure functions over headers and the query; [`super::routes`] answers.

use http::HeaderMap;
use http::header::COOKIE;
use ring::hmac;

use crate::control::auth::{Refusal, constant_time_eq, same_origin};

/// The context of the HMAC, so the session value is good for nothing else.
const SESSION_CONTEXT: &[u8] = b"tierlab dashboard session v1";

/// What a dashboard request presented, once Host and Origin passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// The session cookie (or the CLI's bearer token): serve it.
    Session,
    /// The right token in the query: set the cookie and send the browser on without it.
    Exchange,
}

/// The session cookie's name for the endpoint on `port`.
pub fn cookie_name(port: u16) -> String {
    format!("tierlab-dashboard-{port}")
}

/// The session value for `token` (hex HMAC-SHA256).
pub fn session_value(token: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, token.as_bytes());
    hex::encode(hmac::sign(&key, SESSION_CONTEXT).as_ref())
}

/// The `Set-Cookie` value that signs a browser in.
pub fn set_cookie(port: u16, token: &str) -> String {
    format!(
        "{}={}; Path=/dashboard; HttpOnly; SameSite=Strict",
        cookie_name(port),
        session_value(token)
    )
}

/// Whether a dashboard request may be served, and how. Checked in this order: Host and
/// Origin, a token in the query, the session cookie, a bearer token (scripts and tests).
pub fn authorize(
    headers: &HeaderMap,
    query: Option<&str>,
    port: u16,
    token: &str,
) -> Result<Access, Refusal> {
    same_origin(headers, port)?;
    if let Some(given) = query_token(query) {
        return if constant_time_eq(given.as_bytes(), token.as_bytes()) {
            Ok(Access::Exchange)
        } else {
            Err(Refusal::WrongCredential)
        };
    }
    let expected = session_value(token);
    if let Some(value) = cookie(headers, &cookie_name(port)) {
        return if constant_time_eq(value.as_bytes(), expected.as_bytes()) {
            Ok(Access::Session)
        } else {
            Err(Refusal::WrongCredential)
        };
    }
    crate::control::auth::authorize(headers, port, token).map(|()| Access::Session)
}

/// The value of `token=` in a query string.
fn query_token(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORT: u16 = 40123;
    const TOKEN: &str = "s3cr3t";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.append("host", "127.0.0.1:40123".parse().unwrap());
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn signed_in() -> String {
        format!("other=1; {}={}", cookie_name(PORT), session_value(TOKEN))
    }

    #[test]
    fn the_token_in_the_url_is_exchanged_for_a_cookie() {
        let h = headers(&[]);
        assert_eq!(
            authorize(&h, Some("token=s3cr3t"), PORT, TOKEN),
            Ok(Access::Exchange)
        );
        assert_eq!(
            authorize(&h, Some("token=guess"), PORT, TOKEN),
            Err(Refusal::WrongCredential)
        );
        let cookie = set_cookie(PORT, TOKEN);
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(!cookie.contains(TOKEN), "the cookie is not the token");
    }

    #[test]
    fn the_cookie_opens_the_dashboard_and_nothing_else_does() {
        let h = headers(&[("cookie", &signed_in())]);
        assert_eq!(authorize(&h, None, PORT, TOKEN), Ok(Access::Session));
        let h = headers(&[("cookie", "tierlab-dashboard-40123=00ff")]);
        assert_eq!(
            authorize(&h, None, PORT, TOKEN),
            Err(Refusal::WrongCredential)
        );
        // Another lab's cookie (another port) is not this one's.
        let h = headers(&[(
            "cookie",
            &format!("tierlab-dashboard-1={}", session_value(TOKEN)),
        )]);
        assert_eq!(
            authorize(&h, None, PORT, TOKEN),
            Err(Refusal::MissingCredential)
        );
        assert_eq!(
            authorize(&headers(&[]), None, PORT, TOKEN),
            Err(Refusal::MissingCredential)
        );
        let h = headers(&[("authorization", "Bearer s3cr3t")]);
        assert_eq!(authorize(&h, None, PORT, TOKEN), Ok(Access::Session));
    }

    #[test]
    fn other_sites_are_refused_even_with_the_cookie() {
        let h = headers(&[("cookie", &signed_in()), ("origin", "http://evil.example")]);
        assert_eq!(
            authorize(&h, None, PORT, TOKEN),
            Err(Refusal::ForeignOrigin)
        );
        let h = headers(&[
            ("cookie", &signed_in()),
            ("origin", "http://127.0.0.1:40123"),
        ]);
        assert_eq!(authorize(&h, None, PORT, TOKEN), Ok(Access::Session));
    }

    #[test]
    fn a_session_value_cannot_be_used_as_the_api_token() {
        assert_ne!(session_value(TOKEN), TOKEN);
        assert_eq!(session_value(TOKEN).len(), 64);
        assert_ne!(session_value(TOKEN), session_value("other"));
    }
}
