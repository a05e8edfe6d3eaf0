//! Text → [`wire::File`]: TOML syntax and serde type errors as diagnostics with lines.
//!
//! Unknown keys are collected all at once: each is reported, removed from the tree, and the
//! document deserialized again. Any other serde error (wrong type, missing key) stops here,
//! because what follows would be guesswork.

use std::path::Path;

use serde::Deserialize;
use toml::de::{DeTable, Deserializer};

use super::error::Diagnostic;
use super::locate::{self, Locator};
use super::{path, suggest, wire};

/// More unknown keys than this in one file is not a typo; stop listing.
const MAX_UNKNOWN_KEYS: usize = 50;

/// Parses and deserializes `text`. On success also returns the locator for later diagnostics.
pub fn read(text: &str, file: &Path) -> Result<(wire::File, Locator), Vec<Diagnostic>> {
    let diag = |line, key_path: &str, value, message| Diagnostic {
        file: file.to_path_buf(),
        line,
        key_path: key_path.to_string(),
        value,
        message,
    };
    let root = DeTable::parse(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        vec![diag(
            line,
            "",
            None,
            format!("TOML syntax error: {}", e.message().trim()),
        )]
    })?;
    let span = root.span();
    let mut tree = root.into_inner();
    let locator = Locator::new(text, &tree);
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    // (table, key) pairs offered as "did you mean": their "missing key" would only repeat it.
    let mut suggested: Vec<(String, String)> = Vec::new();
    let err = loop {
        let de = Deserializer::from(toml::Spanned::new(span.clone(), tree.clone()));
        let err = match wire::File::deserialize(de) {
            Ok(file) if diagnostics.is_empty() => return Ok((file, locator)),
            Ok(_) => break None,
            Err(err) => err,
        };
        let offset = err.span().map(|s| s.start);
        let line = offset.map(|o| locator.line_of_offset(o));
        let at = offset.and_then(|o| locator.key_at(o));
        let (Some((message, close)), Some((key_path, segs))) = (unknown_key(err.message()), at)
        else {
            break Some(err);
        };
        let table = path::parent(key_path).unwrap_or_default();
        diagnostics.push(diag(line, table, None, message));
        suggested.extend(close.map(|c| (table.to_string(), c)));
        let segs = segs.to_vec();
        if !locate::remove(&mut tree, &segs) || diagnostics.len() >= MAX_UNKNOWN_KEYS {
            break None;
        }
    };
    if let Some(err) = err {
        let offset = err.span().map(|s| s.start);
        let key_path = offset
            .and_then(|o| locator.key_at(o))
            .map_or("", |(p, _)| p);
        let message = err.message().trim();
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|m| m.strip_suffix('`'));
        let repeats =
            missing.is_some_and(|m| suggested.iter().any(|(t, k)| t == key_path && k == m));
        if !repeats {
            let value = err
                .span()
                .filter(|_| missing.is_none() && !key_path.is_empty());
            let value = value.map(|s| shown_value(&text[s]));
            let line = offset.map(|o| locator.line_of_offset(o));
            diagnostics.push(diag(line, key_path, value, friendly(message)));
        }
    }
    diagnostics.sort_by_key(|d| d.line);
    Err(diagnostics)
}

/// A value as written, cut to its first line (an array may span many).
fn shown_value(raw: &str) -> String {
    let raw = raw.trim();
    match raw.split_once('\n') {
        Some((first, _)) => format!("{} ...", first.trim_end()),
        None => raw.to_string(),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// serde's `unknown field `x`, expected one of `a`, `b`` → `unknown key `x` (did you mean `a`?)`,
/// with the suggested key.
fn unknown_key(message: &str) -> Option<(String, Option<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (name, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let close = suggest::closest(name, candidates.iter().copied());
    let message = match close {
        Some(c) => format!("unknown key `{name}` (did you mean `{c}`?)"),
        None if candidates.is_empty() => format!("unknown key `{name}` (this table takes no keys)"),
        None => format!(
            "unknown key `{name}` (allowed: {})",
            suggest::backticked(&candidates)
        ),
    };
    Some((message, close.map(str::to_string)))
}

/// Rewords serde's messages in the file's terms: keys, tables, arrays, integers.
fn friendly(message: &str) -> String {
    let mut message = message
        .replace("missing field", "missing key")
        .replace("invalid type:", "wrong type:");
    if let Some(at) = message.find(", expected struct ") {
        message.replace_range(at.., ", expected a table");
    }
    [
        ("expected i64", "expected an integer"),
        ("expected u16", "expected an integer"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected a table"),
        ("expected a borrowed string", "expected a string"),
    ]
    .iter()
    .fold(message, |m, (from, to)| m.replace(from, to))
}
