//! Listener rules and target selection end to end: real sockets on 127.0.0.1, fake backends as
//! targets, real HTTP clients. Every request loop is bounded.

mod support;

use std::time::{Duration, Instant};

use http::StatusCode;
use tierlab::alb::{TargetGroupHandle, TargetState};
use tierlab::config::{
    Action, Algorithm, Condition, FixedResponse, IpNet, Listener, ListenerRule, QueryPattern,
    Redirect, RedirectStatus, WeightedForward, WeightedTargetGroup,
};

use support::alb::{Alb, group_of};
use support::config::{
    any_port, forward, http_listener, https_listener, load_balancer, target_group,
};
use support::{backend, client, wait_until};

const IDLE: Duration = Duration::from_secs(30);

impl Alb {
    async fn start(listeners: Vec<Listener>, groups: &[&TargetGroupHandle]) -> Alb {
        Alb::start_config(&load_balancer(listeners, IDLE), groups).await
    }
}

async fn healthy(group: &TargetGroupHandle, n: usize) {
    wait_until(group, &format!("{n} healthy"), |g| g.healthy_count() == n).await;
}

fn fixed(status: u16, body: &str) -> Action {
    Action::FixedResponse(FixedResponse {
        status,
        content_type: Some("text/plain".into()),
        body: body.into(),
    })
}

