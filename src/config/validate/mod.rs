//! [`wire::File`] → [`Config`]: each section checked in its own file; every problem collected.
//!
//! Sections are checked in dependency order (VPC, security groups, target groups, load
//! balancers, databases, task definitions, services, bastions) so that later ones can look up earlier
//! ones. A section that is wrong still yields a value (with a default in place of the bad
//! part) so that checking goes on; the diagnostics decide the result.

mod actions;
mod auto_scaling;
mod bastions;
mod ctx;
mod databases;
mod lab;
mod listener_rules;
mod listeners;
mod load_balancers;
mod reachability;
mod rules;
mod secrets;
mod security_groups;
mod services;
mod target_groups;

pub use auto_scaling::{DEFAULT_COOLDOWN, MAX_COOLDOWN};
pub use databases::{INSTANCE_CLASSES, MAX_READ_REPLICAS, check_identifier as check_db_identifier};
pub use target_groups::parse_matcher;
mod tasks;
mod vpc;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_auto_scaling;
#[cfg(test)]
mod tests_lab_api;
#[cfg(test)]
mod tests_observability;
#[cfg(test)]
mod tests_secrets;

use std::collections::BTreeMap;
use std::path::Path;

use super::error::Diagnostic;
use super::locate::Locator;
use super::model::Config;
use super::wire;
use ctx::Ctx;

/// Checks every rule and builds the typed config, or returns all diagnostics (with lines).
pub fn validate(
    file: wire::File,
    source: &Path,
    base_dir: &Path,
    locator: &Locator,
) -> Result<Config, Vec<Diagnostic>> {
    let mut cx = Ctx::new(source, base_dir);
    let mut config = build(&mut cx, &file, source, base_dir);
    if cx.diagnostics.is_empty() {
        config.warnings = reachability::warnings(&config);
        for w in &mut config.warnings {
            w.line = locator.line_of(&w.key_path);
        }
        return Ok(config);
    }
    let mut diagnostics = cx.diagnostics;
    for d in &mut diagnostics {
        d.line = locator.line_of(&d.key_path);
    }
    diagnostics.sort_by_key(|d| d.line);
    Err(diagnostics)
}

fn build(cx: &mut Ctx, file: &wire::File, source: &Path, base_dir: &Path) -> Config {
    let lab = lab::lab(cx, &file.lab);
    let vpc = vpc::vpc(cx, &file.vpc);
    let security_groups = security_groups::security_groups(cx, &file.security_groups);
    let target_groups: BTreeMap<_, _> = file
        .target_groups
        .iter()
        .map(|(name, tg)| {
            (
                name.clone(),
                target_groups::target_group(cx, name, tg, lab.profile),
            )
        })
        .collect();
    let known = load_balancers::Known {
        vpc: &vpc,
        security_groups: &security_groups,
        target_groups: &file.target_groups,
    };
    let load_balancers = load_balancers::load_balancers(cx, &file.load_balancers, &known);
    lab::api_port_clashes(cx, &lab, load_balancers.values());
    let clusters: Vec<String> = file.clusters.keys().cloned().collect();
    let databases = file
        .databases
        .iter()
        .map(|(id, db)| {
            (
                id.clone(),
                databases::database(
                    cx,
                    id,
                    db,
                    &vpc,
                    &security_groups,
                    file.lab.profile.as_deref() == Some("aws"),
                ),
            )
        })
        .collect();
    let instances = databases::instance_identifiers(cx, &file.databases);
    let task_definitions = file
        .task_definitions
        .iter()
        .map(|(family, td)| {
            (
                family.clone(),
                tasks::task_definition(cx, family, td, &instances, &lab.region),
            )
        })
        .collect();
    let known = services::Known {
        vpc: &vpc,
        clusters: &clusters,
        task_definitions: &task_definitions,
        security_groups: &security_groups,
        target_groups: &file.target_groups,
        load_balancers: &load_balancers,
    };
    let services = file
        .services
        .iter()
        .map(|(name, s)| (name.clone(), services::service(cx, name, s, &known)))
        .collect();
    let bastions = file
        .bastions
        .iter()
        .map(|(name, b)| {
            (
                name.clone(),
                bastions::bastion(cx, name, b, &vpc, &security_groups),
            )
        })
        .collect();
    let secrets = secrets::seeds(cx, &file.secrets, &instances);
    Config {
        source: source.to_path_buf(),
        base_dir: base_dir.to_path_buf(),
        lab,
        vpc,
        security_groups,
        load_balancers,
        target_groups,
        clusters,
        task_definitions,
        services,
        databases,
        bastions,
        secrets,
        warnings: Vec::new(),
        text: Default::default(),
    }
}
