//! The lab's DB instances as they are now: those of the config, and those created at run time
//! (a read replica, a restored instance) until they are deleted. Shared by the lab, the AWS API,
//! `status` and the orphan sweep.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use super::DbInstance;

/// The set of running instances, in creation order. Cheap to clone; clones share the set.
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    instances: Arc<RwLock<Vec<DbInstance>>>,
    /// Containers of instances being started, claimed before they are created (as ECS claims a
    /// task id first), so the orphan sweep never takes one for an orphan.
    starting: Arc<RwLock<HashSet<String>>>,
}

impl Fleet {
    /// Every instance, in the order they were added.
    pub fn list(&self) -> Vec<DbInstance> {
        self.read().clone()
    }

    pub fn get(&self, identifier: &str) -> Option<DbInstance> {
        self.read()
            .iter()
            .find(|db| db.identifier == identifier)
            .cloned()
    }

    pub fn contains(&self, identifier: &str) -> bool {
        self.read().iter().any(|db| db.identifier == identifier)
    }

    /// Adds `db`, replacing an instance of the same identifier.
    pub fn insert(&self, db: DbInstance) {
        let mut instances = self.write();
        instances.retain(|d| d.identifier != db.identifier);
        instances.push(db);
    }

    /// Removes the instance and returns it.
    pub fn remove(&self, identifier: &str) -> Option<DbInstance> {
        let mut instances = self.write();
        let at = instances.iter().position(|d| d.identifier == identifier)?;
        Some(instances.remove(at))
    }

    /// Identifiers of the read replicas of `source` (RDS's `ReadReplicaDBInstanceIdentifiers`),
    /// in creation order.
    pub fn read_replicas_of(&self, source: &str) -> Vec<String> {
        self.read()
            .iter()
            .filter(|db| db.settings().read_replica_source.as_deref() == Some(source))
            .map(|db| db.identifier.clone())
            .collect()
    }

    /// Names of every container that serves an instance, or will once started (the orphan
    /// sweep keeps them).
    pub fn container_names(&self) -> HashSet<String> {
        let mut names: HashSet<String> = self
            .read()
            .iter()
            .flat_map(DbInstance::container_names)
            .collect();
        names.extend(self.starting_names().iter().cloned());
        names
    }

    /// Names of the proxies on the instances' task → database paths (the orphan sweep keeps
    /// them).
    pub fn proxy_names(&self) -> HashSet<String> {
        self.read()
            .iter()
            .filter_map(|db| db.detour().proxy_name())
            .collect()
    }

    /// Claims `container` for an instance about to be started, until the guard is dropped (by
    /// then the instance is in the fleet, or its start failed and it was removed).
    pub fn claim_start(&self, container: String) -> StartClaim {
        self.starting
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(container.clone());
        StartClaim {
            starting: self.starting.clone(),
            container,
        }
    }

    fn starting_names(&self) -> std::sync::RwLockReadGuard<'_, HashSet<String>> {
        self.starting.read().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<DbInstance>> {
        // Writers only push or remove one element: a panic cannot leave the set half-changed.
        self.instances.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<DbInstance>> {
        self.instances.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// A container name claimed for a starting instance; released when dropped.
#[derive(Debug)]
pub struct StartClaim {
    starting: Arc<RwLock<HashSet<String>>>,
    container: String,
}

impl Drop for StartClaim {
    fn drop(&mut self) {
        self.starting
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.container);
    }
}
