//! A target group: its registered targets, their health, and which one gets the next request.
//!
//! The target set sits behind an `ArcSwap` and each target's state in an atomic, so picking a
//! target takes no lock; only (rare) registration changes and health check results do.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
use serde::Serialize;
use tokio::sync::watch;

use super::health::{CheckOutcome, HealthMachine, Reason, ReasonCode, TargetState, Transition};
use super::routing::{self, Choice, TargetStats};
use crate::config::TargetGroup;

/// One registered target. Shared by the target set, in-flight requests and the health checker.
#[derive(Debug)]
pub struct Target {
    id: String,
    addr: SocketAddr,
    /// Mirror of `machine.state()`, read without locking on the request path.
    state: AtomicU8,
    machine: Mutex<HealthMachine>,
    /// Counters read by target selection (in flight, healthy since, sticky token).
    stats: TargetStats,
}

impl Target {
    fn new(id: &str, addr: SocketAddr, cfg: &TargetGroup) -> Target {
        let hc = &cfg.health_check;
        let machine = HealthMachine::new(hc.healthy_threshold, hc.unhealthy_threshold);
        Target {
            id: id.to_string(),
            addr,
            state: AtomicU8::new(machine.state().to_u8()),
            machine: Mutex::new(machine),
            stats: TargetStats::default(),
        }
    }

