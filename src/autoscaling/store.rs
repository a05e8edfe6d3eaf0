//! [`AutoScaling`]: the lab's Application Auto Scaling state (scalable targets with their
//! policies, scaling activities, the latest metrics), shared by the AWS API, the scaler loop and
//! the status. In memory: like a desired count set at run time, it lasts until the lab stops
//! (the config's `[services.X.auto-scaling]` is registered again at every start).
//!
//! Every change is checked first and applied whole, or not at all, with Application Auto
//! Scaling's error for what is wrong.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use super::model::{
    ActivityStatus, AlarmRef, AutoScalingStatus, DESIRED_COUNT, ECS_NAMESPACE, ScalableTarget,
    ScalingActivity, ScalingMetric, ScalingPolicy, ServiceMetrics, SuspendedState, resource_id,
};
use crate::ecs::lifecycle::new_uuid_v4;
use crate::ecs::now_rfc3339_millis;

/// Scaling activities kept (AWS keeps six weeks of them; a lab keeps the latest).
pub const ACTIVITIES_KEPT: usize = 200;
/// Application Auto Scaling's quota of scaling policies per scalable target.
pub const MAX_POLICIES: usize = 50;

/// Why a change was refused, as Application Auto Scaling words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScalingError {
    /// `ValidationException`.
    #[error("{0}")]
    Validation(String),
    /// `ObjectNotFoundException`.
    #[error("{0}")]
    NotFound(String),
    /// `LimitExceededException`.
    #[error("{0}")]
    LimitExceeded(String),
}

impl ScalingError {
    /// Application Auto Scaling's error code.
    pub fn code(&self) -> &'static str {
        match self {
            ScalingError::Validation(_) => "ValidationException",
            ScalingError::NotFound(_) => "ObjectNotFoundException",
            ScalingError::LimitExceeded(_) => "LimitExceededException",
        }
    }
}

/// What `register-scalable-target` asks for (absent members keep what is registered).
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub min_capacity: Option<u32>,
    pub max_capacity: Option<u32>,
    pub suspended: Option<SuspendedState>,
}

/// What `put-scaling-policy` asks for, checked by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySpec {
    pub name: String,
    pub metric: ScalingMetric,
    pub resource_label: Option<String>,
    pub target_value: f64,
    pub scale_out_cooldown_seconds: u32,
    pub scale_in_cooldown_seconds: u32,
    pub disable_scale_in: bool,
}

/// The lab's auto scaling; cheap to clone (clones share the state).
#[derive(Clone)]
pub struct AutoScaling {
    region: String,
    account: String,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// By resource id (`service/C/S`).
    targets: BTreeMap<String, ScalableTarget>,
    /// Oldest first, at most [`ACTIVITIES_KEPT`].
    activities: VecDeque<ScalingActivity>,
    /// The latest datapoint of each service (by resource id).
    metrics: BTreeMap<String, ServiceMetrics>,
}

