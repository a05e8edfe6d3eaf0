//! `emulator.toml` → [`Config`]: read the text, deserialize it into the wire structs
//! ([`wire`]), then validate and convert into the typed model ([`model`]). Every problem found
//! is reported at once, each naming file, line, key and value.

mod cidr;
mod defaults;
pub mod duration;
pub mod env_ref;
mod error;
mod locate;
mod model;
mod path;
mod read;
mod security;
mod suggest;
mod validate;
mod wire;

use std::path::Path;

pub use error::{ConfigError, Diagnostic};
pub use model::*;
pub use security::{egress_allows, ingress_allows, sg_allows, sg_allows_under};
pub use validate::{
    DEFAULT_COOLDOWN, INSTANCE_CLASSES, MAX_COOLDOWN, MAX_READ_REPLICAS, check_db_identifier,
    parse_matcher,
};

/// Reads and validates the config file at `path`. Relative paths in it (build contexts, PEM
/// files, the state dir) are resolved against the file's directory.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| ConfigError::Invalid {
        diagnostics: vec![not_utf8(path, e.as_bytes(), e.utf8_error())],
    })?;
    // `Path::new("emulator.toml").parent()` is `""`, which `absolute` refuses.
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let base_dir = std::path::absolute(dir).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path, &base_dir)
}

/// Validates config text. `source` is only used in messages; `base_dir` resolves relative paths.
pub fn parse(text: &str, source: &Path, base_dir: &Path) -> Result<Config, ConfigError> {
    let invalid = |diagnostics| ConfigError::Invalid { diagnostics };
    let (file, locator) = read::read(text, source).map_err(invalid)?;
    let mut config = validate::validate(file, source, base_dir, &locator).map_err(invalid)?;
    config.text = text.into();
    Ok(config)
}

/// Where a file stops being UTF-8: byte offset, line and column (counted in characters).
fn not_utf8(path: &Path, bytes: &[u8], err: std::str::Utf8Error) -> Diagnostic {
    let offset = err.valid_up_to();
    let before = &bytes[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    // The bytes up to `offset` are valid UTF-8, so this never falls back.
    let column = std::str::from_utf8(&before[line_start..]).map_or(0, |s| s.chars().count()) + 1;
    let shown = bytes[offset..]
        .iter()
        .take(err.error_len().unwrap_or(bytes.len() - offset).min(4))
        .map(|b| format!("0x{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    Diagnostic {
        file: path.to_path_buf(),
        line: Some(line),
        key_path: String::new(),
        value: None,
        message: format!(
            "not valid UTF-8 at byte offset {offset} (line {line}, column {column}: {shown}); \
             TOML files must be UTF-8, so save it as UTF-8"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_reads_the_file_and_resolves_base_dir() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.toml");
        std::fs::write(
            &path,
            "[lab]\nname = \"x\"\n[vpc]\nname = \"v\"\ncidr = \"10.0.0.0/16\"\n",
        )
        .unwrap();
        let config = load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.source, path);
        assert_eq!(config.base_dir, dir.path());
        assert_eq!(config.lab.name, "x");
    }

    #[test]
    fn non_utf8_names_the_byte_offset_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.toml");
        // Latin-1 "é" (0xe9) on line 2, after "name = \"caf".
        std::fs::write(&path, b"[lab]\nname = \"caf\xe9\"\n").unwrap();
        let err = load(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:2: not valid UTF-8 at byte offset 17 (line 2, column 12: 0xe9); \
                 TOML files must be UTF-8, so save it as UTF-8",
                path.display()
            )
        );
    }

    #[test]
    fn load_names_an_unreadable_file() {
        let err = load(Path::new("/nonexistent/tierlab.toml")).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }));
        assert_eq!(
            err.to_string(),
            "cannot read config file `/nonexistent/tierlab.toml`"
        );
    }
}
