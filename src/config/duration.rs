//! Durations as written in `emulator.toml`: `"500ms"`, `"30s"`, `"2m"`, `"1h"`, `"1d"`, or a sum such as
//! `"1m30s"`. A tiny parser rather than a crate: the grammar is five units.

use std::time::Duration;

/// Parses a duration string. The error says what was expected.
pub fn parse(text: &str) -> Result<Duration, String> {
    const EXPECTED: &str =
        "expected a number with a unit: ms, s, m, h or d (e.g. \"30s\", \"500ms\")";
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(format!("empty duration; {EXPECTED}"));
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit_len = rest[digits..]
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len() - digits);
        let (number, unit) = (&rest[..digits], &rest[digits..digits + unit_len]);
        let n: u64 = number.parse().map_err(|_| EXPECTED.to_string())?;
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "d" => Duration::from_secs(n.saturating_mul(86400)),
            "" => return Err(format!("missing unit after `{number}`; {EXPECTED}")),
            other => return Err(format!("unknown unit `{other}`; {EXPECTED}")),
        };
        total = total.saturating_add(part);
        rest = &rest[digits + unit_len..];
    }
    Ok(total)
}

/// Prints a duration the way it would be written in the file (`2s`, `500ms`, `1m30s`).
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    if ms % 1000 != 0 {
        return format!("{ms}ms");
    }
    let secs = ms / 1000;
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_bad_syntax() {
        assert!(parse("30").unwrap_err().contains("missing unit after `30`"));
        assert!(parse("30sec").unwrap_err().contains("unknown unit `sec`"));
        assert!(parse("s").is_err());
        assert!(parse("").is_err());
        assert!(parse("-1s").is_err());
    }

    #[test]
    fn formats_like_the_file() {
        assert_eq!(format(Duration::from_secs(2)), "2s");
        assert_eq!(format(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format(Duration::from_secs(120)), "2m");
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
    }
}
