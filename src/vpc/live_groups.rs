//! The security groups as they are now: the config's, changed at run time by the EC2 API's
//! `AuthorizeSecurityGroupIngress` and `RevokeSecurityGroupIngress` (as `scale` changes a
//! service, a change lasts until `down`; `emulator.toml` is not edited).
//!
//! Readers (DescribeSecurityGroups, the bastion's network attachments, `status`) take a
//! snapshot without locking; writers are serialised, and every change bumps a version that
//! watchers wait on. The rule arithmetic ([`authorize`], [`revoke`]) is pure.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::config::{SecurityGroup, SgPeer, SgRule};

/// Security groups by name.
pub type Groups = BTreeMap<String, SecurityGroup>;

/// Why a rule change was refused (the EC2 API maps these to AWS's errors).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    /// `InvalidGroup.NotFound`.
    #[error("no security group `{0}`")]
    NoSuchGroup(String),
    /// `InvalidPermission.Duplicate`: the rule is there already.
    #[error("the rule {0:?} already exists")]
    Duplicate(SgRule),
    /// `InvalidPermission.NotFound`: there is no such rule to revoke.
    #[error("the rule {0:?} does not exist")]
    NotFound(SgRule),
}

/// `groups` with `rules` added to `group`'s ingress. All or nothing, as on AWS: one rule that
/// exists already (or is given twice) refuses the whole call.
pub fn authorize(groups: &Groups, group: &str, rules: &[SgRule]) -> Result<Groups, RuleError> {
    let mut next = groups.clone();
    let target = next
        .get_mut(group)
        .ok_or_else(|| RuleError::NoSuchGroup(group.to_string()))?;
    for rule in rules {
        check_peer(groups, rule)?;
        if target.ingress.contains(rule) {
            return Err(RuleError::Duplicate(rule.clone()));
        }
        target.ingress.push(rule.clone());
    }
    Ok(next)
}

/// `groups` with `rules` taken out of `group`'s ingress. All or nothing: a rule that is not
/// there refuses the whole call.
pub fn revoke(groups: &Groups, group: &str, rules: &[SgRule]) -> Result<Groups, RuleError> {
    let mut next = groups.clone();
    let target = next
        .get_mut(group)
        .ok_or_else(|| RuleError::NoSuchGroup(group.to_string()))?;
    for rule in rules {
        let Some(at) = target.ingress.iter().position(|r| r == rule) else {
            return Err(RuleError::NotFound(rule.clone()));
        };
        target.ingress.remove(at);
    }
    Ok(next)
}

/// A rule naming another group needs that group to exist.
fn check_peer(groups: &Groups, rule: &SgRule) -> Result<(), RuleError> {
    match &rule.peer {
        SgPeer::Group(name) if !groups.contains_key(name) => {
            Err(RuleError::NoSuchGroup(name.clone()))
        }
        _ => Ok(()),
    }
}

/// The lab's live security groups. Cheap to clone; clones share the groups.
#[derive(Clone)]
pub struct LiveGroups {
    current: Arc<ArcSwap<Groups>>,
    /// Serialises read-modify-write of the groups.
    write: Arc<Mutex<()>>,
    version: Arc<watch::Sender<u64>>,
}

impl LiveGroups {
    /// Starts from the config's groups.
    pub fn new(groups: Groups) -> LiveGroups {
        LiveGroups {
            current: Arc::new(ArcSwap::from_pointee(groups)),
            write: Arc::default(),
            version: Arc::new(watch::channel(0).0),
        }
    }

    /// The groups now.
    pub fn snapshot(&self) -> Arc<Groups> {
        self.current.load_full()
    }

    /// Bumps on every change, for those who re-apply the rules (the bastion's networks).
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Adds ingress rules ([`authorize`]).
    pub fn authorize_ingress(&self, group: &str, rules: &[SgRule]) -> Result<(), RuleError> {
        self.change(|groups| authorize(groups, group, rules))
    }

