//! What a bad config produces: [`ConfigError`], made of [`Diagnostic`]s that name file, line,
//! key and value.

use std::fmt;
use std::path::PathBuf;

use super::path;

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid lab; every problem found is listed.
    #[error("{}", render(diagnostics))]
    Invalid { diagnostics: Vec<Diagnostic> },
}

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(Diagnostic::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// One problem in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The config file as it was given.
    pub file: PathBuf,
    /// 1-based line of the key (or of its table when the key is missing), when known.
    pub line: Option<usize>,
    /// Dotted path of the key, e.g. `target-groups.flask-app-tg.health-check.timeout`; for a
    /// problem with a whole table (unknown or missing key), the table's path.
    pub key_path: String,
    /// The offending value as written in TOML (`"5s"`, `0`, `["a", "b"]`), if one is at fault.
    pub value: Option<String>,
    /// What is wrong and, where possible, how to fix it.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    /// `emulator.toml:87: [target-groups.tg.health-check] timeout = "5s": must be less than ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": ")?;
        match &self.value {
            Some(value) => {
                let (table, key) = path::split_last(&self.key_path);
                if !table.is_empty() {
                    write!(f, "[{table}] ")?;
                }
                write!(f, "{key} = {value}: ")?;
            }
            None if !self.key_path.is_empty() => write!(f, "[{}] ", self.key_path)?,
            None => {}
        }
        write!(f, "{}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_file_line_table_key_value() {
        let d = Diagnostic {
            file: "emulator.toml".into(),
            line: Some(87),
            key_path: "target-groups.flask-app-tg.health-check.timeout".into(),
            value: Some("\"5s\"".into()),
            message: "must be less than interval (2s)".into(),
        };
        assert_eq!(
            d.to_string(),
            "emulator.toml:87: [target-groups.flask-app-tg.health-check] timeout = \"5s\": must be less than interval (2s)"
        );
        let table = Diagnostic {
            key_path: "vpc.subnets.private-db-subnet-1a".into(),
            value: None,
            line: Some(12),
            message: "unknown key `cidrr` (did you mean `cidr`?)".into(),
            ..d
        };
        assert_eq!(
            table.to_string(),
            "emulator.toml:12: [vpc.subnets.private-db-subnet-1a] unknown key `cidrr` (did you mean `cidr`?)"
        );
    }

    #[test]
    fn invalid_lists_one_per_line() {
        let d = |m: &str| Diagnostic {
            file: "f.toml".into(),
            line: None,
            key_path: String::new(),
            value: None,
            message: m.into(),
        };
        let err = ConfigError::Invalid {
            diagnostics: vec![d("one"), d("two")],
        };
        assert_eq!(err.to_string(), "f.toml: one\nf.toml: two");
    }
}
