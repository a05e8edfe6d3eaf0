//! The scaler loop: once a datapoint period (1 s under the fast timing, 60 s under AWS's) it
//! measures every service (Docker stats of its RUNNING tasks, its target group's request
//! counter), keeps the datapoints, and for each registered scalable target applies
//! [`decision::decide`] through the service's handle (`set_desired_count`, as `update-service`
//! does), recording each change as a scaling activity. It never touches the controller's
//! internals: the deployment state comes from the status the controller publishes.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::join_all;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use std::sync::Arc;

use crate::alb::{LoadBalancerMetrics, TargetGroupHandle, TargetState};
use crate::config::Config;
use crate::docker::{DockerClient, StatsSample};
use crate::ecs::{LastStatus, RolloutState, ServiceHandle, ServiceStatus};

use super::alarm::{self, DATAPOINTS_KEPT};
use super::decision::{self, Decision, History, PolicyView};
use super::metrics;
use super::model::{
    PolicyAlarms, ScalableTarget, ScalingMetric, ServiceMetrics, request_count_labels,
};
use super::store::{self, AutoScaling};

/// What the scaler reads and drives; built by the lab once its services run.
pub struct ScalerSetup {
    pub docker: DockerClient,
    pub config: Arc<Config>,
    pub services: Vec<ServiceHandle>,
    pub target_groups: Vec<TargetGroupHandle>,
    /// Every load balancer's metrics (the target groups' request counters).
    pub load_balancers: Vec<Arc<LoadBalancerMetrics>>,
    pub autoscaling: AutoScaling,
}

/// Runs until `cancel` fires.
pub async fn run(setup: ScalerSetup, cancel: CancellationToken) {
    let period = setup.config.lab.metric_timing.period();
    let mut scaler = Scaler {
        setup,
        period,
        services: BTreeMap::new(),
    };
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        // A round that outlives a cancel (Docker slow to answer) is dropped, not awaited.
        if cancel.run_until_cancelled(scaler.round()).await.is_none() {
            return;
        }
    }
}

/// A deployment of the service is rolling out (its PRIMARY deployment IN_PROGRESS, or older
/// ACTIVE ones still being replaced): scale-in waits, as ECS suspends it meanwhile.
pub fn deployment_in_progress(status: &ServiceStatus) -> bool {
    status.deployment.rollout_state == RolloutState::InProgress
        || !status.active_deployments.is_empty()
}

struct Scaler {
    setup: ScalerSetup,
    period: Duration,
    services: BTreeMap<String, Tracked>,
}

/// What the scaler remembers of one service between rounds.
#[derive(Default)]
struct Tracked {
    /// Each RUNNING task's last CPU counter, by container id.
    cpu: HashMap<String, (u64, Reading)>,
    /// The target group's request counter at the last round, by resource label.
    requests: HashMap<String, (u64, Instant)>,
    /// The latest datapoints of each metric (and resource label), oldest first.
    datapoints: HashMap<(ScalingMetric, Option<String>), VecDeque<Option<f64>>>,
    history: History,
}

/// When a counter was read: the engine's clock when it said, else ours.
#[derive(Clone, Copy)]
struct Reading {
    engine: Option<SystemTime>,
    local: Instant,
}

impl Reading {
    fn since(&self, earlier: &Reading) -> Duration {
        match (self.engine, earlier.engine) {
            (Some(now), Some(then)) => now.duration_since(then).unwrap_or_default(),
            _ => self.local.duration_since(earlier.local),
        }
    }
}

impl Scaler {
    async fn round(&mut self) {
        let services = self.setup.services.clone();
        for handle in services {
            let status = handle.status();
            let datapoint = self.measure(&status).await;
            let target = self.setup.autoscaling.target(&status.cluster, &status.name);
            let alarms = match &target {
                Some(target) => self.scale(&handle, &status, target),
                None => Vec::new(),
            };
            self.setup.autoscaling.set_metrics(ServiceMetrics {
                alarms,
                ..datapoint
            });
        }
    }

    /// One datapoint of the service's metrics, kept for the alarms.
    async fn measure(&mut self, status: &ServiceStatus) -> ServiceMetrics {
        let running: Vec<_> = status
            .tasks
            .iter()
            .filter(|t| t.last_status == LastStatus::Running && !t.container_id.is_empty())
            .collect();
        let samples = join_all(running.iter().map(|t| self.sample(&t.container_id))).await;
        let tracked = self.services.entry(status.name.clone()).or_default();
        let (mut cpu, mut memory) = (Vec::new(), Vec::new());
        let mut seen = HashMap::new();
        for (task, sample) in running.iter().zip(samples) {
            let Some((sample, reading)) = sample else {
                continue;
            };
            if let Some((before, at)) = tracked.cpu.get(&task.container_id) {
                let used = sample.cpu_total_ns.saturating_sub(*before);
                cpu.extend(metrics::cpu_utilization(used, reading.since(at), task.cpu));
            }
            memory.extend(metrics::memory_utilization(
                sample.memory_bytes,
                task.memory_mib,
            ));
            seen.insert(task.container_id.clone(), (sample.cpu_total_ns, reading));
        }
        // Tasks that stopped are forgotten with their counters.
        tracked.cpu = seen;
        let requests = request_rates(&self.setup, status, tracked);
        let values = [
            ((ScalingMetric::Cpu, None), metrics::average(&cpu)),
            ((ScalingMetric::Memory, None), metrics::average(&memory)),
        ];
        let per_label = requests.iter().map(|(label, v)| {
            (
                (ScalingMetric::AlbRequestCountPerTarget, Some(label.clone())),
                *v,
            )
        });
        for (key, value) in values.into_iter().chain(per_label) {
            let points = tracked.datapoints.entry(key).or_default();
            points.push_back(value);
            while points.len() > DATAPOINTS_KEPT {
                points.pop_front();
            }
        }
        ServiceMetrics {
            cluster: status.cluster.clone(),
            service: status.name.clone(),
            period_seconds: self.period.as_secs(),
            at: crate::ecs::now_rfc3339(),
            cpu_utilization: metrics::average(&cpu),
            memory_utilization: metrics::average(&memory),
            request_count_per_target: requests.first().and_then(|(_, v)| *v),
            tasks_sampled: cpu.len().max(memory.len()) as u32,
            alarms: Vec::new(),
        }
    }

