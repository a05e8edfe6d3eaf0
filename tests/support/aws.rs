//! The real AWS CLI against a lab: runs `aws` from `scripts/aws-cli.sh`'s virtual environment
//! with the lab's endpoint, region and credentials in its environment (and nothing of the
//! user's own AWS configuration), and returns its JSON, its text, or its error.
//!
//! ```ignore
//! let aws = support::aws::Aws::for_lab(&lab);
//! let account = aws.text(&["sts", "get-caller-identity", "--query", "Account"]).await;
//! let err = aws.with_secret("wrong").fails(&["sts", "get-caller-identity"]).await;
//! assert_eq!(err.code, "SignatureDoesNotMatch");
//! ```

use std::path::PathBuf;
use std::time::Duration;

use tierlab::Lab;

/// Exit status of AWS CLI v1 (the pinned one) for a service error; v2 uses 254.
pub const SERVICE_ERROR_EXIT: i32 = 255;
/// No CLI call of a test takes longer (the waiters poll every 15 s: give them their own bound).
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// The CLI, pointed at one endpoint with one key pair.
#[derive(Clone, Debug)]
pub struct Aws {
    pub bin: PathBuf,
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    secret_access_key: String,
}

/// What one call printed.
#[derive(Debug)]
pub struct Outcome {
    pub exit: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A call that failed with a service error: `An error occurred (Code) when calling the Op
/// operation: Message`.
#[derive(Debug)]
pub struct Failure {
    pub exit: i32,
    pub code: String,
    pub operation: String,
    pub message: String,
    pub stderr: String,
}

impl Aws {
    /// The CLI for `lab`'s AWS API with the lab's own credentials.
    pub fn for_lab(lab: &Lab) -> Aws {
        let credentials = lab.aws_credentials();
        Aws {
            bin: cli_path(),
            endpoint: lab.aws_endpoint(),
            region: lab.config().lab.region.clone(),
            access_key_id: credentials.access_key_id,
            secret_access_key: credentials.secret_access_key,
        }
    }

    /// The same CLI signing with another secret access key.
    pub fn with_secret(&self, secret: &str) -> Aws {
        Aws {
            secret_access_key: secret.to_string(),
            ..self.clone()
        }
    }

    /// The same CLI with another access key id.
    pub fn with_key_id(&self, key_id: &str) -> Aws {
        Aws {
            access_key_id: key_id.to_string(),
            ..self.clone()
        }
    }

    /// Runs `aws ARGS` and returns whatever happened.
    pub async fn run(&self, args: &[&str]) -> Outcome {
        let mut command = tokio::process::Command::new(&self.bin);
        command
            .args(args)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_SECURITY_TOKEN")
            .env("AWS_CONFIG_FILE", "/nonexistent/tierlab-test-aws-config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/tierlab-test-aws-credentials",
            )
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_DEFAULT_REGION", &self.region)
            .env("AWS_ACCESS_KEY_ID", &self.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret_access_key)
            .env("AWS_DEFAULT_OUTPUT", "json")
            .env("AWS_PAGER", "")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            // One attempt: an error must show as it is, not after retries.
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("AWS_RETRY_MODE", "standard")
            .kill_on_drop(true);
        let output = tokio::time::timeout(CALL_TIMEOUT, command.output())
            .await
            .unwrap_or_else(|_| panic!("`aws {}` took more than {CALL_TIMEOUT:?}", args.join(" ")))
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        Outcome {
            exit: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `aws ARGS` that must succeed; its JSON output.
    pub async fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.succeeds(args).await;
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "`aws {}` printed no JSON ({e}):\n{}",
                args.join(" "),
                out.stdout
            )
        })
    }

    /// `aws ARGS --output text` that must succeed; its output, trimmed.
    pub async fn text(&self, args: &[&str]) -> String {
        let mut with_text = args.to_vec();
        with_text.extend(["--output", "text"]);
        self.succeeds(&with_text).await.stdout.trim().to_string()
    }

    /// `aws ARGS` that must fail with a service error.
    pub async fn fails(&self, args: &[&str]) -> Failure {
        let out = self.run(args).await;
        assert_ne!(
            out.exit,
            0,
            "`aws {}` should have failed; it printed:\n{}",
            args.join(" "),
            out.stdout
        );
        parse_failure(&out).unwrap_or_else(|| {
            panic!(
                "`aws {}` failed (exit {}) without a service error:\n{}",
                args.join(" "),
                out.exit,
                out.stderr
            )
        })
    }

    async fn succeeds(&self, args: &[&str]) -> Outcome {
        let out = self.run(args).await;
        assert_eq!(
            out.exit,
            0,
            "`aws {}` failed:\n{}",
            args.join(" "),
            out.stderr
        );
        out
    }
}

/// Reads `An error occurred (Code) when calling the Op operation: Message` from stderr.
/// ```text
/// An error occurred (SignatureDoesNotMatch) when calling the GetCallerIdentity operation (reached max retries: 0): The request ...
/// ```
pub fn parse_failure(out: &Outcome) -> Option<Failure> {
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("An error occurred ("))?;
    let rest = line.strip_prefix("An error occurred (")?;
    let (code, rest) = rest.split_once(") when calling the ")?;
    // `... the Op operation: Message`, or `... the Op operation (reached max retries: 0): Message`.
    let (operation, tail) = rest.split_once(" operation").unwrap_or((rest, ""));
    let separator = if tail.starts_with(" (") { "): " } else { ": " };
    let message = tail.split_once(separator).map_or("", |(_, m)| m);
    Some(Failure {
        exit: out.exit,
        code: code.to_string(),
        operation: operation.to_string(),
        message: message.to_string(),
        stderr: out.stderr.clone(),
    })
}

/// `$TIERLAB_AWS_CLI` (set by `scripts/test.sh`), else the default venv of `scripts/aws-cli.sh`;
/// a missing CLI fails the test with the command that installs it.
pub fn cli_path() -> PathBuf {
    let path = std::env::var_os("TIERLAB_AWS_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let venv = std::env::var_os("TIERLAB_AWS_VENV")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    let home = std::env::var_os("HOME").unwrap_or_default();
                    PathBuf::from(home).join(".cache/tierlab/awscli-venv")
                });
            venv.join("bin/aws")
        });
    assert!(
        path.is_file(),
        "the AWS CLI is not installed at {}: run `scripts/aws-cli.sh` (it makes the venv and prints the path; \
         `scripts/test.sh` runs it and sets TIERLAB_AWS_CLI)",
        path.display()
    );
    path
}
