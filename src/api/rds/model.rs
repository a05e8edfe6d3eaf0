//! A DB instance and its subnet group as RDS describes them: built from the lab's config, the
//! running instance and the registry, and rendered as RDS's XML.

use std::time::SystemTime;

use crate::api::ApiContext;
use crate::api::xml::{Xml, timestamp};
use crate::rds::DbInstance;
use crate::rds::read_replica::{ReplicaObserved, ReplicationState};

/// RDS's hosted zone for endpoints in us-east-1 (`Endpoint.HostedZoneId`); other regions' ids
/// are not known to tierlab, so the member is left out there.
const US_EAST_1_HOSTED_ZONE: &str = "Z2R2ITUGPM61AM";
use crate::rds::backups::MAINTENANCE_WINDOW;

/// One `DBInstance`.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceModel {
    pub identifier: String,
    pub class: String,
    pub engine: String,
    pub engine_version: String,
    /// `DBInstanceStatus`, as observed (`available`, `rebooting`, ...).
    pub status: String,
    pub master_username: String,
    pub db_name: String,
    pub endpoint_address: String,
    pub port: u16,
    pub hosted_zone_id: Option<&'static str>,
    pub allocated_storage: u32,
    pub create_time: SystemTime,
    pub backup_retention_period: u32,
    /// `PreferredBackupWindow`: the configured one, else RDS's default for the region.
    pub backup_window: String,
    /// `LatestRestorableTime`: the last archiving of the binary logs (with backups on).
    pub latest_restorable_time: Option<SystemTime>,
    pub storage_encrypted: bool,
    pub vpc_security_group_ids: Vec<String>,
    pub parameter_group: String,
    pub availability_zone: String,
    pub subnet_group: SubnetGroupModel,
    pub multi_az: bool,
    /// The Multi-AZ standby's zone (swapped with `availability_zone` by a failover).
    pub secondary_availability_zone: Option<String>,
    pub resource_id: String,
    pub arn: String,
    /// `ReadReplicaSourceDBInstanceIdentifier`, for a read replica.
    pub read_replica_source: Option<String>,
    /// `ReadReplicaDBInstanceIdentifiers`: the instance's read replicas.
    pub read_replicas: Vec<String>,
    /// `StatusInfos`: a read replica's replication.
    pub status_infos: Vec<StatusInfo>,
    /// The ARN of the master user secret in Secrets Manager (`MasterUserSecret`).
    pub master_user_secret: Option<String>,
}

/// One `DBInstanceStatusInfo`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusInfo {
    /// `read replication` (the only type RDS has).
    pub status_type: &'static str,
    pub normal: bool,
    /// `replicating`, `error` or `stopped`.
    pub status: String,
    /// The error while replication is broken. While it replicates, tierlab says the lag here
    /// (`ReplicaLag: N seconds`); RDS leaves it empty and reports the lag as a CloudWatch
    /// metric, which tierlab serves at the lab's `/metrics`.
    pub message: Option<String>,
}

impl StatusInfo {
    /// The read replication status of a replica, as last sampled.
    pub fn read_replication(sample: &ReplicaObserved) -> StatusInfo {
        let replicating = sample.state == ReplicationState::Replicating;
        StatusInfo {
            status_type: "read replication",
            normal: replicating,
            status: sample.state.to_string(),
            message: match &sample.error {
                Some(error) => Some(error.clone()),
                None if replicating => Some(format!("ReplicaLag: {} seconds", sample.lag_seconds)),
                None => None,
            },
        }
    }
}

/// One `DBSubnetGroup`.
#[derive(Debug, Clone, PartialEq)]
pub struct SubnetGroupModel {
    pub name: String,
    pub description: String,
    pub vpc_id: String,
    /// `(subnet id, availability zone)`.
    pub subnets: Vec<(String, String)>,
    pub arn: String,
}

/// The subnet group of an instance: tierlab's config lists the instance's subnets directly, so
/// the group is named after the instance.
pub fn subnet_group_name(identifier: &str) -> String {
    format!("{identifier}-subnet-group")
}

