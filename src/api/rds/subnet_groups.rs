//! DescribeDBSubnetGroups: one group per DB instance (see `model::subnet_group_name`).

use crate::api::query::Params;
use crate::api::xml::Xml;
use crate::api::{ApiContext, ApiError};

use super::model::{SubnetGroupModel, instance_model, render_subnet_group};
use super::page;

pub fn describe_db_subnet_groups(ctx: &ApiContext, params: &Params) -> Result<Xml, ApiError> {
    let wanted = params.get("DBSubnetGroupName");
    let groups: Vec<SubnetGroupModel> = ctx
        .lab
        .databases()
        .iter()
        .map(|db| instance_model(ctx, db).subnet_group)
        .filter(|g| wanted.is_none_or(|name| g.name == name))
        .collect();
    if let Some(name) = wanted
        && groups.is_empty()
    {
        return Err(ApiError::new(
            "DBSubnetGroupNotFoundFault",
            format!("DB Subnet Group {name} not found."),
        )
        .with_status(404));
    }
    let (groups, marker) = page(groups, params)?;
    let mut x = Xml::new();
    x.list("DBSubnetGroups", "DBSubnetGroup", &groups, |x, g| {
        render_subnet_group(x, g, true);
    });
    x.opt("Marker", marker);
    Ok(x)
}
