//! One test per listener-rule, action and target-group routing rule.

use super::*;

/// `BASE` with `rules = [...]` on its listener (and a second target group `tg2`).
fn with_rules(rules: &str) -> String {
    let text = BASE.replacen(
        "port = 8080\ndefault-action",
        &format!("port = 8080\nrules = [{rules}]\ndefault-action"),
        1,
    );
    format!("{text}\n[target-groups.tg2]\nport = 8001\n")
}

fn rule_errors(rules: &str) -> String {
    errors(&with_rules(rules)).join("\n")
}

const FIXED: &str = "action = { type = \"fixed-response\", status-code = \"503\" }";

#[test]
fn rules_with_every_condition_and_action_load_sorted_by_priority() {
    let text = with_rules(concat!(
        "{ priority = 20, conditions = [{ path-pattern = [\"/api/*\"] }, { http-request-method = [\"GET\", \"HEAD\"] }], action = { type = \"forward\", target-groups = [{ name = \"tg\", weight = 80 }, { name = \"tg2\", weight = 20 }], group-stickiness = \"1h\" } },",
        "{ priority = 10, conditions = [{ host-header = [\"*.example.com\"] }, { http-header = { name = \"X-Env\", values = [\"beta\"] } }], action = { type = \"redirect\", host = \"www.#{host}\", path = \"/new/#{path}\", query = \"#{query}&x=1\", status-code = \"HTTP_302\" } },",
        "{ priority = 30, conditions = [{ query-string = [{ key = \"v\", value = \"2\" }, { value = \"beta\" }] }, { source-ip = [\"10.0.0.0/8\", \"::1/128\"] }], action = { type = \"fixed-response\", status-code = \"418\", content-type = \"application/json\", message-body = \"{}\" } }",
    ));
    let c = try_parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let rules = &c.load_balancers["lb"].listeners[0].rules;
    assert_eq!(
        rules.iter().map(|r| r.priority).collect::<Vec<_>>(),
        [10, 20, 30]
    );
    assert_eq!(
        rules[1].action,
        Action::WeightedForward(WeightedForward {
            target_groups: vec![
                WeightedTargetGroup {
                    name: "tg".into(),
                    weight: 80
                },
                WeightedTargetGroup {
                    name: "tg2".into(),
                    weight: 20
                },
            ],
            stickiness: Some(std::time::Duration::from_secs(3600)),
        })
    );
    assert_eq!(
        rules[2].conditions[0],
        Condition::QueryString(vec![
            QueryPattern {
                key: Some("v".into()),
                value: "2".into()
            },
            QueryPattern {
                key: None,
                value: "beta".into()
            },
        ])
    );
    assert_eq!(
        rules[2].action,
        Action::FixedResponse(FixedResponse {
            status: 418,
            content_type: Some("application/json".into()),
            body: "{}".into(),
        })
    );
    assert!(
        matches!(&rules[0].action, Action::Redirect(r) if r.path.as_deref() == Some("/new/#{path}"))
    );
}

#[test]
fn rules_as_array_of_tables_work_too() {
    let text = BASE.replacen(
        "\n[target-groups.tg]",
        "\n[[load-balancers.lb.listeners.rules]]\npriority = 1\nconditions = [{ path-pattern = [\"/x\"] }]\naction = { type = \"fixed-response\", status-code = \"204\" }\n\n[target-groups.tg]",
        1,
    );
    let c = try_parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.load_balancers["lb"].listeners[0].rules.len(), 1);
}

#[test]
fn rule_priority_range_and_uniqueness() {
    let e = rule_errors(&format!(
        "{{ priority = 0, conditions = [{{ path-pattern = [\"/a\"] }}], {FIXED} }}"
    ));
    assert_has(
        &e,
        &[
            "[load-balancers.lb.listeners[0].rules[0]] priority = 0",
            "between 1 and 50000",
        ],
    );
    let e = rule_errors(&format!(
        "{{ priority = 5, conditions = [{{ path-pattern = [\"/a\"] }}], {FIXED} }}, {{ priority = 5, conditions = [{{ path-pattern = [\"/b\"] }}], {FIXED} }}"
    ));
    assert_has(&e, &["rules[1]] priority = 5", "must be unique"]);
}