/// `default.mysql8.0` for engine `mysql` version `8.0.35`.
pub fn default_parameter_group(engine: &str, version: &str) -> String {
    let major: Vec<&str> = version.split('.').take(2).collect();
    format!("default.{engine}{}", major.join("."))
}

pub fn instance_model(ctx: &ApiContext, db: &DbInstance) -> InstanceModel {
    let config = ctx.lab.config();
    let cfg = db.settings();
    let registry = &ctx.registry;
    let zone_of = |subnet: &str| {
        config
            .vpc
            .subnets
            .get(subnet)
            .map(|s| s.availability_zone.clone())
            .unwrap_or_default()
    };
    InstanceModel {
        identifier: db.identifier.clone(),
        class: cfg.instance_class.clone(),
        engine: cfg.engine.clone(),
        engine_version: cfg.engine_version.clone(),
        status: ctx.lab.rds().status_word(db),
        master_username: cfg.master_username.clone(),
        db_name: cfg.db_name.clone(),
        endpoint_address: registry.db_endpoint_host(&db.identifier),
        port: db.port,
        hosted_zone_id: (registry.region() == "us-east-1").then_some(US_EAST_1_HOSTED_ZONE),
        allocated_storage: cfg.allocated_storage_gib.get(),
        create_time: db.created_at,
        backup_retention_period: cfg.backup_retention_days,
        backup_window: crate::rds::backups::window_of(&cfg, registry.region()).to_string(),
        latest_restorable_time: ctx
            .lab
            .rds()
            .backups()
            .filter(|_| cfg.backup_retention_days > 0)
            .and_then(|b| b.restorable(&db.identifier))
            .map(|(_, latest)| std::time::UNIX_EPOCH + std::time::Duration::from_secs(latest)),
        storage_encrypted: cfg.storage_encrypted,
        vpc_security_group_ids: cfg
            .security_groups
            .iter()
            .map(|sg| registry.security_group_id(sg))
            .collect(),
        parameter_group: default_parameter_group(&cfg.engine, &cfg.engine_version),
        availability_zone: zone_of(&db.subnet()),
        subnet_group: SubnetGroupModel {
            name: subnet_group_name(&db.identifier),
            description: format!("Subnets of {}", db.identifier),
            vpc_id: registry.vpc_id(&config.vpc.name),
            subnets: cfg
                .subnets
                .iter()
                .map(|s| (registry.subnet_id(s), zone_of(s)))
                .collect(),
            arn: registry.db_subnet_group_arn(&subnet_group_name(&db.identifier)),
        },
        multi_az: cfg.multi_az,
        secondary_availability_zone: db
            .nodes()
            .standby
            .as_ref()
            .map(|standby| zone_of(&standby.subnet)),
        resource_id: registry.db_resource_id(&db.identifier),
        arn: registry.db_arn(&db.identifier),
        read_replica_source: cfg.read_replica_source.clone(),
        read_replicas: ctx.lab.rds().fleet().read_replicas_of(&db.identifier),
        status_infos: cfg
            .read_replica_source
            .as_ref()
            .map(|_| {
                let sample = db.replica().get().unwrap_or_else(ReplicaObserved::starting);
                StatusInfo::read_replication(&sample)
            })
            .into_iter()
            .collect(),
        master_user_secret: ctx
            .lab
            .secrets()
            .master_secret_arn(&registry.db_arn(&db.identifier)),
    }
}

