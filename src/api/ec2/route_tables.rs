//! `DescribeRouteTables`: `[vpc.route-tables]`, each with the VPC's local route, its default
//! route (internet gateway, NAT gateway, or none) and its subnets' associations.

use super::filter::{Facts, NotFound, Record};
use super::ids::derived;
use super::{render_tags, tag_facts};
use crate::api::xml::Xml;
use crate::config::{Config, DefaultRoute};
use crate::registry::{IdKind, Registry};

pub const NOT_FOUND: NotFound = NotFound {
    code: "InvalidRouteTableID.NotFound",
    message: "The routeTable ID '{}' does not exist",
    filters: &[
        "route-table-id",
        "vpc-id",
        "owner-id",
        "association.subnet-id",
        "association.route-table-association-id",
        "association.route-table-id",
        "association.main",
        "route.destination-cidr-block",
        "route.gateway-id",
        "route.nat-gateway-id",
        "route.state",
        "route.origin",
    ],
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    pub id: String,
    pub vpc_id: String,
    pub owner: String,
    pub routes: Vec<Route>,
    /// `(association id, subnet id)`.
    pub associations: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub destination: String,
    /// `local` or an internet gateway id.
    pub gateway: Option<String>,
    pub nat_gateway: Option<String>,
    /// `CreateRouteTable` for the local route, `CreateRoute` for the others.
    pub origin: &'static str,
}

pub fn build(config: &Config, registry: &Registry) -> Vec<RouteTable> {
    let vpc = &config.vpc;
    let vpc_id = registry.vpc_id(&vpc.name);
    vpc.route_tables
        .values()
        .map(|rt| {
            let id = registry.route_table_id(&rt.name);
            let mut routes = vec![Route {
                destination: vpc.cidr.to_string(),
                gateway: Some("local".into()),
                nat_gateway: None,
                origin: "CreateRouteTable",
            }];
            let default = |gateway, nat_gateway| Route {
                destination: "0.0.0.0/0".into(),
                gateway,
                nat_gateway,
                origin: "CreateRoute",
            };
            match rt.default_route {
                DefaultRoute::InternetGateway => routes.push(default(
                    Some(registry.id(IdKind::InternetGateway, &vpc.name)),
                    None,
                )),
                DefaultRoute::NatGateway => routes.push(default(
                    None,
                    Some(registry.id(IdKind::NatGateway, &vpc.name)),
                )),
                DefaultRoute::None => {}
            }
            let associations = vpc
                .subnets
                .values()
                .filter(|s| s.route_table == rt.name)
                .map(|s| {
                    let subnet = registry.subnet_id(&s.name);
                    (derived("rtbassoc", &[&id, &subnet]), subnet)
                })
                .collect();
            RouteTable {
                id,
                vpc_id: vpc_id.clone(),
                owner: registry.account().to_string(),
                routes,
                associations,
                tags: vec![("Name".to_string(), rt.name.clone())],
            }
        })
        .collect()
}

impl Record for RouteTable {
    fn facts(&self) -> Facts {
        let mut f = Facts::new(&self.id);
        f.add("route-table-id", &self.id)
            .add("vpc-id", &self.vpc_id)
            .add("owner-id", &self.owner)
            .add("association.main", "false");
        for (association, subnet) in &self.associations {
            f.add("association.subnet-id", subnet)
                .add("association.route-table-association-id", association)
                .add("association.route-table-id", &self.id);
        }
        for r in &self.routes {
            f.add("route.destination-cidr-block", &r.destination)
                .add("route.state", "active")
                .add("route.origin", r.origin);
            if let Some(g) = &r.gateway {
                f.add("route.gateway-id", g);
            }
            if let Some(n) = &r.nat_gateway {
                f.add("route.nat-gateway-id", n);
            }
        }
        tag_facts(&mut f, &self.tags);
        f
    }
}

impl RouteTable {
    pub fn render(&self, x: &mut Xml) {
        x.leaf("routeTableId", &self.id)
            .leaf("vpcId", &self.vpc_id)
            .leaf("ownerId", &self.owner)
            .list("routeSet", "item", &self.routes, |x, r| {
                x.leaf("destinationCidrBlock", &r.destination)
                    .opt("gatewayId", r.gateway.as_deref())
                    .opt("natGatewayId", r.nat_gateway.as_deref())
                    .leaf("state", "active")
                    .leaf("origin", r.origin);
            })
            .list(
                "associationSet",
                "item",
                &self.associations,
                |x, (assoc, subnet)| {
                    x.leaf("routeTableAssociationId", assoc)
                        .leaf("routeTableId", &self.id)
                        .leaf("subnetId", subnet)
                        .leaf("main", false)
                        .open("associationState")
                        .leaf("state", "associated")
                        .close("associationState");
                },
            )
            .list("propagatingVgwSet", "item", [(); 0], |_, ()| {});
        render_tags(x, &self.tags);
    }
}
