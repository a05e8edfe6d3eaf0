//! The validation context: collects diagnostics and holds the checks every section shares.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::super::error::Diagnostic;
use super::super::{duration, suggest};

/// Collects diagnostics while the sections are checked.
pub struct Ctx<'a> {
    file: &'a Path,
    base_dir: &'a Path,
    pub diagnostics: Vec<Diagnostic>,
}

/// A string as TOML writes it, for the `key = value` part of messages.
pub fn q(s: &str) -> String {
    format!("{s:?}")
}

/// A list of strings as TOML writes it.
pub fn list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| q(s)).collect();
    format!("[{}]", items.join(", "))
}

impl<'a> Ctx<'a> {
    pub fn new(file: &'a Path, base_dir: &'a Path) -> Self {
        Ctx {
            file,
            base_dir,
            diagnostics: Vec::new(),
        }
    }

    /// Records a problem with `key = value`.
    pub fn bad(&mut self, key_path: &str, value: String, message: impl Into<String>) {
        self.push(key_path, Some(value), message.into());
    }

    /// Records a problem with a whole table or a missing key.
    pub fn table(&mut self, key_path: &str, message: impl Into<String>) {
        self.push(key_path, None, message.into());
    }

    fn push(&mut self, key_path: &str, value: Option<String>, message: String) {
        self.diagnostics.push(Diagnostic {
            file: self.file.to_path_buf(),
            line: None,
            key_path: key_path.to_string(),
            value,
            message,
        });
    }

    /// A duration key, or `default` when absent. A bad one is reported and replaced by `default`
    /// so that checking can go on.
    pub fn duration(&mut self, key_path: &str, value: Option<&str>, default: Duration) -> Duration {
        let Some(text) = value else { return default };
        duration::parse(text).unwrap_or_else(|e| {
            self.bad(key_path, q(text), e);
            default
        })
    }

    /// An integer key that must lie in `range`. `None` (and a diagnostic) if outside.
    pub fn int_in(
        &mut self,
        key_path: &str,
        value: i64,
        range: RangeInclusive<i64>,
    ) -> Option<u32> {
        if range.contains(&value) {
            return u32::try_from(value).ok();
        }
        let (lo, hi) = (range.start(), range.end());
        self.bad(
            key_path,
            value.to_string(),
            format!("must be between {lo} and {hi}"),
        );
        None
    }

    /// A TCP port, 1..=65535 (0 is refused: it is not a port a peer can use).
    pub fn port(&mut self, key_path: &str, value: i64) -> u16 {
        self.int_in(key_path, value, 1..=65535)
            .map_or(0, |p| p as u16)
    }

    /// Checks that `name` is one of `names`; the message lists them or suggests the closest.
    pub fn exists<'n>(
        &mut self,
        key_path: &str,
        kind: &str,
        name: &str,
        names: impl IntoIterator<Item = &'n String>,
    ) -> bool {
        self.exists_in(key_path, q(name), kind, name, names)
    }

    /// [`Ctx::exists`] for a name inside a larger value (shown as `shown`).
    pub fn exists_in<'n>(
        &mut self,
        key_path: &str,
        shown: String,
        kind: &str,
        name: &str,
        names: impl IntoIterator<Item = &'n String>,
    ) -> bool {
        let names: Vec<&str> = names.into_iter().map(String::as_str).collect();
        if names.contains(&name) {
            return true;
        }
        let plural = format!("{kind}s");
        let hint = suggest::hint(name, &plural, names);
        self.bad(
            key_path,
            shown,
            format!("no {kind} `{name}` is defined; {hint}"),
        );
        false
    }

    /// A Docker build context: resolved against the config's directory; must be a directory with
    /// a Dockerfile, because it is only used when the image is missing and then must work.
    pub fn build_dir(&mut self, key_path: &str, value: Option<&str>) -> Option<PathBuf> {
        let text = value?;
        let dir = self.resolve(text);
        if !dir.is_dir() {
            let msg = format!("build context `{}` is not a directory", dir.display());
            self.bad(key_path, q(text), msg);
        } else if !dir.join("Dockerfile").is_file() {
            let msg = format!("build context `{}` has no Dockerfile", dir.display());
            self.bad(key_path, q(text), msg);
        }
        Some(dir)
    }

    /// A path from the file, made absolute against the config's directory.
    pub fn resolve(&self, text: &str) -> PathBuf {
        self.base_dir.join(text)
    }
}
