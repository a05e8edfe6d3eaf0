//! FilterLogEvents' filter patterns for unstructured events, as CloudWatch Logs reads them:
//!
//! - `ERROR` — events containing the term (case-sensitive);
//! - `ERROR Exception` — events containing every term;
//! - `"GET /items"` — a quoted phrase, matched as written (spaces and punctuation included);
//! - `?ERROR ?WARN` — events containing at least one of the `?` terms;
//! - `ERROR -Exiting` — events with `ERROR` and without `Exiting`;
//! - an empty pattern matches every event.
//!
//! JSON patterns (`{ $.level = "error" }`), space-delimited ones (`[ip, user, ...]`) and
//! regular expressions (`%...%`) are refused with a message that says so, rather than matched
//! as if they were terms.

/// A parsed pattern.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterPattern {
    /// Every one must occur.
    required: Vec<String>,
    /// At least one must occur (when there are any).
    any_of: Vec<String>,
    /// None may occur.
    excluded: Vec<String>,
}

/// Why a pattern cannot be used; the message is the InvalidParameterException's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

impl FilterPattern {
    /// Parses `pattern`.
    pub fn parse(pattern: &str) -> Result<FilterPattern, FilterError> {
        let pattern = pattern.trim();
        let unsupported = |kind: &str| {
            FilterError(format!(
                "Invalid filter pattern `{pattern}`: tierlab does not support {kind} filter patterns yet; use terms, \"quoted phrases\", ?alternatives and -exclusions."
            ))
        };
        match pattern.chars().next() {
            Some('{') => return Err(unsupported("JSON")),
            Some('[') => return Err(unsupported("space-delimited")),
            Some('%') => return Err(unsupported("regular expression")),
            _ => {}
        }
        let mut parsed = FilterPattern::default();
        let mut rest = pattern;
        while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
            rest = &rest[start..];
            let (kind, body) = match rest.as_bytes()[0] {
                b'?' => (Some('?'), &rest[1..]),
                // A lone `-` (a common placeholder field) is a term of its own.
                b'-' if rest[1..].starts_with(|c: char| !c.is_whitespace()) => {
                    (Some('-'), &rest[1..])
                }
                _ => (None, rest),
            };
            let (term, after) = read_term(body)
                .map_err(|e| FilterError(format!("Invalid filter pattern `{pattern}`: {e}")))?;
            rest = after;
            match kind {
                Some('?') => parsed.any_of.push(term),
                Some(_) => parsed.excluded.push(term),
                None => parsed.required.push(term),
            }
        }
        Ok(parsed)
    }

    /// Whether `message` matches.
    pub fn matches(&self, message: &str) -> bool {
        self.required.iter().all(|t| message.contains(t.as_str()))
            && (self.any_of.is_empty() || self.any_of.iter().any(|t| message.contains(t.as_str())))
            && !self.excluded.iter().any(|t| message.contains(t.as_str()))
    }
}

/// One term at the start of `s` (a quoted phrase, with `\"` and `\\` escapes, or a word up to
/// the next space) and what follows it.
fn read_term(s: &str) -> Result<(String, &str), &'static str> {
    let Some(quoted) = s.strip_prefix('"') else {
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        if end == 0 {
            return Err("a `?` or `-` must be followed by a term");
        }
        return Ok((s[..end].to_string(), &s[end..]));
    };
    let mut term = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((term, &quoted[i + 1..])),
            '\\' => match chars.next() {
                Some((_, escaped)) => term.push(escaped),
                None => break,
            },
            c => term.push(c),
        }
    }
    Err("a quoted phrase is not closed")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, message: &str) -> bool {
        FilterPattern::parse(pattern).unwrap().matches(message)
    }

    #[test]
    fn an_empty_pattern_matches_everything() {
        assert!(matches("", "anything"));
        assert!(matches("   ", ""));
    }

    #[test]
    fn plain_terms_must_all_occur_case_sensitively() {
        assert!(matches("ERROR", "[ERROR] boom"));
        assert!(!matches("ERROR", "[error] boom"));
        assert!(matches("GET 200", "\"GET /items HTTP/1.1\" 200 17"));
        assert!(!matches("GET 404", "\"GET /items HTTP/1.1\" 200 17"));
    }

    #[test]
    fn quoted_phrases_match_as_written() {
        assert!(matches("\"GET /items\"", "\"GET /items HTTP/1.1\" 200"));
        assert!(!matches("\"GET /items\"", "GET  /items"));
        assert!(matches(r#""say \"hi\"""#, r#"they say "hi" loudly"#));
    }

    #[test]
    fn question_mark_terms_are_alternatives() {
        assert!(matches("?ERROR ?WARN", "[WARN] disk"));
        assert!(matches("?ERROR ?WARN", "[ERROR] disk"));
        assert!(!matches("?ERROR ?WARN", "[INFO] disk"));
        // With a plain term, that term is still required.
        assert!(!matches("disk ?ERROR ?WARN", "[WARN] cpu"));
        assert!(matches("disk ?ERROR ?WARN", "[WARN] disk"));
    }

    #[test]
    fn minus_terms_exclude() {
        assert!(matches("ERROR -Exiting", "ERROR timeout"));
        assert!(!matches("ERROR -Exiting", "ERROR Exiting now"));
        assert!(matches("-\"GET /health\"", "GET /items"));
        assert!(!matches("-\"GET /health\"", "GET /health 200"));
        // A lone minus is a term of its own (a common log field placeholder).
        assert!(matches("-", "- - [02/Dec/2026]"));
        assert!(matches("- 200", "- - \"GET /\" 200"));
    }

    #[test]
    fn json_space_delimited_and_regex_patterns_are_refused_with_a_clear_message() {
        for (pattern, kind) in [
            ("{ $.level = \"error\" }", "JSON"),
            ("[ip, user, status=5*]", "space-delimited"),
            ("%ERR.R%", "regular expression"),
        ] {
            let err = FilterPattern::parse(pattern).unwrap_err();
            assert!(
                err.0
                    .contains(&format!("does not support {kind} filter patterns")),
                "{err}"
            );
        }
    }

    #[test]
    fn broken_patterns_are_refused() {
        assert!(
            FilterPattern::parse("\"open")
                .unwrap_err()
                .0
                .contains("not closed")
        );
        assert!(
            FilterPattern::parse("? x")
                .unwrap_err()
                .0
                .contains("followed by a term")
        );
    }
}
