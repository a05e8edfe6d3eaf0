//! Container lifecycle events of one lab, so controllers react at once instead of polling.

use std::collections::HashMap;

use bollard::query_parameters::EventsOptions;
use futures_util::{Stream, StreamExt};

use super::{DockerClient, DockerError, labels};

/// A container of the lab died, started or was destroyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    pub container_id: String,
    /// Docker's action: `die`, `start`, `destroy`, `kill`, `oom`.
    pub action: String,
    pub exit_code: Option<i64>,
    pub labels: HashMap<String, String>,
}

impl DockerClient {
    /// Lifecycle events of the lab's containers. Health-check `exec_*` events are dropped.
    pub fn container_events(&self, lab: &str) -> impl Stream<Item = Result<ContainerEvent, DockerError>> + use<> {
        let mut filters = labels::filter(lab, None, None);
        filters.insert("type".into(), vec!["container".into()]);
        for action in ["die", "start", "destroy", "oom"] {
            filters.entry("event".into()).or_default().push(action.into());
        }
        let options = EventsOptions { filters: Some(filters), ..Default::default() };
        self.inner.events(Some(options)).map(|event| {
            let event = event.map_err(DockerError::op("watch events of", "containers"))?;
            let actor = event.actor.unwrap_or_default();
            let attributes = actor.attributes.unwrap_or_default();
            Ok(ContainerEvent {
                container_id: actor.id.unwrap_or_default(),
                action: event.action.unwrap_or_default(),
                exit_code: attributes.get("exitCode").and_then(|c| c.parse().ok()),
                labels: attributes,
            })
        })
    }
}
