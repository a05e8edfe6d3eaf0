//! Who may call a lab's AWS API, and the account and network it shows: the real AWS CLI,
//! signing with the lab's credentials (`tierlab env`), with a wrong secret, with a stranger's
//! key id, and with anything at all when `api-auth = "none"`.

use std::path::Path;

use tierlab::lab::{Lab, StartOptions};
use tokio_util::sync::CancellationToken;

use crate::lab_support::{DOCKER_LOCK, TestLab, docker, shut_down_clean};
use crate::support::aws::{Aws, SERVICE_ERROR_EXIT};

/// A stranger's key pair of AWS's shape.
const OTHER_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const WRONG_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// `examples/alb-only.toml` (no Docker) on free ports, with `extra` lines in `[lab]`.
pub async fn alb_only_lab(state: &Path, extra: &str) -> Lab {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("examples/alb-only.toml"))
        .unwrap()
        .replace("port = 8080\n", "port = 0\n")
        .replace("port = 8443\n", "port = 0\n")
        .replace("metrics-port = 9100", "metrics-port = 0")
        .replace("api-port = 0\n", &format!("api-port = 0\n{extra}\n"));
    let config = tierlab::config::parse(&text, &root.join("alb-only.toml"), root)
        .unwrap_or_else(|e| panic!("{e}"));
    let options = StartOptions {
        state_dir: Some(state.to_path_buf()),
        ..StartOptions::default()
    };
    Lab::start(config, options, CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("{}", tierlab::error::chain(&e)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_labs_own_signature_passes() {
    let state = tempfile::tempdir().unwrap();
    let lab = alb_only_lab(state.path(), "").await;
    let aws = Aws::for_lab(&lab);
    assert!(aws.access_key_id.starts_with("AKIA") && aws.access_key_id.len() == 20);
    assert!(aws.endpoint.starts_with("http://127.0.0.1:"));

    // The reference builds ARNs from this.
    let account = aws
        .text(&["sts", "get-caller-identity", "--query", "Account"])
        .await;
    assert_eq!(account, "000000000000");
    let arn = aws
        .text(&["sts", "get-caller-identity", "--query", "Arn"])
        .await;
    assert_eq!(arn, "arn:aws:iam::000000000000:user/tierlab");

    let wrong = aws
        .with_secret(WRONG_SECRET)
        .fails(&["sts", "get-caller-identity"])
        .await;
    assert_eq!(wrong.exit, SERVICE_ERROR_EXIT, "{}", wrong.stderr);
    assert_eq!(wrong.code, "SignatureDoesNotMatch");
    assert_eq!(wrong.operation, "GetCallerIdentity");
    assert!(
        wrong
            .message
            .starts_with("The request signature we calculated does not match"),
        "{}",
        wrong.message
    );

    let stranger = aws
        .with_key_id(OTHER_KEY_ID)
        .fails(&["ec2", "describe-subnets"])
        .await;
    assert_eq!(stranger.exit, SERVICE_ERROR_EXIT);
    assert_eq!(
        stranger.code, "AuthFailure",
        "EC2's name for an unknown key"
    );
    let stranger = aws
        .with_key_id(OTHER_KEY_ID)
        .fails(&["elbv2", "describe-load-balancers"])
        .await;
    assert_eq!(stranger.code, "InvalidClientTokenId");
    assert_eq!(
        stranger.message,
        "The security token included in the request is invalid."
    );
    let json = aws
        .with_secret(WRONG_SECRET)
        .fails(&["ecs", "list-clusters"])
        .await;
    assert_eq!(
        json.code, "InvalidSignatureException",
        "JSON services' name"
    );

    // Same pair after a restart: `tierlab env` output stays valid. The port is free once the
    // lab has stopped.
    let before = lab.aws_credentials();
    let port: u16 = aws.endpoint.rsplit(':').next().unwrap().parse().unwrap();
    lab.shutdown().await.unwrap();
    std::net::TcpListener::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("the AWS API's port {port} is still bound after the stop: {e}"));
    let lab = alb_only_lab(state.path(), "").await;
    assert_eq!(lab.aws_credentials(), before);
    lab.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_auth_none_accepts_any_credentials() {
    let state = tempfile::tempdir().unwrap();
    let lab = alb_only_lab(state.path(), "api-auth = \"none\"").await;
    let test = Aws::for_lab(&lab).with_key_id("test").with_secret("test");
    let account = test
        .text(&["sts", "get-caller-identity", "--query", "Account"])
        .await;
    assert_eq!(account, "000000000000");
    let subnets = test
        .json(&[
            "ec2",
            "describe-subnets",
            "--query",
            "Subnets[].Tags[?Key=='Name'].Value[] | sort(@)",
        ])
        .await;
    assert_eq!(
        subnets,
        serde_json::json!(["public-subnet-1a", "public-subnet-1b"])
    );
    lab.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_lab_shows_its_network_and_refuses_strangers_writes() {
    let _serial = DOCKER_LOCK.lock().await;
    let docker = docker().await;
    let test = TestLab::new("awsauth");
    let lab = test.start().await;
    let aws = Aws::for_lab(&lab);
    let registry = lab.registry().clone();

    // The six subnets of the reference, by Name tag, in the lab's VPC.
    let subnets = aws.json(&["ec2", "describe-subnets"]).await;
    let subnets = subnets["Subnets"].as_array().unwrap();
    let mut names: Vec<String> = subnets
        .iter()
        .map(|s| {
            let tags = s["Tags"].as_array().unwrap();
            let name = tags.iter().find(|t| t["Key"] == "Name").unwrap();
            name["Value"].as_str().unwrap().to_string()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "private-app-subnet-1a",
            "private-app-subnet-1b",
            "private-db-subnet-1a",
            "private-db-subnet-1b",
            "public-subnet-1a",
            "public-subnet-1b"
        ]
    );
    let vpc_id = registry.vpc_id("flask-app-vpc");
    assert!(subnets.iter().all(|s| s["VpcId"] == vpc_id.as_str()));
    assert!(subnets.iter().all(|s| s["State"] == "available"));

    // Filters and id lists, as scripts use them.
    let vpc = aws
        .text(&[
            "ec2",
            "describe-vpcs",
            "--filters",
            "Name=tag:Name,Values=flask-app-vpc",
            "--query",
            "Vpcs[0].VpcId",
        ])
        .await;
    assert_eq!(vpc, vpc_id);
    let app_sg = registry.security_group_id("app-sg");
    let db_sg = aws
        .json(&[
            "ec2",
            "describe-security-groups",
            "--group-ids",
            &registry.security_group_id("db-sg"),
        ])
        .await;
    let ingress = &db_sg["SecurityGroups"][0]["IpPermissions"][0];
    assert_eq!(ingress["FromPort"], 3306);
    assert_eq!(ingress["IpProtocol"], "tcp");
    assert_eq!(ingress["UserIdGroupPairs"][0]["GroupId"], app_sg.as_str());
    let public_routes = aws
        .json(&[
            "ec2",
            "describe-route-tables",
            "--filters",
            &format!(
                "Name=association.subnet-id,Values={}",
                registry.subnet_id("public-subnet-1a")
            ),
            "--query",
            "RouteTables[0].Routes[].GatewayId",
        ])
        .await;
    assert_eq!(public_routes[0], "local");
    assert!(public_routes[1].as_str().unwrap().starts_with("igw-"));
    let missing = aws
        .fails(&[
            "ec2",
            "describe-subnets",
            "--subnet-ids",
            "subnet-0000000000000000f",
        ])
        .await;
    assert_eq!(missing.code, "InvalidSubnetID.NotFound");

    // A write signed with a wrong secret changes nothing.
    let desired = lab
        .service("flask-app-service")
        .unwrap()
        .status()
        .desired_count;
    let refused = aws
        .with_secret(WRONG_SECRET)
        .fails(&[
            "ecs",
            "update-service",
            "--cluster",
            "flask-app-cluster",
            "--service",
            "flask-app-service",
            "--desired-count",
            "3",
        ])
        .await;
    assert_eq!(refused.code, "InvalidSignatureException");
    let refused = aws
        .with_key_id(OTHER_KEY_ID)
        .fails(&[
            "ecs",
            "update-service",
            "--cluster",
            "flask-app-cluster",
            "--service",
            "flask-app-service",
            "--desired-count",
            "3",
        ])
        .await;
    assert_eq!(refused.code, "UnrecognizedClientException");
    // Refused before dispatch: nothing can change later either.
    let service = lab.service("flask-app-service").unwrap().status();
    assert_eq!(
        service.desired_count, desired,
        "the refused call changed nothing"
    );

    shut_down_clean(lab, &docker, &test).await;
}
