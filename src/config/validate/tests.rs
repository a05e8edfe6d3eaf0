//! One test per rule. Each starts from a small valid lab ([`BASE`]), changes one thing, and
//! checks that the message names the key and the value.

use std::path::Path;

use super::super::model::*;
use super::super::{ConfigError, parse};

/// A small valid lab: two public, two app and two db subnets, one of everything.
pub(super) const BASE: &str = r#"
[lab]
name = "t"

[vpc]
name = "v"
cidr = "10.0.0.0/16"
[vpc.route-tables.pub]
default-route = "internet-gateway"
[vpc.route-tables.app]
default-route = "nat-gateway"
[vpc.route-tables.db]
default-route = "none"
[vpc.subnets.pub-a]
cidr = "10.0.1.0/24"
availability-zone = "az-a"
route-table = "pub"
[vpc.subnets.pub-b]
cidr = "10.0.2.0/24"
availability-zone = "az-b"
route-table = "pub"
[vpc.subnets.app-a]
cidr = "10.0.3.0/24"
availability-zone = "az-a"
route-table = "app"
[vpc.subnets.db-a]
cidr = "10.0.5.0/24"
availability-zone = "az-a"
route-table = "db"
[vpc.subnets.db-b]
cidr = "10.0.6.0/24"
availability-zone = "az-b"
route-table = "db"

[security-groups.lb-sg]
ingress = [{ port = 8080, from = "0.0.0.0/0" }]
egress = [{ to = "app-sg" }]
[security-groups.app-sg]
ingress = [{ port = 8000, from = "lb-sg" }]
[security-groups.db-sg]
ingress = [{ port = 3306, from = "app-sg" }]

[load-balancers.lb]
subnets = ["pub-a", "pub-b"]
security-groups = ["lb-sg"]
[[load-balancers.lb.listeners]]
protocol = "HTTP"
port = 8080
default-action = { type = "forward", target-group = "tg" }

[target-groups.tg]
port = 8000

[clusters.c]

[task-definitions.td]
cpu = 256
memory = 512
[task-definitions.td.container]
name = "app"
image = "app:latest"
port = 8000
environment = { DATABASE_URL = "${rds.db.url}" }

[services.svc]
cluster = "c"
task-definition = "td"
desired-count = 2
subnets = ["app-a"]
security-groups = ["app-sg"]
load-balancer = { target-group = "tg", container-name = "app", container-port = 8000 }

[databases.db]
engine = "mysql"
instance-class = "db.t3.micro"
image = "mysql:8.0"
db-name = "app"
master-username = "admin"
subnets = ["db-a", "db-b"]
security-groups = ["db-sg"]
allocated-storage = 20
"#;

pub(super) fn try_parse(text: &str) -> Result<Config, ConfigError> {
    parse(text, Path::new("t.toml"), Path::new("/nonexistent-base"))
}

/// The diagnostics of `text`, rendered; panics if it is valid.
pub(super) fn errors(text: &str) -> Vec<String> {
    match try_parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(ConfigError::Invalid { diagnostics }) => {
            diagnostics.iter().map(|d| d.to_string()).collect()
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
}

/// The single diagnostic of `BASE` with `from` replaced by `to`.
pub(super) fn error_with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE has no `{from}`");
    let errs = errors(&BASE.replacen(from, to, 1));
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    errs.into_iter().next().unwrap()
}

pub(super) fn assert_has(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "`{part}` missing from: {message}");
    }
}

#[test]
fn base_is_valid() {
    let config = try_parse(BASE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.lab.profile, TimingProfile::Aws);
    assert_eq!(config.clusters, vec!["c".to_string()]);
}

/// The shipped `emulator.toml` loads clean. Its build contexts are not in this worktree yet, so
/// they are created as fixtures in a temporary base directory.
#[test]
fn default_emulator_toml_is_valid() {
    let text = include_str!("../../../emulator.toml");
    let base = tempfile::tempdir().unwrap();
    for dir in ["examples/flask-crud", "images/mysql", "images/bastion"] {
        std::fs::create_dir_all(base.path().join(dir)).unwrap();
        std::fs::write(base.path().join(dir).join("Dockerfile"), "FROM scratch\n").unwrap();
    }
    let config =
        parse(text, Path::new("emulator.toml"), base.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.lab.profile, TimingProfile::Fast);
    let tg = &config.target_groups["flask-app-tg"];
    assert_eq!(tg.health_check.interval, std::time::Duration::from_secs(2));
    let db = &config.databases["flask-crud-db"];
    assert_eq!(
        (db.cpu, db.memory_mib, db.backup_retention_days),
        (2048, 1024, 7)
    );
    let https = &config.load_balancers["flask-app-alb"].listeners[1];
    assert_eq!(
        https.certificate,
        Some(Certificate::LocalCa {
            hostnames: vec!["localhost".into(), "127.0.0.1".into()]
        })
    );
    assert_eq!(
        config.task_definitions["flask-app-task"].container.build,
        Some(base.path().join("examples/flask-crud"))
    );
}

#[test]
fn defaults_are_aws() {
    let c = try_parse(BASE).unwrap();
    let hc = &c.target_groups["tg"].health_check;
    assert_eq!((hc.interval.as_secs(), hc.timeout.as_secs()), (30, 5));
    assert_eq!(
        (
            hc.healthy_threshold,
            hc.unhealthy_threshold,
            hc.path.as_str()
        ),
        (5, 2, "/")
    );
    assert_eq!(
        hc.matcher,
        Matcher {
            ranges: vec![(200, 200)]
        }
    );
    assert_eq!(c.target_groups["tg"].deregistration_delay.as_secs(), 300);
    assert_eq!(c.load_balancers["lb"].idle_timeout.as_secs(), 60);
    assert_eq!(
        c.load_balancers["lb"].listeners[0].bind,
        "127.0.0.1:8080".parse().unwrap()
    );
    assert_eq!(c.lab.start_timeout.as_secs(), 120);
    let db = &c.databases["db"];
    assert_eq!(
        (
            db.engine_version.as_str(),
            db.port,
            db.backup_retention_days,
            db.multi_az
        ),
        ("8.0", 3306, 1, false)
    );
    let container = &c.task_definitions["td"].container;
    assert_eq!(
        (
            container.log_group.as_str(),
            container.log_stream_prefix.as_str()
        ),
        ("/ecs/td", "ecs")
    );
}

