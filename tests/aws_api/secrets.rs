//! Secrets Manager and Parameter Store through the real AWS CLI against a lab without Docker
//! (`examples/alb-only.toml`): versions and staging labels, SecureString decryption, paths, AWS's
//! errors; the store on disk is 0600 and holds no plaintext; everything survives a restart.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;
use tierlab::secrets::SecretStore;
use tierlab::state::StateDir;

use super::auth::alb_only_lab;
use crate::support::aws::{Aws, Failure, SERVICE_ERROR_EXIT};

const PLAIN: &str = "s3cr3t-Value-0001";
const PLAIN2: &str = "s3cr3t-Value-0002";
const PARAM_PLAIN: &str = "p4ram-Value-0003";

fn assert_error(failure: &Failure, code: &str, message: &str) {
    assert_eq!(failure.exit, SERVICE_ERROR_EXIT, "{}", failure.stderr);
    assert_eq!(failure.code, code, "{}", failure.stderr);
    assert!(
        failure.message.contains(message),
        "{code}: `{}` does not contain `{message}`",
        failure.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_manager_answers_the_aws_cli() {
    let state = tempfile::tempdir().unwrap();
    let lab = alb_only_lab(state.path(), "").await;
    let aws = Aws::for_lab(&lab);

    // create-secret: an ARN with AWS's six-character suffix, a first version.
    let created = aws
        .json(&[
            "secretsmanager",
            "create-secret",
            "--name",
            "prod/app/db",
            "--description",
            "the app's DB URL",
            "--secret-string",
            PLAIN,
            "--tags",
            "Key=team,Value=web",
        ])
        .await;
    let arn = created["ARN"].as_str().unwrap().to_string();
    let prefix = "arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/app/db-";
    assert!(arn.starts_with(prefix), "{arn}");
    let suffix = &arn[prefix.len()..];
    assert!(
        suffix.len() == 6 && suffix.chars().all(|c| c.is_ascii_alphanumeric()),
        "{arn}"
    );
    assert_eq!(created["Name"], "prod/app/db");
    let v1 = created["VersionId"].as_str().unwrap().to_string();

    let got = aws
        .json(&[
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            "prod/app/db",
        ])
        .await;
    assert_eq!(got["SecretString"], PLAIN);
    assert_eq!(got["VersionId"], v1.as_str());
    assert_eq!(got["VersionStages"], serde_json::json!(["AWSCURRENT"]));
    assert!(got["CreatedDate"].as_f64().unwrap() > 1.7e9);

    // put-secret-value: the new version is current, the old one previous.
    let put = aws
        .json(&[
            "secretsmanager",
            "put-secret-value",
            "--secret-id",
            &arn,
            "--secret-string",
            PLAIN2,
        ])
        .await;
    let v2 = put["VersionId"].as_str().unwrap().to_string();
    assert_ne!(v1, v2);
    assert_eq!(put["VersionStages"], serde_json::json!(["AWSCURRENT"]));
    let current = aws
        .text(&[
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            &arn,
            "--query",
            "SecretString",
        ])
        .await;
    assert_eq!(current, PLAIN2);
    let previous = aws
        .text(&[
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            "prod/app/db",
            "--version-stage",
            "AWSPREVIOUS",
            "--query",
            "SecretString",
        ])
        .await;
    assert_eq!(previous, PLAIN);
    let by_id = aws
        .text(&[
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            "prod/app/db",
            "--version-id",
            &v1,
            "--query",
            "SecretString",
        ])
        .await;
    assert_eq!(by_id, PLAIN);

    // describe-secret and list-secrets: labels per version, never a value.
    let described = aws
        .json(&[
            "secretsmanager",
            "describe-secret",
            "--secret-id",
            "prod/app/db",
        ])
        .await;
    assert_eq!(described["ARN"], arn.as_str());
    assert_eq!(described["Description"], "the app's DB URL");
    assert_eq!(
        described["VersionIdsToStages"][&v1],
        serde_json::json!(["AWSPREVIOUS"])
    );
    assert_eq!(
        described["VersionIdsToStages"][&v2],
        serde_json::json!(["AWSCURRENT"])
    );
    assert_eq!(
        described["Tags"],
        serde_json::json!([{"Key": "team", "Value": "web"}])
    );
    aws.json(&[
        "secretsmanager",
        "create-secret",
        "--name",
        "other",
        "--secret-string",
        "x",
    ])
    .await;
    let listed = aws.json(&["secretsmanager", "list-secrets"]).await;
    let names: Vec<&str> = listed["SecretList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["other", "prod/app/db"], "newest first");
    let filtered = aws
        .json(&[
            "secretsmanager",
            "list-secrets",
            "--filters",
            "Key=name,Values=prod/",
        ])
        .await;
    assert_eq!(filtered["SecretList"].as_array().unwrap().len(), 1);
    assert_eq!(
        filtered["SecretList"][0]["SecretVersionsToStages"][&v2],
        serde_json::json!(["AWSCURRENT"])
    );
    for output in [&described, &listed] {
        let text = output.to_string();
        assert!(!text.contains(PLAIN) && !text.contains(PLAIN2), "{text}");
    }

    // AWS's errors.
    let e = aws
        .fails(&[
            "secretsmanager",
            "create-secret",
            "--name",
            "prod/app/db",
            "--secret-string",
            "x",
        ])
        .await;
    assert_error(
        &e,
        "ResourceExistsException",
        "The operation failed because the secret prod/app/db already exists.",
    );
    let e = aws
        .fails(&["secretsmanager", "get-secret-value", "--secret-id", "nope"])
        .await;
    assert_error(
        &e,
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret.",
    );
    let e = aws
        .fails(&[
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            "prod/app/db",
            "--version-stage",
            "AWSPENDING",
        ])
        .await;
    assert_error(
        &e,
        "ResourceNotFoundException",
        "for staging label: AWSPENDING",
    );
    let e = aws
        .fails(&[
            "secretsmanager",
            "create-secret",
            "--name",
            "bad name!",
            "--secret-string",
            "x",
        ])
        .await;
    assert_error(&e, "InvalidParameterException", "Invalid name.");
    let e = aws
        .fails(&[
            "secretsmanager",
            "delete-secret",
            "--secret-id",
            "prod/app/db",
        ])
        .await;
    assert_error(&e, "InvalidAction", "DeleteSecret");
    let e = aws
        .fails(&["secretsmanager", "list-secrets", "--max-results", "101"])
        .await;
    assert_error(&e, "ValidationException", "less than or equal to 100");

    // The store: 0600, sealed, and the same after a restart.
    lab.shutdown().await.unwrap();
    let st = StateDir::at(state.path());
    let path = SecretStore::path(&st, "alb-only");
    let bytes = std::fs::read(&path).unwrap();
    for plain in [PLAIN, PLAIN2, "prod/app/db"] {
        assert!(
            !bytes.windows(plain.len()).any(|w| w == plain.as_bytes()),
            "{plain} in the store"
        );
    }
    for file in [&path, &SecretStore::key_path(&st, "alb-only")] {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    let lab = alb_only_lab(state.path(), "").await;
    let aws = Aws::for_lab(&lab);
    let again = aws
        .text(&[
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            &arn,
            "--query",
            "SecretString",
        ])
        .await;
    assert_eq!(again, PLAIN2);
    lab.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_store_answers_the_aws_cli() {
    let state = tempfile::tempdir().unwrap();
    let lab = alb_only_lab(state.path(), "").await;
    let aws = Aws::for_lab(&lab);
    let put = |args: Vec<&'static str>| {
        let aws = aws.clone();
        async move {
            let mut all = vec!["ssm", "put-parameter"];
            all.extend(args);
            aws.json(&all).await
        }
    };
    let out = put(vec![
        "--name",
        "/app/db/password",
        "--value",
        PARAM_PLAIN,
        "--type",
        "SecureString",
    ])
    .await;
    assert_eq!(out, serde_json::json!({"Version": 1, "Tier": "Standard"}));
    put(vec![
        "--name",
        "/app/db/host",
        "--value",
        "db.internal",
        "--type",
        "String",
    ])
    .await;
    put(vec![
        "--name",
        "/app/hosts",
        "--value",
        "a,b,c",
        "--type",
        "StringList",
    ])
    .await;
    put(vec![
        "--name",
        "/app/db/replica/host",
        "--value",
        "replica.internal",
        "--type",
        "String",
    ])
    .await;

    // SecureString: hidden without --with-decryption, as SSM answers.
    let hidden = aws
        .json(&["ssm", "get-parameter", "--name", "/app/db/password"])
        .await;
    let p = &hidden["Parameter"];
    assert_eq!(p["Type"], "SecureString");
    assert_ne!(p["Value"], PARAM_PLAIN);
    assert_eq!(
        p["ARN"],
        "arn:aws:ssm:us-east-1:000000000000:parameter/app/db/password"
    );
    assert_eq!(
        (p["Version"].as_u64(), p["DataType"].as_str()),
        (Some(1), Some("text"))
    );
    let shown = aws
        .text(&[
            "ssm",
            "get-parameter",
            "--name",
            "/app/db/password",
            "--with-decryption",
            "--query",
            "Parameter.Value",
        ])
        .await;
    assert_eq!(shown, PARAM_PLAIN);

    // --overwrite adds a version; without it the parameter is kept.
    let e = aws
        .fails(&[
            "ssm",
            "put-parameter",
            "--name",
            "/app/db/host",
            "--value",
            "x",
            "--type",
            "String",
        ])
        .await;
    assert_error(
        &e,
        "ParameterAlreadyExists",
        "set the overwrite option in the request to true",
    );
    let over = put(vec![
        "--name",
        "/app/db/host",
        "--value",
        "db2.internal",
        "--overwrite",
    ])
    .await;
    assert_eq!(over["Version"], 2);
    let old = aws
        .text(&[
            "ssm",
            "get-parameter",
            "--name",
            "/app/db/host:1",
            "--query",
            "Parameter.Value",
        ])
        .await;
    assert_eq!(old, "db.internal");

    // get-parameters: found and invalid names.
    let several = aws
        .json(&[
            "ssm",
            "get-parameters",
            "--names",
            "/app/db/host",
            "/app/hosts",
            "/app/missing",
            "--with-decryption",
        ])
        .await;
    let values: Vec<&str> = several["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["db2.internal", "a,b,c"]);
    assert_eq!(
        several["InvalidParameters"],
        serde_json::json!(["/app/missing"])
    );

    // get-parameters-by-path: one level, or all with --recursive.
    let names = |v: &Value| -> Vec<String> {
        v["Parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["Name"].as_str().unwrap().to_string())
            .collect()
    };
    let level = aws
        .json(&["ssm", "get-parameters-by-path", "--path", "/app/db"])
        .await;
    assert_eq!(names(&level), ["/app/db/host", "/app/db/password"]);
    let secure = level["Parameters"][1]["Value"].as_str().unwrap();
    assert_ne!(secure, PARAM_PLAIN, "hidden without --with-decryption");
    let all = aws
        .json(&[
            "ssm",
            "get-parameters-by-path",
            "--path",
            "/app",
            "--recursive",
            "--with-decryption",
        ])
        .await;
    assert_eq!(
        names(&all),
        [
            "/app/db/host",
            "/app/db/password",
            "/app/db/replica/host",
            "/app/hosts"
        ]
    );
    assert_eq!(all["Parameters"][1]["Value"], PARAM_PLAIN);

    // AWS's errors.
    let e = aws
        .fails(&["ssm", "get-parameter", "--name", "/app/nope"])
        .await;
    assert_error(&e, "ParameterNotFound", "");
    let e = aws
        .fails(&["ssm", "put-parameter", "--name", "/app/new", "--value", "v"])
        .await;
    assert_error(
        &e,
        "ValidationException",
        "A parameter type is required when you create a parameter.",
    );
    let e = aws
        .fails(&[
            "ssm",
            "put-parameter",
            "--name",
            "app/new",
            "--value",
            "v",
            "--type",
            "String",
        ])
        .await;
    assert_error(&e, "ValidationException", "fully qualified");
    let e = aws
        .fails(&["ssm", "get-parameters-by-path", "--path", "app"])
        .await;
    assert_error(&e, "ValidationException", "must begin with a forward slash");
    let e = aws
        .fails(&["ssm", "delete-parameter", "--name", "/app/hosts"])
        .await;
    assert_error(&e, "InvalidAction", "DeleteParameter");

    lab.shutdown().await.unwrap();
    let bytes = std::fs::read(SecretStore::path(&StateDir::at(state.path()), "alb-only")).unwrap();
    for plain in [PARAM_PLAIN, "db2.internal", "/app/db"] {
        assert!(
            !bytes.windows(plain.len()).any(|w| w == plain.as_bytes()),
            "{plain} in the store"
        );
    }
}
