//! Key paths as diagnostics print them: `target-groups.flask-app-tg.health-check.timeout`,
//! `load-balancers.alb.listeners[1].port`. Names that are not bare TOML keys are quoted.

/// One path segment, quoted when it is not a bare key (so that a name with a dot stays one).
pub fn seg(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        name.to_string()
    } else {
        format!("{name:?}")
    }
}

/// `parent.child` (or `child` at the root).
pub fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        seg(child)
    } else {
        format!("{parent}.{}", seg(child))
    }
}

/// Splits off the last segment: `("a.b", "c")` for `a.b.c`. Dots inside quotes do not split.
pub fn split_last(path: &str) -> (&str, &str) {
    let mut in_quotes = false;
    let mut last_dot = None;
    let mut escaped = false;
    for (i, c) in path.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '.' if !in_quotes => last_dot = Some(i),
            _ => {}
        }
    }
    match last_dot {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

/// The path one level up: drops a trailing `[i]` or the last segment.
pub fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    if path.ends_with(']') {
        if let Some(open) = path.rfind('[') {
            return Some(&path[..open]);
        }
    }
    Some(split_last(path).0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_non_bare_names() {
        assert_eq!(join("vpc.subnets", "a-1"), "vpc.subnets.a-1");
        assert_eq!(join("x", "a.b"), "x.\"a.b\"");
        assert_eq!(split_last("x.\"a.b\".c"), ("x.\"a.b\"", "c"));
        assert_eq!(split_last("x.\"a.b\""), ("x", "\"a.b\""));
        assert_eq!(split_last("lab"), ("", "lab"));
    }

    #[test]
    fn parent_drops_index_then_segment() {
        assert_eq!(parent("a.listeners[1]"), Some("a.listeners"));
        assert_eq!(parent("a.listeners"), Some("a"));
        assert_eq!(parent("a"), Some(""));
        assert_eq!(parent(""), None);
    }
}