#[test]
fn rule_needs_a_condition_and_each_condition_one_field() {
    let e = rule_errors(&format!("{{ priority = 1, {FIXED} }}"));
    assert_has(
        &e,
        &[
            "[load-balancers.lb.listeners[0].rules[0]]",
            "at least one condition",
        ],
    );
    let e = rule_errors(&format!(
        "{{ priority = 1, conditions = [{{ path-pattern = [\"/a\"], host-header = [\"a\"] }}], {FIXED} }}"
    ));
    assert_has(&e, &["rules[0].conditions[0]]", "a condition is one of"]);
}

#[test]
fn rule_limits_one_path_condition_five_values_five_wildcards() {
    let e = rule_errors(&format!(
        "{{ priority = 1, conditions = [{{ path-pattern = [\"/a\"] }}, {{ path-pattern = [\"/b\"] }}], {FIXED} }}"
    ));
    assert_has(&e, &["at most one `path-pattern`"]);
    let e = rule_errors(&format!(
        "{{ priority = 1, conditions = [{{ path-pattern = [\"/a\", \"/b\", \"/c\"] }}, {{ http-request-method = [\"GET\", \"PUT\", \"POST\"] }}], {FIXED} }}"
    ));
    assert_has(
        &e,
        &[
            "rules[0].conditions]",
            "at most 5 condition values",
            "found 6",
        ],
    );
    let e = rule_errors(&format!(
        "{{ priority = 1, conditions = [{{ path-pattern = [\"/*/*/*\", \"/?/?/?\"] }}], {FIXED} }}"
    ));
    assert_has(&e, &["at most 5 wildcards", "found 6"]);
}

#[test]
fn condition_values_are_checked_per_field() {
    let cond = |c: &str| rule_errors(&format!("{{ priority = 1, conditions = [{c}], {FIXED} }}"));
    assert_has(
        &cond("{ host-header = [\"bad host\"] }"),
        &[
            "conditions[0]] host-header[0] = \"bad host\"",
            "letters, digits",
        ],
    );
    assert_has(
        &cond("{ http-request-method = [\"get\"] }"),
        &["] http-request-method[0] = \"get\"", "upper-case"],
    );
    assert_has(
        &cond("{ http-header = { name = \"bad header\", values = [\"x\"] } }"),
        &["http-header] name = \"bad header\"", "header name"],
    );
    assert_has(
        &cond("{ source-ip = [\"10.0.0.1/8\"] }"),
        &["] source-ip[0] = \"10.0.0.1/8\"", "host bits"],
    );
    assert_has(
        &cond("{ query-string = [{ key = \"k\", value = \"\" }] }"),
        &["query-string[0]] value = \"\"", "1 to 128"],
    );
    assert_has(
        &cond(&format!("{{ path-pattern = [\"/{}\"] }}", "a".repeat(128))),
        &["] path-pattern[0] = ", "1 to 128 characters"],
    );
}

#[test]
fn fixed_response_status_content_type_and_body() {
    let fixed = |a: &str| {
        rule_errors(&format!(
            "{{ priority = 1, conditions = [{{ path-pattern = [\"/a\"] }}], action = {{ type = \"fixed-response\", {a} }} }}"
        ))
    };
    assert_has(
        &fixed("status-code = \"302\""),
        &["action] status-code = \"302\"", "2XX, 4XX or 5XX"],
    );
    assert_has(
        &fixed("status-code = \"600\""),
        &["status-code = \"600\"", "2XX, 4XX or 5XX"],
    );
    assert_has(
        &fixed("status-code = \"200\", content-type = \"text/xml\""),
        &[
            "action] content-type = \"text/xml\"",
            "text/plain, text/css",
        ],
    );
    let big = "x".repeat(1025);
    assert_has(
        &fixed(&format!("status-code = \"200\", message-body = \"{big}\"")),
        &["action] message-body = (1025 bytes)", "at most 1024 bytes"],
    );
    assert_has(
        &fixed("content-type = \"text/plain\""),
        &["needs `status-code`"],
    );
}

