//! `[databases.IDENTIFIER]`: RDS DB instances.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use super::super::model::{Database, FailoverTiming, SecurityGroup, Vpc};
use super::super::{defaults, path, suggest, wire};
use super::ctx::{Ctx, list, q};
use super::rules;

/// Instance classes tierlab knows, with (CPU units = vCPU × 1024, memory MiB) as host limits.
pub const INSTANCE_CLASSES: [(&str, u32, u32); 11] = [
    ("db.t3.micro", 2048, 1024),
    ("db.t3.small", 2048, 2048),
    ("db.t3.medium", 2048, 4096),
    ("db.t3.large", 2048, 8192),
    ("db.t4g.micro", 2048, 1024),
    ("db.t4g.small", 2048, 2048),
    ("db.t4g.medium", 2048, 4096),
    ("db.t4g.large", 2048, 8192),
    ("db.m5.large", 2048, 8192),
    ("db.m5.xlarge", 4096, 16384),
    ("db.r5.large", 2048, 16384),
];

/// RDS's quota of read replicas per source instance.
pub const MAX_READ_REPLICAS: usize = 15;

/// Names RDS reserves for its own accounts.
const RESERVED_USERNAMES: [&str; 2] = ["root", "rdsadmin"];

pub fn database(
    cx: &mut Ctx,
    id: &str,
    db: &wire::Database,
    vpc: &Vpc,
    groups: &BTreeMap<String, SecurityGroup>,
    aws_profile: bool,
) -> Database {
    let at = path::join("databases", id);
    if let Err(why) = check_identifier(id) {
        cx.table(&at, format!("DB instance identifier `{id}`: {why}"));
    }
    if !["mysql", "mariadb"].contains(&db.engine.as_str()) {
        cx.bad(
            &format!("{at}.engine"),
            q(&db.engine),
            format!(
                "must be \"mysql\" or \"mariadb\"; {}",
                suggest::hint(&db.engine, "engines", ["mysql", "mariadb"])
            ),
        );
    }
    let (cpu, memory_mib) = instance_class(cx, &at, &db.instance_class);
    if db.image.trim().is_empty() {
        cx.bad(&format!("{at}.image"), q(&db.image), "must not be empty");
    }
    check_text(cx, &format!("{at}.db-name"), &db.db_name, check_db_name);
    check_text(
        cx,
        &format!("{at}.master-username"),
        &db.master_username,
        check_username,
    );
    let storage = cx.int_in(
        &format!("{at}.allocated-storage"),
        db.allocated_storage,
        20..=65536,
    );
    let retention = db
        .backup_retention_period
        .map(|d| cx.int_in(&format!("{at}.backup-retention-period"), d, 0..=35));
    let window_key = format!("{at}.preferred-backup-window");
    let window = db.preferred_backup_window.as_ref().and_then(|w| {
        match crate::rds::backups::BackupWindow::parse(w) {
            Ok(parsed) => Some(parsed.to_string()),
            Err(why) => {
                cx.bad(&window_key, q(w), why);
                None
            }
        }
    });
    let why = "an RDS DB subnet group needs subnets in at least two availability zones";
    rules::private_subnets(cx, &format!("{at}.subnets"), &db.subnets, vpc, 2, why);
    rules::groups_exist(
        cx,
        &format!("{at}.security-groups"),
        &db.security_groups,
        groups,
    );
    let backups = retention
        .flatten()
        .unwrap_or(defaults::BACKUP_RETENTION_DAYS);
    let read_replicas = db.read_replicas.clone().unwrap_or_default();
    read_replica_list(cx, &at, id, &read_replicas, backups);
    Database {
        identifier: id.to_string(),
        engine: db.engine.clone(),
        engine_version: db
            .engine_version
            .clone()
            .unwrap_or_else(|| defaults::ENGINE_VERSION.to_string()),
        instance_class: db.instance_class.clone(),
        image: db.image.clone(),
        build: cx.build_dir(&format!("{at}.build"), db.build.as_deref()),
        db_name: db.db_name.clone(),
        master_username: db.master_username.clone(),
        port: db
            .port
            .map_or(defaults::DB_PORT, |p| cx.port(&format!("{at}.port"), p)),
        subnets: db.subnets.clone(),
        security_groups: db.security_groups.clone(),
        allocated_storage_gib: storage.and_then(NonZeroU32::new).unwrap_or(NonZeroU32::MIN),
        backup_retention_days: backups,
        preferred_backup_window: window,
        storage_encrypted: db.storage_encrypted.unwrap_or(false),
        multi_az: db.multi_az.unwrap_or(defaults::MULTI_AZ),
        failover: failover(cx, &at, db.failover.as_deref(), aws_profile),
        read_replicas,
        read_replica_source: None,
        cpu,
        memory_mib,
    }
}

