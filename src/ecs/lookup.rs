//! Finding a task by what a user types: a full id, an ARN, or a unique id prefix (as `docker`
//! accepts one). Pure.

/// Why no single task matched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskLookupError {
    #[error("no task matches `{0}` (tasks stopped more than an hour ago are forgotten)")]
    NoMatch(String),
    #[error("`{prefix}` matches {} tasks ({}); give more of the id", matches.len(), matches.join(", "))]
    Ambiguous {
        prefix: String,
        matches: Vec<String>,
    },
}

/// The id in `input`: the last path segment of a task ARN (`…:task/cluster/ID`), else `input`.
pub fn task_id_of(input: &str) -> &str {
    let input = input.trim();
    if input.starts_with("arn:") {
        input.rsplit('/').next().unwrap_or(input)
    } else {
        input
    }
}

/// The one candidate whose id is `input` or starts with it. An exact id wins over longer ids
/// that share its prefix. `candidates` are `(service, task_id)`; duplicates are ignored.
pub fn resolve<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(&'a str, &'a str), TaskLookupError> {
    let id = task_id_of(input).to_ascii_lowercase();
    if id.is_empty() {
        return Err(TaskLookupError::NoMatch(input.to_string()));
    }
    let mut matches: Vec<(&str, &str)> = candidates
        .into_iter()
        .filter(|(_, task)| task.starts_with(&id))
        .collect();
    matches.sort();
    matches.dedup();
    if let Some(exact) = matches.iter().find(|(_, task)| *task == id) {
        return Ok(*exact);
    }
    match matches.as_slice() {
        [] => Err(TaskLookupError::NoMatch(input.to_string())),
        [one] => Ok(*one),
        many => Err(TaskLookupError::Ambiguous {
            prefix: input.to_string(),
            matches: many.iter().map(|(_, t)| t.to_string()).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TASKS: [(&str, &str); 3] = [
        ("web", "3f2a0000000000000000000000000001"),
        ("web", "3f2b0000000000000000000000000002"),
        ("api", "9c000000000000000000000000000003"),
    ];

    #[test]
    fn a_unique_prefix_finds_its_task() {
        assert_eq!(resolve("3f2a", TASKS), Ok(TASKS[0]));
        assert_eq!(resolve("9", TASKS), Ok(TASKS[2]));
        assert_eq!(resolve("3F2B", TASKS), Ok(TASKS[1]));
    }

    #[test]
    fn an_ambiguous_prefix_names_the_matches() {
        let e = resolve("3f2", TASKS).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`3f2` matches 2 tasks (3f2a0000000000000000000000000001, 3f2b0000000000000000000000000002); give more of the id"
        );
    }

    #[test]
    fn no_match_and_empty_input_are_errors() {
        assert!(matches!(
            resolve("ff", TASKS),
            Err(TaskLookupError::NoMatch(_))
        ));
        assert!(matches!(
            resolve(" ", TASKS),
            Err(TaskLookupError::NoMatch(_))
        ));
    }

    #[test]
    fn an_arn_is_taken_by_its_id() {
        let arn = "arn:aws:ecs:us-east-1:000000000000:task/c/9c000000000000000000000000000003";
        assert_eq!(resolve(arn, TASKS), Ok(TASKS[2]));
        assert_eq!(task_id_of("abc"), "abc");
    }

    #[test]
    fn an_exact_id_wins_over_longer_ids() {
        let tasks = [("a", "ab"), ("a", "abc")];
        assert_eq!(resolve("ab", tasks), Ok(("a", "ab")));
    }
}