/// The members of a `<DBInstance>`, in RDS's order.
pub fn render_instance(x: &mut Xml, m: &InstanceModel) {
    x.leaf("DBInstanceIdentifier", &m.identifier)
        .leaf("DBInstanceClass", &m.class)
        .leaf("Engine", &m.engine)
        .leaf("DBInstanceStatus", &m.status)
        .leaf("MasterUsername", &m.master_username)
        .leaf("DBName", &m.db_name)
        .open("Endpoint")
        .leaf("Address", &m.endpoint_address)
        .leaf("Port", m.port)
        .opt("HostedZoneId", m.hosted_zone_id)
        .close("Endpoint")
        .leaf("AllocatedStorage", m.allocated_storage)
        .leaf("InstanceCreateTime", timestamp(m.create_time))
        .leaf("PreferredBackupWindow", &m.backup_window)
        .leaf("BackupRetentionPeriod", m.backup_retention_period)
        .list("DBSecurityGroups", "DBSecurityGroup", [(); 0], |_, ()| {})
        .list(
            "VpcSecurityGroups",
            "VpcSecurityGroupMembership",
            &m.vpc_security_group_ids,
            |x, id| {
                x.leaf("VpcSecurityGroupId", id).leaf("Status", "active");
            },
        )
        .list(
            "DBParameterGroups",
            "DBParameterGroup",
            [&m.parameter_group],
            |x, name| {
                x.leaf("DBParameterGroupName", name)
                    .leaf("ParameterApplyStatus", "in-sync");
            },
        )
        .leaf("AvailabilityZone", &m.availability_zone)
        .open("DBSubnetGroup");
    render_subnet_group(x, &m.subnet_group, false);
    x.close("DBSubnetGroup")
        .leaf("PreferredMaintenanceWindow", MAINTENANCE_WINDOW)
        .open("PendingModifiedValues")
        .close("PendingModifiedValues")
        .opt(
            "LatestRestorableTime",
            m.latest_restorable_time.map(timestamp),
        )
        .leaf("MultiAZ", m.multi_az)
        .leaf("EngineVersion", &m.engine_version)
        .leaf("AutoMinorVersionUpgrade", true)
        .opt(
            "ReadReplicaSourceDBInstanceIdentifier",
            m.read_replica_source.as_deref(),
        )
        .open("ReadReplicaDBInstanceIdentifiers");
    for id in &m.read_replicas {
        x.leaf("ReadReplicaDBInstanceIdentifier", id);
    }
    x.close("ReadReplicaDBInstanceIdentifiers")
        .leaf("LicenseModel", "general-public-license")
        .opt(
            "SecondaryAvailabilityZone",
            m.secondary_availability_zone.as_deref(),
        )
        .leaf("PubliclyAccessible", false);
    if !m.status_infos.is_empty() {
        x.list(
            "StatusInfos",
            "DBInstanceStatusInfo",
            &m.status_infos,
            |x, info| {
                x.leaf("StatusType", info.status_type)
                    .leaf("Normal", info.normal)
                    .leaf("Status", &info.status)
                    .opt("Message", info.message.as_deref());
            },
        );
    }
    x.leaf("StorageType", "gp2")
        .leaf("DbInstancePort", 0)
        .leaf("StorageEncrypted", m.storage_encrypted)
        .leaf("DbiResourceId", &m.resource_id)
        .leaf("CACertificateIdentifier", "rds-ca-rsa2048-g1")
        .leaf("CopyTagsToSnapshot", false)
        .leaf("MonitoringInterval", 0)
        .leaf("DBInstanceArn", &m.arn)
        .leaf("IAMDatabaseAuthenticationEnabled", false)
        .leaf("PerformanceInsightsEnabled", false)
        .leaf("DeletionProtection", false);
    // ManageMasterUserPassword's secret (its value is never part of this answer).
    if let Some(arn) = &m.master_user_secret {
        x.open("MasterUserSecret")
            .leaf("SecretArn", arn)
            .leaf("SecretStatus", "active")
            .close("MasterUserSecret");
    }
}

