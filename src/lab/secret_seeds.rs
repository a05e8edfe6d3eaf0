//! Step 5b of a lab's start: the Secrets Manager secrets `emulator.toml` declares
//! (`[secrets."NAME"]`) are created when the store has none of that name (an existing one is
//! kept, so a `put-secret-value` outlives `down`/`up`); then every task definition's `secrets`
//! must name a secret or parameter that exists, or the start fails naming the key.

use crate::config::Config;
use crate::ecs::environment;
use crate::rds::DbInstance;
use crate::secrets::SecretStore;
use crate::secrets::secret::SecretValue;
use crate::secrets::store::CreateSecret;
use crate::state::StateDir;

/// A declared secret that cannot be made, or a task secret that names nothing.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SecretSetupError(pub String);

/// Creates the missing declared secrets; returns the names created.
pub fn seed(
    config: &Config,
    store: &SecretStore,
    databases: &[DbInstance],
    state: &StateDir,
) -> Result<Vec<String>, SecretSetupError> {
    let lab = &config.lab.name;
    let mut created = Vec::new();
    for seed in config.secrets.values() {
        if store.describe_secret(&seed.name).is_ok() {
            continue;
        }
        let at = format!("[secrets.{:?}] value", seed.name);
        let value = environment::render(&seed.value, databases, state, lab)
            .map_err(|e| SecretSetupError(format!("{at}: {e}")))?;
        store
            .create_secret(CreateSecret {
                name: seed.name.clone(),
                value: Some(SecretValue::String(value)),
                description: seed.description.clone(),
                ..CreateSecret::default()
            })
            .map_err(|e| SecretSetupError(format!("{at}: cannot create the secret: {e}")))?;
        created.push(seed.name.clone());
    }
    Ok(created)
}

/// Creates the master user secret of `db` when it has none (existing labs: from the password
/// their volume was made with).
pub fn master_secret(
    store: &SecretStore,
    registry: &crate::registry::Registry,
    db: &DbInstance,
) -> Result<(), SecretSetupError> {
    let arn = registry.db_arn(&db.identifier);
    let (secret, created) = store
        .ensure_master_secret(&arn, &db.master_username, &db.master_password)
        .map_err(|e| {
            SecretSetupError(format!(
                "database `{}`: cannot keep its master user secret: {e}",
                db.identifier
            ))
        })?;
    if created {
        tracing::info!(
            "database {}: master user secret {secret} created in the lab's Secrets Manager",
            db.identifier
        );
    }
    Ok(())
}

/// Every task definition's `secrets` name something in the store now.
pub fn check_task_secrets(config: &Config, store: &SecretStore) -> Result<(), SecretSetupError> {
    for td in config.task_definitions.values() {
        for secret in &td.container.secrets {
            if !store.exists(&secret.reference) {
                let what = match &secret.reference {
                    crate::secrets::reference::Reference::Secret { .. } => {
                        "no secret in the lab's Secrets Manager; declare it as [secrets.\"NAME\"] in emulator.toml, or create it with `aws secretsmanager create-secret` and start again"
                    }
                    crate::secrets::reference::Reference::Parameter { .. } => {
                        "no parameter in the lab's Parameter Store; create it with `aws ssm put-parameter` and start again"
                    }
                };
                return Err(SecretSetupError(format!(
                    "[task-definitions.{}.container] secrets: {} value-from = {:?} names {what}",
                    td.family, secret.name, secret.value_from
                )));
            }
        }
    }
    Ok(())
}
