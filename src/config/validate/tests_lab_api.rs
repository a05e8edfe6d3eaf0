//! `[lab] region`, `api-port` and `api-auth`: one test per rule, each from [`BASE`].

use super::super::model::*;
use super::tests::{BASE, assert_has, error_with, try_parse};

/// `BASE` with `line` added to `[lab]`.
fn lab_with(line: &str) -> String {
    BASE.replacen("name = \"t\"\n", &format!("name = \"t\"\n{line}\n"), 1)
}

fn one_error(line: &str) -> String {
    error_with("name = \"t\"\n", &format!("name = \"t\"\n{line}\n"))
}

#[test]
fn the_aws_api_defaults_to_us_east_1_on_port_4600_with_sigv4() {
    let c = try_parse(BASE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.lab.region, "us-east-1");
    assert_eq!(c.lab.api_port, 4600);
    assert_eq!(c.lab.api_auth, ApiAuth::SigV4);
}

#[test]
fn region_must_look_like_an_aws_region() {
    for good in [
        "eu-west-2",
        "ap-southeast-1",
        "us-gov-west-1",
        "il-central-1",
    ] {
        let c = try_parse(&lab_with(&format!("region = \"{good}\"")))
            .unwrap_or_else(|e| panic!("{good}: {e}"));
        assert_eq!(c.lab.region, good);
    }
    for bad in [
        "useast1",
        "US-EAST-1",
        "us-east",
        "u-east-1",
        "us-east-1a",
        "",
    ] {
        let e = one_error(&format!("region = \"{bad}\""));
        assert_has(
            &e,
            &[
                &format!("[lab] region = \"{bad}\""),
                "must look like an AWS region",
            ],
        );
    }
}

#[test]
fn api_port_is_a_port_and_0_means_any() {
    let c = try_parse(&lab_with("api-port = 0")).unwrap();
    assert_eq!(c.lab.api_port, 0);
    let c = try_parse(&lab_with("api-port = 4566")).unwrap();
    assert_eq!(c.lab.api_port, 4566);
    let e = one_error("api-port = 70000");
    assert_has(&e, &["[lab] api-port = 70000", "65535"]);
}

#[test]
fn api_port_must_not_clash_with_a_listener_or_metrics_port() {
    let e = one_error("api-port = 8080");
    assert_has(
        &e,
        &[
            "[lab] api-port = 8080",
            "the port of a listener of load balancer `lb`",
            "or 0 for any free one",
        ],
    );
    let text = lab_with("api-port = 9100").replacen(
        "security-groups = [\"lb-sg\"]\n[[load-balancers",
        "security-groups = [\"lb-sg\"]\nmetrics-port = 9100\n[[load-balancers",
        1,
    );
    let e = match try_parse(&text) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a clash with metrics-port must be refused"),
    };
    assert_has(
        &e,
        &["api-port = 9100", "the metrics-port of load balancer `lb`"],
    );
}

#[test]
fn api_auth_is_sigv4_or_none() {
    let c = try_parse(&lab_with("api-auth = \"none\"")).unwrap();
    assert_eq!(c.lab.api_auth, ApiAuth::None);
    let c = try_parse(&lab_with("api-auth = \"sigv4\"")).unwrap();
    assert_eq!(c.lab.api_auth, ApiAuth::SigV4);
    let e = one_error("api-auth = \"sigv2\"");
    assert_has(
        &e,
        &[
            "[lab] api-auth = \"sigv2\"",
            "\"sigv4\"",
            "did you mean `sigv4`?",
        ],
    );
}
