//! ALB's condition patterns: `*` matches any run of characters (also none), `?` exactly one,
//! `\` makes the next character literal. Matching is byte-wise (values are ASCII by the config
//! rules) and linear in practice: the classic greedy match that backtracks only to the last `*`.

/// One compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    tokens: Vec<Token>,
    case_insensitive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal(u8),
    One,
    Many,
}

impl Pattern {
    /// A case-sensitive pattern (path-pattern).
    pub fn exact_case(text: &str) -> Pattern {
        Pattern::compile(text, false)
    }

    /// A case-insensitive pattern (host-header, http-header, query-string).
    pub fn any_case(text: &str) -> Pattern {
        Pattern::compile(text, true)
    }

    fn compile(text: &str, case_insensitive: bool) -> Pattern {
        let mut tokens = Vec::with_capacity(text.len());
        let mut bytes = text.bytes();
        while let Some(b) = bytes.next() {
            tokens.push(match b {
                b'*' => Token::Many,
                b'?' => Token::One,
                b'\\' => Token::Literal(fold(bytes.next().unwrap_or(b'\\'), case_insensitive)),
                b => Token::Literal(fold(b, case_insensitive)),
            });
        }
        Pattern {
            tokens,
            case_insensitive,
        }
    }

    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        let text = text.as_bytes();
        let (mut t, mut p) = (0usize, 0usize);
        // Where the last `*` was and how much text it has swallowed so far.
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match self.tokens.get(p) {
                Some(Token::Many) => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(Token::One) => {
                    p += 1;
                    t += 1;
                }
                Some(Token::Literal(b)) if *b == fold(text[t], self.case_insensitive) => {
                    p += 1;
                    t += 1;
                }
                _ => match star {
                    // Let the last `*` swallow one more character and retry from there.
                    Some((sp, st)) => {
                        star = Some((sp, st + 1));
                        p = sp + 1;
                        t = st + 1;
                    }
                    None => return false,
                },
            }
        }
        self.tokens[p..].iter().all(|t| *t == Token::Many)
    }
}

fn fold(b: u8, case_insensitive: bool) -> u8 {
    if case_insensitive {
        b.to_ascii_lowercase()
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        Pattern::exact_case(pattern).matches(text)
    }

    #[test]
    fn literals_match_whole_text_only() {
        assert!(m("/api", "/api"));
        assert!(!m("/api", "/api/"));
        assert!(!m("/api", "/ap"));
        assert!(m("", ""));
        assert!(!m("", "x"));
    }

    #[test]
    fn star_matches_any_run_including_none() {
        assert!(m("/api/*", "/api/"));
        assert!(m("/api/*", "/api/v1/items"));
        assert!(!m("/api/*", "/api"));
        assert!(m("*", ""));
        assert!(m("*.png", "/img/a.b.png"));
        assert!(m("/a*b*c", "/aXXbYYbZc"));
        assert!(!m("/a*b*c", "/aXXbYY"));
        assert!(m("**x", "x"));
    }

    #[test]
    fn question_mark_is_exactly_one() {
        assert!(m("/v?/x", "/v1/x"));
        assert!(!m("/v?/x", "/v/x"));
        assert!(!m("/v?/x", "/v12/x"));
        assert!(m("?*", "a"));
        assert!(!m("?*", ""));
    }

    #[test]
    fn case_sensitivity_is_chosen_per_condition() {
        assert!(!m("/API/*", "/api/x"));
        assert!(Pattern::any_case("*.EXAMPLE.com").matches("www.example.COM"));
        assert!(!Pattern::any_case("*.example.com").matches("example.com"));
    }

    #[test]
    fn backslash_escapes_wildcards() {
        assert!(m(r"a\*b", "a*b"));
        assert!(!m(r"a\*b", "aXb"));
        assert!(m(r"what\?", "what?"));
        assert!(!m(r"what\?", "whatX"));
    }

    #[test]
    fn many_stars_do_not_blow_up() {
        let text = "a".repeat(2000);
        assert!(!m("*a*a*a*a*a*b", &text));
    }
}