// ---- syntax, unknown keys, types

#[test]
fn unknown_keys_are_all_listed_with_suggestions() {
    let text = BASE
        .replacen("cidr = \"10.0.5.0/24\"", "cidrr = \"10.0.5.0/24\"", 1)
        .replacen("[clusters.c]", "[clusters.c]\nx = 1", 1);
    let errs = errors(&text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_eq!(
        errs[0],
        "t.toml:27: [vpc.subnets.db-a] unknown key `cidrr` (did you mean `cidr`?)"
    );
    assert_eq!(
        errs[1],
        "t.toml:55: [clusters.c] unknown key `x` (this table takes no keys)"
    );
}

#[test]
fn wrong_type_names_key_and_expected_type() {
    let e = error_with(
        "[target-groups.tg]\nport = 8000",
        "[target-groups.tg]\nport = \"abc\"",
    );
    assert_eq!(
        e,
        "t.toml:52: [target-groups.tg] port = \"abc\": wrong type: string \"abc\", expected an integer"
    );
    let e = error_with("subnets = [\"app-a\"]", "subnets = \"app-a\"");
    assert_has(
        &e,
        &["[services.svc] subnets = \"app-a\"", "expected an array"],
    );
}

#[test]
fn missing_key_names_table() {
    let e = error_with("desired-count = 2\n", "");
    assert_eq!(e, "t.toml:65: [services.svc] missing key `desired-count`");
}

#[test]
fn syntax_error_has_line() {
    let e = error_with("name = \"t\"", "name = t");
    assert!(e.starts_with("t.toml:3: TOML syntax error"), "{e}");
}

#[test]
fn bad_duration_syntax() {
    let e = error_with(
        "[target-groups.tg]\n",
        "[target-groups.tg]\nderegistration-delay = \"30 secs\"\n",
    );
    assert_has(
        &e,
        &[
            "[target-groups.tg] deregistration-delay = \"30 secs\"",
            "unknown unit",
        ],
    );
}

// ---- lab

#[test]
fn lab_name_rule() {
    let e = error_with("name = \"t\"", "name = \"Flask_App\"");
    assert_has(&e, &["t.toml:3: [lab] name = \"Flask_App\"", "lowercase"]);
    let long = format!("name = \"{}\"", "a".repeat(33));
    assert_has(&error_with("name = \"t\"", &long), &["at most 32"]);
}

#[test]
fn lab_profile_values() {
    let e = error_with("name = \"t\"", "name = \"t\"\nprofile = \"fastt\"");
    assert_has(&e, &["[lab] profile = \"fastt\"", "did you mean `fast`?"]);
}

// ---- vpc

#[test]
fn vpc_prefix_range() {
    let e = error_with("cidr = \"10.0.0.0/16\"", "cidr = \"10.0.0.0/8\"");
    assert_has(&e, &["[vpc] cidr = \"10.0.0.0/8\"", "/16 to /28"]);
}

#[test]
fn subnet_cidr_host_bits() {
    let e = error_with("cidr = \"10.0.3.0/24\"", "cidr = \"10.0.3.5/24\"");
    assert_has(
        &e,
        &[
            "[vpc.subnets.app-a] cidr = \"10.0.3.5/24\"",
            "did you mean 10.0.3.0/24?",
        ],
    );
}

#[test]
fn subnet_inside_vpc() {
    let e = error_with("cidr = \"10.0.3.0/24\"", "cidr = \"10.1.3.0/24\"");
    assert_has(
        &e,
        &[
            "[vpc.subnets.app-a] cidr = \"10.1.3.0/24\"",
            "not inside the VPC's block 10.0.0.0/16",
        ],
    );
}

#[test]
fn subnets_do_not_overlap() {
    let e = error_with("cidr = \"10.0.3.0/24\"", "cidr = \"10.0.1.0/25\"");
    assert_has(
        &e,
        &[
            "[vpc.subnets.pub-a] cidr = \"10.0.1.0/24\"",
            "overlaps subnet `app-a` (10.0.1.0/25)",
        ],
    );
}

#[test]
fn subnet_route_table_exists() {
    let e = error_with("route-table = \"app\"", "route-table = \"apps\"");
    assert_has(
        &e,
        &[
            "[vpc.subnets.app-a] route-table = \"apps\"",
            "did you mean `app`?",
        ],
    );
}

#[test]
fn route_table_default_route() {
    let e = error_with("default-route = \"none\"", "default-route = \"nat\"");
    assert_has(
        &e,
        &[
            "[vpc.route-tables.db] default-route = \"nat\"",
            "`internet-gateway`, `nat-gateway`, `none`",
        ],
    );
}

// ---- security groups

#[test]
fn sg_port_range() {
    let e = error_with(
        "{ port = 3306, from = \"app-sg\" }",
        "{ port = 70000, from = \"app-sg\" }",
    );
    assert_has(
        &e,
        &[
            "[security-groups.db-sg.ingress[0]] port = 70000",
            "between 1 and 65535",
        ],
    );
    let e = error_with(
        "{ port = 3306, from = \"app-sg\" }",
        "{ ports = \"9-3\", from = \"app-sg\" }",
    );
    assert_has(&e, &["ports = \"9-3\"", "N <= M"]);
}

#[test]
fn sg_peer_is_cidr_or_group() {
    let e = error_with(
        "{ port = 3306, from = \"app-sg\" }",
        "{ port = 3306, from = \"ap-sg\" }",
    );
    assert_has(
        &e,
        &[
            "[security-groups.db-sg.ingress[0]] from = \"ap-sg\"",
            "did you mean `app-sg`?",
        ],
    );
    let e = error_with(
        "egress = [{ to = \"app-sg\" }]",
        "egress = [{ to = \"10.0.0.1/16\" }]",
    );
    assert_has(
        &e,
        &[
            "[security-groups.lb-sg.egress[0]] to = \"10.0.0.1/16\"",
            "host bits",
        ],
    );
}

// ---- load balancers

#[test]
fn lb_needs_two_zones() {
    let e = error_with("subnets = [\"pub-a\", \"pub-b\"]", "subnets = [\"pub-a\"]");
    assert_has(
        &e,
        &[
            "[load-balancers.lb] subnets = [\"pub-a\"]",
            "two availability zones",
        ],
    );
}

#[test]
fn lb_subnets_public() {
    let text = BASE.replacen(
        "subnets = [\"pub-a\", \"pub-b\"]",
        "subnets = [\"pub-a\", \"db-b\"]",
        1,
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_has(
        &errs[0],
        &[
            "[load-balancers.lb] subnets[1] = \"db-b\"",
            "public subnets",
            "`db`",
        ],
    );
}

#[test]
fn lb_security_groups_exist() {
    let e = error_with(
        "security-groups = [\"lb-sg\"]",
        "security-groups = [\"lb-sgg\"]",
    );
    assert_has(
        &e,
        &[
            "[load-balancers.lb] security-groups[0] = \"lb-sgg\"",
            "did you mean `lb-sg`?",
        ],
    );
}

#[test]
fn listener_port_allowed_by_ingress() {
    let e = error_with(
        "protocol = \"HTTP\"\nport = 8080",
        "protocol = \"HTTP\"\nport = 8081",
    );
    assert_has(
        &e,
        &[
            "[load-balancers.lb.listeners[0]] port = 8081",
            "[\"lb-sg\"]",
            "port 8081",
        ],
    );
}

#[test]
fn listener_port_zero_means_any() {
    let text = BASE.replacen(
        "protocol = \"HTTP\"\nport = 8080",
        "protocol = \"HTTP\"\nport = 0",
        1,
    );
    let config = try_parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.load_balancers["lb"].listeners[0].port(), 0);
}

#[test]
fn listener_ports_unique_across_lbs() {
    let second = "\n[load-balancers.lb2]\nsubnets = [\"pub-a\", \"pub-b\"]\nsecurity-groups = [\"lb-sg\"]\n\
        [[load-balancers.lb2.listeners]]\nprotocol = \"HTTP\"\nport = 8080\n\
        default-action = { type = \"forward\", target-group = \"tg\" }\n";
    let errs = errors(&format!("{BASE}{second}"));
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_has(
        &errs[0],
        &[
            "[load-balancers.lb2.listeners[0]] port = 8080",
            "load balancer `lb`",
        ],
    );
}

#[test]
fn listener_protocol() {
    let e = error_with(
        "protocol = \"HTTP\"\nport = 8080",
        "protocol = \"TCP\"\nport = 8080",
    );
    assert_has(
        &e,
        &[
            "[load-balancers.lb.listeners[0]] protocol = \"TCP\"",
            "\"HTTP\" or \"HTTPS\"",
        ],
    );
}

#[test]
fn https_needs_certificate_http_refuses_one() {
    let e = error_with(
        "protocol = \"HTTP\"\nport = 8080",
        "protocol = \"HTTPS\"\nport = 8080",
    );
    assert_has(
        &e,
        &["[load-balancers.lb.listeners[0]]", "needs `certificate`"],
    );
    let e = error_with(
        "port = 8080\ndefault",
        "port = 8080\ncertificate = {}\ndefault",
    );
    assert_has(
        &e,
        &[
            "[load-balancers.lb.listeners[0].certificate]",
            "HTTP listener takes no certificate",
        ],
    );
}

#[test]
fn https_certificate_forms() {
    let https = |cert: &str| {
        BASE.replacen(
            "protocol = \"HTTP\"\nport = 8080",
            &format!("protocol = \"HTTPS\"\nport = 8080\ncertificate = {cert}"),
            1,
        )
    };
    let c = try_parse(&https("{}")).unwrap_or_else(|e| panic!("{e}"));
    let expected = Certificate::LocalCa {
        hostnames: vec!["localhost".into(), "127.0.0.1".into()],
    };
    assert_eq!(
        c.load_balancers["lb"].listeners[0].certificate,
        Some(expected)
    );
    let errs = errors(&https("{ cert-file = \"c.pem\", key-file = \"k.pem\" }"));
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_has(
        &errs[0],
        &[
            "cert-file = \"c.pem\"",
            "/nonexistent-base/c.pem` is not a file",
        ],
    );
    let errs = errors(&https("{ cert-file = \"c.pem\" }"));
    assert_has(&errs[0], &["certificate]", "go together"]);
}

#[test]
fn forward_target_group_exists() {
    let e = error_with(
        "target-group = \"tg\" }\n\n[target",
        "target-group = \"tgg\" }\n\n[target",
    );
    assert_has(
        &e,
        &[
            "[load-balancers.lb.listeners[0].default-action] target-group = \"tgg\"",
            "did you mean `tg`?",
        ],
    );
}

#[test]
fn redirect_fields() {
    let redirect =
        |action: &str| BASE.replacen("{ type = \"forward\", target-group = \"tg\" }", action, 1);
    let errs = errors(&redirect(
        "{ type = \"redirect\", protocol = \"HTTPS\", port = 8443, status-code = \"HTTP_308\" }",
    ));
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_has(
        &errs[0],
        &[
            "default-action] status-code = \"HTTP_308\"",
            "\"HTTP_301\" or \"HTTP_302\"",
        ],
    );
    let ok = redirect(
        "{ type = \"redirect\", protocol = \"HTTPS\", port = 8443, status-code = \"HTTP_301\" }",
    );
    let c = try_parse(&ok).unwrap_or_else(|e| panic!("{e}"));
    let expected = Redirect {
        protocol: Some(ListenerProtocol::Https),
        host: None,
        port: Some(8443),
        path: None,
        query: None,
        status: RedirectStatus::Permanent301,
    };
    assert_eq!(
        c.load_balancers["lb"].listeners[0].default_action,
        Action::Redirect(expected)
    );
    let errs = errors(&redirect(
        "{ type = \"redirect\", status-code = \"HTTP_301\" }",
    ));
    assert_has(&errs[0], &["default-action]", "would loop"]);
}

#[test]
fn https_may_not_redirect_to_http() {
    let text = BASE.replacen(
        "protocol = \"HTTP\"\nport = 8080\ndefault-action = { type = \"forward\", target-group = \"tg\" }",
        "protocol = \"HTTPS\"\nport = 8080\ncertificate = {}\ndefault-action = { type = \"redirect\", protocol = \"HTTP\", status-code = \"HTTP_301\" }",
        1,
    );
    let errs = errors(&text);
    assert_has(
        &errs.join("\n"),
        &[
            "default-action] protocol = \"HTTP\"",
            "may not redirect to HTTP",
        ],
    );
}

// ---- target groups

#[test]
fn target_group_protocol_port_type() {
    let e = error_with(
        "[target-groups.tg]\nport = 8000",
        "[target-groups.tg]\nport = 0",
    );
    assert_has(&e, &["[target-groups.tg] port = 0", "between 1 and 65535"]);
    let e = error_with(
        "[target-groups.tg]\n",
        "[target-groups.tg]\ntarget-type = \"instance\"\n",
    );
    assert_has(
        &e,
        &[
            "[target-groups.tg] target-type = \"instance\"",
            "only \"ip\"",
        ],
    );
    let e = error_with(
        "[target-groups.tg]\n",
        "[target-groups.tg]\nprotocol = \"HTTPS\"\n",
    );
    assert_has(
        &e,
        &["[target-groups.tg] protocol = \"HTTPS\"", "only \"HTTP\""],
    );
}

#[test]
fn static_targets_are_loopback() {
    let e = error_with(
        "[target-groups.tg]\n",
        "[target-groups.tg]\ntargets = [\"127.0.0.1:9001\", \"10.0.0.5:9001\"]\n",
    );
    assert_has(
        &e,
        &[
            "[target-groups.tg] targets[1] = \"10.0.0.5:9001\"",
            "loopback",
        ],
    );
}

fn with_health_check(lines: &str) -> String {
    BASE.replacen(
        "[clusters.c]",
        &format!("[target-groups.tg.health-check]\n{lines}\n\n[clusters.c]"),
        1,
    )
}

#[test]
fn health_check_timeout_below_interval() {
    let errs = errors(&with_health_check("interval = \"5s\"\ntimeout = \"5s\""));
    assert_eq!(
        errs,
        vec![
            "t.toml:56: [target-groups.tg.health-check] timeout = \"5s\": must be less than interval (5s)"
        ]
    );
}

#[test]
fn health_check_thresholds() {
    let errs = errors(&with_health_check("healthy-threshold = 11"));
    assert_has(
        &errs[0],
        &[
            "[target-groups.tg.health-check] healthy-threshold = 11",
            "between 2 and 10",
        ],
    );
}

#[test]
fn health_check_path_and_matcher() {
    let errs = errors(&with_health_check(
        "path = \"health\"\nmatcher = \"299-200\"",
    ));
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_has(&errs[0], &["path = \"health\"", "start with `/`"]);
    assert_has(&errs[1], &["matcher = \"299-200\"", "empty"]);
    let errs = errors(&with_health_check("matcher = \"200,500\""));
    assert_has(
        &errs[0],
        &["matcher = \"200,500\"", "500 is outside 200-499"],
    );
    let c = try_parse(&with_health_check("matcher = \"200,202-204\"")).unwrap();
    assert_eq!(
        c.target_groups["tg"].health_check.matcher.ranges,
        vec![(200, 200), (202, 204)]
    );
}

#[test]
fn health_check_bounds_depend_on_profile() {
    let errs = errors(&with_health_check("interval = \"2s\"\ntimeout = \"1s\""));
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_has(
        &errs[0],
        &[
            "interval = \"2s\"",
            "at least 5s",
            "profile = \"fast\" allows",
        ],
    );
    assert_has(&errs[1], &["timeout = \"1s\"", "at least 2s"]);
    let fast = with_health_check("interval = \"2s\"\ntimeout = \"1s\"").replacen(
        "name = \"t\"",
        "name = \"t\"\nprofile = \"fast\"",
        1,
    );
    assert!(try_parse(&fast).is_ok());
    let too_fast = fast
        .replacen("interval = \"2s\"", "interval = \"50ms\"", 1)
        .replacen("timeout = \"1s\"", "timeout = \"20ms\"", 1);
    let errs = errors(&too_fast);
    assert_has(&errs[0], &["interval = \"50ms\"", "at least 100ms"]);
    assert_has(&errs[1], &["timeout = \"20ms\"", "at least 50ms"]);
    let errs = errors(&with_health_check("interval = \"6m\""));
    assert_has(&errs[0], &["interval = \"6m\"", "at most 5m"]);
}

#[test]
fn deregistration_delay_range() {
    let e = error_with(
        "[target-groups.tg]\n",
        "[target-groups.tg]\nderegistration-delay = \"2h\"\n",
    );
    assert_has(
        &e,
        &["deregistration-delay = \"2h\"", "between 0s and 3600s"],
    );
}

// ---- task definitions

#[test]
fn fargate_cpu_memory_combinations() {
    let e = error_with("memory = 512", "memory = 4096");
    assert_has(
        &e,
        &[
            "[task-definitions.td] memory = 4096",
            "cpu = 256",
            "512, 1024 or 2048",
        ],
    );
    let e = error_with("cpu = 256\nmemory = 512", "cpu = 1024\nmemory = 1024");
    assert_has(&e, &["memory = 1024", "2048 to 8192 in steps of 1024"]);
    let e = error_with("cpu = 256", "cpu = 300");
    assert_has(&e, &["[task-definitions.td] cpu = 300", "256, 512"]);
}

#[test]
fn container_fields() {
    let e = error_with("image = \"app:latest\"", "image = \"\"");
    assert_has(
        &e,
        &[
            "[task-definitions.td.container] image = \"\"",
            "must not be empty",
        ],
    );
    let e = error_with("name = \"app\"\nimage", "name = \" \"\nimage");
    // The service names the container too, so it also complains.
    assert_has(
        &e,
        &[
            "[task-definitions.td.container] name = \" \"",
            "must not be empty",
        ],
    );
}

#[test]
fn container_build_dir_needs_dockerfile() {
    let e = error_with(
        "image = \"app:latest\"",
        "image = \"app:latest\"\nbuild = \"app\"",
    );
    assert_has(
        &e,
        &[
            "[task-definitions.td.container] build = \"app\"",
            "/nonexistent-base/app` is not a directory",
        ],
    );
    let base = tempfile::tempdir().unwrap();
    std::fs::create_dir(base.path().join("app")).unwrap();
    let text = BASE.replacen(
        "image = \"app:latest\"",
        "image = \"app:latest\"\nbuild = \"app\"",
        1,
    );
    let err = parse(&text, Path::new("t.toml"), base.path())
        .unwrap_err()
        .to_string();
    assert_has(&err, &["build = \"app\"", "has no Dockerfile"]);
    std::fs::write(base.path().join("app/Dockerfile"), "FROM scratch\n").unwrap();
    assert!(parse(&text, Path::new("t.toml"), base.path()).is_ok());
}

#[test]
fn environment_placeholders_reference_databases() {
    let e = error_with("${rds.db.url}", "${rds.dbb.url}");
    assert_has(
        &e,
        &[
            "[task-definitions.td.container.environment] DATABASE_URL = \"${rds.dbb.url}\"",
            "no database `dbb`",
            "did you mean `db`?",
        ],
    );
    let e = error_with("${rds.db.url}", "${rds.db.uri}");
    assert_has(
        &e,
        &[
            "DATABASE_URL = \"${rds.db.uri}\"",
            "unknown database attribute `uri`",
        ],
    );
    let e = error_with("${rds.db.url}", "$HOME");
    assert_has(&e, &["DATABASE_URL = \"$HOME\"", "$$"]);
}

// ---- services

#[test]
fn service_references_exist() {
    let e = error_with("cluster = \"c\"", "cluster = \"cc\"");
    assert_has(
        &e,
        &[
            "[services.svc] cluster = \"cc\"",
            "no cluster `cc`",
            "did you mean `c`?",
        ],
    );
    let errs = errors(&BASE.replacen("task-definition = \"td\"", "task-definition = \"zzz\"", 1));
    assert_has(
        &errs[0],
        &[
            "[services.svc] task-definition = \"zzz\"",
            "defined task definitions: `td`",
        ],
    );
}

#[test]
fn service_subnets_private() {
    let e = error_with("subnets = [\"app-a\"]", "subnets = [\"pub-a\"]");
    assert_has(
        &e,
        &[
            "[services.svc] subnets[0] = \"pub-a\"",
            "public subnet",
            "`pub`",
        ],
    );
}

#[test]
fn service_availability_zone_rebalancing_takes_ecs_values() {
    assert!(try_parse(BASE).unwrap().services["svc"].availability_zone_rebalancing);
    let off = BASE.replacen(
        "desired-count = 2",
        "desired-count = 2\navailability-zone-rebalancing = \"DISABLED\"",
        1,
    );
    assert!(!try_parse(&off).unwrap().services["svc"].availability_zone_rebalancing);
    let e = error_with(
        "desired-count = 2",
        "desired-count = 2\navailability-zone-rebalancing = \"on\"",
    );
    assert_has(
        &e,
        &[
            "[services.svc] availability-zone-rebalancing = \"on\"",
            "ENABLED",
        ],
    );
}

#[test]
fn service_zero_tasks_needs_allow() {
    let e = error_with("desired-count = 2", "desired-count = 0");
    assert_has(
        &e,
        &[
            "[services.svc] desired-count = 0",
            "allow-zero-tasks = true",
        ],
    );
    let ok = BASE.replacen(
        "desired-count = 2",
        "desired-count = 0\nallow-zero-tasks = true",
        1,
    );
    assert!(try_parse(&ok).unwrap().services["svc"].allow_zero_tasks);
    let e = error_with("desired-count = 2", "desired-count = 101");
    assert_has(&e, &["desired-count = 101", "between 0 and 100"]);
}

#[test]
fn service_load_balancer_matches_container() {
    let e = error_with("container-name = \"app\"", "container-name = \"web\"");
    assert_has(
        &e,
        &[
            "[services.svc.load-balancer] container-name = \"web\"",
            "its container is `app`",
        ],
    );
    let e = error_with("container-port = 8000", "container-port = 9000");
    assert_has(
        &e,
        &[
            "[services.svc.load-balancer] container-port = 9000",
            "listens on port 8000",
        ],
    );
    let e = error_with(
        "target-group = \"tg\", container",
        "target-group = \"tgx\", container",
    );
    assert_has(
        &e,
        &[
            "[services.svc.load-balancer] target-group = \"tgx\"",
            "did you mean `tg`?",
        ],
    );
}

#[test]
fn service_security_groups_admit_load_balancer() {
    let e = error_with(
        "{ port = 8000, from = \"lb-sg\" }",
        "{ port = 8001, from = \"lb-sg\" }",
    );
    assert_has(
        &e,
        &[
            "[services.svc] security-groups = [\"app-sg\"]",
            "load balancer `lb`",
            "[\"lb-sg\"]",
            "target group `tg`",
            "port 8000",
        ],
    );
    // A CIDR covering the load balancer's subnets admits it too.
    let cidr = BASE.replacen(
        "{ port = 8000, from = \"lb-sg\" }",
        "{ port = 8000, from = \"10.0.0.0/16\" }",
        1,
    );
    assert!(try_parse(&cidr).is_ok());
}

// ---- databases

#[test]
fn db_identifier_rule() {
    let text = BASE.replace("rds.db.url", "rds.db--x.url").replacen(
        "[databases.db]",
        "[databases.db--x]",
        1,
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_has(&errs[0], &["[databases.db--x]", "`db--x`", "two in a row"]);
}

#[test]
fn db_engine_and_instance_class() {
    let e = error_with("engine = \"mysql\"", "engine = \"postgres\"");
    assert_has(
        &e,
        &[
            "[databases.db] engine = \"postgres\"",
            "\"mysql\" or \"mariadb\"",
        ],
    );
    let e = error_with(
        "instance-class = \"db.t3.micro\"",
        "instance-class = \"db.t3.micr\"",
    );
    assert_has(
        &e,
        &[
            "[databases.db] instance-class = \"db.t3.micr\"",
            "did you mean `db.t3.micro`?",
        ],
    );
    let c = try_parse(&BASE.replacen("db.t3.micro", "db.m5.xlarge", 1)).unwrap();
    assert_eq!(
        (c.databases["db"].cpu, c.databases["db"].memory_mib),
        (4096, 16384)
    );
}

#[test]
fn db_name_and_username() {
    let e = error_with("db-name = \"app\"", "db-name = \"1app\"");
    assert_has(
        &e,
        &["[databases.db] db-name = \"1app\"", "start with a letter"],
    );
    let e = error_with(
        "master-username = \"admin\"",
        "master-username = \"rdsadmin\"",
    );
    assert_has(
        &e,
        &["[databases.db] master-username = \"rdsadmin\"", "reserved"],
    );
    let e = error_with(
        "master-username = \"admin\"",
        "master-username = \"a_very_long_username\"",
    );
    assert_has(
        &e,
        &["master-username = \"a_very_long_username\"", "1 to 16"],
    );
}

#[test]
fn db_storage_and_retention() {
    let e = error_with("allocated-storage = 20", "allocated-storage = 10");
    assert_has(
        &e,
        &[
            "[databases.db] allocated-storage = 10",
            "between 20 and 65536",
        ],
    );
    let e = error_with(
        "allocated-storage = 20",
        "allocated-storage = 20\nbackup-retention-period = 36",
    );
    assert_has(
        &e,
        &[
            "[databases.db] backup-retention-period = 36",
            "between 0 and 35",
        ],
    );
}

#[test]
fn db_backup_window_follows_rds_rules() {
    let e = error_with(
        "allocated-storage = 20",
        "allocated-storage = 20\npreferred-backup-window = \"03:00-03:10\"",
    );
    assert_has(
        &e,
        &[
            "[databases.db] preferred-backup-window = \"03:00-03:10\"",
            "at least 30 minutes",
        ],
    );
    let e = error_with(
        "allocated-storage = 20",
        "allocated-storage = 20\npreferred-backup-window = \"3am\"",
    );
    assert_has(
        &e,
        &["preferred-backup-window = \"3am\"", "hh24:mi-hh24:mi"],
    );
    let e = error_with(
        "allocated-storage = 20",
        "allocated-storage = 20\npreferred-backup-window = \"05:00-05:30\"",
    );
    assert_has(&e, &["maintenance window"]);
}

#[test]
fn db_subnets_private_in_two_zones() {
    let e = error_with("subnets = [\"db-a\", \"db-b\"]", "subnets = [\"db-a\"]");
    assert_has(
        &e,
        &[
            "[databases.db] subnets = [\"db-a\"]",
            "DB subnet group",
            "two availability zones",
        ],
    );
    let errs = errors(&BASE.replacen(
        "subnets = [\"db-a\", \"db-b\"]",
        "subnets = [\"db-a\", \"pub-b\"]",
        1,
    ));
    assert_has(
        &errs[0],
        &["[databases.db] subnets[1] = \"pub-b\"", "public subnet"],
    );
}

#[test]
fn db_security_groups_exist_and_image_non_empty() {
    let e = error_with(
        "security-groups = [\"db-sg\"]",
        "security-groups = [\"nope\"]",
    );
    assert_has(
        &e,
        &[
            "[databases.db] security-groups[0] = \"nope\"",
            "defined security groups: `app-sg`, `db-sg`, `lb-sg`",
        ],
    );
    let e = error_with("image = \"mysql:8.0\"", "image = \"\"");
    assert_has(&e, &["[databases.db] image = \"\"", "must not be empty"]);
}

#[test]
fn read_replicas_are_instances_of_their_own() {
    let with = |list: &str| {
        BASE.replacen(
            "allocated-storage = 20",
            &format!("allocated-storage = 20\nread-replicas = {list}"),
            1,
        )
    };
    // A replica can be named in a task's environment like any instance.
    let text = with("[\"db-replica\"]").replace(
        "environment = { DATABASE_URL = \"${rds.db.url}\" }",
        "environment = { DATABASE_URL = \"${rds.db.url}\", DATABASE_READ_URL = \"${rds.db-replica.url}\" }",
    );
    let c = try_parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.databases["db"].read_replicas, ["db-replica"]);
    assert_eq!(c.databases["db"].read_replica_source, None);
    assert!(
        try_parse(BASE).unwrap().databases["db"]
            .read_replicas
            .is_empty()
    );

    let e = errors(&with("[\"db-\"]"));
    assert_has(
        &e[0],
        &[
            "[databases.db] read-replicas = \"db-\"",
            "read replica identifier",
            "hyphen",
        ],
    );
    let e = errors(&with("[\"db\"]"));
    assert_has(&e[0], &["read-replicas = \"db\"", "its own read replica"]);
    let e = errors(&with("[\"r\", \"r\"]"));
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_has(&e[0], &["read-replicas = \"r\"", "listed twice"]);
    let many: Vec<String> = (0..16).map(|i| format!("\"r{i}\"")).collect();
    let e = errors(&with(&format!("[{}]", many.join(", "))));
    assert_has(
        &e[0],
        &[
            "[databases.db] read-replicas = [\"r0\"",
            "16 read replicas",
            "at most 15",
        ],
    );
}

#[test]
fn a_read_replica_needs_a_source_with_backups_and_a_name_of_its_own() {
    let e = error_with(
        "allocated-storage = 20",
        "allocated-storage = 20\nbackup-retention-period = 0\nread-replicas = [\"r\"]",
    );
    assert_has(
        &e,
        &[
            "[databases.db] read-replicas = [\"r\"]",
            "automated backups",
            "backup-retention-period",
        ],
    );
    let second = "\n[databases.other]\nengine = \"mysql\"\ninstance-class = \"db.t3.micro\"\nimage = \"mysql:8.0\"\ndb-name = \"app\"\nmaster-username = \"admin\"\nsubnets = [\"db-a\", \"db-b\"]\nsecurity-groups = [\"db-sg\"]\nallocated-storage = 20\n";
    let taken = format!(
        "{}{second}",
        BASE.replacen(
            "allocated-storage = 20",
            "allocated-storage = 20\nread-replicas = [\"other\"]",
            1
        )
    );
    let e = errors(&taken);
    assert_has(
        &e[0],
        &[
            "[databases.db] read-replicas = \"other\"",
            "`[databases.other]` already names an instance",
        ],
    );
    let twice = format!(
        "{}read-replicas = [\"r\"]\n",
        taken.replace("[\"other\"]", "[\"r\"]")
    );
    let e = errors(&twice);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_has(
        &e[0],
        &[
            "read-replicas = \"r\"",
            "already the read replica of another instance",
        ],
    );
}

#[test]
fn all_errors_are_collected() {
    let text = BASE
        .replacen("memory = 512", "memory = 4096", 1)
        .replacen("engine = \"mysql\"", "engine = \"pg\"", 1)
        .replacen("cidr = \"10.0.0.0/16\"", "cidr = \"10.0.0.0/8\"", 1);
    assert_eq!(errors(&text).len(), 3);
}

mod routing;
// ---- load balancer resilience keys (connect timeout, X-Forwarded-For mode, mode)

const LB_KEYS_AT: &str = "security-groups = [\"lb-sg\"]\n[[load-balancers.lb.listeners]]";

fn with_lb_key(line: &str) -> String {
    BASE.replacen(
        LB_KEYS_AT,
        &format!("security-groups = [\"lb-sg\"]\n{line}\n[[load-balancers.lb.listeners]]"),
        1,
    )
}

#[test]
fn lb_resilience_defaults() {
    let c = try_parse(BASE).unwrap();
    let lb = &c.load_balancers["lb"];
    assert_eq!(lb.connect_timeout.as_secs(), 10);
    assert_eq!(lb.xff_header_processing_mode, XffMode::Append);
    assert_eq!(lb.mode, ProxyMode::Tierlab);
    assert_eq!(c.target_groups["tg"].outlier_consecutive_5xx, 5);
}

#[test]
fn lb_resilience_keys_are_read() {
    let text = with_lb_key(
        "connect-timeout = \"250ms\"\nxff-header-processing-mode = \"preserve\"\nmode = \"aws\"",
    );
    let text = text.replacen(
        "[target-groups.tg]\nport = 8000",
        "[target-groups.tg]\nport = 8000\noutlier-consecutive-5xx = 0",
        1,
    );
    let c = try_parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let lb = &c.load_balancers["lb"];
    assert_eq!(lb.connect_timeout, std::time::Duration::from_millis(250));
    assert_eq!(lb.xff_header_processing_mode, XffMode::Preserve);
    assert_eq!(lb.mode, ProxyMode::Aws);
    assert_eq!(c.target_groups["tg"].outlier_consecutive_5xx, 0);
}

#[test]
fn lb_connect_timeout_must_be_positive() {
    let errs = errors(&with_lb_key("connect-timeout = \"0s\""));
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_has(
        &errs[0],
        &[
            "[load-balancers.lb] connect-timeout = \"0s\"",
            "more than 0s",
        ],
    );
}

#[test]
fn lb_xff_mode_is_one_of_aws_values() {
    let errs = errors(&with_lb_key("xff-header-processing-mode = \"apend\""));
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_has(
        &errs[0],
        &[
            "[load-balancers.lb] xff-header-processing-mode = \"apend\"",
            "did you mean `append`?",
        ],
    );
}

#[test]
fn lb_mode_is_tierlab_or_aws() {
    let errs = errors(&with_lb_key("mode = \"amazon\""));
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_has(
        &errs[0],
        &[
            "[load-balancers.lb] mode = \"amazon\"",
            "\"tierlab\"",
            "\"aws\"",
        ],
    );
}

#[test]
fn tg_outlier_consecutive_5xx_range() {
    let e = error_with(
        "[target-groups.tg]\nport = 8000",
        "[target-groups.tg]\nport = 8000\noutlier-consecutive-5xx = -1",
    );
    assert_has(
        &e,
        &[
            "[target-groups.tg] outlier-consecutive-5xx = -1",
            "between 0 and 1000",
        ],
    );
}

#[test]
fn container_command_replaces_cmd_and_must_name_a_program() {
    let with = |command: &str| {
        BASE.replacen(
            "port = 8000\nenvironment",
            &format!("port = 8000\ncommand = {command}\nenvironment"),
            1,
        )
    };
    let config = try_parse(&with(r#"["sh", "-c", "exit 3"]"#)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.task_definitions["td"].container.command,
        Some(vec!["sh".into(), "-c".into(), "exit 3".into()])
    );
    assert_eq!(
        try_parse(BASE).unwrap().task_definitions["td"]
            .container
            .command,
        None
    );
    let errs = errors(&with("[]"));
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_has(
        &errs[0],
        &[
            "[task-definitions.td.container] command = []",
            "must name a program",
        ],
    );
    let errs = errors(&with(r#"[" ", "x"]"#));
    assert_has(
        &errs[0],
        &[
            "[task-definitions.td.container] command = \" \"",
            "must not be blank",
        ],
    );
}

// --- Bastions --------------------------------------------------------------------------------

const BASTION: &str = r#"
[security-groups.bastion-sg]
ingress = [{ port = 22, from = "127.0.0.1/32" }]
egress = [{ port = 3306, to = "db-sg" }]

[bastions.jump]
subnet = "pub-a"
security-groups = ["bastion-sg"]
key-name = "jump-key"
"#;

fn with_bastion(from: &str, to: &str) -> String {
    let text = format!("{BASE}{BASTION}");
    assert!(text.contains(from), "no `{from}`");
    text.replacen(from, to, 1)
}

fn bastion_error(from: &str, to: &str) -> String {
    let errs = errors(&with_bastion(from, to));
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    errs.into_iter().next().unwrap()
}

#[test]
fn a_bastion_gets_aws_defaults() {
    let config = try_parse(&with_bastion("", "")).unwrap_or_else(|e| panic!("{e}"));
    let b = &config.bastions["jump"];
    assert_eq!(
        (b.instance_type.as_str(), b.cpu, b.memory_mib),
        ("t2.micro", 1024, 1024)
    );
    assert_eq!(b.image, "tierlab/bastion:latest");
    assert_eq!(
        (b.subnet.as_str(), b.key_name.as_str()),
        ("pub-a", "jump-key")
    );
    assert_eq!(b.build, None);
}

#[test]
fn a_bastion_needs_a_public_subnet() {
    let e = bastion_error("subnet = \"pub-a\"", "subnet = \"app-a\"");
    assert_has(
        &e,
        &[
            "t.toml:",
            "[bastions.jump] subnet = \"app-a\"",
            "is a private subnet (route table `app`",
            "a bastion needs a public one",
        ],
    );
    let e = bastion_error("subnet = \"pub-a\"", "subnet = \"pub-c\"");
    assert_has(&e, &["subnet = \"pub-c\"", "no subnet `pub-c` is defined"]);
}

#[test]
fn a_bastion_names_existing_security_groups() {
    let e = bastion_error("[\"bastion-sg\"]", "[\"bastoin-sg\"]");
    assert_has(
        &e,
        &[
            "[bastions.jump] security-groups[0] = \"bastoin-sg\"",
            "bastion-sg",
        ],
    );
    let e = bastion_error("security-groups = [\"bastion-sg\"]", "security-groups = []");
    assert_has(&e, &["security-groups = []", "at least one security group"]);
}

#[test]
fn a_bastion_key_name_must_make_a_file_name() {
    let e = bastion_error("\"jump-key\"", "\"../etc/passwd\"");
    assert_has(&e, &["key-name = \"../etc/passwd\"", "<key-name>.pem"]);
    let e = bastion_error("\"jump-key\"", "\"\"");
    assert_has(&e, &["key-name = \"\"", "must not be empty"]);
}

#[test]
fn a_bastion_instance_type_is_known() {
    let e = bastion_error(
        "key-name = \"jump-key\"",
        "key-name = \"jump-key\"\ninstance-type = \"t2.mikro\"",
    );
    assert_has(
        &e,
        &[
            "instance-type = \"t2.mikro\"",
            "unknown instance type",
            "t2.micro",
        ],
    );
}

#[test]
fn a_bastion_name_is_a_host_name() {
    let e = bastion_error("[bastions.jump]", "[bastions.\"jump_host\"]");
    assert_has(&e, &["bastion name `jump_host`", "`_` is not allowed"]);
}

#[test]
fn service_deployment_settings() {
    let ok = BASE.replacen(
        "desired-count = 2",
        "desired-count = 2\nminimum-healthy-percent = 50\nmaximum-percent = 150\nhealth-check-grace-period-seconds = 5\ndeployment-circuit-breaker = { enable = true, rollback = true }",
        1,
    );
    let svc = &try_parse(&ok).unwrap().services["svc"];
    assert_eq!(svc.deployment.minimum_healthy_percent, 50);
    assert_eq!(svc.deployment.maximum_percent, 150);
    assert!(svc.deployment.circuit_breaker.enable && svc.deployment.circuit_breaker.rollback);
    assert_eq!(
        svc.health_check_grace_period,
        Some(std::time::Duration::from_secs(5))
    );
    let defaults = &try_parse(BASE).unwrap().services["svc"];
    assert_eq!(
        (
            defaults.deployment.minimum_healthy_percent,
            defaults.deployment.maximum_percent
        ),
        (100, 200)
    );
    assert!(!defaults.deployment.circuit_breaker.enable);
    let e = error_with(
        "desired-count = 2",
        "desired-count = 2\nminimum-healthy-percent = 101",
    );
    assert_has(
        &e,
        &[
            "[services.svc] minimum-healthy-percent = 101",
            "between 0 and 100",
        ],
    );
    let e = error_with(
        "desired-count = 2",
        "desired-count = 2\nmaximum-percent = 100",
    );
    assert_has(&e, &["[services.svc] maximum-percent = 100/100", "no room"]);
    let e = error_with(
        "desired-count = 2",
        "desired-count = 2\ndeployment-circuit-breaker = { enable = true }",
    );
    assert_has(&e, &["rollback"]);
}

#[test]
fn container_stop_timeout() {
    let with = |value: &str| {
        BASE.replacen(
            "[task-definitions.td.container]",
            &format!("[task-definitions.td.container]\nstop-timeout = \"{value}\""),
            1,
        )
    };
    let td = &try_parse(&with("5s")).unwrap().task_definitions["td"];
    assert_eq!(
        td.container.stop_timeout,
        Some(std::time::Duration::from_secs(5))
    );
    assert_eq!(
        try_parse(BASE).unwrap().task_definitions["td"]
            .container
            .stop_timeout,
        None
    );
    let e = try_parse(&with("200s")).unwrap_err().to_string();
    assert!(e.contains("stop-timeout") && e.contains("120s"), "{e}");
}
