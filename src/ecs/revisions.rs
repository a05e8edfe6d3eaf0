//! Task definition revisions: `flask-app-task:1`, `:2`, ... One registry per lab, shared by the
//! AWS API (register, deregister, describe, list), the controllers (what a deployment runs) and
//! `tierlab deploy`. Revision 1 of each family is the one in `emulator.toml`; later revisions
//! live as long as the lab runs (as the lab's other run-time changes do).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::config::{Config, TaskDefinition};

/// ECS's own bound on revisions per family is 1,000,000; a lab's memory is the limit here.
pub const MAX_REVISIONS: u32 = 1_000;

/// A revision's status: `INACTIVE` once deregistered (still describable, never deployable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RevisionStatus {
    Active,
    Inactive,
}

impl RevisionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RevisionStatus::Active => "ACTIVE",
            RevisionStatus::Inactive => "INACTIVE",
        }
    }
}

/// One registered revision of a task definition family.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    pub revision: u32,
    pub status: RevisionStatus,
    /// What the tasks of this revision run (`definition.family` is the family).
    pub definition: TaskDefinition,
    /// RFC 3339 (ECS's `registeredAt`).
    pub registered_at: String,
    pub deregistered_at: Option<String>,
}

impl Revision {
    pub fn family(&self) -> &str {
        &self.definition.family
    }

    /// `family:revision`, as ECS names a revision.
    pub fn name(&self) -> String {
        format!("{}:{}", self.definition.family, self.revision)
    }
}

/// Why a revision could not be registered or deregistered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevisionError {
    #[error(
        "task definition family `{family}` has {MAX_REVISIONS} revisions, the most tierlab keeps"
    )]
    TooMany { family: String },
    #[error("task definition `{family}:{revision}` does not exist")]
    NotFound { family: String, revision: u32 },
}

/// The lab's task definitions by family, revisions in order; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct TaskDefinitions {
    families: Arc<RwLock<BTreeMap<String, Vec<Revision>>>>,
}

impl TaskDefinitions {
    /// Revision 1 of every task definition of `config`.
    pub fn from_config(config: &Config) -> TaskDefinitions {
        let registry = TaskDefinitions::default();
        for td in config.task_definitions.values() {
            registry
                .register(td.clone())
                .expect("a new family has room for its first revision");
        }
        registry
    }

    /// Registers `definition` as the next revision of its family (a new family starts at 1).
    pub fn register(&self, definition: TaskDefinition) -> Result<Revision, RevisionError> {
        let mut families = self.families.write().unwrap_or_else(|e| e.into_inner());
        let revisions = families.entry(definition.family.clone()).or_default();
        let revision = revisions.len() as u32 + 1;
        if revision > MAX_REVISIONS {
            return Err(RevisionError::TooMany {
                family: definition.family,
            });
        }
        let registered = Revision {
            revision,
            status: RevisionStatus::Active,
            definition,
            registered_at: super::now_rfc3339(),
            deregistered_at: None,
        };
        revisions.push(registered.clone());
        Ok(registered)
    }

    /// `family:revision`, or with no revision the family's latest ACTIVE one (as ECS resolves a
    /// bare family name).
    pub fn get(&self, family: &str, revision: Option<u32>) -> Option<Revision> {
        let families = self.families.read().unwrap_or_else(|e| e.into_inner());
        let revisions = families.get(family)?;
        match revision {
            Some(n) => revisions.get(n.checked_sub(1)? as usize).cloned(),
            None => revisions
                .iter()
                .rev()
                .find(|r| r.status == RevisionStatus::Active)
                .cloned(),
        }
    }

    /// Every revision of every family, families in name order, revisions in order.
    pub fn list(&self) -> Vec<Revision> {
        let families = self.families.read().unwrap_or_else(|e| e.into_inner());
        families.values().flatten().cloned().collect()
    }

    /// Marks a revision INACTIVE (it stays describable; running tasks keep running).
    pub fn deregister(&self, family: &str, revision: u32) -> Result<Revision, RevisionError> {
        let mut families = self.families.write().unwrap_or_else(|e| e.into_inner());
        let not_found = || RevisionError::NotFound {
            family: family.to_string(),
            revision,
        };
        let found = families
            .get_mut(family)
            .and_then(|r| r.get_mut(revision.checked_sub(1)? as usize))
            .ok_or_else(not_found)?;
        if found.status == RevisionStatus::Active {
            found.status = RevisionStatus::Inactive;
            found.deregistered_at = Some(super::now_rfc3339());
        }
        Ok(found.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ContainerDefinition;

    fn td(family: &str, image: &str) -> TaskDefinition {
        TaskDefinition {
            family: family.into(),
            cpu: 256,
            memory_mib: 512,
            container: ContainerDefinition {
                name: "app".into(),
                image: image.into(),
                build: None,
                container_port: 5000,
                command: None,
                environment: BTreeMap::new(),
                log_group: "/ecs/app".into(),
                log_stream_prefix: "ecs".into(),
                stop_timeout: None,
                secrets: Vec::new(),
            },
        }
    }

    #[test]
    fn revisions_count_up_per_family() {
        let registry = TaskDefinitions::default();
        assert_eq!(registry.register(td("web", "a")).unwrap().name(), "web:1");
        assert_eq!(registry.register(td("web", "b")).unwrap().name(), "web:2");
        assert_eq!(registry.register(td("api", "c")).unwrap().name(), "api:1");
        let names: Vec<String> = registry.list().iter().map(Revision::name).collect();
        assert_eq!(names, ["api:1", "web:1", "web:2"]);
        assert_eq!(
            registry
                .get("web", None)
                .unwrap()
                .definition
                .container
                .image,
            "b"
        );
        assert_eq!(registry.get("web", Some(1)).unwrap().revision, 1);
        assert!(registry.get("web", Some(3)).is_none());
        assert!(registry.get("web", Some(0)).is_none());
        assert!(registry.get("nope", None).is_none());
    }

    #[test]
    fn deregistered_revisions_stay_describable_but_not_latest() {
        let registry = TaskDefinitions::default();
        registry.register(td("web", "a")).unwrap();
        registry.register(td("web", "b")).unwrap();
        let gone = registry.deregister("web", 2).unwrap();
        assert_eq!(gone.status, RevisionStatus::Inactive);
        assert!(gone.deregistered_at.is_some());
        assert_eq!(registry.get("web", None).unwrap().revision, 1);
        assert_eq!(
            registry.get("web", Some(2)).unwrap().status,
            RevisionStatus::Inactive
        );
        // Again: answered as it is.
        assert_eq!(
            registry.deregister("web", 2).unwrap().status,
            RevisionStatus::Inactive
        );
        assert_eq!(
            registry.deregister("web", 9),
            Err(RevisionError::NotFound {
                family: "web".into(),
                revision: 9
            })
        );
        // A new revision after a deregistered one still counts up.
        assert_eq!(registry.register(td("web", "c")).unwrap().revision, 3);
    }
}
