//! A target group: its registered targets, their health, and which one gets the next request.
//!
//! The target set sits behind an `ArcSwap` and each target's state in an atomic, so picking a
//! target takes no lock; only (rare) registration changes and health check results do.
//!
//! Each target counts its in-flight requests (an atomic, see [`InFlight`]): least outstanding
//! requests reads the count, and draining waits on it. A deregistered target
//! leaves the rotation at once but is shown `draining` until its in-flight requests reach zero or
//! the group's deregistration delay passes, as on AWS.
//!
//! The group's settings (health check, deregistration delay, algorithm, stickiness) sit behind
//! an `ArcSwap` too: `modify-target-group` and `modify-target-group-attributes` swap in new ones
//! (see [`super::settings`]) and the request path, the health checker and draining read the
//! current ones without locking.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};

use super::health::{CheckOutcome, HealthMachine, Reason, ReasonCode, TargetState, Transition};
use super::routing::{self, Choice, TargetStats};
use super::settings::{self, HealthCheckChange, Settings, SettingsError};
use crate::config::{TargetGroup, TimingProfile};

/// One registered target. Shared by the target set, in-flight requests and the health checker.
#[derive(Debug)]
pub struct Target {
    id: String,
    addr: SocketAddr,
    /// `addr` as a URI authority, made once so requests need not format it.
    authority: http::uri::Authority,
    /// Mirror of `machine.state()`, read without locking on the request path.
    state: AtomicU8,
    machine: Mutex<HealthMachine>,
    /// Counters read by target selection (healthy since, sticky token).
    stats: TargetStats,
    /// Requests sent to it whose response (body included) has not ended yet.
    in_flight: AtomicUsize,
    /// Set once deregistered: its state stays `draining` whatever a late health check says.
    draining: AtomicBool,
    /// Woken when `in_flight` drops to zero on a draining target.
    idle: Notify,
    /// Consecutive 5xx answers (the target's own, or 502/504 sent on its behalf).
    consecutive_5xx: AtomicU32,
    /// When its last health check started (see [`check_due`]).
    last_check: Mutex<Option<Instant>>,
}

/// Whether a target last checked at `last` may be checked again at `now`. A new target is
/// checked at once, and the group's next tick may come a moment later: without this, two
/// failed checks a few milliseconds apart would make a target that is still starting
/// `unhealthy` long before `unhealthy-threshold` intervals have passed. Half an interval is
/// the least spacing; the tick after that checks it.
pub fn check_due(last: Option<Instant>, now: Instant, interval: Duration) -> bool {
    last.is_none_or(|last| now.saturating_duration_since(last) >= interval / 2)
}

impl Target {
    fn new(id: &str, addr: SocketAddr, cfg: &TargetGroup) -> Target {
        let hc = &cfg.health_check;
        let machine = HealthMachine::new(hc.healthy_threshold, hc.unhealthy_threshold);
        Target {
            id: id.to_string(),
            addr,
            authority: http::uri::Authority::try_from(addr.to_string())
                .expect("a socket address is a valid authority"),
            state: AtomicU8::new(machine.state().to_u8()),
            machine: Mutex::new(machine),
            stats: TargetStats::default(),
            in_flight: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
            idle: Notify::new(),
            consecutive_5xx: AtomicU32::new(0),
            last_check: Mutex::new(None),
        }
    }

    /// Starts a health check at `now` if one is due (see [`check_due`]); `false` if the last
    /// one was too recent.
    pub(crate) fn begin_check(&self, now: Instant, interval: Duration) -> bool {
        let mut last = self.last_check.lock().unwrap_or_else(|p| p.into_inner());
        if !check_due(*last, now, interval) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// Requests in flight to this target right now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Counts one request to this target until the returned guard is dropped (hold it until the
    /// response body has ended).
    pub fn start_request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(Arc::clone(self))
    }

    /// Records the status of one answer for outlier detection; true when this answer makes
    /// `threshold` consecutive 5xx (0 disables). Non-5xx answers reset the run.
    pub(crate) fn record_status(&self, status: u16, threshold: u32) -> bool {
        if status >= 500 {
            let run = self.consecutive_5xx.fetch_add(1, Ordering::AcqRel) + 1;
            threshold > 0 && run == threshold
        } else {
            // Load first: the common case (no 5xx run) then writes nothing to a shared line.
            if self.consecutive_5xx.load(Ordering::Relaxed) != 0 {
                self.consecutive_5xx.store(0, Ordering::Relaxed);
            }
            false
        }
    }

