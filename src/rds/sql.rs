//! SQL from tierlab to one DB node, through `docker exec` (the DB networks are internal: the host
//! never connects to a container address).
//!
//! The statements go to the `mariadb` client on its standard input, and the client logs in as
//! root with the password file the node was created with ([`super::credentials`]): no password
//! or statement is ever in an argument list (an exec's arguments show in `docker inspect` and in `ps`). Results come back
//! as rows of tab-separated values (`--batch --skip-column-names`).

use crate::docker::{DockerClient, DockerError};

/// Runs the client as root over TCP to the node's own port; the password comes from root's
/// password file, inside the container. `$1` is the port.
/// `$2` is `--skip-column-names` or `--column-names`.
const CLIENT: &str = concat!(
    "MYSQL_PWD=\"$(cat /run/tierlab/rds/root-password)\" exec mariadb --user=root --protocol=tcp ",
    "--host=127.0.0.1 --port=\"$1\" --connect-timeout=2 --batch \"$2\""
);

/// A failed statement: which one, and what the server (or Docker) said.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("`{statement}` in container {container}: {message}")]
    Server {
        container: String,
        /// The statements sent, or a description of them when they hold a secret.
        statement: String,
        /// The client's error output, e.g. `ERROR 1045 (28000) ...`.
        message: String,
    },
    #[error("`{statement}` in container {container}: cannot run the client")]
    Docker {
        container: String,
        statement: String,
        #[source]
        source: DockerError,
    },
}

/// One DB node to run statements on: its container and the engine's port.
#[derive(Debug, Clone)]
pub struct Node<'a> {
    pub docker: &'a DockerClient,
    pub container: &'a str,
    pub port: u16,
}

impl Node<'_> {
    /// Runs `statements` (one or more, `;`-separated) and returns the rows the last result set
    /// printed, each as its columns. `NULL` reads as the string `NULL`.
    pub async fn query(&self, statements: &str) -> Result<Vec<Vec<String>>, SqlError> {
        self.run(statements, statements, false).await
    }

    /// The rows of a result set as column name → value (for `SHOW SLAVE STATUS` and the like,
    /// whose column order is the server's business).
    pub async fn query_named(
        &self,
        statement: &str,
    ) -> Result<Vec<std::collections::HashMap<String, String>>, SqlError> {
        let mut rows = self.run(statement, statement, true).await?.into_iter();
        let Some(names) = rows.next() else {
            return Ok(Vec::new());
        };
        Ok(rows
            .map(|row| names.iter().cloned().zip(row).collect())
            .collect())
    }

    /// [`Node::query`] for statements that hold a secret: errors show `shown` instead.
    pub async fn query_secret(
        &self,
        statements: &str,
        shown: &str,
    ) -> Result<Vec<Vec<String>>, SqlError> {
        self.run(statements, shown, false).await
    }

    /// The first column of the first row, if any.
    pub async fn value(&self, statement: &str) -> Result<Option<String>, SqlError> {
        Ok(self
            .query(statement)
            .await?
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next()))
    }

    async fn run(
        &self,
        statements: &str,
        shown: &str,
        column_names: bool,
    ) -> Result<Vec<Vec<String>>, SqlError> {
        let port = self.port.to_string();
        let names = if column_names {
            "--column-names"
        } else {
            "--skip-column-names"
        };
        let command = ["sh", "-c", CLIENT, "sh", &port, names];
        let mut input = statements.trim().to_string();
        if !input.ends_with(';') {
            input.push(';');
        }
        input.push('\n');
        let output = self
            .docker
            .exec_with_input(self.container, &command, input.as_bytes())
            .await
            .map_err(|source| SqlError::Docker {
                container: short(self.container),
                statement: shown.to_string(),
                source,
            })?;
        if output.exit_code != 0 {
            let message = if output.stderr.trim().is_empty() {
                format!("the client exited with code {}", output.exit_code)
            } else {
                output.stderr.trim().to_string()
            };
            return Err(SqlError::Server {
                container: short(self.container),
                statement: shown.to_string(),
                message,
            });
        }
        Ok(parse_rows(&output.stdout))
    }
}

/// Rows of `--batch` output: one line per row, tab-separated columns.
pub fn parse_rows(output: &str) -> Vec<Vec<String>> {
    output
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| line.split('\t').map(unescape).collect())
        .collect()
}

/// `--batch` escapes tab, newline, backslash and NUL in values.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('0') => out.push('\0'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// A string as a SQL literal (single quotes, backslashes and quotes escaped).
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The 12-character container id Docker shows (names pass through).
fn short(container: &str) -> String {
    if container.len() == 64 && container.chars().all(|c| c.is_ascii_hexdigit()) {
        container[..12].to_string()
    } else {
        container.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_output_reads_as_rows_of_columns() {
        let rows = parse_rows("1\talice\n2\tbob\\tby\\nline\n\n");
        assert_eq!(rows, vec![vec!["1", "alice"], vec!["2", "bob\tby\nline"]]);
        assert!(parse_rows("").is_empty());
    }

    #[test]
    fn literals_are_quoted_and_escaped() {
        assert_eq!(literal("it's"), "'it\\'s'");
        assert_eq!(literal("a\\b"), "'a\\\\b'");
    }

    #[test]
    fn container_ids_are_shortened_names_are_not() {
        let id = "a".repeat(64);
        assert_eq!(short(&id), "a".repeat(12));
        assert_eq!(short("tierlab-lab-db"), "tierlab-lab-db");
    }
}
