//! Warnings (not errors) about a topology that loads but will not work as its author expects:
//! a service whose environment (or a declared `[secrets]` value one of its secrets names) refers
//! to a database (`${rds.ID.…}`) that its security groups do not let it reach. Its tasks would start without the database's network and fail at their
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
        // Variables and the value they come from: an environment value, or the declared
        // `[secrets]` value a container secret names.
        let mut sources: Vec<(String, String, String)> = td
            .container
            .environment
            .iter()
            .map(|(var, value)| {
                let at = format!("task-definitions.{}.container.environment.{var}", td.family);
                (at, value.clone(), value.clone())
            })
            .collect();
        for (i, secret) in td.container.secrets.iter().enumerate() {
            if let Some(seed) = seeded_value(config, &secret.reference) {
                let at = format!(
                    "task-definitions.{}.container.secrets[{i}].value-from",
                    td.family
                );
                sources.push((at, secret.value_from.clone(), seed.to_string()));
            }
        }
        for (key_path, value, resolved) in &sources {
            for identifier in referenced_databases(resolved) {
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
                    key_path: key_path.clone(),
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

/// The value of the `[secrets."NAME"]` a Secrets Manager reference names, if declared.
fn seeded_value<'c>(
    config: &'c Config,
    reference: &crate::secrets::reference::Reference,
) -> Option<&'c str> {
    let crate::secrets::reference::Reference::Secret { id, .. } = reference else {
        return None;
    };
    let (_, name) = id.split_once(":secret:")?;
    config
        .secrets
        .values()
        .find(|seed| {
            name == seed.name
                || name
                    .strip_prefix(seed.name.as_str())
                    .is_some_and(|rest| rest.len() == 7 && rest.starts_with('-'))
        })
        .map(|seed| seed.value.as_str())
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
                "[task-definitions.flask-app-task.container.secrets[0]] value-from = \
                 \"arn:aws:secretsmanager:us-east-1:000000000000:secret:flask-app/database-url\": \
                 service `flask-app-service` cannot reach database `flask-crud-db`: no ingress \
                 rule of `db-sg` allows port 3306 from `app-sg`"
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
