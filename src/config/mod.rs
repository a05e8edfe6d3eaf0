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
mod suggest;
mod validate;
mod wire;

use std::path::Path;

pub use error::{ConfigError, Diagnostic};
pub use model::*;

/// Reads and validates the config file at `path`. Relative paths in it (build contexts, PEM
/// files, the state dir) are resolved against the file's directory.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
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
    validate::validate(file, source, base_dir, &locator).map_err(invalid)
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
    fn load_names_an_unreadable_file() {
        let err = load(Path::new("/nonexistent/tierlab.toml")).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }));
        assert_eq!(
            err.to_string(),
            "cannot read config file `/nonexistent/tierlab.toml`"
        );
    }
}
