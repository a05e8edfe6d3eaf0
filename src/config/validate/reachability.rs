//! Warnings (not errors) about a topology that loads but will not work as its author expects:
//! a service whose environment refers to a database (`${rds.ID.…}`) that its security groups do
//! not let it reach. Its tasks would start without the database's network and fail at their
//! first query; the config is still valid, since cutting the app off is how one rehearses it.

use super::super::env_ref::{self, Segment};
use super::super::error::Diagnostic;
use super::super::model::Config;
use super::super::security::{egress_allows, ingress_allows};

/// One warning per (service, environment variable, database) that cannot be reached. Lines
/// are filled in by the caller.
pub fn warnings(config: &Config) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for service in config.services.values() {
        let Some(td) = config.task_definitions.get(&service.task_definition) else {
            continue;
        };
        for (var, value) in &td.container.environment {
            for identifier in referenced_databases(value) {
                let Some(db) = config.databases.get(&identifier) else {
                    continue;
                };
                let (from, to) = (&service.security_groups, &db.security_groups);
                let egress = egress_allows(config, from, to, db.port);
                let ingress = ingress_allows(config, from, to, db.port);
                if egress && ingress {
                    continue;
                }
                let mut missing = Vec::new();
                if !egress {
                    missing.push(format!(
                        "no egress rule of {} allows port {} to {}",
                        list(from),
                        db.port,
                        list(to)
                    ));
                }
                if !ingress {
                    missing.push(format!(
                        "no ingress rule of {} allows port {} from {}",
                        list(to),
                        db.port,
                        list(from)
                    ));
                }
                found.push(Diagnostic {
                    file: config.source.clone(),
                    line: None,
                    key_path: format!("task-definitions.{}.container.environment.{var}", td.family),
                    value: Some(format!("{value:?}")),
                    message: format!(
                        "service `{}` cannot reach database `{identifier}`: {}; its tasks will \
                         not be attached to the database's network",
                        service.name,
                        missing.join(", and ")
                    ),
                });
            }
        }
    }
    found
}

/// Group names as the message shows them: `app-sg`, `other-sg`.
fn list(groups: &[String]) -> String {
    let quoted: Vec<String> = groups.iter().map(|g| format!("`{g}`")).collect();
    quoted.join(", ")
}

/// The database identifiers a value refers to, each once.
fn referenced_databases(value: &str) -> Vec<String> {
    let mut ids: Vec<String> = env_ref::parse(value)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|segment| match segment {
            Segment::Rds { identifier, .. } => Some(identifier),
            _ => None,
        })
        .collect();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn reference_text() -> String {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(root.join("emulator.toml")).unwrap()
    }

    fn parse(text: &str) -> Config {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        crate::config::parse(text, &root.join("emulator.toml"), root).unwrap()
    }

    #[test]
    fn the_reference_topology_has_no_warnings() {
        assert_eq!(parse(&reference_text()).warnings, vec![]);
    }

    #[test]
    fn a_database_behind_closed_ingress_is_warned_about_with_its_line() {
        let text = reference_text().replace("  { port = 3306, from = \"app-sg\" },\n", "");
        let config = parse(&text);
        assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
        let w = &config.warnings[0];
        assert!(w.line.is_some());
        let shown = w.to_string();
        assert!(
            shown.contains(
                "[task-definitions.flask-app-task.container.environment] DATABASE_URL = \
                 \"${rds.flask-crud-db.url}\": service `flask-app-service` cannot reach \
                 database `flask-crud-db`: no ingress rule of `db-sg` allows port 3306 from `app-sg`"
            ),
            "{shown}"
        );
        assert!(!shown.contains("egress"), "{shown}");
    }

    #[test]
    fn closed_egress_is_named_too() {
        let text = reference_text().replace("  { port = 3306, to = \"db-sg\" },\n", "");
        let config = parse(&text);
        assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
        assert!(
            config.warnings[0]
                .message
                .contains("no egress rule of `app-sg` allows port 3306 to `db-sg`")
        );
    }
}
