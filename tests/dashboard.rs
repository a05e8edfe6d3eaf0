//! The dashboard in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, `scripts/browser.sh`) driven over WebDriver against a real lab on Docker.
//!
//! `stop_task_from_the_dashboard`: without the lab's token the dashboard answers 401 and no
//! data; the sign-in URL sets the cookie and drops the token from the address bar; the page
//! shows both targets healthy; "Stop task" is clicked; without a reload, the page shows the
//! target draining and leaving, and a new one healthy; the action is in the event stream. A
//! screenshot is checked not to be blank (and kept: `TIERLAB_DASHBOARD_SCREENSHOT=docs/dashboard.png`
//! writes it there). The times from the click to each effect are printed.
//!
//! `failover_from_the_dashboard_swaps_the_roles`: on a Multi-AZ lab, "Force failover" swaps
//! the primary and standby rows without a reload; then a fault from the faults panel (latency
//! on the task → database path) is listed, and "Clear all faults" ends it.
//!
//! `flock /tmp/tierlab-docker.lock cargo test --locked --test dashboard -- --nocapture`

mod browser;
mod lab_support;

use std::time::{Duration, Instant};

use browser::{Browser, png};
use lab_support::{DOCKER_LOCK, TestLab, docker, shut_down_clean};
use tierlab::Lab;
use tokio_util::sync::CancellationToken;

/// Bound on each wait in the browser.
const WITHIN: Duration = Duration::from_secs(90);

/// Serves the lab's control endpoint (and so its dashboard), as `tierlab up` does.
async fn control_endpoint(lab: &Lab, test: &TestLab) -> tierlab::control::ControlServer {
    let (tracker, cancel) = lab.tasks().group("control endpoint");
    let file = test.state_path().join("control.json");
    tierlab::control::serve(
        lab.view(),
        &file,
        CancellationToken::new(),
        &tracker,
        cancel,
    )
    .await
    .unwrap()
}

