//! Rendering of each ELBv2 answer against the shapes of AWS's API reference examples, and
//! decoding of the actions' forms.

use std::path::Path;

use super::listeners::{self, rules_of};
use super::load_balancers;
use super::target_groups::{self, health_check_change};
use super::targets::{self, target_requests};
use crate::alb::TargetGroupHandle;
use crate::alb::ip_targets::TaskAddress;
use crate::alb::settings::Settings;
use crate::api::query::Params;
use crate::api::xml::Xml;
use crate::config::Config;
use crate::registry::Registry;

/// The reference topology (`emulator.toml`).
fn config() -> Config {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("emulator.toml")).unwrap();
    crate::config::parse(&text, &root.join("emulator.toml"), root).unwrap()
}

fn render(f: impl FnOnce(&mut Xml)) -> String {
    let mut x = Xml::new();
    f(&mut x);
    x.into_string()
}

#[test]
fn a_load_balancer_has_the_members_of_the_reference_example() {
    let (config, registry) = (config(), Registry::in_memory("us-east-1"));
    let lb = &config.load_balancers["flask-app-alb"];
    let xml = render(|x| load_balancers::load_balancer(x, &config, &registry, lb));
    let arn = registry.load_balancer_arn("flask-app-alb");
    let dns = registry.load_balancer_dns_name("flask-app-alb");
    assert!(dns.starts_with("flask-app-alb-") && dns.ends_with(".us-east-1.elb.localhost"));
    let expected_start = format!(
        "<LoadBalancerArn>{arn}</LoadBalancerArn><DNSName>{dns}</DNSName>\
         <CanonicalHostedZoneId>Z35SXDOTRQ7X7K</CanonicalHostedZoneId><CreatedTime>"
    );
    assert!(xml.starts_with(&expected_start), "{xml}");
    let vpc = registry.vpc_id("flask-app-vpc");
    let subnet = registry.subnet_id("public-subnet-1a");
    let sg = registry.security_group_id("alb-sg");
    for part in [
        "<LoadBalancerName>flask-app-alb</LoadBalancerName><Scheme>internet-facing</Scheme>"
            .to_string(),
        format!("<VpcId>{vpc}</VpcId><State><Code>active</Code></State><Type>application</Type>"),
        format!(
            "<AvailabilityZones><member><ZoneName>us-east-1a</ZoneName><SubnetId>{subnet}</SubnetId></member>"
        ),
        format!(
            "<SecurityGroups><member>{sg}</member></SecurityGroups><IpAddressType>ipv4</IpAddressType>"
        ),
    ] {
        assert!(xml.contains(&part), "{part}\nin {xml}");
    }
}

#[test]
fn listeners_show_their_ports_certificates_and_actions() {
    let (config, registry) = (config(), Registry::in_memory("us-east-1"));
    let lb = &config.load_balancers["flask-app-alb"];
    let (http, https) = (&lb.listeners[0], &lb.listeners[1]);
    let xml = render(|x| listeners::listener(x, &registry, lb, http));
    assert!(xml.contains("<Port>8080</Port><Protocol>HTTP</Protocol><DefaultActions><member><Type>redirect</Type><Order>1</Order><RedirectConfig><Protocol>HTTPS</Protocol><Port>8443</Port><Host>#{host}</Host><Path>/#{path}</Path><Query>#{query}</Query><StatusCode>HTTP_301</StatusCode></RedirectConfig></member></DefaultActions>"), "{xml}");
    let xml = render(|x| listeners::listener(x, &registry, lb, https));
    let tg = registry.target_group_arn("flask-app-tg");
    assert!(
        xml.contains(
            "<Certificates><member><CertificateArn>arn:aws:acm:us-east-1:000000000000:certificate/"
        ),
        "{xml}"
    );
    assert!(
        xml.contains("<SslPolicy>ELBSecurityPolicy-TLS13-1-2-2021-06</SslPolicy>"),
        "{xml}"
    );
    let forward = format!(
        "<Type>forward</Type><TargetGroupArn>{tg}</TargetGroupArn><Order>1</Order><ForwardConfig>\
         <TargetGroups><member><TargetGroupArn>{tg}</TargetGroupArn><Weight>1</Weight></member></TargetGroups>\
         <TargetGroupStickinessConfig><Enabled>false</Enabled></TargetGroupStickinessConfig></ForwardConfig>"
    );
    assert!(xml.contains(&forward), "{xml}");
}

#[test]
fn the_default_rule_comes_last_and_says_so() {
    let (config, registry) = (config(), Registry::in_memory("us-east-1"));
    let lb = &config.load_balancers["flask-app-alb"];
    let rules = rules_of(&registry, lb, &lb.listeners[1]);
    let last = rules.last().unwrap();
    let xml = render(|x| listeners::rule(x, &registry, last));
    assert!(xml.contains("<Priority>default</Priority><Conditions></Conditions><Actions><member><Type>forward</Type>"), "{xml}");
    assert!(xml.ends_with("<IsDefault>true</IsDefault>"), "{xml}");
}

