//! Faults on the path from the load balancer to its targets, as Toxiproxy's toxics are on a
//! connection: added latency (with jitter), connections reset before a response, a bandwidth
//! limit on the answers, and a target answering an error status for a fraction of requests. `tierlab chaos` sets them on a target
//! group; the proxy asks them once per request (one atomic load when none is set). The
//! decisions are pure: the random draws come in as arguments.

use std::net::SocketAddr;
use std::time::Duration;

/// What is wrong on a target group's path now (the sum of the active faults on it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Toxics {
    /// Added before every attempt on any target of the group.
    pub latency: Option<Latency>,
    /// The fraction of attempts whose connection is reset before the response (0 to 1).
    pub reset_rate: f64,
    /// Targets that answer an error status for a fraction of requests.
    pub errors: Vec<TargetErrors>,
    /// The targets' answers, at most this fast ([`super::throttle`]).
    pub bytes_per_second: Option<u64>,
}

/// Latency added to each attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// Always added.
    pub delay: Duration,
    /// Up to this much more, uniformly.
    pub jitter: Duration,
}

/// A target that answers an error status for a fraction of requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetErrors {
    /// The target's address as registered.
    pub target: SocketAddr,
    /// The fraction of its requests answered with `status` (0 to 1).
    pub rate: f64,
    /// The status it answers (a 5xx usually).
    pub status: u16,
}

/// What one attempt on a target meets on the way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OnTheWay {
    /// Waited before the request is sent.
    pub delay: Duration,
    /// The connection is reset (after the delay) instead of answering.
    pub reset: bool,
}

impl Toxics {
    /// No fault at all.
    pub fn is_empty(&self) -> bool {
        self.latency.is_none()
            && self.reset_rate <= 0.0
            && self.errors.is_empty()
            && self.bytes_per_second.is_none()
    }

    /// The status `target` answers at once instead of handling the request, if its error
    /// toxic fires on `draw` (uniform in [0, 1)).
    pub fn injected_status(&self, target: SocketAddr, draw: f64) -> Option<u16> {
        self.errors
            .iter()
            .find(|e| e.target == target && draw < e.rate)
            .map(|e| e.status)
    }

    /// The delay and reset of one attempt, from two draws uniform in [0, 1) (jitter, reset).
    pub fn on_the_way(&self, jitter_draw: f64, reset_draw: f64) -> OnTheWay {
        let delay = self
            .latency
            .map_or(Duration::ZERO, |l| l.delay + l.jitter.mul_f64(jitter_draw));
        OnTheWay {
            delay,
            reset: reset_draw < self.reset_rate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn latency_adds_the_delay_and_a_share_of_the_jitter() {
        let toxics = Toxics {
            latency: Some(Latency {
                delay: Duration::from_millis(200),
                jitter: Duration::from_millis(100),
            }),
            ..Toxics::default()
        };
        assert_eq!(
            toxics.on_the_way(0.0, 0.9).delay,
            Duration::from_millis(200)
        );
        assert_eq!(
            toxics.on_the_way(0.5, 0.9).delay,
            Duration::from_millis(250)
        );
        assert!(!toxics.on_the_way(0.5, 0.0).reset);
        assert!(
            Toxics::default().on_the_way(0.99, 0.0)
                == OnTheWay {
                    delay: Duration::ZERO,
                    reset: false
                }
        );
    }

    #[test]
    fn resets_fire_at_their_rate() {
        let toxics = Toxics {
            reset_rate: 0.25,
            ..Toxics::default()
        };
        assert!(toxics.on_the_way(0.0, 0.1).reset);
        assert!(!toxics.on_the_way(0.0, 0.25).reset);
        let always = Toxics {
            reset_rate: 1.0,
            ..Toxics::default()
        };
        assert!(always.on_the_way(0.0, 0.999).reset);
    }

    #[test]
    fn only_the_faulty_target_answers_errors_at_its_rate() {
        let toxics = Toxics {
            errors: vec![TargetErrors {
                target: addr(8001),
                rate: 0.5,
                status: 503,
            }],
            ..Toxics::default()
        };
        assert_eq!(toxics.injected_status(addr(8001), 0.2), Some(503));
        assert_eq!(toxics.injected_status(addr(8001), 0.7), None);
        assert_eq!(toxics.injected_status(addr(8002), 0.0), None);
        assert!(!toxics.is_empty() && Toxics::default().is_empty());
    }
}
