//! A read replica's settings, made from its source's as RDS makes them: everything inherited
//! (engine, storage, subnets, security groups, parameter group) except what the request sets,
//! and backups off ("All read replica DB instances are created with backups disabled").

use crate::config::{Database, INSTANCE_CLASSES};

/// The settings of read replica `identifier` of `source`, of `class` when the request names
/// one (else the source's). `None` when `class` is not an instance class tierlab knows.
pub fn replica_settings(
    source: &Database,
    identifier: &str,
    class: Option<&str>,
) -> Option<Database> {
    let mut replica = source.clone();
    if let Some(class) = class {
        let &(name, cpu, memory_mib) = INSTANCE_CLASSES.iter().find(|(name, ..)| *name == class)?;
        replica.instance_class = name.to_string();
        replica.cpu = cpu;
        replica.memory_mib = memory_mib;
    }
    replica.identifier = identifier.to_string();
    replica.backup_retention_days = 0;
    // A replica is Single-AZ unless asked otherwise (RDS's `--multi-az` on the replica, which
    // tierlab does not take).
    replica.multi_az = false;
    replica.read_replicas = Vec::new();
    replica.read_replica_source = Some(source.identifier.clone());
    Some(replica)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The default topology's database.
    pub(crate) fn source() -> Database {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = crate::config::load(&root.join("emulator.toml")).unwrap();
        config.databases["flask-crud-db"].clone()
    }

    #[test]
    fn a_replica_inherits_its_source_but_backups_and_its_own_list() {
        let mut source = source();
        source.read_replicas = vec!["r".into()];
        source.multi_az = true;
        let r = replica_settings(&source, "r", None).unwrap();
        assert_eq!(r.identifier, "r");
        assert_eq!(r.read_replica_source.as_deref(), Some("flask-crud-db"));
        assert_eq!((r.backup_retention_days, r.multi_az), (0, false));
        assert!(r.read_replicas.is_empty());
        assert_eq!(
            (
                &r.engine,
                &r.instance_class,
                &r.subnets,
                &r.security_groups,
                &r.db_name
            ),
            (
                &source.engine,
                &source.instance_class,
                &source.subnets,
                &source.security_groups,
                &source.db_name
            )
        );
    }

    #[test]
    fn the_request_may_name_another_known_class() {
        let r = replica_settings(&source(), "r", Some("db.m5.xlarge")).unwrap();
        assert_eq!(
            (r.instance_class.as_str(), r.cpu, r.memory_mib),
            ("db.m5.xlarge", 4096, 16384)
        );
        assert!(replica_settings(&source(), "r", Some("db.x9.huge")).is_none());
    }
}
