//! `[bastions.NAME]`: the reference's bastion host (an EC2 instance with an SSH server).

use std::collections::BTreeMap;

use super::super::model::{Bastion, DefaultRoute, SecurityGroup, Vpc};
use super::super::{defaults, path, suggest, wire};
use super::ctx::{Ctx, q};
use super::rules;

/// Instance types tierlab knows, with (CPU units = vCPU × 1024, memory MiB) as host limits.
pub const INSTANCE_TYPES: [(&str, u32, u32); 10] = [
    ("t2.nano", 1024, 512),
    ("t2.micro", 1024, 1024),
    ("t2.small", 1024, 2048),
    ("t2.medium", 2048, 4096),
    ("t3.nano", 2048, 512),
    ("t3.micro", 2048, 1024),
    ("t3.small", 2048, 2048),
    ("t3.medium", 2048, 4096),
    ("t4g.micro", 2048, 1024),
    ("t4g.small", 2048, 2048),
];

pub fn bastion(
    cx: &mut Ctx,
    name: &str,
    b: &wire::Bastion,
    vpc: &Vpc,
    groups: &BTreeMap<String, SecurityGroup>,
) -> Bastion {
    let at = path::join("bastions", name);
    if let Err(why) = check_name(name) {
        cx.table(&at, format!("bastion name `{name}`: {why}"));
    }
    public_subnet(cx, &format!("{at}.subnet"), &b.subnet, vpc);
    rules::groups_exist(
        cx,
        &format!("{at}.security-groups"),
        &b.security_groups,
        groups,
    );
    if let Err(why) = check_key_name(&b.key_name) {
        cx.bad(&format!("{at}.key-name"), q(&b.key_name), why);
    }
    let instance_type = b
        .instance_type
        .clone()
        .unwrap_or_else(|| defaults::INSTANCE_TYPE.to_string());
    let (cpu, memory_mib) = instance_type_limits(cx, &at, &instance_type);
    let image = b
        .image
        .clone()
        .unwrap_or_else(|| defaults::BASTION_IMAGE.to_string());
    if image.trim().is_empty() {
        cx.bad(&format!("{at}.image"), q(&image), "must not be empty");
    }
    Bastion {
        name: name.to_string(),
        subnet: b.subnet.clone(),
        security_groups: b.security_groups.clone(),
        key_name: b.key_name.clone(),
        instance_type,
        image,
        build: cx.build_dir(&format!("{at}.build"), b.build.as_deref()),
        cpu,
        memory_mib,
    }
}

/// A bastion is reached from outside the VPC, so it sits in a public subnet (route table to
/// the internet gateway), as the reference launches it.
fn public_subnet(cx: &mut Ctx, key: &str, name: &str, vpc: &Vpc) {
    if !cx.exists(key, "subnet", name, vpc.subnets.keys()) {
        return;
    }
    let subnet = &vpc.subnets[name];
    let route = vpc
        .route_tables
        .get(&subnet.route_table)
        .map(|rt| rt.default_route);
    if route.is_some_and(|r| r != DefaultRoute::InternetGateway) {
        cx.bad(
            key,
            q(name),
            format!(
                "is a private subnet (route table `{}` has no route to the internet gateway); a bastion needs a public one",
                subnet.route_table
            ),
        );
    }
}

fn instance_type_limits(cx: &mut Ctx, at: &str, kind: &str) -> (u32, u32) {
    match INSTANCE_TYPES.iter().find(|(name, ..)| *name == kind) {
        Some(&(_, cpu, mem)) => (cpu, mem),
        None => {
            let names = INSTANCE_TYPES.iter().map(|(n, ..)| *n);
            let msg = format!(
                "unknown instance type; {}",
                suggest::hint(kind, "instance types", names)
            );
            cx.bad(&format!("{at}.instance-type"), q(kind), msg);
            (0, 0)
        }
    }
}

/// The name is the container's host name: letters, digits and hyphens, a letter first, at most
/// 63 characters (a DNS label).
fn check_name(name: &str) -> Result<(), String> {
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("must start with a letter".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(format!(
            "`{c}` is not allowed (letters, digits and hyphens only)"
        ));
    }
    if name.len() > 63 {
        return Err(format!("is {} characters; at most 63", name.len()));
    }
    Ok(())
}

/// EC2 key names are up to 255 ASCII characters; tierlab also makes `<key-name>.pem` of it, so
/// only letters, digits, `-`, `_` and `.` (not first) are taken.
fn check_key_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > 255 {
        return Err(format!("is {} characters; at most 255", name.len()));
    }
    let ok = !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    ok.then_some(()).ok_or_else(|| {
        "must be letters, digits, `-`, `_` and `.` (not first): it names the file `<key-name>.pem`"
            .into()
    })
}