#[test]
fn weighted_forward_groups_weights_and_stickiness() {
    let fwd = |a: &str| {
        rule_errors(&format!(
            "{{ priority = 1, conditions = [{{ path-pattern = [\"/a\"] }}], action = {{ type = \"forward\", {a} }} }}"
        ))
    };
    assert_has(
        &fwd("target-groups = [{ name = \"tg\", weight = 1000 }]"),
        &["target-groups[0]] weight = 1000", "between 0 and 999"],
    );
    assert_has(
        &fwd("target-groups = [{ name = \"tg3\", weight = 1 }]"),
        &["target-groups[0]] name = \"tg3\"", "no target group `tg3`"],
    );
    assert_has(
        &fwd("target-groups = [{ name = \"tg\", weight = 0 }, { name = \"tg2\", weight = 0 }]"),
        &["action.target-groups]", "weight above 0"],
    );
    assert_has(
        &fwd("target-groups = [{ name = \"tg\", weight = 1 }], group-stickiness = \"8d\""),
        &["action] group-stickiness = \"8d\"", "between 1s and 7d"],
    );
    assert_has(
        &fwd("target-group = \"tg\", target-groups = [{ name = \"tg\", weight = 1 }]"),
        &["not both"],
    );
    assert_has(
        &fwd("target-groups = [{ name = \"tg\", weight = 1 }, { name = \"tg\", weight = 2 }]"),
        &["target-groups[1]] name = \"tg\"", "listed twice"],
    );
}

#[test]
fn redirect_templates_are_checked() {
    let redirect = |a: &str| {
        rule_errors(&format!(
            "{{ priority = 1, conditions = [{{ path-pattern = [\"/a\"] }}], action = {{ type = \"redirect\", status-code = \"HTTP_301\", {a} }} }}"
        ))
    };
    assert_has(
        &redirect("path = \"new\""),
        &["action] path = \"new\"", "start with `/`"],
    );
    assert_has(
        &redirect("query = \"?a=1\""),
        &["action] query = \"?a=1\"", "leading `?`"],
    );
    assert_has(
        &redirect("host = \"#{hots}\""),
        &["action] host = \"#{hots}\"", "unknown placeholder"],
    );
    assert_has(
        &redirect("content-type = \"text/plain\", path = \"/x\""),
        &["`content-type` belongs to a fixed-response action, not a redirect action"],
    );
}

#[test]
fn https_rule_may_not_redirect_to_http() {
    let text = with_rules("{ priority = 1, conditions = [{ path-pattern = [\"/a\"] }], action = { type = \"redirect\", protocol = \"HTTP\", status-code = \"HTTP_301\" } }")
        .replacen("protocol = \"HTTP\"\nport = 8080", "protocol = \"HTTPS\"\nport = 8080\ncertificate = {}", 1);
    assert_has(
        &errors(&text).join("\n"),
        &[
            "rules[0].action] protocol = \"HTTP\"",
            "may not redirect to HTTP",
        ],
    );
}

#[test]
fn forward_keys_refuse_fixed_response_keys() {
    let e = rule_errors(
        "{ priority = 1, conditions = [{ path-pattern = [\"/a\"] }], action = { type = \"forward\", target-group = \"tg\", message-body = \"x\" } }",
    );
    assert_has(
        &e,
        &[
            "rules[0].action]",
            "`message-body` belongs to a fixed-response action, not a forward action",
        ],
    );
}

#[test]
fn service_target_group_reached_only_through_a_rule_is_fine() {
    let text = with_rules("{ priority = 1, conditions = [{ path-pattern = [\"/a\"] }], action = { type = \"forward\", target-group = \"tg\" } }")
        .replacen("default-action = { type = \"forward\", target-group = \"tg\" }", "default-action = { type = \"fixed-response\", status-code = \"404\" }", 1);
    try_parse(&text).unwrap_or_else(|e| panic!("{e}"));
}

