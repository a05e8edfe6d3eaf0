//! The controller's side of spreading tasks over availability zones: it counts tasks per
//! subnet, asks [`crate::ecs::placement`] where a new task goes and whether to rebalance, and
//! carries out the answer with ECS's events.

use crate::ecs::lifecycle::RolloutState;
use crate::ecs::placement::{
    self, RebalanceStep, RebalanceView, SubnetLoad, describe_spread, tasks_per_zone,
};
use crate::ecs::reconcile::{Phase, StopReason};

use super::Controller;

/// (subnet, zone, live tasks there), owned, in the service's subnet order.
type Loads = Vec<(String, String, u32)>;

impl Controller {
    /// Live tasks (launched, not being stopped, not exited) per subnet of the service.
    fn loads(&self) -> Loads {
        let zones = &self.setup.zones;
        self.setup
            .service
            .subnets
            .iter()
            .map(|subnet| {
                let tasks = self
                    .tasks
                    .iter()
                    .filter(|(id, t)| {
                        t.subnet == *subnet && !matches!(self.phase_of(id, t), Phase::Exited { .. })
                    })
                    .count() as u32;
                let zone = zones.zone_of(subnet).unwrap_or(subnet).to_string();
                (subnet.clone(), zone, tasks)
            })
            .collect()
    }

    /// The subnet for the next task (`None`: every zone of the service is down).
    pub(super) fn place_task(&self) -> Option<String> {
        let loads = self.loads();
        placement::choose_subnet(&borrowed(&loads), &self.setup.zones.down()).map(str::to_string)
    }

    /// One task more than desired while a rebalancing waits for its new task.
    pub(super) fn rebalancing_surge(&self) -> u32 {
        u32::from(self.rebalancing.as_ref().is_some_and(|r| r.surge))
    }

    /// One round of `availabilityZoneRebalancing`.
    pub(super) fn rebalance_round(&mut self) {
        let loads = self.loads();
        let subnets = borrowed(&loads);
        let down = self.setup.zones.down();
        let settled = self
            .tasks
            .iter()
            .all(|(id, t)| self.phase_of(id, t) == Phase::Healthy);
        let view = RebalanceView {
            enabled: self.setup.service.availability_zone_rebalancing,
            deploying: self.deployment.rollout == RolloutState::InProgress
                || !self.older.is_empty(),
            settled,
            stopping: !self.stopping.is_empty(),
            live: self.tasks.len() as u32,
            desired: *self.desired.borrow(),
            subnets: &subnets,
            down: &down,
        };
        let service = self.setup.service.name.clone();
        match placement::rebalance_step(self.rebalancing.as_ref(), &view) {
            RebalanceStep::Nothing => {}
            RebalanceStep::Begin(rebalancing) => {
                let spread = describe_spread(&tasks_per_zone(&subnets, &down));
                self.note(format!(
                    "service ({service}) is not AZ balanced with {spread}. AZ Rebalancing in progress."
                ));
                self.rebalancing = Some(rebalancing);
            }
            RebalanceStep::StopOneIn(zone) => {
                let oldest = self
                    .tasks
                    .iter()
                    .filter(|(_, t)| self.setup.zones.zone_of(&t.subnet) == Some(zone.as_str()))
                    .min_by_key(|(_, t)| t.launched)
                    .map(|(id, _)| id.clone());
                if let Some(rebalancing) = &mut self.rebalancing {
                    rebalancing.surge = false;
                }
                if let Some(task_id) = oldest {
                    self.begin_stop(&task_id, StopReason::ScaledIn);
                    self.note(format!(
                        "{service} has stopped 1 running tasks in {zone} to AZ Rebalance: {task_id}."
                    ));
                }
            }
            RebalanceStep::Surge => {
                if let Some(rebalancing) = &mut self.rebalancing {
                    rebalancing.surge = true;
                }
            }
            RebalanceStep::Complete => {
                let spread = describe_spread(&tasks_per_zone(&subnets, &down));
                self.note(format!("service ({service}) is AZ balanced with {spread}."));
                self.rebalancing = None;
            }
            RebalanceStep::Abandon => self.rebalancing = None,
        }
    }

    /// Records a service event and logs it.
    fn note(&mut self, message: String) {
        tracing::info!("{message}");
        self.record_event(message);
    }
}

fn borrowed(loads: &Loads) -> Vec<SubnetLoad<'_>> {
    loads
        .iter()
        .map(|(subnet, zone, tasks)| SubnetLoad {
            subnet,
            zone,
            tasks: *tasks,
        })
        .collect()
}
