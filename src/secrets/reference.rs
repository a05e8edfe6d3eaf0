//! What a task definition's `valueFrom` names, as ECS reads it (pure):
//!
//! - `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf` (or the partial ARN without the
//!   six-character suffix), optionally followed by `:json-key:version-stage:version-id` (each
//!   may be empty) to take one key of a JSON secret or another version;
//! - `arn:aws:ssm:REGION:ACCOUNT:parameter/NAME`, or the parameter's name alone (ECS accepts a
//!   name for a parameter in the task's region).

/// A parsed `valueFrom`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Secret {
        /// The secret's ARN (full or partial) without the ECS fields after it.
        id: String,
        json_key: Option<String>,
        version_stage: Option<String>,
        version_id: Option<String>,
    },
    Parameter {
        /// The names the reference may mean, in order (an ARN's `parameter/a` is `/a` or `a`).
        names: Vec<String>,
    },
}

/// Parses `value_from` for a lab in `region` and `account`; the error says what is wrong.
pub fn parse(value_from: &str, region: &str, account: &str) -> Result<Reference, String> {
    if !value_from.starts_with("arn:") {
        if value_from.is_empty() {
            return Err(
                "is empty; expected a Secrets Manager secret ARN or an SSM parameter ARN or name"
                    .into(),
            );
        }
        super::parameter::check_name(value_from).map_err(|e| {
            format!(
                "is neither an ARN nor a valid parameter name: {}",
                e.message
            )
        })?;
        return Ok(Reference::Parameter {
            names: vec![value_from.to_string()],
        });
    }
    let fields: Vec<&str> = value_from.split(':').collect();
    if fields.len() < 6 || fields[1] != "aws" {
        return Err("is not an ARN (`arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE`)".into());
    }
    let (service, arn_region, arn_account) = (fields[2], fields[3], fields[4]);
    if arn_region != region {
        return Err(format!(
            "names region `{arn_region}`, but the lab runs in `{region}`"
        ));
    }
    if arn_account != account {
        return Err(format!(
            "names account `{arn_account}`, but the lab's account is `{account}`"
        ));
    }
    match service {
        "secretsmanager" => secret(&fields),
        "ssm" => {
            let resource = fields[5..].join(":");
            let rest = resource
                .strip_prefix("parameter/")
                .filter(|r| !r.is_empty())
                .ok_or("is an SSM ARN but not of a parameter (`...:parameter/NAME`)")?;
            let slashed = format!("/{rest}");
            let names = if rest.contains('/') {
                vec![slashed]
            } else {
                vec![slashed, rest.to_string()]
            };
            Ok(Reference::Parameter { names })
        }
        other => Err(format!(
            "names service `{other}`; a secret comes from `secretsmanager` or `ssm`"
        )),
    }
}

fn secret(fields: &[&str]) -> Result<Reference, String> {
    if fields.len() < 7 || fields[5] != "secret" || fields[6].is_empty() {
        return Err(
            "is a Secrets Manager ARN but not of a secret (`...:secret:NAME-AbCdEf`)".into(),
        );
    }
    if fields.len() > 10 {
        return Err(
            "has too many fields: expected `SECRET-ARN[:json-key:version-stage:version-id]`".into(),
        );
    }
    let extra = |i: usize| {
        fields
            .get(i)
            .filter(|f| !f.is_empty())
            .map(|f| f.to_string())
    };
    let (version_stage, version_id) = (extra(8), extra(9));
    if version_stage.is_some() && version_id.is_some() {
        return Err("names both a version stage and a version id; give one".into());
    }
    Ok(Reference::Secret {
        id: fields[..7].join(":"),
        json_key: extra(7),
        version_stage,
        version_id,
    })
}

/// The value of `json_key` in a JSON object secret: a string as it is, anything else as JSON.
pub fn json_field(secret: &str, key: &str) -> Result<String, String> {
    let value: serde_json::Value = serde_json::from_str(secret)
        .map_err(|_| format!("the secret is not a JSON object, so it has no key `{key}`"))?;
    match value.get(key) {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(other) => Ok(other.to_string()),
        None => Err(format!("the secret has no JSON key `{key}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "us-east-1";
    const A: &str = "000000000000";

    #[test]
    fn secret_arns_with_and_without_ecs_fields() {
        let arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:app/db-AbCdEf";
        assert_eq!(
            parse(arn, R, A).unwrap(),
            Reference::Secret {
                id: arn.into(),
                json_key: None,
                version_stage: None,
                version_id: None
            }
        );
        assert_eq!(
            parse(&format!("{arn}:password:AWSPREVIOUS:"), R, A).unwrap(),
            Reference::Secret {
                id: arn.into(),
                json_key: Some("password".into()),
                version_stage: Some("AWSPREVIOUS".into()),
                version_id: None
            }
        );
        assert!(parse(&format!("{arn}::AWSCURRENT:id"), R, A).is_err());
    }

    #[test]
    fn parameter_arns_and_names() {
        assert_eq!(
            parse("arn:aws:ssm:us-east-1:000000000000:parameter/app/db", R, A).unwrap(),
            Reference::Parameter {
                names: vec!["/app/db".into()]
            }
        );
        assert_eq!(
            parse("arn:aws:ssm:us-east-1:000000000000:parameter/top", R, A).unwrap(),
            Reference::Parameter {
                names: vec!["/top".into(), "top".into()]
            }
        );
        assert_eq!(
            parse("/app/db", R, A).unwrap(),
            Reference::Parameter {
                names: vec!["/app/db".into()]
            }
        );
    }

    #[test]
    fn bad_references_say_what_is_wrong() {
        let e = |v: &str| parse(v, R, A).unwrap_err();
        assert!(
            e("arn:aws:secretsmanager:eu-west-1:000000000000:secret:x")
                .contains("region `eu-west-1`")
        );
        assert!(e("arn:aws:secretsmanager:us-east-1:123456789012:secret:x").contains("account"));
        assert!(e("arn:aws:s3:us-east-1:000000000000:bucket").contains("service `s3`"));
        assert!(
            e("arn:aws:secretsmanager:us-east-1:000000000000:key:x").contains("not of a secret")
        );
        assert!(e("arn:aws:ssm:us-east-1:000000000000:document/x").contains("not of a parameter"));
        assert!(e("app/db").contains("fully qualified"));
        assert!(e("arn:nope").contains("not an ARN"));
    }

    #[test]
    fn json_keys_of_a_secret() {
        let s = r#"{"username":"admin","password":"p@ss","port":3306}"#;
        assert_eq!(json_field(s, "password").unwrap(), "p@ss");
        assert_eq!(json_field(s, "port").unwrap(), "3306");
        assert!(
            json_field(s, "host")
                .unwrap_err()
                .contains("no JSON key `host`")
        );
        assert!(
            json_field("plain", "k")
                .unwrap_err()
                .contains("not a JSON object")
        );
    }
}
