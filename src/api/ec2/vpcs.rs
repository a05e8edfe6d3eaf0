//! `DescribeVpcs`: the lab's one VPC.

use super::filter::{Facts, NotFound, Record};
use super::ids::derived;
use super::{render_tags, tag_facts};
use crate::api::xml::Xml;
use crate::config::Config;
use crate::registry::Registry;

pub const NOT_FOUND: NotFound = NotFound {
    code: "InvalidVpcID.NotFound",
    message: "The vpc ID '{}' does not exist",
    filters: &[
        "vpc-id",
        "cidr",
        "cidr-block-association.cidr-block",
        "cidr-block-association.association-id",
        "cidr-block-association.state",
        "dhcp-options-id",
        "is-default",
        "owner-id",
        "state",
    ],
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vpc {
    pub id: String,
    pub owner: String,
    pub cidr: String,
    pub cidr_association: String,
    pub dhcp_options: String,
    pub tags: Vec<(String, String)>,
}

pub fn build(config: &Config, registry: &Registry) -> Vec<Vpc> {
    let vpc = &config.vpc;
    let id = registry.vpc_id(&vpc.name);
    vec![Vpc {
        cidr_association: derived("vpc-cidr-assoc", &[&id, "cidr"]),
        dhcp_options: derived("dopt", &[&id]),
        id,
        owner: registry.account().to_string(),
        cidr: vpc.cidr.to_string(),
        tags: vec![("Name".into(), vpc.name.clone())],
    }]
}

impl Record for Vpc {
    fn facts(&self) -> Facts {
        let mut f = Facts::new(&self.id);
        f.add("vpc-id", &self.id)
            .add("cidr", &self.cidr)
            .add("cidr-block-association.cidr-block", &self.cidr)
            .add(
                "cidr-block-association.association-id",
                &self.cidr_association,
            )
            .add("cidr-block-association.state", "associated")
            .add("dhcp-options-id", &self.dhcp_options)
            .add("is-default", "false")
            .add("owner-id", &self.owner)
            .add("state", "available");
        tag_facts(&mut f, &self.tags);
        f
    }
}

impl Vpc {
    pub fn render(&self, x: &mut Xml) {
        x.leaf("vpcId", &self.id)
            .leaf("ownerId", &self.owner)
            .leaf("state", "available")
            .leaf("cidrBlock", &self.cidr)
            .list("cidrBlockAssociationSet", "item", [()], |x, ()| {
                x.leaf("associationId", &self.cidr_association)
                    .leaf("cidrBlock", &self.cidr)
                    .open("cidrBlockState")
                    .leaf("state", "associated")
                    .close("cidrBlockState");
            })
            .leaf("dhcpOptionsId", &self.dhcp_options)
            .leaf("instanceTenancy", "default")
            .leaf("isDefault", false);
        render_tags(x, &self.tags);
    }
}