    /// Removes ingress rules ([`revoke`]).
    pub fn revoke_ingress(&self, group: &str, rules: &[SgRule]) -> Result<(), RuleError> {
        self.change(|groups| revoke(groups, group, rules))
    }

    fn change(
        &self,
        f: impl FnOnce(&Groups) -> Result<Groups, RuleError>,
    ) -> Result<(), RuleError> {
        let _writer = self.write.lock().unwrap_or_else(|e| e.into_inner());
        let next = f(&self.current.load())?;
        self.current.store(Arc::new(next));
        self.version.send_modify(|v| *v += 1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PortRange;

    fn tcp(port: u16, peer: SgPeer) -> SgRule {
        SgRule {
            ports: Some(PortRange {
                from: port,
                to: port,
            }),
            peer,
        }
    }

    fn group(name: &str) -> SgPeer {
        SgPeer::Group(name.into())
    }

    fn groups() -> Groups {
        let db = SecurityGroup {
            name: "db-sg".into(),
            ingress: vec![tcp(3306, group("app-sg")), tcp(3306, group("bastion-sg"))],
            egress: vec![],
        };
        let empty = |name: &str| SecurityGroup {
            name: name.into(),
            ingress: vec![],
            egress: vec![],
        };
        Groups::from([
            ("db-sg".into(), db),
            ("app-sg".into(), empty("app-sg")),
            ("bastion-sg".into(), empty("bastion-sg")),
        ])
    }

    #[test]
    fn revoke_takes_out_only_the_named_rule() {
        let next = revoke(&groups(), "db-sg", &[tcp(3306, group("bastion-sg"))]).unwrap();
        assert_eq!(next["db-sg"].ingress, [tcp(3306, group("app-sg"))]);
    }

    #[test]
    fn a_rule_that_is_not_there_cannot_be_revoked_and_nothing_changes() {
        let wrong_port = tcp(3307, group("bastion-sg"));
        let both = [tcp(3306, group("bastion-sg")), wrong_port.clone()];
        assert_eq!(
            revoke(&groups(), "db-sg", &both),
            Err(RuleError::NotFound(wrong_port))
        );
        assert_eq!(
            revoke(&groups(), "nope-sg", &both),
            Err(RuleError::NoSuchGroup("nope-sg".into()))
        );
    }

    #[test]
    fn authorize_adds_and_refuses_duplicates_and_unknown_peers() {
        let without = revoke(&groups(), "db-sg", &[tcp(3306, group("bastion-sg"))]).unwrap();
        let back = authorize(&without, "db-sg", &[tcp(3306, group("bastion-sg"))]).unwrap();
        assert_eq!(back["db-sg"].ingress.len(), 2);
        assert_eq!(
            authorize(&back, "db-sg", &[tcp(3306, group("bastion-sg"))]),
            Err(RuleError::Duplicate(tcp(3306, group("bastion-sg"))))
        );
        let twice = [tcp(22, group("app-sg")), tcp(22, group("app-sg"))];
        assert!(matches!(
            authorize(&back, "db-sg", &twice),
            Err(RuleError::Duplicate(_))
        ));
        assert_eq!(
            authorize(&back, "db-sg", &[tcp(22, group("ghost-sg"))]),
            Err(RuleError::NoSuchGroup("ghost-sg".into()))
        );
    }

    #[test]
    fn live_groups_change_atomically_and_bump_the_version() {
        let live = LiveGroups::new(groups());
        let watch = live.watch();
        live.revoke_ingress("db-sg", &[tcp(3306, group("bastion-sg"))])
            .unwrap();
        assert_eq!(*watch.borrow(), 1);
        assert_eq!(live.snapshot()["db-sg"].ingress.len(), 1);
        assert!(
            live.revoke_ingress("db-sg", &[tcp(3306, group("bastion-sg"))])
                .is_err()
        );
        assert_eq!(*watch.borrow(), 1, "a refused change is no change");
    }
}
