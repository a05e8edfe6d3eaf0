//! The EC2 records of the reference topology (`emulator.toml`), their filters and XML.

use std::collections::BTreeMap;
use std::path::Path;

use super::filter::{Filter, select};
use super::*;
use crate::config::Config;
use crate::registry::Registry;

fn reference() -> Config {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("emulator.toml")).unwrap();
    crate::config::parse(&text, &root.join("emulator.toml"), root).unwrap()
}

fn filter(name: &str, values: &[&str]) -> Filter {
    Filter {
        name: name.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

#[test]
fn the_vpc_has_its_name_tag_cidr_and_registry_id() {
    let (config, registry) = (reference(), Registry::in_memory("us-east-1"));
    let vpcs = vpcs::build(&config, &registry);
    let mut x = Xml::new();
    x.list("vpcSet", "item", &vpcs, |x, v| v.render(x));
    let id = registry.vpc_id("flask-app-vpc");
    let xml = x.into_string();
    assert!(xml.starts_with(&format!("<vpcSet><item><vpcId>{id}</vpcId><ownerId>000000000000</ownerId><state>available</state><cidrBlock>10.0.0.0/16</cidrBlock>")), "{xml}");
    assert!(xml.ends_with("<isDefault>false</isDefault><tagSet><item><key>Name</key><value>flask-app-vpc</value></item></tagSet></item></vpcSet>"), "{xml}");
}

#[test]
fn six_subnets_with_names_zones_and_free_addresses() {
    let (config, registry) = (reference(), Registry::in_memory("us-east-1"));
    let used = BTreeMap::from([("private-app-subnet-1a".to_string(), 2)]);
    let subnets = subnets::build(&config, &registry, &used);
    let names: Vec<&str> = subnets.iter().map(|s| s.tags[0].1.as_str()).collect();
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
    let app = &subnets[0];
    assert_eq!(
        (app.cidr.as_str(), app.zone.as_str(), app.available_ips),
        ("10.0.3.0/24", "us-east-1a", 249)
    );
    assert_eq!(subnets[1].available_ips, 251);
    assert_eq!(
        app.arn,
        format!("arn:aws:ec2:us-east-1:000000000000:subnet/{}", app.id)
    );
    assert_eq!(
        app.tags[1],
        (
            subnets::NETWORK_TAG.to_string(),
            "tierlab-flask-app-private-app-subnet-1a".to_string()
        )
    );
    let mut x = Xml::new();
    app.render(&mut x);
    assert!(x.as_str().contains("<availabilityZone>us-east-1a</availabilityZone><availabilityZoneId>use1-az1</availabilityZoneId>"));
}

#[test]
fn subnets_filter_by_vpc_name_tag_and_ids() {
    let (config, registry) = (reference(), Registry::in_memory("us-east-1"));
    let all = || subnets::build(&config, &registry, &BTreeMap::new());
    let vpc = registry.vpc_id("flask-app-vpc");
    assert_eq!(
        select(all(), &[], &[filter("vpc-id", &[&vpc])], subnets::NOT_FOUND)
            .unwrap()
            .len(),
        6
    );
    let public = select(
        all(),
        &[],
        &[filter("tag:Name", &["public-*"])],
        subnets::NOT_FOUND,
    )
    .unwrap();
    assert_eq!(public.len(), 2);
    let one = registry.subnet_id("private-db-subnet-1b");
    let picked = select(all(), std::slice::from_ref(&one), &[], subnets::NOT_FOUND).unwrap();
    assert_eq!(picked[0].id, one);
    let zone = select(
        all(),
        &[],
        &[filter("availability-zone", &["us-east-1b"])],
        subnets::NOT_FOUND,
    )
    .unwrap();
    assert_eq!(zone.len(), 3);
}

#[test]
fn security_groups_show_ranges_and_group_pairs() {
    let (config, registry) = (reference(), Registry::in_memory("us-east-1"));
    let groups = security_groups::build(&config, &config.security_groups, &registry);
    let alb = groups.iter().find(|g| g.name == "alb-sg").unwrap();
    let mut x = Xml::new();
    alb.render(&mut x);
    let app_sg = registry.security_group_id("app-sg");
    let xml = x.into_string();
    assert!(xml.contains(
        "<ipPermissions><item><ipProtocol>tcp</ipProtocol><fromPort>8080</fromPort><toPort>8080</toPort><groups></groups><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges><ipv6Ranges></ipv6Ranges><prefixListIds></prefixListIds></item><item><ipProtocol>tcp</ipProtocol><fromPort>8443</fromPort>"
    ), "{xml}");
    assert!(xml.contains(&format!(
        "<ipPermissionsEgress><item><ipProtocol>-1</ipProtocol><groups><item><userId>000000000000</userId><groupId>{app_sg}</groupId></item></groups><ipRanges></ipRanges>"
    )), "{xml}");
    let db = groups.iter().find(|g| g.name == "db-sg").unwrap();
    assert!(db.egress.is_empty(), "egress = [] is no outbound rule");
    let from_app = select(
        groups.clone(),
        &[],
        &[filter("ip-permission.group-name", &["app-sg"])],
        security_groups::NOT_FOUND,
    )
    .unwrap();
    assert_eq!(
        from_app.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
        ["db-sg"]
    );
    let e = security_groups::by_name(&groups, &["ghost-sg".into()]).unwrap_err();
    assert_eq!(e.code, "InvalidGroup.NotFound");
}

#[test]
fn same_ports_are_one_permission() {
    let registry = Registry::in_memory("us-east-1");
    let rule = |peer| crate::config::SgRule {
        ports: Some(crate::config::PortRange { from: 443, to: 443 }),
        peer,
    };
    let perms = security_groups::permissions(
        &[
            rule(crate::config::SgPeer::Cidr("10.0.0.0/16".parse().unwrap())),
            rule(crate::config::SgPeer::Group("app-sg".into())),
        ],
        &registry,
    );
    assert_eq!(perms.len(), 1);
    assert_eq!(perms[0].cidrs, ["10.0.0.0/16"]);
    assert_eq!(perms[0].groups[0].1, "app-sg");
}

#[test]
fn route_tables_have_local_and_default_routes_and_associations() {
    let (config, registry) = (reference(), Registry::in_memory("us-east-1"));
    let tables = route_tables::build(&config, &registry);
    let by = |name: &str| tables.iter().find(|t| t.tags[0].1 == name).unwrap();
    let public = by("public-rt");
    assert_eq!(public.routes.len(), 2);
    assert_eq!(public.routes[0].gateway.as_deref(), Some("local"));
    assert!(
        public.routes[1]
            .gateway
            .as_deref()
            .unwrap()
            .starts_with("igw-")
    );
    assert!(
        by("private-app-rt").routes[1]
            .nat_gateway
            .as_deref()
            .unwrap()
            .starts_with("nat-")
    );
    assert_eq!(by("private-db-rt").routes.len(), 1);
    assert_eq!(public.associations.len(), 2);
    let subnet = registry.subnet_id("public-subnet-1a");
    let found = select(
        tables.clone(),
        &[],
        &[filter("association.subnet-id", &[&subnet])],
        route_tables::NOT_FOUND,
    )
    .unwrap();
    assert_eq!(found[0].id, public.id);
    let mut x = Xml::new();
    by("private-db-rt").render(&mut x);
    assert!(x.as_str().contains("<routeSet><item><destinationCidrBlock>10.0.0.0/16</destinationCidrBlock><gatewayId>local</gatewayId><state>active</state><origin>CreateRouteTable</origin></item></routeSet>"));
}