/// The members of a `<DBSubnetGroup>`; `with_arn` for DescribeDBSubnetGroups (an instance's
/// embedded group carries no ARN).
pub fn render_subnet_group(x: &mut Xml, g: &SubnetGroupModel, with_arn: bool) {
    x.leaf("DBSubnetGroupName", &g.name)
        .leaf("DBSubnetGroupDescription", &g.description)
        .leaf("VpcId", &g.vpc_id)
        .leaf("SubnetGroupStatus", "Complete")
        .list("Subnets", "Subnet", &g.subnets, |x, (id, zone)| {
            x.leaf("SubnetIdentifier", id)
                .open("SubnetAvailabilityZone")
                .leaf("Name", zone)
                .close("SubnetAvailabilityZone")
                .leaf("SubnetStatus", "Active");
        });
    if with_arn {
        x.leaf("DBSubnetGroupArn", &g.arn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> InstanceModel {
        InstanceModel {
            identifier: "flask-crud-db".into(),
            class: "db.t3.micro".into(),
            engine: "mysql".into(),
            engine_version: "8.0".into(),
            status: "available".into(),
            master_username: "admin".into(),
            db_name: "flaskcrud".into(),
            endpoint_address: "flask-crud-db.abcdefghijkl.us-east-1.rds.localhost".into(),
            port: 3306,
            hosted_zone_id: Some(US_EAST_1_HOSTED_ZONE),
            allocated_storage: 20,
            create_time: humantime::parse_rfc3339("2026-12-02T00:00:00Z").unwrap(),
            backup_retention_period: 7,
            backup_window: "03:00-03:30".into(),
            latest_restorable_time: Some(humantime::parse_rfc3339("2026-12-02T00:05:00Z").unwrap()),
            storage_encrypted: true,
            vpc_security_group_ids: vec!["sg-0123".into()],
            parameter_group: "default.mysql8.0".into(),
            availability_zone: "us-east-1a".into(),
            subnet_group: SubnetGroupModel {
                name: "flask-crud-db-subnet-group".into(),
                description: "Subnets of flask-crud-db".into(),
                vpc_id: "vpc-1".into(),
                subnets: vec![
                    ("subnet-a".into(), "us-east-1a".into()),
                    ("subnet-b".into(), "us-east-1b".into()),
                ],
                arn: "arn:aws:rds:us-east-1:000000000000:subgrp:flask-crud-db-subnet-group".into(),
            },
            multi_az: false,
            secondary_availability_zone: None,
            resource_id: "db-ABC".into(),
            arn: "arn:aws:rds:us-east-1:000000000000:db:flask-crud-db".into(),
            read_replica_source: None,
            read_replicas: vec!["flask-crud-db-replica".into()],
            status_infos: Vec::new(),
            master_user_secret: Some(
                "arn:aws:secretsmanager:us-east-1:000000000000:secret:rds!db-1-AbCdEf".into(),
            ),
        }
    }

    #[test]
    fn replicas_render_their_source_and_read_replication_status() {
        let mut x = Xml::new();
        render_instance(&mut x, &model());
        assert!(x.as_str().contains(
            "<AutoMinorVersionUpgrade>true</AutoMinorVersionUpgrade><ReadReplicaDBInstanceIdentifiers><ReadReplicaDBInstanceIdentifier>flask-crud-db-replica</ReadReplicaDBInstanceIdentifier></ReadReplicaDBInstanceIdentifiers>"
        ), "{}", x.as_str());
        assert!(!x.as_str().contains("StatusInfos"));
        let mut replica = model();
        replica.read_replicas.clear();
        replica.read_replica_source = Some("flask-crud-db".into());
        let mut sample = ReplicaObserved::starting();
        sample.state = ReplicationState::Replicating;
        sample.lag_seconds = 4;
        replica.status_infos = vec![StatusInfo::read_replication(&sample)];
        let mut x = Xml::new();
        render_instance(&mut x, &replica);
        for fragment in [
            "<AutoMinorVersionUpgrade>true</AutoMinorVersionUpgrade><ReadReplicaSourceDBInstanceIdentifier>flask-crud-db</ReadReplicaSourceDBInstanceIdentifier><ReadReplicaDBInstanceIdentifiers></ReadReplicaDBInstanceIdentifiers>",
            "<PubliclyAccessible>false</PubliclyAccessible><StatusInfos><DBInstanceStatusInfo><StatusType>read replication</StatusType><Normal>true</Normal><Status>replicating</Status><Message>ReplicaLag: 4 seconds</Message></DBInstanceStatusInfo></StatusInfos><StorageType>gp2</StorageType>",
        ] {
            assert!(
                x.as_str().contains(fragment),
                "missing {fragment} in {}",
                x.as_str()
            );
        }
        sample.state = ReplicationState::Error;
        sample.lag_seconds = -1;
        sample.error = Some("Error 'x' on query".into());
        let info = StatusInfo::read_replication(&sample);
        assert_eq!(
            (info.normal, info.status.as_str(), info.message.as_deref()),
            (false, "error", Some("Error 'x' on query"))
        );
    }

    #[test]
    fn an_instance_renders_with_rds_member_names() {
        let mut x = Xml::new();
        render_instance(&mut x, &model());
        let xml = x.as_str();
        for fragment in [
            "<DBInstanceIdentifier>flask-crud-db</DBInstanceIdentifier><DBInstanceClass>db.t3.micro</DBInstanceClass><Engine>mysql</Engine><DBInstanceStatus>available</DBInstanceStatus>",
            "<Endpoint><Address>flask-crud-db.abcdefghijkl.us-east-1.rds.localhost</Address><Port>3306</Port><HostedZoneId>Z2R2ITUGPM61AM</HostedZoneId></Endpoint>",
            "<InstanceCreateTime>2026-12-02T00:00:00.000Z</InstanceCreateTime>",
            "<BackupRetentionPeriod>7</BackupRetentionPeriod>",
            "<VpcSecurityGroups><VpcSecurityGroupMembership><VpcSecurityGroupId>sg-0123</VpcSecurityGroupId><Status>active</Status></VpcSecurityGroupMembership></VpcSecurityGroups>",
            "<DBSubnetGroup><DBSubnetGroupName>flask-crud-db-subnet-group</DBSubnetGroupName>",
            "<SubnetGroupStatus>Complete</SubnetGroupStatus><Subnets><Subnet><SubnetIdentifier>subnet-a</SubnetIdentifier><SubnetAvailabilityZone><Name>us-east-1a</Name></SubnetAvailabilityZone><SubnetStatus>Active</SubnetStatus></Subnet>",
            "<AvailabilityZone>us-east-1a</AvailabilityZone>",
            "<MultiAZ>false</MultiAZ><EngineVersion>8.0</EngineVersion>",
            "<PubliclyAccessible>false</PubliclyAccessible><StorageType>gp2</StorageType>",
            "<StorageEncrypted>true</StorageEncrypted><DbiResourceId>db-ABC</DbiResourceId>",
            "<PreferredBackupWindow>03:00-03:30</PreferredBackupWindow><BackupRetentionPeriod>7</BackupRetentionPeriod>",
            "</PendingModifiedValues><LatestRestorableTime>2026-12-02T00:05:00.000Z</LatestRestorableTime><MultiAZ>",
            "<DBInstanceArn>arn:aws:rds:us-east-1:000000000000:db:flask-crud-db</DBInstanceArn>",
            "<MasterUserSecret><SecretArn>arn:aws:secretsmanager:us-east-1:000000000000:secret:rds!db-1-AbCdEf</SecretArn><SecretStatus>active</SecretStatus></MasterUserSecret>",
        ] {
            assert!(xml.contains(fragment), "missing {fragment} in {xml}");
        }
        // The embedded subnet group has no ARN; DescribeDBSubnetGroups' has.
        assert!(!xml.contains("DBSubnetGroupArn"));
        let mut g = Xml::new();
        render_subnet_group(&mut g, &model().subnet_group, true);
        assert!(
            g.as_str()
                .contains("<DBSubnetGroupArn>arn:aws:rds:us-east-1:000000000000:subgrp:")
        );
    }

    #[test]
    fn the_default_parameter_group_follows_the_major_version() {
        assert_eq!(
            default_parameter_group("mysql", "8.0.35"),
            "default.mysql8.0"
        );
        assert_eq!(default_parameter_group("mysql", "8.0"), "default.mysql8.0");
    }
}