    /// The id it was registered under (an ECS task id, or the address for static targets).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where requests and health checks go.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The current health state (lock-free).
    pub fn state(&self) -> TargetState {
        TargetState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Whether no health check has completed for this target yet.
    pub(crate) fn is_unchecked(&self) -> bool {
        self.machine().is_unchecked()
    }

    /// Feeds one health check result to the state machine; returns the flip, if any.
    pub(crate) fn record(&self, outcome: &CheckOutcome) -> Option<Transition> {
        let mut machine = self.machine();
        let was_healthy = machine.state() == TargetState::Healthy;
        let transition = machine.record(outcome);
        if !was_healthy && machine.state() == TargetState::Healthy {
            self.stats.became_healthy();
        }
        self.state.store(machine.state().to_u8(), Ordering::Release);
        transition
    }

    /// Counters used by target selection.
    pub fn stats(&self) -> &TargetStats {
        &self.stats
    }

    fn describe(&self) -> TargetDescription {
        let machine = self.machine();
        TargetDescription::new(&self.id, Some(self.addr), machine.state(), machine.reason())
    }

    /// The machine is only touched by short, non-async critical sections; a panic inside one
    /// cannot leave it inconsistent, so a poisoned lock is still usable.
    fn machine(&self) -> MutexGuard<'_, HealthMachine> {
        self.machine.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One row of `describe-target-health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetDescription {
    /// The target's id.
    pub id: String,
    /// `None` for a target that is not registered.
    pub address: Option<SocketAddr>,
    /// Its health state.
    pub state: TargetState,
    /// Why it is not healthy (`None` when healthy).
    pub reason: Option<ReasonCode>,
    /// AWS's description of the reason.
    pub description: Option<String>,
}

impl TargetDescription {
    fn new(
        id: &str,
        address: Option<SocketAddr>,
        state: TargetState,
        reason: Option<&Reason>,
    ) -> Self {
        TargetDescription {
            id: id.to_string(),
            address,
            state,
            reason: reason.map(|r| r.code),
            description: reason.map(|r| r.description.clone()),
        }
    }
}

/// A cheap, cloneable handle to a target group, shared by listeners, the health checker and the
/// ECS controller that registers tasks.
#[derive(Debug, Clone)]
pub struct TargetGroupHandle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cfg: TargetGroup,
    targets: ArcSwap<Vec<Arc<Target>>>,
    /// Serialises writers (register/deregister) so concurrent updates are not lost; readers
    /// never take it.
    write: Mutex<()>,
    next: AtomicUsize,
    changes: watch::Sender<u64>,
}

impl TargetGroupHandle {
    /// A target group with the config's static targets registered (id = their address), all
    /// `initial` until the health checker has run.
    pub fn new(cfg: TargetGroup) -> TargetGroupHandle {
        let statics = cfg.static_targets.clone();
        let handle = TargetGroupHandle {
            inner: Arc::new(Inner {
                cfg,
                targets: ArcSwap::from_pointee(Vec::new()),
                write: Mutex::new(()),
                next: AtomicUsize::new(0),
                changes: watch::Sender::new(0),
            }),
        };
        for addr in statics {
            handle.register(&addr.to_string(), addr);
        }
        handle
    }

    /// The target group's name.
    pub fn name(&self) -> &str {
        &self.inner.cfg.name
    }

    /// The group's configuration (health check settings, port, ...).
    pub fn config(&self) -> &TargetGroup {
        &self.inner.cfg
    }

    /// Registers target `id` at `addr` in state `initial`. Re-registering an id with the same
    /// address changes nothing; with a new address it replaces the target (health starts over).
    pub fn register(&self, id: &str, addr: SocketAddr) {
        let _guard = self.write_lock();
        let current = self.inner.targets.load();
        if current.iter().any(|t| t.id == id && t.addr == addr) {
            return;
        }
        let mut next: Vec<Arc<Target>> = current.iter().filter(|t| t.id != id).cloned().collect();
        next.push(Arc::new(Target::new(id, addr, &self.inner.cfg)));
        self.inner.targets.store(Arc::new(next));
        tracing::info!(target_group = self.name(), target = id, %addr, "target {}/{id} {addr}: registered", self.name());
        self.notify();
    }

    /// Removes target `id` from routing at once; requests already sent to it finish.
    /// Returns whether it was registered.
    pub fn deregister(&self, id: &str) -> bool {
        let _guard = self.write_lock();
        let current = self.inner.targets.load();
        let Some(gone) = current.iter().find(|t| t.id == id) else {
            return false;
        };
        let addr = gone.addr;
        let next: Vec<Arc<Target>> = current.iter().filter(|t| t.id != id).cloned().collect();
        self.inner.targets.store(Arc::new(next));
        tracing::info!(target_group = self.name(), target = id, %addr, "target {}/{id} {addr}: deregistered", self.name());
        self.notify();
        true
    }

    /// Every registered target with its health, like `aws elbv2 describe-target-health`.
    pub fn describe(&self) -> Vec<TargetDescription> {
        self.inner
            .targets
            .load()
            .iter()
            .map(|t| t.describe())
            .collect()
    }

    /// One target's health; `unused` / `Target.NotRegistered` when `id` is not registered.
    pub fn describe_target(&self, id: &str) -> TargetDescription {
        match self.inner.targets.load().iter().find(|t| t.id == id) {
            Some(t) => t.describe(),
            None => {
                let reason = Reason::not_registered();
                TargetDescription::new(id, None, TargetState::Unused, Some(&reason))
            }
        }
    }

    /// The state of target `id`, `None` when it is not registered.
    pub fn state_of(&self, id: &str) -> Option<TargetState> {
        self.inner
            .targets
            .load()
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.state())
    }

    /// How many targets are healthy now.
    pub fn healthy_count(&self) -> usize {
        let targets = self.inner.targets.load();
        targets
            .iter()
            .filter(|t| t.state() == TargetState::Healthy)
            .count()
    }

    /// A counter bumped on every registration, deregistration and health flip, so callers can
    /// wait for "target healthy" without polling.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// The target for the next request by the group's algorithm (no stickiness): healthy
    /// targets; fail-open over the unhealthy ones when none is healthy; `None` when nothing may
    /// get traffic.
    pub fn pick(&self) -> Option<Arc<Target>> {
        self.choose(&http::HeaderMap::new())
            .map(|c| Arc::clone(c.target()))
    }

    /// The target for a request with `headers` (its stickiness cookie, if the group is sticky),
    /// with what the response must carry; see [`routing::choose`].
    pub fn choose(&self, headers: &http::HeaderMap) -> Option<Choice> {
        let targets = self.inner.targets.load();
        let turn = self.inner.next.fetch_add(1, Ordering::Relaxed);
        routing::choose(&self.inner.cfg, &targets, turn, headers)
    }

    /// A snapshot of the registered targets (for the health checker).
    pub(crate) fn targets(&self) -> Arc<Vec<Arc<Target>>> {
        self.inner.targets.load_full()
    }

    /// Whether `target` is still the registered instance (not deregistered or replaced).
    pub(crate) fn is_registered(&self, target: &Arc<Target>) -> bool {
        self.inner
            .targets
            .load()
            .iter()
            .any(|t| Arc::ptr_eq(t, target))
    }

    pub(crate) fn notify(&self) {
        self.inner.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn write_lock(&self) -> MutexGuard<'_, ()> {
        self.inner.write.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Picks the index of the target for request number `turn`, given the targets' states in order.
///
/// Round robin over `healthy` targets. With none healthy but some `unhealthy`, AWS fails open
/// and routes to all of them (`initial` ones still get nothing). Otherwise `None` (503).
pub fn select<I>(states: I, turn: usize) -> Option<usize>
where
    I: Iterator<Item = TargetState> + Clone,
{
    let among = |wanted: TargetState| {
        let count = states.clone().filter(|s| *s == wanted).count();
        if count == 0 {
            return None;
        }
        let mut eligible = states.clone().enumerate().filter(|(_, s)| *s == wanted);
        eligible.nth(turn % count).map(|(i, _)| i)
    };
    among(TargetState::Healthy).or_else(|| among(TargetState::Unhealthy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{HealthCheck, Matcher};
    use TargetState::*;
    use std::time::Duration;

    fn picks(states: &[TargetState], n: usize) -> Vec<Option<usize>> {
        (0..n)
            .map(|turn| select(states.iter().copied(), turn))
            .collect()
    }

    #[test]
    fn round_robin_over_healthy_only() {
        let states = [Healthy, Initial, Healthy, Unhealthy, Healthy];
        assert_eq!(picks(&states, 6), [0, 2, 4, 0, 2, 4].map(Some));
    }

    #[test]
    fn fails_open_to_unhealthy_when_none_healthy() {
        let states = [Unhealthy, Initial, Unhealthy];
        assert_eq!(picks(&states, 4), [0, 2, 0, 2].map(Some));
    }

    #[test]
    fn nothing_when_empty_or_only_initial() {
        assert_eq!(select(std::iter::empty(), 3), None);
        assert_eq!(picks(&[Initial, Initial], 2), [None, None]);
        assert_eq!(picks(&[Draining, Unused], 1), [None]);
    }

    fn tg() -> TargetGroupHandle {
        TargetGroupHandle::new(TargetGroup {
            name: "tg".into(),
            port: 8000,
            health_check: HealthCheck {
                path: "/".into(),
                interval: Duration::from_secs(5),
                timeout: Duration::from_secs(1),
                healthy_threshold: 2,
                unhealthy_threshold: 2,
                matcher: Matcher {
                    ranges: vec![(200, 200)],
                },
            },
            deregistration_delay: Duration::from_secs(5),
            static_targets: vec!["127.0.0.1:9".parse().unwrap()],
            algorithm: Default::default(),
            slow_start: Duration::ZERO,
            stickiness: None,
        })
    }

    #[test]
    fn registration_is_initial_and_bumps_changes() {
        let tg = tg();
        let rx = tg.changes();
        let before = *rx.borrow();
        tg.register("a", "127.0.0.1:1000".parse().unwrap());
        assert_eq!(*rx.borrow(), before + 1);
        assert_eq!(tg.state_of("a"), Some(Initial));
        assert_eq!(
            tg.state_of("127.0.0.1:9"),
            Some(Initial),
            "static target registered"
        );
        assert!(tg.pick().is_none(), "initial targets get no traffic");
        let d = tg.describe_target("a");
        assert_eq!(d.reason, Some(ReasonCode::RegistrationInProgress));
    }

    #[test]
    fn re_registering_updates_the_address() {
        let tg = tg();
        tg.register("a", "127.0.0.1:1000".parse().unwrap());
        tg.register("a", "127.0.0.1:2000".parse().unwrap());
        let rows: Vec<_> = tg.describe().into_iter().filter(|d| d.id == "a").collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].address, Some("127.0.0.1:2000".parse().unwrap()));
    }

    #[test]
    fn healthy_targets_are_picked_and_deregistered_ones_never() {
        let tg = tg();
        tg.register("a", "127.0.0.1:1000".parse().unwrap());
        tg.register("b", "127.0.0.1:2000".parse().unwrap());
        for t in tg.targets().iter() {
            t.record(&CheckOutcome::Ok(200));
        }
        assert_eq!(tg.healthy_count(), 3);
        assert!(tg.deregister("b"));
        assert!(!tg.deregister("b"));
        let ids: Vec<String> = (0..4)
            .map(|_| tg.pick().unwrap().id().to_string())
            .collect();
        assert!(!ids.contains(&"b".to_string()), "{ids:?}");
        let d = tg.describe_target("b");
        assert_eq!(
            (d.state, d.reason),
            (Unused, Some(ReasonCode::NotRegistered))
        );
    }
}
