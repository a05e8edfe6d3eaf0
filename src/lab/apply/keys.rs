//! What changed between two versions of `emulator.toml`, named as the file names it
//! (`services.flask-app-service.desired-count`), and which of those changes a running lab can
//! take. Pure: the texts in, the keys out.

use toml::{Table, Value};

/// One key whose value differs: its path in the file, a table added or removed whole counting
/// as one key, an array compared whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedKey {
    pub path: Vec<String>,
}

impl ChangedKey {
    /// The dotted path as TOML writes it (`secrets."flask-app/database-url".value`).
    pub fn dotted(&self) -> String {
        self.path
            .iter()
            .map(|key| {
                let bare = !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if bare {
                    key.clone()
                } else {
                    format!("{key:?}")
                }
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    fn starts_with(&self, prefix: &[&str]) -> bool {
        self.path.len() >= prefix.len() && self.path.iter().zip(prefix).all(|(a, b)| a == b)
    }
}

/// A change the running lab cannot take, with what to do instead when there is something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub key: String,
    pub instead: Option<&'static str>,
}

/// The keys that differ between `old` and `new`, in file order (sorted by path).
pub fn changed_keys(old: &Table, new: &Table) -> Vec<ChangedKey> {
    let mut changed = Vec::new();
    walk(&mut Vec::new(), old, new, &mut changed);
    changed
}

fn walk(at: &mut Vec<String>, old: &Table, new: &Table, changed: &mut Vec<ChangedKey>) {
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        at.push(key.clone());
        match (old.get(key), new.get(key)) {
            (Some(Value::Table(a)), Some(Value::Table(b))) => walk(at, a, b, changed),
            (a, b) if a != b => changed.push(ChangedKey { path: at.clone() }),
            _ => {}
        }
        at.pop();
    }
}

/// The settings of an existing service `tierlab apply` can change (ECS's UpdateService and
/// Application Auto Scaling's own calls).
const SERVICE_SETTINGS: &[&str] = &[
    "desired-count",
    "task-definition",
    "minimum-healthy-percent",
    "maximum-percent",
    "health-check-grace-period-seconds",
    "deployment-circuit-breaker",
    "availability-zone-rebalancing",
    "auto-scaling",
];

/// The changes of `changed` a running lab cannot take. Task definitions change freely (each
/// change is a new revision) except a container's name and port, which the service's load
/// balancer registers targets by; an existing service's deployment settings, count and auto
/// scaling change; a secret declared anew is created. Everything else (the VPC, load
/// balancers, target groups, databases, bastions, the lab's own settings, services added or
/// removed) is built at `up` and stays as it is until the lab is started again.
pub fn refusals(changed: &[ChangedKey]) -> Vec<Refusal> {
    changed
        .iter()
        .filter(|key| !runtime_changeable(key))
        .map(|key| Refusal {
            key: key.dotted(),
            instead: instead(key),
        })
        .collect()
}

fn runtime_changeable(key: &ChangedKey) -> bool {
    match key.path.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["task-definitions", _, "container", "name" | "port"] => false,
        ["task-definitions", ..] => true,
        ["services", _, setting, ..] => SERVICE_SETTINGS.contains(&setting),
        // A secret declared anew is created as at `up`; a declared one keeps its value.
        ["secrets", _] => true,
        _ => false,
    }
}

/// What a user can do instead of `apply` for a refused key, when the lab has a call for it.
fn instead(key: &ChangedKey) -> Option<&'static str> {
    if key.starts_with(&["security-groups"]) {
        return Some(
            "aws ec2 authorize-security-group-ingress / revoke-security-group-ingress change a running lab's rules",
        );
    }
    match key.path.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["databases", _, "multi-az"] => {
            Some("aws rds modify-db-instance --multi-az --apply-immediately converts it")
        }
        ["databases", _, "read-replicas"] => {
            Some("aws rds create-db-instance-read-replica adds one to a running lab")
        }
        ["secrets", _, "value" | "description"] => Some(
            "a declared secret keeps its value; aws secretsmanager put-secret-value changes it",
        ),
        ["task-definitions", _, "container", "name" | "port"] => {
            Some("the service's load balancer registers targets by them")
        }
        _ => None,
    }
}

/// The document of a config's text (already validated, so it parses).
pub fn document(text: &str) -> Table {
    text.parse::<Table>().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(old: &str, new: &str) -> Vec<String> {
        changed_keys(&document(old), &document(new))
            .iter()
            .map(ChangedKey::dotted)
            .collect()
    }

    #[test]
    fn changed_keys_name_leaves_and_whole_tables() {
        let old = r#"
[services.web]
desired-count = 2
subnets = ["a", "b"]
[services.web.auto-scaling]
min-capacity = 2
[secrets."app/url"]
value = "x"
"#;
        let new = r#"
[services.web]
desired-count = 3
subnets = ["a"]
[secrets."app/url"]
value = "y"
[secrets.other]
value = "z"
"#;
        assert_eq!(
            changed(old, new),
            [
                "secrets.\"app/url\".value",
                "secrets.other",
                "services.web.auto-scaling",
                "services.web.desired-count",
                "services.web.subnets",
            ]
        );
        assert!(changed(old, old).is_empty());
    }

    #[test]
    fn only_task_definitions_service_settings_and_new_secrets_change_at_run_time() {
        let keys = |paths: &[&str]| -> Vec<ChangedKey> {
            paths
                .iter()
                .map(|p| ChangedKey {
                    path: p.split('.').map(str::to_string).collect(),
                })
                .collect()
        };
        let refused: Vec<String> = refusals(&keys(&[
            "task-definitions.app.cpu",
            "task-definitions.app.container.image",
            "task-definitions.app.container.environment.LOG_LEVEL",
            "task-definitions.app.container.port",
            "task-definitions.new",
            "services.web.desired-count",
            "services.web.deployment-circuit-breaker",
            "services.web.auto-scaling.max-capacity",
            "services.web.subnets",
            "services.other",
            "load-balancers.alb.idle-timeout",
            "databases.db.multi-az",
            "lab.name",
            "secrets.new",
            "secrets.old.value",
        ]))
        .into_iter()
        .map(|r| r.key)
        .collect();
        assert_eq!(
            refused,
            [
                "task-definitions.app.container.port",
                "services.web.subnets",
                "services.other",
                "load-balancers.alb.idle-timeout",
                "databases.db.multi-az",
                "lab.name",
                "secrets.old.value",
            ]
        );
    }

    #[test]
    fn refusals_say_what_to_do_instead_where_the_lab_has_a_call() {
        let key = |p: &str| ChangedKey {
            path: p.split('.').map(str::to_string).collect(),
        };
        let refused = refusals(&[key("databases.db.multi-az"), key("vpc.cidr")]);
        assert!(refused[0].instead.unwrap().contains("modify-db-instance"));
        assert_eq!(refused[1].instead, None);
    }
}
