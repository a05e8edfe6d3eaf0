//! Target selection inside a target group: round robin, least outstanding requests, weighted
//! random, slow start, `AWSALB` stickiness; and weighted forward between groups.
//!
//! - [`algorithms`]: the pure choice of a target from the targets' states and counters.
//! - [`slow_start`]: the linear ramp of a newly healthy target's weight.
//! - [`sticky`]: stickiness cookies (`AWSALB`, `AWSALBTG` and their CORS twins).
//! - [`inflight`]: a response body holding its target's in-flight count until it has streamed.
//! - [`weighted`]: choosing a target group of a weighted forward action.
//!
//! Everything on the request path reads atomics and the `ArcSwap`ped target set: no locks.

pub mod algorithms;
pub mod inflight;
pub mod slow_start;
pub mod sticky;
pub mod weighted;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Response};
use http_body_util::BodyExt;
use hyper::body::Body;

use super::TargetState;
use super::pool::BoxError;
use super::proxy::ProxyBody;
use super::target_group::{InFlight, Target};
use crate::config::{Algorithm, ListenerProtocol, TargetGroup};
use algorithms::{Candidate, Draw};
use inflight::CountedBody;

/// Per-target values that selection reads; kept beside the health state in each target. (Its
/// in-flight count is the target's own, [`Target::in_flight`], which draining also waits on.)
#[derive(Debug)]
pub struct TargetStats {
    /// 1 + ms on the routing clock when it last became healthy; 0 when never.
    healthy_since: AtomicU64,
    /// The `AWSALB` value that names this target instance.
    token: u64,
}

impl Default for TargetStats {
    fn default() -> Self {
        TargetStats {
            healthy_since: AtomicU64::new(0),
            token: rand::random(),
        }
    }
}

impl TargetStats {
    /// Records that the target has just become healthy (the start of its slow start).
    pub fn became_healthy(&self) {
        self.healthy_since.store(now_us() + 1, Ordering::Relaxed);
    }

    fn healthy_since_us(&self) -> Option<u64> {
        match self.healthy_since.load(Ordering::Relaxed) {
            0 => None,
            t => Some(t - 1),
        }
    }
}

/// Microseconds on the routing clock (monotonic, since the first call in this process). Finer
/// than milliseconds so two targets that turn healthy in the same millisecond still have an order
/// (slow start ramps only the later one).
pub fn now_us() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// The target chosen for one request, with what its response must carry. It counts the request
/// in the target's in-flight requests from the choice on; dropping it (a failed attempt) ends
/// the count.
#[derive(Debug)]
pub struct Choice {
    in_flight: InFlight,
    sticky: Option<std::time::Duration>,
}

impl Choice {
    /// The target to send to.
    pub fn target(&self) -> &Arc<Target> {
        self.in_flight.target()
    }

    /// Adds the stickiness cookies to a response head and hands back the in-flight count, to
    /// hold until the exchange ends (a WebSocket tunnel holds it until it closes).
    pub fn finish_head(self, headers: &mut HeaderMap, protocol: ListenerProtocol) -> InFlight {
        if let Some(duration) = self.sticky {
            let token = self.target().stats().token;
            let cookies = sticky::set_cookies(
                sticky::TARGET_COOKIE,
                sticky::TARGET_CORS_COOKIE,
                token,
                duration,
                protocol,
                SystemTime::now(),
            );
            for cookie in cookies {
                headers.append(http::header::SET_COOKIE, cookie);
            }
        }
        self.in_flight
    }

    /// Adds the stickiness cookies and keeps the target's in-flight count until the body ends.
    /// The body is boxed here, once, with the count around it.
    pub fn finish<B>(self, response: Response<B>, protocol: ListenerProtocol) -> Response<ProxyBody>
    where
        B: Body<Data = Bytes, Error = BoxError> + Unpin + Send + Sync + 'static,
    {
        let (mut parts, body) = response.into_parts();
        let in_flight = self.finish_head(&mut parts.headers, protocol);
        Response::from_parts(parts, CountedBody::new(body, in_flight).boxed())
    }
}

/// Chooses a target of the group `cfg` among `targets` for a request with `headers`: the
/// sticky one when the group is sticky and its cookie names a target that may get traffic,
/// else by the group's algorithm. `None` when no target may get traffic (503).
///
/// `exclude` (a retry's failed target) is treated as if it could get no traffic, so neither
/// its cookie nor the algorithm picks it again.
pub fn choose(
    cfg: &TargetGroup,
    targets: &[Arc<Target>],
    turn: usize,
    headers: &HeaderMap,
    exclude: Option<&Arc<Target>>,
) -> Option<Choice> {
    let state = |t: &Arc<Target>| match exclude {
        Some(x) if Arc::ptr_eq(x, t) => TargetState::Unused,
        _ => t.state(),
    };
    let candidates = targets.iter().map(|t| Candidate {
        state: state(t),
        in_flight: t.in_flight(),
        healthy_since_us: t.stats().healthy_since_us(),
    });
    let sticky_target = cfg
        .stickiness
        .and_then(|_| sticky::token(headers, sticky::TARGET_COOKIE, sticky::TARGET_CORS_COOKIE))
        .and_then(|token| {
            let wanted = algorithms::eligible_state(candidates.clone())?;
            targets
                .iter()
                .position(|t| t.stats().token == token && state(t) == wanted)
        });
    let index = match sticky_target {
        Some(i) => i,
        None => {
            let draw = Draw {
                turn,
                random: if cfg.algorithm == Algorithm::WeightedRandom {
                    rand::random()
                } else {
                    0
                },
                now_us: now_us(),
            };
            let slow_start_us = cfg.slow_start.as_micros() as u64;
            algorithms::pick(candidates, cfg.algorithm, slow_start_us, draw)?
        }
    };
    Some(Choice {
        in_flight: targets[index].start_request(),
        sticky: cfg.stickiness,
    })
}
