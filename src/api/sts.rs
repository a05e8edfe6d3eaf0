//! STS (Query, `Version=2011-06-15`): who the caller is. A lab has one identity, the IAM user
//! `tierlab` of account `000000000000` whose key pair `tierlab env` prints; the reference
//! builds its ARNs from `aws sts get-caller-identity --query Account --output text`, so the
//! account is the registry's, the one every ARN of the lab uses.

use ring::digest;

use crate::api::query::Params;
use crate::api::xml::Xml;
use crate::api::{ApiContext, ApiError};

/// The IAM user name of the lab's identity.
pub const USER: &str = "tierlab";

/// STS actions AWS has and tierlab does not: one identity, no roles or session tokens.
const NOT_SERVED: [&str; 7] = [
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "DecodeAuthorizationMessage",
    "GetAccessKeyInfo",
    "GetFederationToken",
    "GetSessionToken",
];

/// Answers `action` with the inside of its `<{Action}Result>`.
pub async fn call(ctx: &ApiContext, action: &str, _params: &Params) -> Result<Xml, ApiError> {
    match action {
        "GetCallerIdentity" => Ok(caller_identity(ctx.registry.account())),
        a if NOT_SERVED.contains(&a) => Err(ApiError::unsupported(
            "STS",
            a,
            "a later issue (a lab has one identity: its own key pair, `tierlab env`)",
        )),
        other => Err(ApiError::invalid_action(other)),
    }
}

/// `<Arn>`, `<UserId>`, `<Account>` of the lab's user.
pub fn caller_identity(account: &str) -> Xml {
    let mut x = Xml::new();
    x.leaf("Arn", format!("arn:aws:iam::{account}:user/{USER}"))
        .leaf("UserId", user_id(account))
        .leaf("Account", account);
    x
}

/// An IAM user id (`AIDA` + 17 characters), the same every time for the same account.
fn user_id(account: &str) -> String {
    let hash = digest::digest(&digest::SHA256, format!("{account}/{USER}").as_bytes());
    let hex: String = hash.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    format!("AIDA{}", &hex[..17])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_identity_matches_the_aws_shape() {
        let x = caller_identity("000000000000").into_string();
        let id = user_id("000000000000");
        assert_eq!(
            x,
            format!(
                "<Arn>arn:aws:iam::000000000000:user/tierlab</Arn><UserId>{id}</UserId><Account>000000000000</Account>"
            )
        );
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("AIDA"));
        assert_eq!(id, user_id("000000000000"));
    }
}
