//! The dashboard in a real browser (headless Chromium over WebDriver, `scripts/browser.sh`) on a
//! load-balancer-only lab (examples/alb-only.toml, two fake backends): no Docker, so it runs
//! in seconds. The page signs in with the token and drops it from the address bar, shows
//! both targets healthy, then, without a reload, one target unhealthy with ELB's reason when
//! its backend fails health checks, the request rate of traffic sent through the load
//! balancer, and a refused action (an AZ outage needs containers) in the event stream. A
//! screenshot is checked not to be blank.
//!
//! `cargo test --locked --test dashboard_alb_only -- --nocapture`

mod browser;
mod lab_support;
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use browser::{Browser, png};
use support::backend;
use tierlab::lab::{Lab, StartOptions};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const EXAMPLE: &str = include_str!("../examples/alb-only.toml");
const WITHIN: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_follows_a_load_balancer_only_lab() {
    let a = backend().name("a").run().await;
    let b = backend().name("b").run().await;
    let text = EXAMPLE
        .replace("port = 8080\n", "port = 0\n")
        .replace("port = 8443\n", "port = 0\n")
        .replace("metrics-port = 9100", "metrics-port = 0")
        .replace(
            "path = \"/\"",
            &format!("path = \"{}\"", support::HEALTH_PATH),
        )
        .replace(
            "targets = [\"127.0.0.1:9001\", \"127.0.0.1:9002\"]",
            &format!("targets = [\"{}\", \"{}\"]", a.addr, b.addr),
        );
    let state = tempfile::tempdir().unwrap();
    let base = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = tierlab::config::parse(&text, &base.join("alb-only.toml"), base).unwrap();
    let options = StartOptions {
        state_dir: Some(state.path().to_path_buf()),
        ..StartOptions::default()
    };
    let lab = Lab::start(config, options, CancellationToken::new())
        .await
        .unwrap();
    let (tracker, cancel) = (TaskTracker::new(), CancellationToken::new());
    let control = tierlab::control::serve(
        lab.view(),
        &state.path().join("control.json"),
        CancellationToken::new(),
        &tracker,
        cancel.clone(),
    )
    .await
    .unwrap();

    // Nothing without the token.
    let http = browser::http_client(Duration::from_secs(10));
    let page = format!("http://{}/dashboard/", control.address);
    let answer = http.get(&page).send().await.unwrap();
    assert_eq!(answer.status(), 401);
    let status: serde_json::Value = serde_json::from_slice(
        &tierlab::control::request(control.control_file(), http::Method::GET, "/status")
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(status["dashboard"]["url"], page.as_str(), ".dashboard.url");

    let browser = Browser::start(1400, 1500).await;
    let token = &control.control_file().token;
    browser
        .goto(&tierlab::dashboard::sign_in_url(control.address, token))
        .await;
    let url = browser.current_url().await;
    assert!(url == page, "the token left the address bar: {url}");
    browser
        .wait_for(
            "both targets healthy",
            WITHIN,
            "return document.querySelectorAll('tr[data-target-id][data-state=healthy]').length === 2",
        )
        .await;
    browser.eval("window.notReloaded = true; return true").await;

    // Backend a fails its health checks: the page shows it, with ELB's reason code.
    let failed = Instant::now();
    a.set_health_status(500);
    let unhealthy = format!(
        "const r = document.querySelector(\"tr[data-address='{}']\"); \
         return !!r && r.dataset.state === 'unhealthy' && r.innerText.includes('Target.ResponseCodeMismatch')",
        a.addr
    );
    browser
        .wait_for("target a unhealthy", WITHIN, &unhealthy)
        .await;
    println!(
        "dashboard: backend failing → target unhealthy on the page after {:.2}s",
        failed.elapsed().as_secs_f64()
    );

    // Traffic through the load balancer shows as a 2XX rate.
    let lb = lab.http_url().unwrap();
    for _ in 0..40 {
        let answer = http.get(format!("{lb}/hello")).send().await.unwrap();
        assert_eq!(answer.status(), 200);
    }
    browser
        .wait_for(
            "a 2XX request rate",
            WITHIN,
            "return window.tierlab.frame.charts.some(p => p.rate[0] > 0)",
        )
        .await;

    // An action the lab refuses lands in the event stream with the reason.
    let button = browser.find("button[data-action=az-outage]").await;
    browser.click(&button).await;
    browser
        .wait_for(
            "the refused action in the event stream",
            WITHIN,
            "const t = document.getElementById('events').innerText; \
             return t.includes('chaos az-outage zone=us-east-1a failed') && t.includes('runs no containers')",
        )
        .await;
    assert_eq!(
        browser.eval("return window.notReloaded === true").await,
        serde_json::Value::Bool(true),
        "the page was not reloaded"
    );

    let shot = browser.screenshot().await;
    let (width, height, pixels) = png::decode(&shot);
    let (variance, colours) = png::variance(&pixels);
    println!("screenshot: {width}x{height}, luminance variance {variance:.0}, {colours} colours");
    assert!(
        variance > 100.0 && colours > 50,
        "the screenshot looks blank"
    );

    drop(browser);
    cancel.cancel();
    drop(control);
    lab.shutdown().await.unwrap();
}
