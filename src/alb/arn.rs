//! Fake but well-formed AWS identifiers for the lab's load balancers, target groups and
//! certificates, as they appear in access logs and CloudWatch dimensions.
//!
//! The 16-hex resource id is a hash of the resource's name, so it is the same on every run and
//! log lines of two runs can be compared.

/// The account every lab pretends to run in.
pub const ACCOUNT: &str = "000000000000";
/// The region every lab pretends to run in.
pub const REGION: &str = "us-east-1";

/// FNV-1a, 64 bits: a stable hash (std's hasher may change between releases).
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// 16 hex digits derived from `kind` and `name` (FNV-1a, 64 bits): stable across runs.
pub fn resource_id(kind: &str, name: &str) -> String {
    let hash = fnv1a(kind.bytes().chain([b'/']).chain(name.bytes()));
    format!("{hash:016x}")
}

/// A UUID-shaped id (8-4-4-4-12 hex digits) derived from `kind` and `key`: stable across runs.
pub fn derived_uuid(kind: &str, key: &str) -> String {
    let a = resource_id(kind, key);
    let b = resource_id(&format!("{kind}-2"), key);
    format!(
        "{}-{}-{}-{}-{}",
        &a[..8],
        &a[8..12],
        &a[12..16],
        &b[..4],
        &b[4..16]
    )
}

/// The `LoadBalancer` dimension and the access log's `elb` field: `app/<name>/<id>`.
pub fn load_balancer_id(name: &str) -> String {
    format!("app/{name}/{}", resource_id("loadbalancer", name))
}

/// The `TargetGroup` dimension: `targetgroup/<name>/<id>`.
pub fn target_group_id(name: &str) -> String {
    format!("targetgroup/{name}/{}", resource_id("targetgroup", name))
}

/// `arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/<name>/<id>`.
pub fn target_group_arn(name: &str) -> String {
    format!(
        "arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:{}",
        target_group_id(name)
    )
}

/// An ACM-style certificate ARN whose UUID is derived from `key` (e.g. the certificate's names
/// or file path): `arn:aws:acm:us-east-1:000000000000:certificate/<uuid>`.
pub fn certificate_arn(key: &str) -> String {
    format!(
        "arn:aws:acm:{REGION}:{ACCOUNT}:certificate/{}",
        derived_uuid("certificate", key)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_hex_and_differ_by_kind_and_name() {
        let id = resource_id("targetgroup", "flask-app-tg");
        assert_eq!(id.len(), 16);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(id, resource_id("targetgroup", "flask-app-tg"));
        assert_ne!(id, resource_id("loadbalancer", "flask-app-tg"));
        assert_ne!(id, resource_id("targetgroup", "other-tg"));
    }

    #[test]
    fn arns_have_aws_shape() {
        let arn = target_group_arn("flask-app-tg");
        let prefix =
            "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/flask-app-tg/";
        assert!(arn.starts_with(prefix), "{arn}");
        assert_eq!(arn.len(), prefix.len() + 16);
        assert!(load_balancer_id("alb").starts_with("app/alb/"));
        let cert = certificate_arn("localhost");
        let uuid = cert.rsplit('/').next().unwrap();
        let parts: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{cert}");
        assert!(cert.starts_with("arn:aws:acm:us-east-1:000000000000:certificate/"));
    }
}
