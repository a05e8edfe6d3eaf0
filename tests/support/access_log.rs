//! Reading access log files back: find them, split lines into ALB's fields.

use std::path::{Path, PathBuf};

/// Fields of an ALB access log line (type ... conn_trace_id).
pub const FIELDS: usize = 30;

/// Every `.log` file under `dir`, recursively.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if path.extension().is_some_and(|e| e == "log") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Every line of every file under `dir`, split into fields (quotes removed).
pub fn entries(dir: &Path) -> Vec<Vec<String>> {
    files(dir)
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.lines().map(split).collect::<Vec<_>>()
        })
        .collect()
}

/// Splits a line at spaces outside double quotes; `\"` inside quotes is a quote.
pub fn split(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in line.chars() {
        match c {
            _ if escaped => {
                current.push(c);
                escaped = false;
            }
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ' ' if !quoted => fields.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    fields.push(current);
    assert!(!quoted, "unbalanced quotes in {line}");
    fields
}