    /// A stats sample of a container, with when it was read; `None` when Docker has none (the
    /// datapoint goes without that task).
    async fn sample(&self, container: &str) -> Option<(StatsSample, Reading)> {
        match self.setup.docker.container_stats(container).await {
            Ok(Some(sample)) => {
                let reading = Reading {
                    engine: sample.read_at,
                    local: Instant::now(),
                };
                Some((sample, reading))
            }
            Ok(None) => None,
            Err(e) => {
                tracing::debug!("auto scaling: {e}", e = crate::error::chain(&e));
                None
            }
        }
    }

    /// Decides and applies the next desired count; returns each policy's alarms.
    fn scale(
        &mut self,
        handle: &ServiceHandle,
        status: &ServiceStatus,
        target: &ScalableTarget,
    ) -> Vec<PolicyAlarms> {
        let tracked = self.services.entry(status.name.clone()).or_default();
        let points: Vec<Vec<Option<f64>>> = target
            .policies
            .iter()
            .map(|p| {
                let label = (p.metric == ScalingMetric::AlbRequestCountPerTarget)
                    .then(|| p.resource_label.clone())
                    .flatten();
                let kept = tracked.datapoints.get(&(p.metric, label));
                kept.map(|d| d.iter().copied().collect())
                    .unwrap_or_default()
            })
            .collect();
        let views: Vec<PolicyView> = target
            .policies
            .iter()
            .zip(&points)
            .map(|(p, datapoints)| PolicyView {
                name: &p.name,
                target_value: p.target_value,
                datapoints,
                scale_out_cooldown: Duration::from_secs(p.scale_out_cooldown_seconds.into()),
                scale_in_cooldown: Duration::from_secs(p.scale_in_cooldown_seconds.into()),
                disable_scale_in: p.disable_scale_in,
                high_alarm: &p.alarms[0].name,
                low_alarm: &p.alarms[1].name,
            })
            .collect();
        let now = Instant::now();
        let current = handle.desired_count();
        let input = decision::Input {
            current,
            min: target.min_capacity,
            max: target.max_capacity,
            policies: &views,
            history: tracked.history,
            now,
            deployment_in_progress: deployment_in_progress(status),
            scale_in_suspended: target.suspended.dynamic_scaling_in_suspended,
            scale_out_suspended: target.suspended.dynamic_scaling_out_suspended,
        };
        if let Decision::Scale {
            to,
            direction,
            cause,
            cooldown,
        } = decision::decide(&input)
        {
            let started = crate::ecs::now_rfc3339_millis();
            match handle.set_desired_count(to) {
                Ok(_) => {
                    tracing::info!(
                        "auto scaling: service {} desired count {current} → {to} ({cause})",
                        status.name
                    );
                    let activity =
                        store::activity(&status.cluster, &status.name, to, &cause, started);
                    self.setup.autoscaling.record(activity);
                    tracked.history = tracked.history.after(direction, now, current, cooldown);
                }
                Err(e) => tracing::warn!("auto scaling: service {}: {e}", status.name),
            }
        }
        views
            .iter()
            .map(|v| PolicyAlarms {
                policy: v.name.to_string(),
                alarms: alarm::evaluate(v.datapoints, v.target_value),
            })
            .collect()
    }
}

/// `ALBRequestCountPerTarget` for each resource label of the service: requests its target group
/// got since the last round, per healthy target per minute (`None` on the first round and
/// without healthy targets).
fn request_rates(
    setup: &ScalerSetup,
    status: &ServiceStatus,
    tracked: &mut Tracked,
) -> Vec<(String, Option<f64>)> {
    let config = &setup.config;
    let Some(tg) = config
        .services
        .get(&status.name)
        .and_then(|s| s.load_balancer.as_ref())
        .map(|l| l.target_group.clone())
    else {
        return Vec::new();
    };
    let group = setup.target_groups.iter().find(|g| g.name() == tg);
    let healthy = group.map_or(0, |g| {
        g.describe()
            .iter()
            .filter(|t| t.state == TargetState::Healthy)
            .count()
    });
    let now = Instant::now();
    request_count_labels(config, &status.name)
        .into_iter()
        .map(|label| {
            let count = setup
                .load_balancers
                .iter()
                .filter(|lb| label.starts_with(&format!("{}/", lb.dimension())))
                .find_map(|lb| lb.target_group(&tg))
                .map(|m| m.requests());
            let rate = count.and_then(|count| {
                let before = tracked.requests.insert(label.clone(), (count, now));
                let (earlier, at) = before?;
                metrics::requests_per_target(count.saturating_sub(earlier), now - at, healthy)
            });
            (label, rate)
        })
        .collect()
}
