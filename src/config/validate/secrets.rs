//! A container's `secrets = [{ name, value-from }]` and the `[secrets."NAME"]` the lab seeds.

use std::collections::{BTreeMap, BTreeSet};

use super::super::env_ref::{self, Segment};
use super::super::model::{ContainerSecret, SecretSeed};
use super::super::{path, wire};
use super::ctx::{Ctx, q};
use super::tasks::is_variable_name;
use crate::secrets::reference;

/// Each entry: a variable name not used twice nor in `environment`, and a `value-from` that
/// is a Secrets Manager ARN or an SSM parameter ARN or name of the lab's region and account.
pub fn container_secrets(
    cx: &mut Ctx,
    at: &str,
    secrets: &[wire::ContainerSecret],
    environment: &BTreeMap<String, String>,
    region: &str,
) -> Vec<ContainerSecret> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, secret) in secrets.iter().enumerate() {
        let key = format!("{at}[{i}]");
        let name = &secret.name;
        if !is_variable_name(name) {
            cx.bad(
                &format!("{key}.name"),
                q(name),
                format!("`{name}` is not a valid variable name (letters, digits, `_`; not starting with a digit)"),
            );
        }
        if !seen.insert(name.clone()) {
            cx.bad(
                &format!("{key}.name"),
                q(name),
                "is given twice in `secrets`",
            );
        }
        if environment.contains_key(name) {
            cx.bad(
                &format!("{key}.name"),
                q(name),
                "is also in `environment`; a variable comes from one or the other",
            );
        }
        match reference::parse(&secret.value_from, region, crate::registry::ACCOUNT) {
            Ok(reference) => out.push(ContainerSecret {
                name: name.clone(),
                value_from: secret.value_from.clone(),
                reference,
            }),
            Err(why) => cx.bad(&format!("{key}.value-from"), q(&secret.value_from), why),
        }
    }
    out
}

/// `[secrets."NAME"]`: Secrets Manager's name alphabet; `value` with placeholders that parse
/// and name DB instances the config starts.
pub fn seeds(
    cx: &mut Ctx,
    seeds: &BTreeMap<String, wire::SecretSeed>,
    instances: &[String],
) -> BTreeMap<String, SecretSeed> {
    let mut out = BTreeMap::new();
    for (name, seed) in seeds {
        let at = path::join("secrets", name);
        if let Err(e) = crate::secrets::secret::check_name(name) {
            cx.table(&at, format!("`{name}`: {}", e.message));
        }
        let key = format!("{at}.value");
        match env_ref::parse(&seed.value) {
            Err(why) => cx.bad(&key, q(&seed.value), why),
            Ok(segments) => {
                for seg in &segments {
                    if let Segment::Rds { identifier, .. } = seg {
                        cx.exists_in(&key, q(&seed.value), "database", identifier, instances);
                    }
                }
            }
        }
        out.insert(
            name.clone(),
            SecretSeed {
                name: name.clone(),
                description: seed.description.clone(),
                value: seed.value.clone(),
            },
        );
    }
    out
}
