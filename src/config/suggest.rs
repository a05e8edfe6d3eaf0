//! "Did you mean ...?" for misspelt keys and names.

/// The candidate closest to `input`, if it is close enough to be a likely typo.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(input, c), c))
        .filter(|&(score, _)| score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The hint after a bad value or reference: `did you mean `x`?`, else the list of what exists.
/// `kind` is plural ("security groups") and names what the candidates are.
pub fn hint<'a>(input: &str, kind: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let all: Vec<&str> = candidates.into_iter().collect();
    match closest(input, all.iter().copied()) {
        Some(c) => format!("did you mean `{c}`?"),
        None if all.is_empty() => format!("no {kind} are defined"),
        None => format!("defined {kind}: {}", backticked(&all)),
    }
}

/// `a`, `b`, `c` (for messages).
pub fn backticked(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            closest("cidrr", ["cidr", "availability-zone"]),
            Some("cidr")
        );
        assert_eq!(
            closest("app-sgg", ["alb-sg", "app-sg", "db-sg"]),
            Some("app-sg")
        );
        assert_eq!(closest("zzz", ["cidr", "route-table"]), None);
    }

    #[test]
    fn hint_lists_what_exists_when_nothing_is_close() {
        assert_eq!(hint("x", "clusters", []), "no clusters are defined");
        assert_eq!(
            hint("zzz", "clusters", ["a-cluster", "b-cluster"]),
            "defined clusters: `a-cluster`, `b-cluster`"
        );
        assert_eq!(
            hint("a-clustr", "clusters", ["a-cluster"]),
            "did you mean `a-cluster`?"
        );
    }
}