/// `failover`: "fast" (tierlab's default: as fast as safely possible) or "aws" (RDS's wait
/// before the endpoint moves); an explicit `[lab] profile = "aws"` makes "aws" the default.
fn failover(cx: &mut Ctx, at: &str, value: Option<&str>, aws_profile: bool) -> FailoverTiming {
    match value {
        None if aws_profile => FailoverTiming::Aws,
        None | Some("fast") => FailoverTiming::Fast,
        Some("aws") => FailoverTiming::Aws,
        Some(other) => {
            let hint = suggest::hint(other, "timings", ["fast", "aws"]);
            cx.bad(
                &format!("{at}.failover"),
                q(other),
                format!("must be \"fast\" or \"aws\"; {hint}"),
            );
            FailoverTiming::Fast
        }
    }
}

/// `read-replicas`: valid identifiers, none twice, none the source's own, at most
/// [`MAX_READ_REPLICAS`], and a source with automated backups (RDS refuses a read replica of an
/// instance whose backup retention is 0).
fn read_replica_list(cx: &mut Ctx, at: &str, id: &str, replicas: &[String], backups: u32) {
    let key = format!("{at}.read-replicas");
    for (i, replica) in replicas.iter().enumerate() {
        if let Err(why) = check_identifier(replica) {
            cx.bad(&key, q(replica), format!("read replica identifier: {why}"));
        } else if replica == id {
            cx.bad(
                &key,
                q(replica),
                "a DB instance cannot be its own read replica",
            );
        } else if replicas[..i].contains(replica) {
            cx.bad(&key, q(replica), "is listed twice");
        }
    }
    if replicas.len() > MAX_READ_REPLICAS {
        cx.bad(
            &key,
            list(replicas),
            format!(
                "{} read replicas; RDS allows at most {MAX_READ_REPLICAS} per source instance",
                replicas.len()
            ),
        );
    }
    if !replicas.is_empty() && backups == 0 {
        cx.bad(
            &key,
            list(replicas),
            "the source of a read replica must have automated backups, as on RDS: set \
             backup-retention-period to 1 or more (it is 0)",
        );
    }
}

/// Identifiers of every instance the config starts: the databases and their read replicas. A
/// replica named like another instance (or listed under two sources) is reported.
pub fn instance_identifiers(
    cx: &mut Ctx,
    databases: &BTreeMap<String, wire::Database>,
) -> Vec<String> {
    let mut known: Vec<String> = databases.keys().cloned().collect();
    for (id, db) in databases {
        let key = format!("{}.read-replicas", path::join("databases", id));
        let replicas = db.read_replicas.as_deref().unwrap_or_default();
        for (i, replica) in replicas.iter().enumerate() {
            // Its own name or a repeat: reported with the list itself.
            if replica == id || replicas[..i].contains(replica) {
                continue;
            }
            if databases.contains_key(replica) {
                let why = format!(
                    "`[databases.{replica}]` already names an instance; a read replica is made from its source, not configured as a table of its own"
                );
                cx.bad(&key, q(replica), why);
            } else if known.contains(replica) {
                cx.bad(
                    &key,
                    q(replica),
                    "is already the read replica of another instance",
                );
            } else {
                known.push(replica.clone());
            }
        }
    }
    known
}

fn check_text(cx: &mut Ctx, key: &str, value: &str, rule: fn(&str) -> Result<(), String>) {
    if let Err(why) = rule(value) {
        cx.bad(key, q(value), why);
    }
}

fn instance_class(cx: &mut Ctx, at: &str, class: &str) -> (u32, u32) {
    match INSTANCE_CLASSES.iter().find(|(name, ..)| *name == class) {
        Some(&(_, cpu, mem)) => (cpu, mem),
        None => {
            let names = INSTANCE_CLASSES.iter().map(|(n, ..)| *n);
            let msg = format!(
                "unknown instance class; {}",
                suggest::hint(class, "instance classes", names)
            );
            cx.bad(&format!("{at}.instance-class"), q(class), msg);
            (0, 0)
        }
    }
}

/// RDS: 1-63 letters, digits or hyphens; first a letter; no trailing or double hyphen.
pub fn check_identifier(id: &str) -> Result<(), String> {
    if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("must start with a letter".into());
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(format!(
            "`{c}` is not allowed (letters, digits and hyphens only)"
        ));
    }
    if id.len() > 63 {
        return Err(format!("is {} characters; at most 63", id.len()));
    }
    if id.ends_with('-') || id.contains("--") {
        return Err("may not end with a hyphen or contain two in a row".into());
    }
    Ok(())
}

/// MySQL database name as RDS accepts it: a letter, then letters, digits or `_`, at most 64.
fn check_db_name(name: &str) -> Result<(), String> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64;
    ok.then_some(()).ok_or_else(|| {
        "must start with a letter and be letters, digits and `_`, at most 64 characters".into()
    })
}

/// RDS MySQL master user name: 1-16 characters, a letter first, not a reserved name.
fn check_username(name: &str) -> Result<(), String> {
    if RESERVED_USERNAMES.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "`{name}` is reserved by RDS; choose another (e.g. \"admin\")"
        ));
    }
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 16;
    ok.then_some(())
        .ok_or_else(|| "must be 1 to 16 letters, digits or `_`, starting with a letter".into())
}
