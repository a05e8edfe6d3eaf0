//! The dashboard in Firefox (headless `firefox-esr` over Marionette, `scripts/browser.sh`) on a
//! load-balancer-only lab (examples/alb-only.toml, two fake backends): no Docker, so it runs in
//! seconds. The page signs in with the token and drops it from the address bar, goes live on
//! the event stream, shows both targets healthy; a click on "Latency 200 ms" shows the fault
//! in the faults panel without a reload (and requests through the load balancer slow down),
//! "Clear all faults" takes it away again; the charts draw their lines. A screenshot is checked not to be blank, and the
//! page's scripts not to have thrown (Firefox's console).
//! tests/dashboard_alb_only.rs does the same lab in Chromium.
//!
//! `cargo test --locked --test dashboard_firefox -- --nocapture`

mod browser;
mod lab_support;
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use browser::firefox::Firefox;
use browser::png;
use support::backend;
use tierlab::lab::{Lab, StartOptions};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const EXAMPLE: &str = include_str!("../examples/alb-only.toml");
const WITHIN: Duration = Duration::from_secs(30);
/// The delay of the faults panel's "Latency 200 ms" button.
const LATENCY: Duration = Duration::from_millis(200);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_works_in_firefox() {
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
    let page = format!("http://{}/dashboard/", control.address);

    let started = Instant::now();
    let firefox = Firefox::start(1400, 1500).await;
    println!(
        "firefox: started, Marionette session open after {:.2}s",
        started.elapsed().as_secs_f64()
    );

    // Signed in with the token, which then leaves the address bar; live on the event stream.
    let token = &control.control_file().token;
    let opened = Instant::now();
    firefox
        .goto(&tierlab::dashboard::sign_in_url(control.address, token))
        .await;
    let url = firefox.current_url().await;
    assert!(url == page, "the token left the address bar: {url}");
    firefox
        .wait_for(
            "the live badge",
            WITHIN,
            "const b = document.querySelector('[data-testid=live]'); \
             return b.textContent === 'live' && !b.classList.contains('off')",
        )
        .await;
    println!(
        "dashboard: live in Firefox {:.2}s after opening the sign-in URL",
        opened.elapsed().as_secs_f64()
    );
    firefox
        .wait_for(
            "both targets healthy",
            WITHIN,
            "return document.querySelectorAll('tr[data-target-id][data-state=healthy]').length === 2",
        )
        .await;
    firefox.eval("window.notReloaded = true; return true").await;

    // A click on "Latency 200 ms": the fault shows in the panel, and the load balancer slows.
    let button = firefox
        .find("button[data-action=chaos][data-chaos*='\"kind\":\"latency\"']")
        .await;
    let clicked = Instant::now();
    firefox.click(&button).await;
    firefox
        .wait_for(
            "the latency fault in the faults panel",
            WITHIN,
            "const t = document.querySelector('[data-testid=faults]').innerText; \
             return t.includes('latency: load balancer → tasks: +200ms')",
        )
        .await;
    println!(
        "dashboard: click on Latency 200 ms → the fault shown in Firefox after {:.2}s",
        clicked.elapsed().as_secs_f64()
    );
    let said = firefox
        .eval("return document.getElementById('action-result').textContent")
        .await;
    assert!(
        said.as_str().unwrap_or("").contains("now waits 200ms more"),
        "the action's answer: {said}"
    );
    let http = browser::http_client(Duration::from_secs(10));
    let lb = lab.http_url().unwrap();
    let sent = Instant::now();
    let answer = http.get(format!("{lb}/hello")).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(
        sent.elapsed() >= LATENCY,
        "a request through the load balancer took {:?}, under the fault's {LATENCY:?}",
        sent.elapsed()
    );

    // "Clear all faults" takes it away, still without a reload.
    let button = firefox
        .find("button[data-action=chaos][data-chaos*='\"kind\":\"clear\"']")
        .await;
    let clicked = Instant::now();
    firefox.click(&button).await;
    firefox
        .wait_for(
            "no fault active",
            WITHIN,
            "return document.querySelector('[data-testid=faults]').innerText.trim() === 'no fault is active'",
        )
        .await;
    println!(
        "dashboard: click on Clear all faults → shown in Firefox after {:.2}s",
        clicked.elapsed().as_secs_f64()
    );
    assert_eq!(
        firefox.eval("return window.notReloaded === true").await,
        serde_json::Value::Bool(true),
        "the page was not reloaded"
    );

    // The charts draw lines (SVG paths, stretched to the panel) once they have two points.
    let drawn = firefox
        .wait_for(
            "lines in the charts",
            WITHIN,
            "return [...document.querySelectorAll('#charts svg path')] \
               .filter(p => { try { return p.getBBox().width > 0; } catch (e) { return false; } }) \
               .length >= 3",
        )
        .await;
    println!(
        "dashboard: chart lines drawn after {:.2}s more",
        drawn.as_secs_f64()
    );

    png::assert_not_blank(&firefox.screenshot().await);
    let errors = firefox.page_errors();
    assert!(
        errors.is_empty(),
        "the page threw in Firefox:\n{}",
        errors.join("\n")
    );

    let closing = Instant::now();
    drop(firefox);
    println!(
        "firefox: ended after {:.2}s",
        closing.elapsed().as_secs_f64()
    );
    cancel.cancel();
    drop(control);
    lab.shutdown().await.unwrap();
}