    /// Forgets the current run of 5xx answers.
    pub(crate) fn reset_5xx_run(&self) {
        self.consecutive_5xx.store(0, Ordering::Relaxed);
    }

    /// Passive ejection (see [`HealthMachine::eject`]); returns the flip, if any.
    pub(crate) fn eject(&self, description: &str) -> Option<Transition> {
        let mut machine = self.machine();
        let transition = machine.eject(description);
        if !self.draining.load(Ordering::Acquire) {
            self.state.store(machine.state().to_u8(), Ordering::Release);
        }
        self.consecutive_5xx.store(0, Ordering::Relaxed);
        transition
    }

    /// The id it was registered under (an ECS task id, or the address for static targets).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where requests and health checks go.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// [`addr`](Self::addr) as a URI authority.
    pub fn authority(&self) -> &http::uri::Authority {
        &self.authority
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
        // A check that started before deregistration must not bring a draining target back.
        if !self.draining.load(Ordering::Acquire) {
            self.state.store(machine.state().to_u8(), Ordering::Release);
        }
        transition
    }

    /// Counters used by target selection.
    pub fn stats(&self) -> &TargetStats {
        &self.stats
    }

    fn describe(&self) -> TargetDescription {
        if self.draining.load(Ordering::Acquire) {
            let reason = Reason::deregistration_in_progress();
            return TargetDescription::new(
                &self.id,
                Some(self.addr),
                TargetState::Draining,
                Some(&reason),
            );
        }
        let machine = self.machine();
        TargetDescription::new(&self.id, Some(self.addr), machine.state(), machine.reason())
    }

    fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
        self.state
            .store(TargetState::Draining.to_u8(), Ordering::Release);
    }

    /// Applies a group's new health thresholds to the running state machine.
    fn set_thresholds(&self, healthy: u32, unhealthy: u32) {
        self.machine().set_thresholds(healthy, unhealthy);
    }

    /// The machine is only touched by short, non-async critical sections; a panic inside one
    /// cannot leave it inconsistent, so a poisoned lock is still usable.
    fn machine(&self) -> MutexGuard<'_, HealthMachine> {
        self.machine.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One request in flight to a target; dropping it ends the count (and wakes a draining
/// target's drainer when it was the last one).
#[derive(Debug)]
pub struct InFlight(Arc<Target>);

impl InFlight {
    /// The target the request went to.
    pub fn target(&self) -> &Arc<Target> {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let before = self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        if before == 1 && self.0.draining.load(Ordering::Acquire) {
            self.0.idle.notify_waiters();
        }
    }
}

/// One row of `describe-target-health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// A snapshot of a group's configuration; derefs to [`TargetGroup`].
#[derive(Debug, Clone)]
pub struct ConfigRef(Arc<Settings>);

impl std::ops::Deref for ConfigRef {
    type Target = TargetGroup;
    fn deref(&self) -> &TargetGroup {
        &self.0.config
    }
}

#[derive(Debug)]
struct Inner {
    name: String,
    settings: ArcSwap<Settings>,
    /// Bumped when the settings change, so the health checker retimes itself at once.
    settings_changes: watch::Sender<u64>,
    targets: ArcSwap<Vec<Arc<Target>>>,
    /// Deregistered targets still finishing requests. Never read on the request path.
    draining: Mutex<Vec<Arc<Target>>>,
    /// Serialises writers (register/deregister) so concurrent updates are not lost; readers
    /// never take it.
    write: Mutex<()>,
    next: AtomicUsize,
    changes: watch::Sender<u64>,
    /// The lab's task tree for this group's drains (set by `spawn_health_checks`).
    tree: std::sync::OnceLock<(
        tokio_util::task::TaskTracker,
        tokio_util::sync::CancellationToken,
    )>,
    /// Faults on the path to the targets (`tierlab chaos`); `None` almost always.
    toxics: arc_swap::ArcSwapOption<super::toxics::Toxics>,
}

impl TargetGroupHandle {
    /// Runs this group's later tasks (drains) on `tracker`, ended by `cancel`: the lab's task
    /// tree. The first call wins.
    pub(crate) fn adopt_tree(
        &self,
        tracker: &tokio_util::task::TaskTracker,
        cancel: &tokio_util::sync::CancellationToken,
    ) {
        let _ = self.inner.tree.set((tracker.clone(), cancel.clone()));
    }

    /// A target group with the config's static targets registered (id = their address), all
    /// `initial` until the health checker has run.
    pub fn new(cfg: TargetGroup) -> TargetGroupHandle {
        let statics = cfg.static_targets.clone();
        let handle = TargetGroupHandle {
            inner: Arc::new(Inner {
                name: cfg.name.clone(),
                settings: ArcSwap::from_pointee(Settings::new(cfg)),
                settings_changes: watch::Sender::new(0),
                targets: ArcSwap::from_pointee(Vec::new()),
                draining: Mutex::new(Vec::new()),
                write: Mutex::new(()),
                next: AtomicUsize::new(0),
                changes: watch::Sender::new(0),
                tree: std::sync::OnceLock::new(),
                toxics: arc_swap::ArcSwapOption::empty(),
            }),
        };
        for addr in statics {
            handle.register(&addr.to_string(), addr);
        }
        handle
    }

    /// The faults on the path to this group's targets now, if any.
    pub fn toxics(&self) -> Option<Arc<super::toxics::Toxics>> {
        self.inner.toxics.load_full()
    }

    /// Sets the faults on the path to this group's targets (`None` or empty: none).
    pub fn set_toxics(&self, toxics: Option<super::toxics::Toxics>) {
        let toxics = toxics.filter(|t| !t.is_empty()).map(Arc::new);
        self.inner.toxics.store(toxics);
    }

    /// The target group's name (never changes, so it can be borrowed).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The group's current configuration (health check settings, port, ...): a snapshot, so
    /// a later modification does not change what the caller holds.
    pub fn config(&self) -> ConfigRef {
        ConfigRef(self.inner.settings.load_full())
    }

    /// The group's current settings (the configuration and the attributes it leaves implicit).
    pub fn settings(&self) -> Arc<Settings> {
        self.inner.settings.load_full()
    }

    /// Bumped on every settings change (the health checker retimes itself on it).
    pub fn settings_changes(&self) -> watch::Receiver<u64> {
        self.inner.settings_changes.subscribe()
    }

    /// `modify-target-group`: validates `change` whole and applies it, or changes nothing.
    /// New thresholds apply to every target's next check; a new interval to the checker's
    /// next tick (see [`super::checker`]).
    pub fn modify_health_check(
        &self,
        change: &HealthCheckChange,
        profile: TimingProfile,
    ) -> Result<Arc<Settings>, SettingsError> {
        self.modify(|current| settings::modify_health_check(current, change, profile))
    }

    /// `modify-target-group-attributes`: validates the pairs whole and applies them, or
    /// changes nothing. The algorithm and stickiness apply to the next request, the
    /// deregistration delay to the next deregistration.
    pub fn modify_attributes(
        &self,
        attributes: &[(String, String)],
    ) -> Result<Arc<Settings>, SettingsError> {
        self.modify(|current| settings::modify_attributes(current, attributes))
    }

    fn modify(
        &self,
        decide: impl FnOnce(&Settings) -> Result<Settings, SettingsError>,
    ) -> Result<Arc<Settings>, SettingsError> {
        // Under the writers' lock: a target registered meanwhile gets either the old thresholds
        // and then the new ones below, or the new ones from the start.
        let _guard = self.write_lock();
        let next = Arc::new(decide(&self.inner.settings.load())?);
        self.inner.settings.store(Arc::clone(&next));
        let hc = &next.config.health_check;
        let (healthy, unhealthy) = (hc.healthy_threshold, hc.unhealthy_threshold);
        for target in self.inner.targets.load().iter() {
            target.set_thresholds(healthy, unhealthy);
        }
        for target in self.draining_list().iter() {
            target.set_thresholds(healthy, unhealthy);
        }
        tracing::info!("target group {}: settings changed", self.name());
        self.inner
            .settings_changes
            .send_modify(|n| *n = n.wrapping_add(1));
        Ok(next)
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
        let settings = self.inner.settings.load();
        next.push(Arc::new(Target::new(id, addr, &settings.config)));
        self.inner.targets.store(Arc::new(next));
        // A new registration under the same id supersedes a draining one in describe().
        self.draining_list().retain(|t| t.id != id);
        tracing::info!("target {}/{id} {addr}: registered", self.name());
        self.notify();
    }

    /// Removes target `id` from routing at once; requests already sent to it finish.
    /// Returns whether it was registered.
    ///
    /// With requests in flight, the target shows `draining` (`Target.DeregistrationInProgress`)
    /// until they end or the deregistration delay passes, then disappears. Outside a Tokio
    /// runtime there is nobody to wait, so it disappears at once.
    pub fn deregister(&self, id: &str) -> bool {
        let _guard = self.write_lock();
        let current = self.inner.targets.load();
        let Some(gone) = current.iter().find(|t| t.id == id).cloned() else {
            return false;
        };
        let addr = gone.addr;
        let next: Vec<Arc<Target>> = current.iter().filter(|t| t.id != id).cloned().collect();
        self.inner.targets.store(Arc::new(next));
        gone.start_draining();
        let delay = self.inner.settings.load().config.deregistration_delay;
        let runtime = tokio::runtime::Handle::try_current().ok();
        match runtime {
            Some(rt) if gone.in_flight() > 0 && !delay.is_zero() => {
                let in_flight = gone.in_flight();
                tracing::info!(
                    "target {}/{id} {addr}: deregistered, draining {in_flight} in-flight requests (at most {delay:?})",
                    self.name()
                );
                self.draining_list().push(Arc::clone(&gone));
                let drain = drain(self.clone(), gone, delay);
                match self.inner.tree.get() {
                    Some((tracker, cancel)) => {
                        let cancel = cancel.clone();
                        tracker.spawn(async move { cancel.run_until_cancelled(drain).await });
                    }
                    None => drop(rt.spawn(drain)),
                }
            }
            _ => {
                tracing::info!("target {}/{id} {addr}: deregistered", self.name());
            }
        }
        self.notify();
        true
    }

    /// Every registered target with its health, like `aws elbv2 describe-target-health`,
    /// followed by the draining ones.
    pub fn describe(&self) -> Vec<TargetDescription> {
        let mut rows: Vec<TargetDescription> = self
            .inner
            .targets
            .load()
            .iter()
            .map(|t| t.describe())
            .collect();
        rows.extend(self.draining_list().iter().map(|t| t.describe()));
        rows
    }

    /// One target's health; `unused` / `Target.NotRegistered` when `id` is not registered.
    pub fn describe_target(&self, id: &str) -> TargetDescription {
        match self.find(id) {
            Some(t) => t.describe(),
            None => {
                let reason = Reason::not_registered();
                TargetDescription::new(id, None, TargetState::Unused, Some(&reason))
            }
        }
    }

    /// The state of target `id` (`draining` while it drains), `None` when it is not registered.
    pub fn state_of(&self, id: &str) -> Option<TargetState> {
        self.find(id).map(|t| t.state())
    }

    fn find(&self, id: &str) -> Option<Arc<Target>> {
        let registered = self
            .inner
            .targets
            .load()
            .iter()
            .find(|t| t.id == id)
            .cloned();
        registered.or_else(|| self.draining_list().iter().find(|t| t.id == id).cloned())
    }

    /// The target of a second attempt after `failed` failed, for a request with `headers`:
    /// chosen as [`choose`](Self::choose) would (stickiness moves off the failed target, the
    /// group's algorithm decides), among the other targets, and only one that is healthy now
    /// (a retry never fails open, nor goes back to the target that just failed). `None` when
    /// there is none.
    pub fn pick_other(&self, headers: &http::HeaderMap, failed: &Arc<Target>) -> Option<Choice> {
        let targets = self.inner.targets.load();
        let turn = self.inner.next.fetch_add(1, Ordering::Relaxed);
        let settings = self.inner.settings.load();
        routing::choose(&settings.config, &targets, turn, headers, Some(failed))
            .filter(|c| c.target().state() == TargetState::Healthy)
    }

    /// Ejects `target` (passive outlier detection); logs and notifies only when it flips.
    pub fn eject(&self, target: &Arc<Target>, description: &str) {
        if let Some(t) = target.eject(description)
            && self.is_registered(target)
        {
            let (id, addr, name) = (target.id(), target.addr(), self.name());
            let reason = t
                .reason
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            tracing::warn!(
                "target {name}/{id} {addr}: {} -> {} ({reason})",
                t.from,
                t.to
            );
            self.notify();
        }
    }

    /// Records one answer's status for `target`; ejects it after the group's
    /// `outlier-consecutive-5xx` in a row, unless that would take the group below half of its
    /// targets in service ([`five_xx_ejection_allowed`]).
    pub fn record_status(&self, target: &Arc<Target>, status: u16) {
        let threshold = self.inner.settings.load().config.outlier_consecutive_5xx;
        if !target.record_status(status, threshold) {
            return;
        }
        let registered = self.inner.targets.load().len();
        if five_xx_ejection_allowed(self.healthy_count(), registered) {
            self.eject(target, &format!("{threshold} consecutive 5xx responses"));
        } else {
            // Most of the group fails alike: a shared cause (the database failing over), not an
            // outlier. Start a new run, so the target is judged again if the others recover.
            target.reset_5xx_run();
        }
    }

    fn draining_list(&self) -> MutexGuard<'_, Vec<Arc<Target>>> {
        self.inner
            .draining
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Requests in flight to the group's targets now, draining ones included.
    pub fn in_flight(&self) -> usize {
        let registered: usize = self
            .inner
            .targets
            .load()
            .iter()
            .map(|t| t.in_flight())
            .sum();
        let draining: usize = self.draining_list().iter().map(|t| t.in_flight()).sum();
        registered + draining
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
        let settings = self.inner.settings.load();
        routing::choose(&settings.config, &targets, turn, headers, None)
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

/// Waits until `target` has no request in flight or `delay` has passed, then forgets it.
async fn drain(group: TargetGroupHandle, target: Arc<Target>, delay: Duration) {
    let deadline = tokio::time::Instant::now() + delay;
    let (name, id, addr) = (
        group.name().to_string(),
        target.id().to_string(),
        target.addr(),
    );
    loop {
        let idle = target.idle.notified();
        tokio::pin!(idle);
        // Registered before the check, so a drop to zero in between is not missed.
        idle.as_mut().enable();
        if target.in_flight() == 0 {
            tracing::info!("target {name}/{id} {addr}: drained");
            break;
        }
        tokio::select! {
            _ = idle => {}
            _ = tokio::time::sleep_until(deadline) => {
                let left = target.in_flight();
                tracing::warn!("target {name}/{id} {addr}: deregistration delay ({delay:?}) passed with {left} requests in flight");
                break;
            }
        }
    }
    group.draining_list().retain(|t| !Arc::ptr_eq(t, &target));
    group.notify();
}

/// Whether a healthy target with a run of 5xx answers may be ejected when `healthy` of the
/// group's `registered` targets are healthy: only if at least half stay in service. An outlier is
/// a minority; when most targets answer 5xx together, the cause is something they share (a
/// database failing over), and ejecting them would only add task replacements to the outage.
/// (Envoy caps ejection the same way, with `max_ejection_percent`.) A target that refuses
/// connections is ejected regardless: that fault is its own.
pub fn five_xx_ejection_allowed(healthy: usize, registered: usize) -> bool {
    healthy.saturating_sub(1) * 2 >= registered
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::{HealthCheck, Matcher};
    use TargetState::*;
    use std::time::Duration;

    #[test]
    fn a_5xx_run_ejects_a_minority_only() {
        // Two targets: the first to fail may go, the last one stays.
        assert!(five_xx_ejection_allowed(2, 2));
        assert!(!five_xx_ejection_allowed(1, 2));
        // A lone target is never ejected for 5xx (fail-open would send it traffic anyway).
        assert!(!five_xx_ejection_allowed(1, 1));
        // Three: one may go, not a second.
        assert!(five_xx_ejection_allowed(3, 3));
        assert!(!five_xx_ejection_allowed(2, 3));
        // Four: two may go.
        assert!(five_xx_ejection_allowed(3, 4));
        assert!(!five_xx_ejection_allowed(2, 4));
    }

    /// A group with one static target (127.0.0.1:9), round robin, checks every 5 s.
    pub(crate) fn config() -> TargetGroup {
        TargetGroup {
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
            outlier_consecutive_5xx: 5,
        }
    }

    fn tg() -> TargetGroupHandle {
        TargetGroupHandle::new(config())
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

    #[test]
    fn retry_pick_skips_the_failed_target_and_unhealthy_ones() {
        let tg = tg();
        tg.register("a", "127.0.0.1:1000".parse().unwrap());
        tg.register("b", "127.0.0.1:2000".parse().unwrap());
        for t in tg.targets().iter() {
            t.record(&CheckOutcome::Ok(200));
        }
        let a = registered(&tg, "a");
        for _ in 0..5 {
            let headers = http::HeaderMap::new();
            assert_ne!(tg.pick_other(&headers, &a).unwrap().target().id(), "a");
        }
        tg.eject(&a, "connection refused");
        assert_eq!(tg.state_of("a"), Some(Unhealthy));
        let only = tg.targets().iter().filter(|t| t.id() != "a").count();
        assert_eq!(only, 2, "ejected targets stay registered");
    }

    /// The registered target `id` of `tg`.
    fn registered(tg: &TargetGroupHandle, id: &str) -> Arc<Target> {
        tg.targets().iter().find(|t| t.id() == id).cloned().unwrap()
    }

    #[test]
    fn consecutive_5xx_count_resets_on_success() {
        let tg = tg();
        tg.register("a", "127.0.0.1:1000".parse().unwrap());
        let a = registered(&tg, "a");
        assert!(!a.record_status(500, 2));
        assert!(!a.record_status(200, 2), "a success ends the run");
        assert!(!a.record_status(502, 2));
        assert!(a.record_status(503, 2), "second in a row");
        assert!(!a.record_status(503, 2), "reported once");
        assert!(
            !a.record_status(500, 0) && !a.record_status(500, 0),
            "0 disables"
        );
    }

    #[tokio::test]
    async fn deregistered_target_drains_until_idle() {
        let tg = tg();
        tg.register("a", "127.0.0.1:1000".parse().unwrap());
        let a = registered(&tg, "a");
        let request = a.start_request();
        assert!(tg.deregister("a"));
        assert_eq!(tg.state_of("a"), Some(Draining));
        assert!(tg.pick().is_none_or(|t| t.id() != "a"));
        let mut changes = tg.changes();
        drop(request);
        while tg.state_of("a").is_some() {
            changes.changed().await.unwrap();
        }
        assert_eq!(tg.describe_target("a").state, Unused);
    }

    #[test]
    fn new_thresholds_apply_to_running_targets() {
        let tg = tg();
        let t = registered(&tg, "127.0.0.1:9");
        t.record(&CheckOutcome::Ok(200));
        let change = HealthCheckChange {
            unhealthy_threshold: Some(3),
            ..Default::default()
        };
        tg.modify_health_check(&change, TimingProfile::Aws).unwrap();
        let fail = CheckOutcome::ConnectFailed("refused".into());
        t.record(&fail);
        t.record(&fail);
        assert_eq!(t.state(), Healthy, "two failures no longer suffice");
        t.record(&fail);
        assert_eq!(t.state(), Unhealthy);
        // A target registered after the change starts with the new thresholds too.
        tg.register("b", "127.0.0.1:1000".parse().unwrap());
        assert_eq!(tg.config().health_check.unhealthy_threshold, 3);
    }

    #[test]
    fn a_refused_change_leaves_the_settings_as_they_were() {
        let tg = tg();
        let before = tg.settings();
        let change = HealthCheckChange {
            path: Some("/new".into()),
            timeout_seconds: Some(10),
            ..Default::default()
        };
        let e = tg
            .modify_health_check(&change, TimingProfile::Aws)
            .unwrap_err();
        assert_eq!(e.aws_code(), "ValidationError");
        assert!(Arc::ptr_eq(&before, &tg.settings()), "nothing swapped in");
        let rx = tg.settings_changes();
        tg.modify_attributes(&[(
            "load_balancing.algorithm.type".into(),
            "least_outstanding_requests".into(),
        )])
        .unwrap();
        assert!(rx.has_changed().unwrap(), "the checker hears of it");
        assert_eq!(
            tg.config().algorithm,
            crate::config::Algorithm::LeastOutstandingRequests
        );
    }

    #[tokio::test]
    async fn a_new_deregistration_delay_bounds_the_next_drain() {
        let tg = tg();
        tg.register("a", "127.0.0.1:1000".parse().unwrap());
        let a = registered(&tg, "a");
        let _request = a.start_request();
        let attrs = [(
            "deregistration_delay.timeout_seconds".to_string(),
            "0".to_string(),
        )];
        tg.modify_attributes(&attrs).unwrap();
        assert!(tg.deregister("a"));
        // A zero delay: gone at once although a request is still in flight.
        assert_eq!(tg.state_of("a"), None);
    }
}
