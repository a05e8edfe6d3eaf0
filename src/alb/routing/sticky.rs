//! Duration-based stickiness cookies, as ALB sets them: `AWSALB` (target) and `AWSALBTG`
//! (target group of a weighted forward), each with a `...CORS` twin carrying `SameSite=None;
//! Secure` so cross-site requests keep it (HTTPS listeners only: browsers drop `Secure` cookies
//! sent over HTTP).
//!
//! The value is an opaque token: a random number drawn when the target (or the group entry) is
//! created, so a replaced target never inherits the old one's clients.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderValue;
use http::header::{COOKIE, HeaderMap};

use crate::config::ListenerProtocol;

/// Target stickiness cookie.
pub const TARGET_COOKIE: &str = "AWSALB";
/// Its cross-site twin.
pub const TARGET_CORS_COOKIE: &str = "AWSALBCORS";
/// Target-group stickiness cookie of a weighted forward.
pub const GROUP_COOKIE: &str = "AWSALBTG";
/// Its cross-site twin.
pub const GROUP_CORS_COOKIE: &str = "AWSALBTGCORS";

/// The token of cookie `name` (or `cors_name`) in the request, if present and well formed.
pub fn token(headers: &HeaderMap, name: &str, cors_name: &str) -> Option<u64> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == name || *k == cors_name)
        .find_map(|(_, v)| decode(v))
}

/// The `Set-Cookie` values that keep a client on `token` for `duration` from `now`.
pub fn set_cookies(
    name: &str,
    cors_name: &str,
    token: u64,
    duration: Duration,
    protocol: ListenerProtocol,
    now: SystemTime,
) -> impl Iterator<Item = HeaderValue> {
    let expires = http_date(now + duration);
    let value = encode(token);
    let plain = format!("{name}={value}; Expires={expires}; Path=/");
    let cors = (protocol == ListenerProtocol::Https)
        .then(|| format!("{cors_name}={value}; Expires={expires}; Path=/; SameSite=None; Secure"));
    std::iter::once(plain)
        .chain(cors)
        .filter_map(|c| HeaderValue::from_str(&c).ok())
}

/// 16 hex digits: opaque to the client, cheap to check.
fn encode(token: u64) -> String {
    format!("{token:016x}")
}

fn decode(value: &str) -> Option<u64> {
    let value = value.trim().trim_matches('"');
    (value.len() == 16)
        .then(|| u64::from_str_radix(value, 16).ok())
        .flatten()
}

/// IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86400;
    let (y, m, d) = civil_from_days(days as i64);
    let rem = secs % 86400;
    format!(
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month 1..=12, day 1..=31); Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_are_imf_fixdate() {
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(http_date(leap), "Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn cookies_round_trip_and_cors_only_on_https() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777);
        let day = Duration::from_secs(86400);
        let http: Vec<_> = set_cookies(
            "AWSALB",
            "AWSALBCORS",
            0xabc,
            day,
            ListenerProtocol::Http,
            now,
        )
        .collect();
        assert_eq!(http.len(), 1);
        assert_eq!(
            http[0],
            "AWSALB=0000000000000abc; Expires=Mon, 07 Nov 1994 08:49:37 GMT; Path=/"
        );
        let https: Vec<_> = set_cookies(
            "AWSALB",
            "AWSALBCORS",
            0xabc,
            day,
            ListenerProtocol::Https,
            now,
        )
        .collect();
        assert_eq!(https.len(), 2);
        assert!(
            https[1]
                .to_str()
                .unwrap()
                .starts_with("AWSALBCORS=0000000000000abc;")
        );
        assert!(
            https[1]
                .to_str()
                .unwrap()
                .ends_with("SameSite=None; Secure")
        );

        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "a=1; AWSALB=0000000000000abc; b=2".parse().unwrap());
        assert_eq!(token(&headers, "AWSALB", "AWSALBCORS"), Some(0xabc));
        headers.insert(COOKIE, "AWSALBCORS=00000000000000ff".parse().unwrap());
        assert_eq!(token(&headers, "AWSALB", "AWSALBCORS"), Some(0xff));
        headers.insert(COOKIE, "AWSALB=garbage".parse().unwrap());
        assert_eq!(token(&headers, "AWSALB", "AWSALBCORS"), None);
        headers.insert(COOKIE, "AWSALBTG=0000000000000001".parse().unwrap());
        assert_eq!(
            token(&headers, "AWSALB", "AWSALBCORS"),
            None,
            "other cookie names"
        );
    }
}