impl AutoScaling {
    pub fn new(region: &str, account: &str) -> AutoScaling {
        AutoScaling {
            region: region.to_string(),
            account: account.to_string(),
            state: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change is checked before it is made: a panic cannot leave half of one.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers the service as a scalable target, or updates the one registered (min, max,
    /// suspended state). Returns its ARN.
    pub fn register(
        &self,
        cluster: &str,
        service: &str,
        registration: &Registration,
    ) -> Result<String, ScalingError> {
        let id = resource_id(cluster, service);
        let mut state = self.lock();
        let existing = state.targets.get(&id);
        let (min, max) = match (
            existing,
            registration.min_capacity,
            registration.max_capacity,
        ) {
            (None, Some(min), Some(max)) => (min, max),
            (None, _, _) => {
                return Err(ScalingError::Validation(
                    "MinCapacity and MaxCapacity are required for registering a new scalable target"
                        .into(),
                ));
            }
            (Some(t), min, max) => (min.unwrap_or(t.min_capacity), max.unwrap_or(t.max_capacity)),
        };
        if max < min {
            return Err(ScalingError::Validation(format!(
                "Maximum capacity ({max}) cannot be less than minimum capacity ({min})"
            )));
        }
        let target = state.targets.entry(id).or_insert_with(|| ScalableTarget {
            cluster: cluster.to_string(),
            service: service.to_string(),
            min_capacity: min,
            max_capacity: max,
            arn: format!(
                "arn:aws:application-autoscaling:{}:{}:scalable-target/{}",
                self.region,
                self.account,
                new_uuid_v4().replace('-', "")
            ),
            created_at: now_rfc3339_millis(),
            suspended: SuspendedState::default(),
            policies: Vec::new(),
        });
        target.min_capacity = min;
        target.max_capacity = max;
        if let Some(suspended) = registration.suspended {
            target.suspended = suspended;
        }
        Ok(target.arn.clone())
    }

    /// Deregisters the service's scalable target, and with it its policies (as AWS does).
    pub fn deregister(&self, cluster: &str, service: &str) -> Result<(), ScalingError> {
        let id = resource_id(cluster, service);
        let mut state = self.lock();
        state.targets.remove(&id).ok_or_else(|| no_target(&id))?;
        state.metrics.remove(&id);
        Ok(())
    }

    /// Creates or replaces policy `spec.name` of the service's target; returns it.
    pub fn put_policy(
        &self,
        cluster: &str,
        service: &str,
        spec: PolicySpec,
    ) -> Result<ScalingPolicy, ScalingError> {
        let id = resource_id(cluster, service);
        let mut state = self.lock();
        let target = state.targets.get_mut(&id).ok_or_else(|| no_target(&id))?;
        let existing = target.policies.iter().position(|p| p.name == spec.name);
        if existing.is_none() && target.policies.len() >= MAX_POLICIES {
            return Err(ScalingError::LimitExceeded(format!(
                "A scalable target can have at most {MAX_POLICIES} scaling policies"
            )));
        }
        let policy = match existing {
            // An update keeps the policy's ARN, alarms and creation time.
            Some(i) => {
                let old = &target.policies[i];
                ScalingPolicy {
                    arn: old.arn.clone(),
                    alarms: old.alarms.clone(),
                    created_at: old.created_at.clone(),
                    ..self.new_policy(&id, &spec)
                }
            }
            None => self.new_policy(&id, &spec),
        };
        match existing {
            Some(i) => target.policies[i] = policy.clone(),
            None => target.policies.push(policy.clone()),
        }
        Ok(policy)
    }

    fn new_policy(&self, id: &str, spec: &PolicySpec) -> ScalingPolicy {
        let alarm = |which: &str| {
            let name = format!("TargetTracking-{id}-{which}-{}", new_uuid_v4());
            AlarmRef {
                arn: format!(
                    "arn:aws:cloudwatch:{}:{}:alarm:{name}",
                    self.region, self.account
                ),
                name,
            }
        };
        ScalingPolicy {
            name: spec.name.clone(),
            arn: format!(
                "arn:aws:autoscaling:{}:{}:scalingPolicy:{}:resource/{ECS_NAMESPACE}/{id}:policyName/{}",
                self.region,
                self.account,
                new_uuid_v4(),
                spec.name
            ),
            metric: spec.metric,
            resource_label: spec.resource_label.clone(),
            target_value: spec.target_value,
            scale_out_cooldown_seconds: spec.scale_out_cooldown_seconds,
            scale_in_cooldown_seconds: spec.scale_in_cooldown_seconds,
            disable_scale_in: spec.disable_scale_in,
            alarms: [alarm("AlarmHigh"), alarm("AlarmLow")],
            created_at: now_rfc3339_millis(),
        }
    }

    /// Deletes policy `name` of the service's target.
    pub fn delete_policy(
        &self,
        cluster: &str,
        service: &str,
        name: &str,
    ) -> Result<(), ScalingError> {
        let id = resource_id(cluster, service);
        let mut state = self.lock();
        let missing = || {
            ScalingError::NotFound(format!(
                "No scaling policy found for service namespace: {ECS_NAMESPACE}, resource ID: {id}, scalable dimension: {DESIRED_COUNT}, policy name: {name}"
            ))
        };
        let target = state.targets.get_mut(&id).ok_or_else(missing)?;
        let i = target
            .policies
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(missing)?;
        target.policies.remove(i);
        Ok(())
    }

    /// The registered targets, by resource id.
    pub fn targets(&self) -> Vec<ScalableTarget> {
        self.lock().targets.values().cloned().collect()
    }

    /// The service's target, if registered.
    pub fn target(&self, cluster: &str, service: &str) -> Option<ScalableTarget> {
        self.lock()
            .targets
            .get(&resource_id(cluster, service))
            .cloned()
    }

    /// Records an activity.
    pub fn record(&self, activity: ScalingActivity) {
        let mut state = self.lock();
        state.activities.push_back(activity);
        while state.activities.len() > ACTIVITIES_KEPT {
            state.activities.pop_front();
        }
    }

    /// The activities, newest first (as `describe-scaling-activities` lists them).
    pub fn activities(&self) -> Vec<ScalingActivity> {
        self.lock().activities.iter().rev().cloned().collect()
    }

    /// Keeps `metrics` as the service's latest datapoint.
    pub fn set_metrics(&self, metrics: ServiceMetrics) {
        let id = resource_id(&metrics.cluster, &metrics.service);
        self.lock().metrics.insert(id, metrics);
    }

    /// The latest datapoint of every service measured, by resource id.
    pub fn metrics(&self) -> Vec<ServiceMetrics> {
        self.lock().metrics.values().cloned().collect()
    }

    /// Registers the `[services.X.auto-scaling]` tables of `config` with their policies (at
    /// every start: the state lasts as long as the lab runs).
    pub fn register_config(&self, config: &crate::config::Config) -> Result<(), ScalingError> {
        for service in config.services.values() {
            if service.auto_scaling.is_some() {
                self.apply_service(config, &service.name)?;
            }
        }
        Ok(())
    }

    /// Makes service `name`'s scaling what `config` declares (`tierlab apply`): its target
    /// registered or updated with the table's policies (others deleted), or deregistered when
    /// the table is gone. The table was validated with the file (bounds, policy count).
    pub fn apply_service(
        &self,
        config: &crate::config::Config,
        name: &str,
    ) -> Result<(), ScalingError> {
        let service = &config.services[name];
        let Some(table) = &service.auto_scaling else {
            return match self.target(&service.cluster, name) {
                Some(_) => self.deregister(&service.cluster, name),
                None => Ok(()),
            };
        };
        let registration = Registration {
            min_capacity: Some(table.min_capacity),
            max_capacity: Some(table.max_capacity),
            suspended: None,
        };
        self.register(&service.cluster, name, &registration)?;
        let declared: Vec<&str> = table.policies.iter().map(|p| p.name.as_str()).collect();
        let stale: Vec<String> = self
            .target(&service.cluster, name)
            .map(|t| t.policies.into_iter().map(|p| p.name).collect())
            .unwrap_or_default();
        for old in stale.iter().filter(|p| !declared.contains(&p.as_str())) {
            self.delete_policy(&service.cluster, name, old)?;
        }
        for p in &table.policies {
            let resource_label = (p.metric == ScalingMetric::AlbRequestCountPerTarget)
                .then(|| super::model::request_count_labels(config, name))
                .and_then(|labels| labels.into_iter().next());
            let spec = PolicySpec {
                name: p.name.clone(),
                metric: p.metric,
                resource_label,
                target_value: p.target_value,
                scale_out_cooldown_seconds: p.scale_out_cooldown.as_secs() as u32,
                scale_in_cooldown_seconds: p.scale_in_cooldown.as_secs() as u32,
                disable_scale_in: p.disable_scale_in,
            };
            self.put_policy(&service.cluster, name, spec)?;
        }
        Ok(())
    }

    pub fn status(&self) -> AutoScalingStatus {
        AutoScalingStatus {
            targets: self.targets(),
            metrics: self.metrics(),
            activities: self.activities(),
        }
    }
}

/// Application Auto Scaling's answer for a target that is not registered.
pub fn no_target(id: &str) -> ScalingError {
    ScalingError::NotFound(format!(
        "No scalable target registered for service namespace: {ECS_NAMESPACE}, resource ID: {id}, scalable dimension: {DESIRED_COUNT}"
    ))
}

/// A successful change of the desired count, as Application Auto Scaling records it.
pub fn activity(
    cluster: &str,
    service: &str,
    to: u32,
    cause: &str,
    start: String,
) -> ScalingActivity {
    ScalingActivity {
        id: new_uuid_v4(),
        cluster: cluster.to_string(),
        service: service.to_string(),
        description: format!("Setting desired count to {to}."),
        cause: cause.to_string(),
        start_time: start,
        end_time: Some(now_rfc3339_millis()),
        status_code: ActivityStatus::Successful,
        status_message: format!(
            "Successfully set desired count to {to}. Change successfully fulfilled by {ECS_NAMESPACE}."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> PolicySpec {
        PolicySpec {
            name: name.into(),
            metric: ScalingMetric::Cpu,
            resource_label: None,
            target_value: 70.0,
            scale_out_cooldown_seconds: 60,
            scale_in_cooldown_seconds: 60,
            disable_scale_in: false,
        }
    }

    fn both(min: u32, max: u32) -> Registration {
        Registration {
            min_capacity: Some(min),
            max_capacity: Some(max),
            suspended: None,
        }
    }

    #[test]
    fn registering_twice_updates_the_same_target() {
        let a = AutoScaling::new("us-east-1", "000000000000");
        let arn = a.register("c", "s", &both(2, 6)).unwrap();
        assert!(arn.starts_with(
            "arn:aws:application-autoscaling:us-east-1:000000000000:scalable-target/"
        ));
        let only_max = Registration {
            max_capacity: Some(8),
            ..Registration::default()
        };
        assert_eq!(a.register("c", "s", &only_max).unwrap(), arn);
        let t = a.target("c", "s").unwrap();
        assert_eq!((t.min_capacity, t.max_capacity), (2, 8));
    }

    #[test]
    fn bad_registrations_change_nothing() {
        let a = AutoScaling::new("us-east-1", "0");
        let e = a.register("c", "s", &Registration::default()).unwrap_err();
        assert_eq!(e.code(), "ValidationException");
        assert!(a.targets().is_empty());
        a.register("c", "s", &both(2, 6)).unwrap();
        let e = a.register("c", "s", &both(7, 6)).unwrap_err();
        assert_eq!(e.code(), "ValidationException");
        let only_min = Registration {
            min_capacity: Some(9),
            ..Registration::default()
        };
        assert!(a.register("c", "s", &only_min).is_err());
        assert_eq!(a.target("c", "s").unwrap().min_capacity, 2);
    }

    #[test]
    fn policies_need_a_target_and_go_with_it() {
        let a = AutoScaling::new("us-east-1", "000000000000");
        let e = a.put_policy("c", "s", spec("cpu")).unwrap_err();
        assert_eq!(e.code(), "ObjectNotFoundException");
        assert_eq!(
            e.to_string(),
            "No scalable target registered for service namespace: ecs, resource ID: service/c/s, scalable dimension: ecs:service:DesiredCount"
        );
        a.register("c", "s", &both(2, 6)).unwrap();
        let p = a.put_policy("c", "s", spec("cpu")).unwrap();
        assert!(
            p.arn.ends_with(":resource/ecs/service/c/s:policyName/cpu"),
            "{}",
            p.arn
        );
        assert!(
            p.alarms[0]
                .name
                .starts_with("TargetTracking-service/c/s-AlarmHigh-")
        );
        assert!(
            p.alarms[1]
                .name
                .starts_with("TargetTracking-service/c/s-AlarmLow-")
        );
        // Put again: updated in place, same ARN.
        let mut changed = spec("cpu");
        changed.target_value = 50.0;
        let q = a.put_policy("c", "s", changed).unwrap();
        assert_eq!((q.arn, q.target_value), (p.arn, 50.0));
        assert_eq!(a.target("c", "s").unwrap().policies.len(), 1);
        let e = a.delete_policy("c", "s", "memory").unwrap_err();
        assert_eq!(e.code(), "ObjectNotFoundException");
        a.deregister("c", "s").unwrap();
        assert!(a.target("c", "s").is_none());
        assert_eq!(
            a.deregister("c", "s").unwrap_err().code(),
            "ObjectNotFoundException"
        );
    }

    #[test]
    fn activities_are_worded_as_aws_and_listed_newest_first() {
        let a = AutoScaling::new("us-east-1", "0");
        a.record(activity(
            "c",
            "s",
            3,
            "monitor alarm x in state ALARM triggered policy cpu",
            now_rfc3339_millis(),
        ));
        a.record(activity(
            "c",
            "s",
            2,
            "minimum capacity was set to 2",
            now_rfc3339_millis(),
        ));
        let list = a.activities();
        assert_eq!(list[0].description, "Setting desired count to 2.");
        assert_eq!(
            list[1].status_message,
            "Successfully set desired count to 3. Change successfully fulfilled by ecs."
        );
        assert_eq!(list[1].status_code, ActivityStatus::Successful);
        for i in 0..ACTIVITIES_KEPT {
            a.record(activity("c", "s", i as u32, "x", now_rfc3339_millis()));
        }
        assert_eq!(a.activities().len(), ACTIVITIES_KEPT);
    }
}
