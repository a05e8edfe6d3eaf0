//! `DescribeSubnets`: the subnets of `[vpc.subnets]`, each a Docker network of the lab
//! (`tierlab-<lab>-<subnet>`, named in a `tierlab:docker-network` tag when the lab uses it), with
//! the addresses its tasks and databases take out of the available count.

use std::collections::BTreeMap;

use super::filter::{Facts, NotFound, Record};
use super::ids::availability_zone_id;
use super::{render_tags, tag_facts};
use crate::api::xml::Xml;
use crate::config::Config;
use crate::lab::LabView;
use crate::registry::Registry;

pub const NOT_FOUND: NotFound = NotFound {
    code: "InvalidSubnetID.NotFound",
    message: "The subnet ID '{}' does not exist",
    filters: &[
        "subnet-id",
        "vpc-id",
        "cidr",
        "cidr-block",
        "cidrBlock",
        "availability-zone",
        "availability-zone-id",
        "available-ip-address-count",
        "default-for-az",
        "map-public-ip-on-launch",
        "owner-id",
        "state",
        "subnet-arn",
    ],
};

/// The tag naming the Docker network that stands for a subnet.
pub const NETWORK_TAG: &str = "tierlab:docker-network";
/// Addresses AWS reserves in every subnet (network, router, DNS, future, broadcast).
const RESERVED: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    pub id: String,
    pub arn: String,
    pub vpc_id: String,
    pub owner: String,
    pub cidr: String,
    pub zone: String,
    pub available_ips: u32,
    pub tags: Vec<(String, String)>,
}

/// Addresses taken in each subnet now: one per running task, database instance and bastion.
pub fn addresses_in_use(lab: &LabView) -> BTreeMap<String, u32> {
    let mut used = BTreeMap::new();
    let tasks = lab
        .services()
        .iter()
        .flat_map(|s| s.status().tasks)
        .map(|t| t.subnet);
    let databases = lab.databases().into_iter().map(|db| db.subnet());
    let bastions = lab.bastions().iter().map(|b| b.subnet.clone());
    for subnet in tasks.chain(databases).chain(bastions) {
        *used.entry(subnet).or_insert(0) += 1;
    }
    used
}

pub fn build(config: &Config, registry: &Registry, used: &BTreeMap<String, u32>) -> Vec<Subnet> {
    let vpc_id = registry.vpc_id(&config.vpc.name);
    let networks = crate::vpc::subnets_in_use(config);
    config
        .vpc
        .subnets
        .values()
        .map(|s| {
            let id = registry.subnet_id(&s.name);
            let size = 1u32
                .checked_shl(32 - u32::from(s.cidr.prefix))
                .unwrap_or(u32::MAX);
            let taken = used.get(&s.name).copied().unwrap_or(0);
            let mut tags = vec![("Name".to_string(), s.name.clone())];
            if networks.contains(&s.name) {
                let network = crate::vpc::network_name(&config.lab.name, &s.name);
                tags.push((NETWORK_TAG.to_string(), network));
            }
            Subnet {
                arn: registry.subnet_arn(&s.name),
                id,
                vpc_id: vpc_id.clone(),
                owner: registry.account().to_string(),
                cidr: s.cidr.to_string(),
                zone: s.availability_zone.clone(),
                available_ips: size.saturating_sub(RESERVED + taken),
                tags,
            }
        })
        .collect()
}

impl Record for Subnet {
    fn facts(&self) -> Facts {
        let mut f = Facts::new(&self.id);
        f.add("subnet-id", &self.id)
            .add("vpc-id", &self.vpc_id)
            .add("cidr", &self.cidr)
            .add("cidr-block", &self.cidr)
            .add("cidrBlock", &self.cidr)
            .add("availability-zone", &self.zone)
            .add("availability-zone-id", availability_zone_id(&self.zone))
            .add("available-ip-address-count", self.available_ips)
            .add("default-for-az", "false")
            .add("map-public-ip-on-launch", "false")
            .add("owner-id", &self.owner)
            .add("state", "available")
            .add("subnet-arn", &self.arn);
        tag_facts(&mut f, &self.tags);
        f
    }
}

impl Subnet {
    pub fn render(&self, x: &mut Xml) {
        x.leaf("subnetId", &self.id)
            .leaf("subnetArn", &self.arn)
            .leaf("state", "available")
            .leaf("ownerId", &self.owner)
            .leaf("vpcId", &self.vpc_id)
            .leaf("cidrBlock", &self.cidr)
            .list("ipv6CidrBlockAssociationSet", "item", [(); 0], |_, ()| {})
            .leaf("availableIpAddressCount", self.available_ips)
            .leaf("availabilityZone", &self.zone)
            .leaf("availabilityZoneId", availability_zone_id(&self.zone))
            .leaf("defaultForAz", false)
            .leaf("mapPublicIpOnLaunch", false)
            .leaf("assignIpv6AddressOnCreation", false);
        render_tags(x, &self.tags);
    }
}
