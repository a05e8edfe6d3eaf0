//! The lab's one Docker event stream, fed to the controller of the service or the supervisor of
//! the database each container belongs to. Routes are added as resources start, including those
//! created at run time (a read replica, a restored instance), and removed as they go.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::docker::{ContainerEvent, DockerClient, labels};

/// Pause before the Docker event stream is opened again after it broke or ended.
const EVENT_RECONNECT_PAUSE: Duration = Duration::from_secs(1);
/// Capacity of each resource's event queue.
pub const EVENT_QUEUE: usize = 256;

/// Where each resource's container events go. Cheap to clone; clones share the routes.
#[derive(Clone, Default)]
pub struct EventRoutes {
    queues: Arc<Mutex<HashMap<String, mpsc::Sender<ContainerEvent>>>>,
}

impl EventRoutes {
    /// A new queue for the containers of `resource` in `role`; the receiver gets their events.
    pub fn add(&self, role: labels::Role, resource: &str) -> mpsc::Receiver<ContainerEvent> {
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        self.lock().insert(route(role.as_str(), resource), tx);
        rx
    }

    /// Stops routing events of `resource` (it was deleted).
    pub fn remove(&self, role: labels::Role, resource: &str) {
        self.lock().remove(&route(role.as_str(), resource));
    }

    fn sender(&self, role: &str, resource: &str) -> Option<mpsc::Sender<ContainerEvent>> {
        self.lock().get(&route(role, resource)).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::Sender<ContainerEvent>>> {
        // One insert or remove at a time: a panic cannot leave the map half-changed.
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The key of a container's event queue: its role and the resource it stands for (a service
/// and a database may share a name).
fn route(role: &str, resource: &str) -> String {
    format!("{role}/{resource}")
}

/// Forwards the lab's container events along `routes` until `cancel` fires.
pub async fn pump(
    docker: DockerClient,
    lab: String,
    routes: EventRoutes,
    cancel: CancellationToken,
) {
    use futures_util::StreamExt;
    let mut events = std::pin::pin!(docker.container_events(&lab));
    loop {
        let event = tokio::select! {
            _ = cancel.cancelled() => return,
            event = events.next() => event,
        };
        match event {
            Some(Ok(event)) => {
                let label = |key| event.labels.get(key).map_or("", String::as_str);
                if let Some(queue) = routes.sender(label(labels::ROLE), label(labels::RESOURCE)) {
                    // A full queue must not hold the pump past a cancel.
                    if cancel
                        .run_until_cancelled(queue.send(event))
                        .await
                        .is_none()
                    {
                        return;
                    }
                }
                continue;
            }
            Some(Err(e)) => {
                // Controllers also inspect their containers periodically, so a broken stream
                // slows reaction down but loses nothing.
                tracing::warn!(
                    "Docker event stream failed: {e}; reconnecting",
                    e = crate::error::chain(&e)
                );
            }
            None => {}
        }
        // The stream broke or ended: reconnect after a pause (a stopping lab does not wait).
        let pause = tokio::time::sleep(EVENT_RECONNECT_PAUSE);
        if cancel.run_until_cancelled(pause).await.is_none() {
            return;
        }
        events.set(docker.container_events(&lab));
    }
}
