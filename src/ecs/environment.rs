//! Resolving a task definition's environment: `${rds.ID.ATTR}` from running DB instances and
//! `${secret.NAME}` from the lab's generated secrets.

use crate::config::TaskDefinition;
use crate::config::env_ref::{self, RdsAttr, Segment};
use crate::rds::DbInstance;
use crate::state::StateDir;

#[derive(Debug, thiserror::Error)]
#[error("task definition `{family}`: environment variable {variable}: {message}")]
pub struct EnvironmentError {
    pub family: String,
    pub variable: String,
    pub message: String,
}

/// The container environment with every placeholder replaced.
pub fn resolve(
    task_def: &TaskDefinition,
    databases: &[DbInstance],
    state: &StateDir,
    lab: &str,
) -> Result<Vec<(String, String)>, EnvironmentError> {
    let mut resolved = Vec::new();
    for (name, value) in &task_def.container.environment {
        let error = |message: String| EnvironmentError {
            family: task_def.family.clone(),
            variable: name.clone(),
            message,
        };
        let segments = env_ref::parse(value).map_err(error)?;
        let rendered = env_ref::render(&segments, |segment| lookup(segment, databases, state, lab))
            .map_err(error)?;
        resolved.push((name.clone(), rendered));
    }
    Ok(resolved)
}

/// One value with its `${...}` placeholders replaced (a `[secrets."NAME"]` value).
pub fn render(
    template: &str,
    databases: &[DbInstance],
    state: &StateDir,
    lab: &str,
) -> Result<String, String> {
    let segments = env_ref::parse(template)?;
    env_ref::render(&segments, |segment| lookup(segment, databases, state, lab))
}

fn lookup(
    segment: &Segment,
    databases: &[DbInstance],
    state: &StateDir,
    lab: &str,
) -> Option<String> {
    match segment {
        Segment::Literal(text) => Some(text.clone()),
        Segment::Secret(name) => state.secret(lab, name).ok(),
        Segment::Rds {
            identifier,
            attribute,
        } => {
            let db = databases.iter().find(|db| &db.identifier == identifier)?;
            Some(match attribute {
                RdsAttr::Host => db.endpoint.clone(),
                RdsAttr::Port => db.port.to_string(),
                RdsAttr::Username => db.master_username.clone(),
                RdsAttr::Password => db.master_password.clone(),
                RdsAttr::DbName => db.db_name.clone(),
                // render() builds the URL from the parts above.
                RdsAttr::Url => return None,
            })
        }
    }
}
