//! When to fail over, to whom, and what to do with a standby that is behind. Pure: the
//! supervisor describes the situation, this decides.
//!
//! - There is one standby, so "whom" is the standby, or no one: a standby whose container is
//!   down, or whose replication stopped with an apply error, is never promoted.
//! - A standby that is behind (received more than it applied) is promoted only after it has
//!   applied its relay log ([`super::super::replication::promote`] waits for that and refuses
//!   when it cannot): with `AFTER_SYNC`, everything acknowledged to a client is in that relay log,
//!   so nothing acknowledged is lost.
//! - A standby that was not in sync (semi-sync had fallen back to asynchronous) may lack writes
//!   acknowledged after the fallback. The old primary's own volume has them all (commits are
//!   durable: `sync_binlog = 1`, `innodb_flush_log_at_trx_commit = 1`), so:
//!   - a requested failover is refused (the primary is alive; refusing loses nothing), and
//!   - when the primary is lost, it is first restarted in place on its volume, as for a
//!     single-AZ instance; only when that keeps failing (the instance would otherwise stay
//!     down) does the standby take over, with an event saying writes may be lost. When the
//!     primary's availability zone is down, in place is not possible at all: the standby takes
//!     over at once.

use crate::rds::recovery::FAILED_AFTER;

/// Why a failover is considered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// `reboot-db-instance --force-failover` or `tierlab db failover`; the primary is alive.
    Requested,
    /// The primary's container died, is gone, or its engine stopped answering.
    PrimaryLost,
    /// The primary is lost and its availability zone is down (`tierlab chaos az-outage`): it
    /// cannot be restarted in place until the zone is back.
    PrimaryZoneLost,
}

/// What is known of the standby.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandbyView {
    /// Its container runs and its engine answers.
    pub running: bool,
    /// Its SQL thread has not stopped on an error (it can apply what it received).
    pub can_apply: bool,
    /// The primary's commits were waiting for its acknowledgement at the last look
    /// (`Rpl_semi_sync_master_status` ON with the standby connected).
    pub in_sync: bool,
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Promote the standby (after it applied its relay log) and move the endpoint to it.
    /// `possible_loss`: it was not in sync; say so in an event.
    FailOver { possible_loss: bool },
    /// Restart the primary on its own volume (single-AZ recovery).
    RecoverInPlace,
    /// Do nothing and answer the request with this reason.
    Refuse(Refusal),
}

/// Why a requested failover is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the instance has no standby yet")]
    NoStandby,
    #[error("the standby is not running or cannot apply replicated changes")]
    StandbyNotReady,
    #[error(
        "the standby is not in sync with the primary (its replication is asynchronous until it catches up)"
    )]
    StandbyNotInSync,
}

/// The decision for `trigger`, given the standby (if any) and how many in-place recovery
/// attempts have failed in a row.
pub fn decide(trigger: Trigger, standby: Option<&StandbyView>, failed_in_place: u32) -> Decision {
    let Some(standby) = standby else {
        return match trigger {
            Trigger::Requested => Decision::Refuse(Refusal::NoStandby),
            Trigger::PrimaryLost | Trigger::PrimaryZoneLost => Decision::RecoverInPlace,
        };
    };
    if !standby.running || !standby.can_apply {
        return match trigger {
            Trigger::Requested => Decision::Refuse(Refusal::StandbyNotReady),
            // In place, once the zone is back: nothing else could serve.
            Trigger::PrimaryLost | Trigger::PrimaryZoneLost => Decision::RecoverInPlace,
        };
    }
    if standby.in_sync {
        return Decision::FailOver {
            possible_loss: false,
        };
    }
    match trigger {
        Trigger::Requested => Decision::Refuse(Refusal::StandbyNotInSync),
        Trigger::PrimaryLost if failed_in_place < FAILED_AFTER => Decision::RecoverInPlace,
        // In-place recovery keeps failing, or cannot be tried while the zone is down: the
        // instance would stay down otherwise.
        Trigger::PrimaryLost | Trigger::PrimaryZoneLost => Decision::FailOver {
            possible_loss: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEALTHY: StandbyView = StandbyView {
        running: true,
        can_apply: true,
        in_sync: true,
    };

    #[test]
    fn a_lost_primary_with_a_standby_in_sync_fails_over_at_once() {
        assert_eq!(
            decide(Trigger::PrimaryLost, Some(&HEALTHY), 0),
            Decision::FailOver {
                possible_loss: false
            }
        );
    }

    #[test]
    fn a_requested_failover_to_a_standby_in_sync_goes_ahead() {
        assert_eq!(
            decide(Trigger::Requested, Some(&HEALTHY), 0),
            Decision::FailOver {
                possible_loss: false
            }
        );
    }

    #[test]
    fn without_a_standby_a_request_is_refused_and_a_loss_recovers_in_place() {
        assert_eq!(
            decide(Trigger::Requested, None, 0),
            Decision::Refuse(Refusal::NoStandby)
        );
        assert_eq!(
            decide(Trigger::PrimaryLost, None, 5),
            Decision::RecoverInPlace
        );
    }

    #[test]
    fn a_standby_that_is_down_or_cannot_apply_is_never_promoted() {
        for standby in [
            StandbyView {
                running: false,
                ..HEALTHY
            },
            StandbyView {
                can_apply: false,
                ..HEALTHY
            },
        ] {
            assert_eq!(
                decide(Trigger::Requested, Some(&standby), 0),
                Decision::Refuse(Refusal::StandbyNotReady)
            );
            assert_eq!(
                decide(Trigger::PrimaryLost, Some(&standby), 10),
                Decision::RecoverInPlace
            );
        }
    }

    #[test]
    fn a_standby_out_of_sync_is_refused_on_request() {
        let behind = StandbyView {
            in_sync: false,
            ..HEALTHY
        };
        assert_eq!(
            decide(Trigger::Requested, Some(&behind), 0),
            Decision::Refuse(Refusal::StandbyNotInSync)
        );
    }

    #[test]
    fn a_standby_out_of_sync_takes_over_only_when_the_primary_cannot_be_restarted() {
        let behind = StandbyView {
            in_sync: false,
            ..HEALTHY
        };
        for failed in 0..FAILED_AFTER {
            assert_eq!(
                decide(Trigger::PrimaryLost, Some(&behind), failed),
                Decision::RecoverInPlace,
                "after {failed} failed restarts"
            );
        }
        assert_eq!(
            decide(Trigger::PrimaryLost, Some(&behind), FAILED_AFTER),
            Decision::FailOver {
                possible_loss: true
            }
        );
    }

    #[test]
    fn a_primary_in_a_zone_that_is_down_fails_over_even_to_a_standby_out_of_sync() {
        let behind = StandbyView {
            in_sync: false,
            ..HEALTHY
        };
        assert_eq!(
            decide(Trigger::PrimaryZoneLost, Some(&behind), 0),
            Decision::FailOver {
                possible_loss: true
            }
        );
        assert_eq!(
            decide(Trigger::PrimaryZoneLost, Some(&HEALTHY), 0),
            Decision::FailOver {
                possible_loss: false
            }
        );
        let down = StandbyView {
            running: false,
            ..HEALTHY
        };
        assert_eq!(
            decide(Trigger::PrimaryZoneLost, Some(&down), 0),
            Decision::RecoverInPlace
        );
    }
}