#[test]
fn a_target_group_shows_its_live_health_check() {
    let (config, registry) = (config(), Registry::in_memory("us-east-1"));
    let tg = TargetGroupHandle::new(config.target_groups["flask-app-tg"].clone());
    let change = health_check_change(&Params::from_pairs([
        ("HealthCheckIntervalSeconds", "10"),
        ("Matcher.HttpCode", "200-299"),
    ]))
    .unwrap();
    tg.modify_health_check(&change, config.lab.profile).unwrap();
    let xml = render(|x| {
        target_groups::target_group(x, &config, &registry, "flask-app-tg", &tg.settings())
    });
    let lb = registry.load_balancer_arn("flask-app-alb");
    let expected = format!(
        "<TargetGroupArn>{}</TargetGroupArn><TargetGroupName>flask-app-tg</TargetGroupName>\
         <Protocol>HTTP</Protocol><Port>8000</Port><VpcId>{}</VpcId>\
         <HealthCheckProtocol>HTTP</HealthCheckProtocol><HealthCheckPort>traffic-port</HealthCheckPort>\
         <HealthCheckEnabled>true</HealthCheckEnabled><HealthCheckIntervalSeconds>10</HealthCheckIntervalSeconds>\
         <HealthCheckTimeoutSeconds>1</HealthCheckTimeoutSeconds><HealthyThresholdCount>2</HealthyThresholdCount>\
         <UnhealthyThresholdCount>2</UnhealthyThresholdCount><HealthCheckPath>/</HealthCheckPath>\
         <Matcher><HttpCode>200-299</HttpCode></Matcher><LoadBalancerArns><member>{lb}</member></LoadBalancerArns>\
         <TargetType>ip</TargetType><ProtocolVersion>HTTP1</ProtocolVersion><IpAddressType>ipv4</IpAddressType>",
        registry.target_group_arn("flask-app-tg"),
        registry.vpc_id("flask-app-vpc"),
    );
    assert_eq!(xml, expected);
}

#[test]
fn attributes_are_key_value_members() {
    let config = config();
    let settings = Settings::new(config.target_groups["flask-app-tg"].clone());
    let xml = target_groups::attributes(&settings).into_string();
    assert!(xml.starts_with("<Attributes><member><Key>deregistration_delay.timeout_seconds</Key><Value>5</Value></member><member><Key>stickiness.enabled</Key><Value>false</Value></member>"), "{xml}");
}

#[test]
fn target_health_names_tasks_by_private_ip() {
    let config = config();
    let tg = TargetGroupHandle::new(config.target_groups["flask-app-tg"].clone());
    let task = TaskAddress {
        task_id: "0123abcd".into(),
        private_ip: "10.0.3.5".parse().unwrap(),
        container_port: 8000,
        host: "127.0.0.1:49153".parse().unwrap(),
        availability_zone: Some("us-east-1a".into()),
    };
    tg.register(&task.task_id, task.host);
    let xml = targets::target_health(&tg.describe_aws(&[task])).into_string();
    assert_eq!(
        xml,
        "<TargetHealthDescriptions><member><Target><Id>10.0.3.5</Id><Port>8000</Port>\
         <AvailabilityZone>us-east-1a</AvailabilityZone></Target><HealthCheckPort>8000</HealthCheckPort>\
         <TargetHealth><State>initial</State><Reason>Elb.RegistrationInProgress</Reason>\
         <Description>Target registration is in progress</Description></TargetHealth></member>\
         </TargetHealthDescriptions>"
    );
}

#[test]
fn forms_decode_targets_and_attributes() {
    let params = Params::from_form(
        b"Action=RegisterTargets&TargetGroupArn=arn&Targets.member.1.Id=10.0.3.5&Targets.member.2.Id=10.0.4.6&Targets.member.2.Port=8000",
    );
    let targets = target_requests(&params).unwrap();
    assert_eq!(targets.len(), 2);
    assert_eq!(
        (targets[0].id.as_str(), targets[0].port),
        ("10.0.3.5", None)
    );
    assert_eq!(
        (targets[1].id.as_str(), targets[1].port),
        ("10.0.4.6", Some(8000))
    );
    let bad = Params::from_form(b"Targets.member.1.Id=10.0.3.5&Targets.member.1.Port=70000");
    assert_eq!(target_requests(&bad).unwrap_err().code, "ValidationError");
    let params = Params::from_form(
        b"Attributes.member.1.Key=deregistration_delay.timeout_seconds&Attributes.member.1.Value=30",
    );
    let pairs = params.map("Attributes", "Key", "Value").unwrap();
    assert_eq!(
        pairs,
        [(
            "deregistration_delay.timeout_seconds".to_string(),
            "30".to_string()
        )]
    );
    let change = health_check_change(&Params::from_form(b"HealthCheckIntervalSeconds=abc"));
    assert_eq!(change.unwrap_err().code, "ValidationError");
}
