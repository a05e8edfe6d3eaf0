//! Which availability zones of the lab are up. `tierlab chaos az-outage ZONE` takes one down
//! until `tierlab chaos az-restore ZONE`: what runs there is killed, and while it is down the
//! service scheduler places no task there and the database supervisors neither restart nor
//! build a node there. Shared by the lab, every service controller and every DB supervisor.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::watch;

use crate::config::Config;

/// The zones that are down, shared and watchable, with the zone of each subnet. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ZoneHealth {
    down: Arc<watch::Sender<BTreeSet<String>>>,
    /// Subnet name → its availability zone (the config's; subnets do not change at run time).
    zone_of_subnet: Arc<BTreeMap<String, String>>,
}

impl ZoneHealth {
    /// Every zone of `config` up.
    pub fn new(config: &Config) -> ZoneHealth {
        ZoneHealth {
            down: Arc::default(),
            zone_of_subnet: Arc::new(
                config
                    .vpc
                    .subnets
                    .values()
                    .map(|s| (s.name.clone(), s.availability_zone.clone()))
                    .collect(),
            ),
        }
    }

    /// The zones that are down now.
    pub fn down(&self) -> BTreeSet<String> {
        self.down.borrow().clone()
    }

    pub fn is_down(&self, zone: &str) -> bool {
        self.down.borrow().contains(zone)
    }

    /// The availability zone of `subnet` (`None` for a subnet the config does not have).
    pub fn zone_of(&self, subnet: &str) -> Option<&str> {
        self.zone_of_subnet.get(subnet).map(String::as_str)
    }

    /// Marks `zone` down (`true`) or up; returns whether that changed anything.
    pub fn set_down(&self, zone: &str, down: bool) -> bool {
        self.down.send_if_modified(|zones| {
            if down {
                zones.insert(zone.to_string())
            } else {
                zones.remove(zone)
            }
        })
    }

    /// Woken at every change.
    pub fn subscribe(&self) -> watch::Receiver<BTreeSet<String>> {
        self.down.subscribe()
    }

    /// Whether the zone of `subnet` is down (a subnet the config does not know is not).
    pub fn subnet_is_down(&self, subnet: &str) -> bool {
        self.zone_of(subnet).is_some_and(|zone| self.is_down(zone))
    }
}

/// The lab's availability zones (those its subnets are in), in order.
pub fn zones(config: &Config) -> BTreeSet<&str> {
    config
        .vpc
        .subnets
        .values()
        .map(|s| s.availability_zone.as_str())
        .collect()
}

/// The subnets in `zone`.
pub fn subnets_in<'a>(config: &'a Config, zone: &str) -> Vec<&'a str> {
    config
        .vpc
        .subnets
        .values()
        .filter(|s| s.availability_zone == zone)
        .map(|s| s.name.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_go_down_and_come_back_once() {
        let health = ZoneHealth::default();
        let changes = health.subscribe();
        assert!(health.set_down("us-east-1a", true));
        assert!(!health.set_down("us-east-1a", true), "already down");
        assert!(changes.has_changed().unwrap());
        assert!(health.is_down("us-east-1a") && !health.is_down("us-east-1b"));
        assert_eq!(health.down().len(), 1);
        assert!(health.set_down("us-east-1a", false));
        assert!(!health.set_down("us-east-1a", false), "already up");
        assert!(health.down().is_empty());
    }
}