/// What the dashboard refuses without its cookie: 401 and not a byte of the lab's state.
async fn refused_without_credential(control: &tierlab::control::ControlServer) {
    let http = browser::http_client(Duration::from_secs(10));
    let base = format!("http://{}", control.address);
    for path in ["/dashboard/", "/dashboard/api/events", "/dashboard/app.js"] {
        let answer = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(answer.status(), 401, "{path} without a credential");
        let body = answer.text().await.unwrap();
        assert!(
            body.contains("tierlab dashboard") && !body.contains("flask"),
            "{body}"
        );
    }
    let answer = http
        .get(format!("{base}/dashboard/?token=guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401, "a wrong token");
    let answer = http
        .post(format!("{base}/dashboard/api/action"))
        .header(
            "cookie",
            format!("tierlab-dashboard-{}=00", control.address.port()),
        )
        .body(r#"{"kind":"scale","service":"flask-app-service","desired_count":0}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401, "an action with a wrong cookie");
}

/// JavaScript: the number of targets the page shows in `state`.
fn targets_in(state: &str) -> String {
    format!("return document.querySelectorAll('tr[data-target-id][data-state={state}]').length")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_task_from_the_dashboard() {
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("dash");
    let docker = docker().await;
    let lab = test.start().await;
    let control = control_endpoint(&lab, &test).await;
    refused_without_credential(&control).await;

    let browser = Browser::start(1400, 1500).await;
    let token = &control.control_file().token;
    browser
        .goto(&tierlab::dashboard::sign_in_url(control.address, token))
        .await;
    let url = browser.current_url().await;
    assert!(
        url.ends_with("/dashboard/") && !url.contains(token.as_str()),
        "the token left the address bar: {url}"
    );
    let shown = browser
        .wait_for(
            "both targets healthy",
            WITHIN,
            &format!("{} === 2", targets_in("healthy")),
        )
        .await;
    println!(
        "dashboard: both targets healthy {:.1}s after the page opened",
        shown.as_secs_f64()
    );
    browser.eval("window.notReloaded = true; return true").await;

    // The task behind the first target, and that target's address.
    let task = browser
        .eval("return document.querySelector('tr[data-task-id]').dataset.taskId")
        .await;
    let task = task.as_str().unwrap().to_string();
    let address = lab
        .service("flask-app-service")
        .unwrap()
        .status()
        .tasks
        .iter()
        .find(|t| t.task_id == task)
        .and_then(|t| t.target_address.clone())
        .expect("the task has a target address");
    let button = browser
        .find(&format!(
            "tr[data-task-id='{task}'] button[data-action=stop-task]"
        ))
        .await;
    let clicked = Instant::now();
    browser.click(&button).await;

    let leaving = format!(
        "const row = document.querySelector(\"tr[data-address='{address}']\"); \
         return !row || row.dataset.state !== 'healthy'"
    );
    browser
        .wait_for("the stopped task's target leave", WITHIN, &leaving)
        .await;
    let effect = clicked.elapsed();
    let gone = format!("return !document.querySelector(\"tr[data-address='{address}']\")");
    browser
        .wait_for("the target deregistered", WITHIN, &gone)
        .await;
    let deregistered = clicked.elapsed();
    let replaced = format!(
        "return document.querySelectorAll('tr[data-target-id][data-state=healthy]').length === 2 \
         && !document.querySelector(\"tr[data-address='{address}']\")"
    );
    browser
        .wait_for("a new target healthy", WITHIN, &replaced)
        .await;
    let healthy = clicked.elapsed();
    assert_eq!(
        browser.eval("return window.notReloaded === true").await,
        serde_json::Value::Bool(true),
        "the page was not reloaded"
    );
    browser
        .wait_for(
            "the action in the event stream",
            WITHIN,
            &format!("return document.getElementById('events').innerText.includes('StopTask task {task}')"),
        )
        .await;
    println!(
        "dashboard: click → target not healthy {:.2}s, deregistered {:.2}s, replacement healthy {:.2}s",
        effect.as_secs_f64(),
        deregistered.as_secs_f64(),
        healthy.as_secs_f64()
    );

    // Let the charts draw a few points, then keep a screenshot.
    browser
        .wait_for("ten frames", WITHIN, "return window.tierlab.frames >= 10")
        .await;
    let shot = browser.screenshot().await;
    let (width, height, pixels) = png::decode(&shot);
    let (variance, colours) = png::variance(&pixels);
    println!("screenshot: {width}x{height}, luminance variance {variance:.0}, {colours} colours");
    assert!(width >= 1000 && height >= 1000, "{width}x{height}");
    assert!(
        variance > 100.0 && colours > 50,
        "the screenshot looks blank"
    );
    let path = std::env::var("TIERLAB_DASHBOARD_SCREENSHOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join("tierlab-dashboard.png"));
    std::fs::write(&path, &shot).unwrap();
    println!("screenshot saved to {}", path.display());

    drop(browser);
    drop(control);
    shut_down_clean(lab, &docker, &test).await;
}

/// JavaScript: the subnet of the DB row with `role`, or null.
/// Waits (at most 20 s) until the database path is as `settled` says.
async fn path_settles(what: &str, settled: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !settled() {
        assert!(Instant::now() < deadline, "{what}: not within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn db_subnet(role: &str) -> String {
    format!(
        "const r = document.querySelector(\"#databases tr[data-db='flask-crud-db'][data-role='{role}']\"); \
         return r ? r.dataset.subnet : null"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_from_the_dashboard_swaps_the_roles() {
    let _serial = DOCKER_LOCK.lock().await;
    let mut test = TestLab::new("dash-fo");
    test.config_text = test
        .config_text
        .replacen("multi-az = false", "multi-az = true", 1);
    let docker = docker().await;
    let lab = test.start().await;
    let control = control_endpoint(&lab, &test).await;
    let browser = Browser::start(1400, 1500).await;
    let token = &control.control_file().token;
    browser
        .goto(&tierlab::dashboard::sign_in_url(control.address, token))
        .await;
    let in_sync = "return [...document.querySelectorAll(\"#databases tr[data-role='standby'] td\")]\
                   .some(td => td.textContent === 'in-sync')";
    browser
        .wait_for("the standby in sync", WITHIN, in_sync)
        .await;
    let primary = browser.eval(&db_subnet("primary")).await;
    let standby = browser.eval(&db_subnet("standby")).await;
    let (primary, standby) = (primary.as_str().unwrap(), standby.as_str().unwrap());
    assert_ne!(primary, standby, "primary and standby in different subnets");
    println!("dashboard: primary in {primary}, standby in {standby}");

    let button = browser
        .find("#databases button[data-action=failover][data-db='flask-crud-db']")
        .await;
    let clicked = Instant::now();
    browser.click(&button).await;
    let rebooting = "const r = document.querySelector(\"#databases tr[data-role='primary'] td:nth-child(4)\"); \
                     return !!r && r.textContent !== 'available'";
    browser
        .wait_for("the instance failing over", WITHIN, rebooting)
        .await;
    let effect = clicked.elapsed();
    let swapped = format!(
        "const r = document.querySelector(\"#databases tr[data-role='primary']\"); \
         return !!r && r.dataset.subnet === '{standby}' && r.querySelector('td:nth-child(4)').textContent === 'available'"
    );
    browser
        .wait_for("the primary in the standby's subnet", WITHIN, &swapped)
        .await;
    let available = clicked.elapsed();
    browser
        .wait_for(
            "the failover in the event stream",
            WITHIN,
            "const t = document.getElementById('events').innerText; \
             return t.includes('RebootDBInstance flask-crud-db --force-failover') && t.includes('RDS-EVENT')",
        )
        .await;
    println!(
        "dashboard: click → instance not available {:.2}s, available as primary in {standby} {:.2}s",
        effect.as_secs_f64(),
        available.as_secs_f64()
    );

    // A fault from the panel: latency on the task → database path until cleared, listed at
    // once, and gone again with "Clear all faults".
    browser
        .eval(
            "document.getElementById('fault-path').value = 'task-db'; \
             document.getElementById('fault-for').value = 'until-cleared'; return true",
        )
        .await;
    let latency = browser
        .find("#controls button[data-chaos*='\"kind\":\"latency\"']")
        .await;
    let clicked = Instant::now();
    browser.click(&latency).await;
    browser
        .wait_for(
            "the latency listed among the active faults",
            WITHIN,
            "const t = document.querySelector('[data-testid=faults]').innerText; \
             return t.includes('latency') && t.includes('tasks → database flask-crud-db') && t.includes('until cleared')",
        )
        .await;
    let listed = clicked.elapsed();
    let detoured = || lab.databases()[0].detour().proxy_name().is_some();
    // A fault is listed when it is recorded; its proxy is named as it starts to be put in.
    path_settles("the path proxy put in", detoured).await;
    let clear = browser
        .find("#controls button[data-chaos*='\"kind\":\"clear\"']")
        .await;
    browser.click(&clear).await;
    browser
        .wait_for(
            "no fault active",
            WITHIN,
            "return document.querySelector('[data-testid=faults]').innerText.includes('no fault is active')",
        )
        .await;
    // The list empties when the fault ends; the path follows once the proxy that was still
    // being put in is in, and has given the endpoint back and drained (a few seconds).
    let ended = Instant::now();
    path_settles("the path proxy gone", || !detoured()).await;
    println!(
        "dashboard: fault cleared → path direct again {:.2}s",
        ended.elapsed().as_secs_f64()
    );
    println!(
        "dashboard: click → task-db latency listed {:.2}s",
        listed.as_secs_f64()
    );
    drop(browser);
    drop(control);
    shut_down_clean(lab, &docker, &test).await;
}