fn rule(priority: u32, conditions: Vec<Condition>, action: Action) -> ListenerRule {
    ListenerRule {
        priority,
        conditions,
        action,
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Body of a GET (any status), with extra headers.
async fn get(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut req = client.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn rules_route_by_path_host_header_method_query_and_source_ip() {
    let a = backend().name("a").run().await;
    let b = backend().name("b").run().await;
    let c = backend().name("c").run().await;
    let (ga, gb, gc) = (
        group_of(target_group("tg-a"), &[&a]),
        group_of(target_group("tg-b"), &[&b]),
        group_of(target_group("tg-c"), &[&c]),
    );
    let rules = vec![
        // Out of order on purpose: validation sorts; here they are given sorted as it would.
        rule(
            1,
            vec![Condition::PathPattern(strings(&["/api/*"]))],
            forward("tg-a"),
        ),
        rule(
            2,
            vec![Condition::HostHeader(strings(&["*.B.test"]))],
            forward("tg-b"),
        ),
        rule(
            3,
            vec![Condition::HttpHeader {
                name: "X-Env".into(),
                values: strings(&["beta-?"]),
            }],
            forward("tg-c"),
        ),
        rule(
            4,
            vec![Condition::HttpRequestMethod(strings(&["DELETE"]))],
            fixed(405, "no deletes"),
        ),
        rule(
            5,
            vec![Condition::QueryString(vec![QueryPattern {
                key: Some("v".into()),
                value: "2*".into(),
            }])],
            forward("tg-b"),
        ),
        rule(
            6,
            vec![Condition::SourceIp(vec![IpNet {
                addr: "10.0.0.0".parse().unwrap(),
                prefix: 8,
            }])],
            fixed(403, "ten"),
        ),
        rule(
            7,
            vec![
                Condition::SourceIp(vec![IpNet {
                    addr: "127.0.0.0".parse().unwrap(),
                    prefix: 8,
                }]),
                Condition::PathPattern(strings(&["/local"])),
            ],
            fixed(200, "loopback"),
        ),
    ];
    let mut listener = http_listener(any_port(), fixed(404, "no rule matched"));
    listener.rules = rules;
    let alb = Alb::start(vec![listener], &[&ga, &gb, &gc]).await;
    for g in [&ga, &gb, &gc] {
        healthy(g, 1).await;
    }
    let client = client(&alb.ca);
    let port = alb.lb.endpoints()[0].addr.port();
    let b_host = format!("www.b.TEST:{port}");

    assert_eq!(
        get(&client, &alb.url("/api/items"), &[]).await,
        (200, "a".into())
    );
    assert_eq!(
        get(&client, &alb.url("/API/items"), &[]).await.0,
        404,
        "path is case-sensitive"
    );
    assert_eq!(
        get(&client, &alb.url("/x"), &[("host", &b_host)]).await,
        (200, "b".into())
    );
    assert_eq!(
        get(&client, &alb.url("/x"), &[("x-env", "BETA-1")]).await,
        (200, "c".into())
    );
    assert_eq!(
        get(&client, &alb.url("/x"), &[("x-env", "beta-10")])
            .await
            .0,
        404
    );
    let del = client.delete(alb.url("/x")).send().await.unwrap();
    assert_eq!(del.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(del.headers()["content-type"], "text/plain");
    assert_eq!(del.text().await.unwrap(), "no deletes");
    assert_eq!(
        get(&client, &alb.url("/x?a=1&v=2.5"), &[]).await,
        (200, "b".into())
    );
    assert_eq!(get(&client, &alb.url("/x?v=1"), &[]).await.0, 404);
    // Source IP is the connection's (127.0.0.1), never X-Forwarded-For.
    let spoof = [("x-forwarded-for", "10.1.2.3")];
    assert_eq!(
        get(&client, &alb.url("/local"), &spoof).await,
        (200, "loopback".into())
    );
    assert_eq!(
        get(&client, &alb.url("/nothing"), &[]).await,
        (404, "no rule matched".into())
    );
    alb.stop().await;
}

#[tokio::test]
async fn redirect_rule_fills_its_template() {
    let mut listener = http_listener(any_port(), fixed(404, ""));
    listener.rules = vec![rule(
        1,
        vec![Condition::PathPattern(strings(&["/old/*"]))],
        Action::Redirect(Redirect {
            protocol: None,
            host: Some("www.#{host}".into()),
            port: Some(443),
            path: Some("/new/#{path}".into()),
            query: Some("#{query}&from=#{protocol}#{port}".into()),
            status: RedirectStatus::Found302,
        }),
    )];
    let alb = Alb::start(vec![listener], &[]).await;
    let port = alb.lb.endpoints()[0].addr.port();
    let resp = client(&alb.ca)
        .get(alb.url("/old/page?id=7"))
        .header("host", format!("shop.test:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(
        resp.headers()["location"],
        format!("http://www.shop.test:443/new/old/page?id=7&from=http{port}").as_str()
    );
    alb.stop().await;
}

#[tokio::test]
async fn weighted_forward_splits_by_weight_and_group_stickiness_holds() {
    let a = backend().name("a").run().await;
    let b = backend().name("b").run().await;
    let (ga, gb) = (
        group_of(target_group("tg-a"), &[&a]),
        group_of(target_group("tg-b"), &[&b]),
    );
    let weighted = |stickiness| {
        Action::WeightedForward(WeightedForward {
            target_groups: vec![
                WeightedTargetGroup {
                    name: "tg-a".into(),
                    weight: 3,
                },
                WeightedTargetGroup {
                    name: "tg-b".into(),
                    weight: 1,
                },
            ],
            stickiness,
        })
    };
    let mut sticky = http_listener(any_port(), weighted(Some(Duration::from_secs(60))));
    sticky.rules = vec![rule(
        1,
        vec![Condition::PathPattern(strings(&["/plain"]))],
        weighted(None),
    )];
    let alb = Alb::start(vec![sticky], &[&ga, &gb]).await;
    healthy(&ga, 1).await;
    healthy(&gb, 1).await;
    let client = client(&alb.ca);

    let n = 1000;
    for _ in 0..n {
        let (status, _) = get(&client, &alb.url("/plain"), &[]).await;
        assert_eq!(status, 200);
    }
    let share = a.hits() as f64 / n as f64;
    assert!((share - 0.75).abs() < 0.06, "a got {} of {n}", a.hits());

    // The default action is sticky: its AWSALBTG cookie keeps every later request on one group.
    let first = client.get(alb.url("/s")).send().await.unwrap();
    let cookie = first.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("AWSALBTG="), "{cookie}");
    let value = cookie.split(';').next().unwrap().to_string();
    let chosen = first.text().await.unwrap();
    for _ in 0..30 {
        let (_, body) = get(&client, &alb.url("/s"), &[("cookie", &value)]).await;
        assert_eq!(body, chosen);
    }
    alb.stop().await;
}

#[tokio::test]
async fn stickiness_keeps_a_client_and_moves_it_when_its_target_goes() {
    let a = backend().name("a").run().await;
    let b = backend().name("b").run().await;
    let mut cfg = target_group("tg");
    cfg.stickiness = Some(Duration::from_secs(86400));
    let group = group_of(cfg, &[&a, &b]);
    let alb = Alb::start(vec![https_listener(any_port(), forward("tg"))], &[&group]).await;
    healthy(&group, 2).await;
    let client = client(&alb.ca);

    let first = client.get(alb.url("/")).send().await.unwrap();
    let cookies: Vec<String> = first
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(cookies[0].starts_with("AWSALB=") && cookies[0].contains("; Expires="));
    assert!(cookies[1].starts_with("AWSALBCORS=") && cookies[1].ends_with("SameSite=None; Secure"));
    let sticky = cookies[0].split(';').next().unwrap().to_string();
    let owner = first.text().await.unwrap();
    for _ in 0..20 {
        let (_, body) = get(&client, &alb.url("/"), &[("cookie", &sticky)]).await;
        assert_eq!(body, owner, "sticky client stays on its target");
    }

    let (gone, other) = if owner == "a" { (a, b) } else { (b, a) };
    let gone_id = gone.name().to_string();
    gone.shutdown().await;
    wait_until(&group, "the sticky target unhealthy", |g| {
        g.state_of(&gone_id) == Some(TargetState::Unhealthy)
    })
    .await;
    let moved = client
        .get(alb.url("/"))
        .header("cookie", &sticky)
        .send()
        .await
        .unwrap();
    let new_cookie = moved.headers()["set-cookie"].to_str().unwrap().to_string();
    assert_eq!(moved.text().await.unwrap(), other.name());
    let new_sticky = new_cookie.split(';').next().unwrap().to_string();
    assert_ne!(new_sticky, sticky, "a new cookie names the new target");
    for _ in 0..5 {
        let (_, body) = get(&client, &alb.url("/"), &[("cookie", &new_sticky)]).await;
        assert_eq!(body, other.name());
    }
    alb.stop().await;
}

#[tokio::test]
async fn least_outstanding_requests_avoids_the_busy_backend() {
    let slow = backend()
        .name("slow")
        .slow_path("/work", Duration::from_secs(3))
        .run()
        .await;
    let fast = backend().name("fast").run().await;
    let mut cfg = target_group("tg");
    cfg.algorithm = Algorithm::LeastOutstandingRequests;
    let group = group_of(cfg, &[&slow, &fast]);
    let alb = Alb::start(vec![http_listener(any_port(), forward("tg"))], &[&group]).await;
    healthy(&group, 2).await;
    let client = client(&alb.ca);

    // Start requests in the background until one is held by the slow backend (bounded).
    let mut background = Vec::new();
    for _ in 0..10 {
        if slow.hits() > 0 {
            break;
        }
        let (c, url) = (client.clone(), alb.url("/work"));
        background.push(tokio::spawn(async move {
            c.get(url).send().await.unwrap().status()
        }));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(slow.hits(), 1, "one request in flight on the slow backend");

    let started = Instant::now();
    for _ in 0..20 {
        assert_eq!(
            get(&client, &alb.url("/work"), &[]).await,
            (200, "fast".into())
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no request waited on the slow one"
    );
    assert_eq!(slow.hits(), 1);

    // Once the slow request has streamed back, the slow backend is idle again and gets traffic.
    for task in background {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    for _ in 0..4 {
        let _ = get(&client, &alb.url("/"), &[]).await;
    }
    assert!(slow.hits() > 1, "slow backend used again once idle");
    alb.stop().await;
}

#[tokio::test]
async fn slow_start_ramps_a_newly_healthy_target() {
    let a = backend().name("a").run().await;
    let b = backend().name("b").run().await;
    let ramp = Duration::from_secs(3);
    let mut cfg = target_group("tg");
    cfg.slow_start = ramp;
    let group = group_of(cfg, &[&a]);
    let alb = Alb::start(vec![http_listener(any_port(), forward("tg"))], &[&group]).await;
    healthy(&group, 1).await;
    let client = client(&alb.ca);

    group.register("b", b.addr);
    healthy(&group, 2).await;
    let healthy_at = Instant::now();
    let mut early = 0;
    for _ in 0..100 {
        if healthy_at.elapsed() > Duration::from_millis(600) {
            break;
        }
        early += 1;
        let _ = get(&client, &alb.url("/"), &[]).await;
    }
    // Weight under 0.2 for the first 600 ms: well under the 50% round robin would give.
    let share = b.hits() as f64 / early as f64;
    assert!(early >= 10, "only {early} requests in 600 ms");
    assert!(share < 0.3, "b got {} of {early} while ramping", b.hits());

    tokio::time::sleep(ramp.saturating_sub(healthy_at.elapsed())).await;
    let before = b.hits();
    for _ in 0..100 {
        let _ = get(&client, &alb.url("/"), &[]).await;
    }
    assert_eq!(b.hits() - before, 50, "full share after the ramp");
    alb.stop().await;
}
