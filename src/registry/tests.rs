use super::*;

fn config() -> Config {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    crate::config::load(&root.join("emulator.toml")).expect("the default topology loads")
}

#[test]
fn arns_have_aws_shapes() {
    let r = Registry::in_memory("eu-west-1");
    let lb = r.load_balancer_arn("flask-app-alb");
    assert!(
        lb.starts_with(
            "arn:aws:elasticloadbalancing:eu-west-1:000000000000:loadbalancer/app/flask-app-alb/"
        ),
        "{lb}"
    );
    assert_eq!(lb.rsplit('/').next().unwrap().len(), 16);
    let listener = r.listener_arn("flask-app-alb", 8080);
    let lb_hex = lb.rsplit('/').next().unwrap();
    assert!(
        listener.contains(&format!(":listener/app/flask-app-alb/{lb_hex}/")),
        "{listener}"
    );
    let rule = r.rule_arn("flask-app-alb", 8080, None);
    assert!(rule.contains(":listener-rule/app/flask-app-alb/"), "{rule}");
    assert_ne!(rule, r.rule_arn("flask-app-alb", 8080, Some(10)));
    assert_eq!(
        r.target_group_arn("flask-app-tg"),
        format!(
            "arn:aws:elasticloadbalancing:eu-west-1:000000000000:{}",
            crate::alb::arn::target_group_id("flask-app-tg")
        )
    );
    assert_eq!(
        r.service_arn("flask-app-cluster", "flask-app-service"),
        "arn:aws:ecs:eu-west-1:000000000000:service/flask-app-cluster/flask-app-service"
    );
    assert_eq!(
        r.task_definition_arn("flask-app-task", 3),
        "arn:aws:ecs:eu-west-1:000000000000:task-definition/flask-app-task:3"
    );
    assert_eq!(
        r.db_arn("flask-crud-db"),
        "arn:aws:rds:eu-west-1:000000000000:db:flask-crud-db"
    );
    assert_eq!(
        r.log_stream_arn("/ecs/flask-app", "ecs/flask-app/abc"),
        "arn:aws:logs:eu-west-1:000000000000:log-group:/ecs/flask-app:log-stream:ecs/flask-app/abc"
    );
    let eni = r.eni_id("0123456789abcdef0123456789abcdef");
    assert_eq!(eni.len(), "eni-".len() + 17, "{eni}");
    assert_eq!(eni, r.eni_id("0123456789abcdef0123456789abcdef"));
}

#[test]
fn random_ids_have_aws_prefixes_and_lengths() {
    let r = Registry::in_memory(DEFAULT_REGION);
    for (id, prefix) in [
        (r.vpc_id("v"), "vpc-"),
        (r.subnet_id("s"), "subnet-"),
        (r.security_group_id("g"), "sg-"),
        (r.route_table_id("t"), "rtb-"),
    ] {
        assert!(id.starts_with(prefix), "{id}");
        let hex = &id[prefix.len()..];
        assert_eq!(hex.len(), 17, "{id}");
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    }
    assert_ne!(r.subnet_id("a"), r.subnet_id("b"));
    assert_eq!(r.subnet_id("a"), r.subnet_id("a"));
    assert_eq!(
        r.name_of(IdKind::Subnet, &r.subnet_id("a")).as_deref(),
        Some("a")
    );
    assert_eq!(r.name_of(IdKind::Vpc, &r.subnet_id("a")), None);
    let resource = r.db_resource_id("db");
    assert!(
        resource.starts_with("db-") && resource.len() == 29,
        "{resource}"
    );
    let host = r.db_endpoint_host("flask-crud-db");
    let parts: Vec<&str> = host.split('.').collect();
    assert_eq!(parts[0], "flask-crud-db");
    assert_eq!(parts[1].len(), 12);
    assert_eq!(&parts[2..], ["us-east-1", "rds", "localhost"]);
    let dns = r.load_balancer_dns_name("flask-app-alb");
    assert!(dns.starts_with("flask-app-alb-") && dns.ends_with(".us-east-1.elb.localhost"));
}

#[test]
fn ids_are_kept_across_runs_in_a_private_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = config();
    let first = Registry::load_or_create(dir.path(), DEFAULT_REGION, &config).unwrap();
    let vpc = first.vpc_id(&config.vpc.name);
    let subnet = first.subnet_id("private-app-subnet-1a");
    let dns = first.load_balancer_dns_name("flask-app-alb");
    let late = first.security_group_id("made-after-start");
    drop(first);
    let path = dir.path().join(IDS_FILE);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let second = Registry::load_or_create(dir.path(), DEFAULT_REGION, &config).unwrap();
    assert_eq!(second.vpc_id(&config.vpc.name), vpc);
    assert_eq!(second.subnet_id("private-app-subnet-1a"), subnet);
    assert_eq!(second.load_balancer_dns_name("flask-app-alb"), dns);
    assert_eq!(second.security_group_id("made-after-start"), late);
}

#[test]
fn a_damaged_ids_file_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(IDS_FILE), b"{ not json").unwrap();
    let r = Registry::load_or_create(dir.path(), DEFAULT_REGION, &config()).unwrap();
    assert!(r.vpc_id("flask-app-vpc").starts_with("vpc-"));
}

#[test]
fn arns_parse_into_their_parts() {
    let arn = Arn::parse(
        "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/flask-app-tg/0123456789abcdef",
    )
    .unwrap();
    assert_eq!(arn.service, "elasticloadbalancing");
    assert_eq!(arn.account, ACCOUNT);
    assert_eq!(
        arn.resource_type(),
        ("targetgroup", "flask-app-tg/0123456789abcdef")
    );
    let db = Arn::parse("arn:aws:rds:us-east-1:000000000000:db:flask-crud-db").unwrap();
    assert_eq!(db.resource_type(), ("db", "flask-crud-db"));
    let group =
        Arn::parse("arn:aws:logs:us-east-1:000000000000:log-group:/ecs/flask-app:*").unwrap();
    assert_eq!(group.resource_type(), ("log-group", "/ecs/flask-app:*"));
    for bad in [
        "",
        "arn",
        "arn:aws:ecs",
        "nope:aws:ecs:r:a:cluster/x",
        "arn::ecs:r:a:x",
    ] {
        assert_eq!(Arn::parse(bad), None, "{bad}");
    }
}
