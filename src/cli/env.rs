//! `tierlab env`: the running lab's AWS endpoint, region and credentials as shell exports, so
//! `eval "$(tierlab env)"` points the AWS CLI, boto3 and the SDKs at the lab.
//!
//! The endpoint and region come from the running `up` (its control endpoint's status); the key
//! pair from the lab's state directory. A lab that is not running is an error that says so:
//! exporting an endpoint nobody answers would only fail later and further away.

use crate::api::credentials::AwsCredentials;
use crate::config::Config;
use crate::error::Error;
use crate::lab::AwsStatus;

pub async fn run(config: &Config) -> Result<(), Error> {
    let (aws, credentials) = super::running::aws_access(config).await?;
    print!("{}", exports(&aws, &credentials));
    Ok(())
}

/// One `export` per variable, values single-quoted. `AWS_REGION` too: the Rust and Go SDKs
/// read it, the CLI and boto3 read `AWS_DEFAULT_REGION`.
pub fn exports(aws: &AwsStatus, credentials: &AwsCredentials) -> String {
    [
        ("AWS_ENDPOINT_URL", aws.endpoint_url.as_str()),
        ("AWS_DEFAULT_REGION", aws.region.as_str()),
        ("AWS_REGION", aws.region.as_str()),
        ("AWS_ACCESS_KEY_ID", credentials.access_key_id.as_str()),
        (
            "AWS_SECRET_ACCESS_KEY",
            credentials.secret_access_key.as_str(),
        ),
    ]
    .iter()
    .map(|(name, value)| format!("export {name}={}\n", shell_quote(value)))
    .collect()
}

/// `'value'`, with any `'` written as `'\''`.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_are_eval_ready() {
        let aws = AwsStatus {
            endpoint_url: "http://127.0.0.1:4600".into(),
            region: "eu-west-2".into(),
        };
        let credentials = AwsCredentials {
            access_key_id: "AKIAABCDEFGHIJKLMNOP".into(),
            secret_access_key: "abc+/def'x".into(),
        };
        assert_eq!(
            exports(&aws, &credentials),
            "export AWS_ENDPOINT_URL='http://127.0.0.1:4600'\n\
             export AWS_DEFAULT_REGION='eu-west-2'\n\
             export AWS_REGION='eu-west-2'\n\
             export AWS_ACCESS_KEY_ID='AKIAABCDEFGHIJKLMNOP'\n\
             export AWS_SECRET_ACCESS_KEY='abc+/def'\\''x'\n"
        );
    }
}
