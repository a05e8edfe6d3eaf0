//! The master user secret of a DB instance, as RDS's `ManageMasterUserPassword` keeps it in
//! Secrets Manager: named `rds!db-<uuid>`, owned by `rds`, tagged with the instance's ARN, its
//! value `{"username": ..., "password": ...}` (the JSON keys ECS's `valueFrom ...:password::`
//! and the RDS docs use).

use super::Failure;
use super::secret::{Secret, SecretValue};
use super::store::{CreateSecret, SecretStore};

/// The tag RDS puts on the secret, naming the instance.
pub const INSTANCE_TAG: &str = "aws:rds:primaryDBInstanceArn";
/// Secrets Manager's `OwningService` of the secret.
pub const OWNING_SERVICE: &str = "rds";

/// The secret's value.
pub fn value(username: &str, password: &str) -> String {
    serde_json::json!({ "username": username, "password": password }).to_string()
}

/// Whether `secret` is the master user secret of the instance `db_arn`.
pub fn is_master_secret_of(secret: &Secret, db_arn: &str) -> bool {
    secret.owning_service.as_deref() == Some(OWNING_SERVICE)
        && secret
            .tags
            .iter()
            .any(|(k, v)| k == INSTANCE_TAG && v == db_arn)
}

impl SecretStore {
    /// The ARN of the master user secret of `db_arn`, if it has one.
    pub fn master_secret_arn(&self, db_arn: &str) -> Option<String> {
        self.secrets()
            .into_iter()
            .find(|s| is_master_secret_of(s, db_arn))
            .map(|s| s.arn)
    }

    /// Makes sure the instance `db_arn` has its master user secret, creating it with the
    /// instance's current password when it has none (for a lab made before the store existed,
    /// this moves the password it was created with into Secrets Manager). Returns its ARN and
    /// whether it was created now.
    pub fn ensure_master_secret(
        &self,
        db_arn: &str,
        username: &str,
        password: &str,
    ) -> Result<(String, bool), Failure> {
        if let Some(arn) = self.master_secret_arn(db_arn) {
            return Ok((arn, false));
        }
        let (secret, _) = self.create_secret(CreateSecret {
            name: format!("rds!db-{}", crate::ecs::lifecycle::new_uuid_v4()),
            value: Some(SecretValue::String(value(username, password))),
            description: Some(format!(
                "Secret associated with primary RDS DB instance: {db_arn}"
            )),
            tags: vec![
                (INSTANCE_TAG.to_string(), db_arn.to_string()),
                (
                    "aws:secretsmanager:owningService".to_string(),
                    OWNING_SERVICE.to_string(),
                ),
            ],
            owning_service: Some(OWNING_SERVICE.to_string()),
            ..CreateSecret::default()
        })?;
        Ok((secret.arn, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::secret::VersionSelector;
    use crate::state::StateDir;

    const DB: &str = "arn:aws:rds:us-east-1:000000000000:db:flask-crud-db";

    #[test]
    fn the_master_secret_is_made_once_with_the_instances_password() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SecretStore::open(
            &StateDir::at(tmp.path()),
            "lab",
            "us-east-1",
            "000000000000",
        )
        .unwrap();
        assert_eq!(store.master_secret_arn(DB), None);
        let (arn, created) = store.ensure_master_secret(DB, "admin", "p@ss\"w").unwrap();
        assert!(created);
        assert!(
            arn.starts_with("arn:aws:secretsmanager:us-east-1:000000000000:secret:rds!db-"),
            "{arn}"
        );
        let again = store.ensure_master_secret(DB, "admin", "other").unwrap();
        assert_eq!(again, (arn.clone(), false));
        let read = store
            .get_secret_value(&arn, &VersionSelector::default())
            .unwrap();
        let SecretValue::String(text) = read.version.value else {
            panic!("a string secret")
        };
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (json["username"].as_str(), json["password"].as_str()),
            (Some("admin"), Some("p@ss\"w"))
        );
        assert_eq!(read.secret.owning_service.as_deref(), Some("rds"));
        assert!(read.secret.description.unwrap().ends_with(DB));
        assert_eq!(
            store.master_secret_arn("arn:aws:rds:us-east-1:000000000000:db:other"),
            None
        );
    }
}