// ---- target group routing attributes

fn tg_with(lines: &str) -> String {
    BASE.replacen(
        "[target-groups.tg]\nport = 8000",
        &format!("[target-groups.tg]\nport = 8000\n{lines}"),
        1,
    )
}

#[test]
fn routing_defaults_are_aws() {
    let c = try_parse(BASE).unwrap();
    let tg = &c.target_groups["tg"];
    assert_eq!(
        (tg.algorithm, tg.slow_start, tg.stickiness),
        (Algorithm::RoundRobin, std::time::Duration::ZERO, None)
    );
    let c = try_parse(&tg_with("stickiness = { enabled = true }")).unwrap();
    assert_eq!(
        c.target_groups["tg"].stickiness,
        Some(std::time::Duration::from_secs(86400))
    );
    let c = try_parse(&tg_with(
        "stickiness = { enabled = false, type = \"lb_cookie\", duration = \"1h\" }",
    ))
    .unwrap();
    assert_eq!(c.target_groups["tg"].stickiness, None);
}

#[test]
fn load_balancing_algorithm_values() {
    let c = try_parse(&tg_with(
        "load-balancing-algorithm = \"least_outstanding_requests\"",
    ))
    .unwrap();
    assert_eq!(
        c.target_groups["tg"].algorithm,
        Algorithm::LeastOutstandingRequests
    );
    let e = error_with(
        "[target-groups.tg]\nport = 8000",
        "[target-groups.tg]\nport = 8000\nload-balancing-algorithm = \"random\"",
    );
    assert_has(
        &e,
        &[
            "[target-groups.tg] load-balancing-algorithm = \"random\"",
            "\"weighted_random\"",
        ],
    );
}

#[test]
fn slow_start_range_and_algorithm() {
    let c = try_parse(&tg_with("slow-start = \"30s\"")).unwrap();
    assert_eq!(c.target_groups["tg"].slow_start.as_secs(), 30);
    let e = error_with(
        "[target-groups.tg]\nport = 8000",
        "[target-groups.tg]\nport = 8000\nslow-start = \"10s\"",
    );
    assert_has(
        &e,
        &[
            "[target-groups.tg] slow-start = \"10s\"",
            "between 30s and 15m",
        ],
    );
    let e = error_with(
        "[target-groups.tg]\nport = 8000",
        "[target-groups.tg]\nport = 8000\nslow-start = \"16m\"",
    );
    assert_has(&e, &["slow-start = \"16m\""]);
    let e = error_with(
        "[target-groups.tg]\nport = 8000",
        "[target-groups.tg]\nport = 8000\nload-balancing-algorithm = \"weighted_random\"\nslow-start = \"1m\"",
    );
    assert_has(
        &e,
        &[
            "slow-start = \"1m\"",
            "only with load-balancing-algorithm = \"round_robin\"",
        ],
    );
}

#[test]
fn stickiness_type_and_duration() {
    let e = error_with(
        "[target-groups.tg]\nport = 8000",
        "[target-groups.tg]\nport = 8000\nstickiness = { enabled = true, type = \"app_cookie\" }",
    );
    assert_has(
        &e,
        &[
            "[target-groups.tg.stickiness] type = \"app_cookie\"",
            "\"lb_cookie\"",
        ],
    );
    let e = error_with(
        "[target-groups.tg]\nport = 8000",
        "[target-groups.tg]\nport = 8000\nstickiness = { enabled = true, duration = \"8d\" }",
    );
    assert_has(
        &e,
        &[
            "[target-groups.tg.stickiness] duration = \"8d\"",
            "between 1s and 7d",
        ],
    );
    let e = error_with(
        "[target-groups.tg]\nport = 8000",
        "[target-groups.tg]\nport = 8000\nstickiness = { enabled = true, duration = \"500ms\" }",
    );
    assert_has(&e, &["duration = \"500ms\""]);
}
