//! One test per rule of a container's `secrets` and of `[secrets."NAME"]`.

use super::tests::{BASE, assert_has, error_with, errors};
use crate::secrets::reference::Reference;

const ENV: &str = "environment = { DATABASE_URL = \"${rds.db.url}\" }";
const ARN: &str = "arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db";

fn with_secrets(secrets: &str) -> String {
    BASE.replacen(ENV, &format!("secrets = [{secrets}]"), 1)
}

#[test]
fn container_secrets_parse_into_references() {
    let text = format!(
        "{}\n[secrets.\"app/db\"]\nvalue = \"${{rds.db.url}}\"\ndescription = \"URL\"\n",
        with_secrets(&format!(
            "{{ name = \"DATABASE_URL\", value-from = \"{ARN}\" }}, {{ name = \"KEY\", value-from = \"/app/key\" }}"
        ))
    );
    let config = super::tests::try_parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let secrets = &config.task_definitions["td"].container.secrets;
    assert_eq!(secrets.len(), 2);
    assert_eq!(secrets[0].value_from, ARN);
    assert!(matches!(&secrets[0].reference, Reference::Secret { id, .. } if id == ARN));
    assert!(
        matches!(&secrets[1].reference, Reference::Parameter { names } if names == &["/app/key"])
    );
    let seed = &config.secrets["app/db"];
    assert_eq!(
        (seed.value.as_str(), seed.description.as_deref()),
        ("${rds.db.url}", Some("URL"))
    );
}

#[test]
fn a_bad_value_from_is_named_with_its_key() {
    let e = error_with(
        ENV,
        "secrets = [{ name = \"DB\", value-from = \"arn:aws:secretsmanager:eu-west-1:000000000000:secret:x\" }]",
    );
    assert_has(
        &e,
        &[
            "[task-definitions.td.container.secrets[0]] value-from",
            "\"arn:aws:secretsmanager:eu-west-1:000000000000:secret:x\"",
            "names region `eu-west-1`, but the lab runs in `us-east-1`",
        ],
    );
    let e = error_with(
        ENV,
        "secrets = [{ name = \"DB\", value-from = \"app/key\" }]",
    );
    assert_has(&e, &["value-from = \"app/key\"", "fully qualified"]);
}

#[test]
fn secret_names_are_variables_given_once() {
    let e = error_with(
        ENV,
        &format!("secrets = [{{ name = \"1DB\", value-from = \"{ARN}\" }}]"),
    );
    assert_has(&e, &["name = \"1DB\"", "not a valid variable name"]);
    let twice = errors(&with_secrets(&format!(
        "{{ name = \"DB\", value-from = \"{ARN}\" }}, {{ name = \"DB\", value-from = \"/x\" }}"
    )));
    assert_eq!(twice.len(), 1, "{twice:?}");
    assert_has(&twice[0], &["secrets[1]] name = \"DB\"", "given twice"]);
    let both = errors(&BASE.replacen(
        ENV,
        &format!("{ENV}\nsecrets = [{{ name = \"DATABASE_URL\", value-from = \"{ARN}\" }}]"),
        1,
    ));
    assert_has(&both.join("\n"), &["also in `environment`"]);
}

#[test]
fn seeded_secrets_need_good_names_and_known_databases() {
    let e = errors(&format!("{BASE}\n[secrets.\"bad name\"]\nvalue = \"x\"\n")).join("\n");
    assert_has(&e, &["[secrets.\"bad name\"]", "Invalid name"]);
    let e = errors(&format!(
        "{BASE}\n[secrets.\"s\"]\nvalue = \"${{rds.nope.url}}\"\n"
    ))
    .join("\n");
    assert_has(&e, &["[secrets.s] value", "no database `nope`"]);
}
