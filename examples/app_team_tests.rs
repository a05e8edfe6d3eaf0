//! How an app team tests its app on tierlab: start the lab, run the app's API tests through
//! the load balancer, check the data in the database through `lab.mysql()`, fail the database
//! over in the middle of a stream of writes, check the app recovered with nothing
//! acknowledged lost, then run its tests again under a slow database (latency on the task →
//! database path).
//!
//!     cargo test --example app_team_tests -- --nocapture    (CI runs it: `test = true`)
//!     cargo run --example app_team_tests                     (the same, as a program)

use std::error::Error;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use serde_json::{Value, json};
use tierlab::Lab;
use tierlab::harness::LabConfig;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// Bound on every wait for the lab to settle.
const SETTLE: Duration = Duration::from_secs(120);

/// The app's own API tests: create, read, update, list, delete through the load balancer.
async fn app_api_tests(http: &reqwest::Client, url: &str) -> Result<u64> {
    let created: Value = http
        .post(format!("{url}/api/entries"))
        .json(&json!({ "text": "written by the app's tests" }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = created["id"]
        .as_u64()
        .ok_or("POST /api/entries returns an id")?;
    let read: Value = http
        .get(format!("{url}/api/entries/{id}"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(read["text"], "written by the app's tests");
    let updated = http
        .put(format!("{url}/api/entries/{id}"))
        .json(&json!({ "text": "updated by the app's tests" }))
        .send()
        .await?;
    assert!(updated.status().is_success(), "PUT: {}", updated.status());
    let all: Value = http
        .get(format!("{url}/api/entries"))
        .send()
        .await?
        .json()
        .await?;
    assert!(
        all.to_string().contains("updated by the app's tests"),
        "{all}"
    );
    let scratch: Value = http
        .post(format!("{url}/api/entries"))
        .json(&json!({ "text": "to delete" }))
        .send()
        .await?
        .json()
        .await?;
    let deleted = http
        .delete(format!("{url}/api/entries/{}", scratch["id"]))
        .send()
        .await?;
    assert!(
        deleted.status().is_success(),
        "DELETE: {}",
        deleted.status()
    );
    let gone = http
        .get(format!("{url}/api/entries/{}", scratch["id"]))
        .send()
        .await?;
    assert_eq!(gone.status(), 404);
    Ok(id)
}

/// POSTs `count` entries one after another, each with a 5 s bound; returns the texts that
/// were acknowledged (2xx) and how many were not.
async fn write_stream(http: reqwest::Client, url: String, count: usize) -> (Vec<String>, usize) {
    let (mut acknowledged, mut failed) = (Vec::new(), 0);
    for n in 0..count {
        let text = format!("stream-{n}");
        let answer = http
            .post(format!("{url}/api/entries"))
            .timeout(Duration::from_secs(5))
            .json(&json!({ "text": text }))
            .send()
            .await;
        match answer {
            Ok(r) if r.status().is_success() => acknowledged.push(text),
            _ => failed += 1,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (acknowledged, failed)
}

/// The texts of `entries` rows that match `pattern`, read through the bastion tunnel.
async fn texts_in_database(pool: &mysql_async::Pool, pattern: &str) -> Result<Vec<String>> {
    let mut conn = pool.get_conn().await?;
    let texts = conn
        .exec("SELECT text FROM entries WHERE text LIKE ?", (pattern,))
        .await?;
    Ok(texts)
}

async fn run() -> Result<()> {
    // 1. The lab: the reference architecture with a Multi-AZ database, isolated from any
    //    other lab (its own name, VPC range, ports and temporary state).
    let started = Instant::now();
    let lab = Lab::builder()
        .config(LabConfig::default_with(|t| {
            t.replace("multi-az = false", "multi-az = true")
        }))
        .start()
        .await?;
    lab.wait_until_steady(SETTLE).await?;
    println!(
        "lab {} steady in {:.1}s",
        lab.config().lab.name,
        started.elapsed().as_secs_f64()
    );
    let http = lab.http_client()?;
    let url = lab.https_url().ok_or("the lab has an HTTPS listener")?;

    // 2. The app's tests, and its data as the database holds it.
    let id = app_api_tests(&http, &url).await?;
    let pool = lab.mysql().await?;
    let text: Option<String> = pool
        .get_conn()
        .await?
        .exec_first("SELECT text FROM entries WHERE id = ?", (id,))
        .await?;
    assert_eq!(text.as_deref(), Some("updated by the app's tests"));
    pool.disconnect().await?;

    // 3. A failover in the middle of a stream of writes.
    let writer = tokio::spawn(write_stream(http.clone(), url.clone(), 150));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let failing_over = Instant::now();
    lab.chaos().failover("flask-crud-db").await?;
    println!(
        "failover: available in the other zone {:.1}s after it began",
        failing_over.elapsed().as_secs_f64()
    );
    let (acknowledged, failed) = writer.await?;
    println!(
        "{} writes acknowledged, {failed} failed during the failover",
        acknowledged.len()
    );

    // 4. The app recovered: the lab is steady again (standby rebuilt), the app reads and
    //    writes, and every write it acknowledged is in the new primary.
    lab.wait_until_steady(SETTLE).await?;
    let after = app_api_tests(&http, &url).await?;
    assert!(after > id);
    let pool = lab.mysql().await?;
    let stored = texts_in_database(&pool, "stream-%").await?;
    pool.disconnect().await?;
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|t| !stored.contains(t))
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged writes lost in the failover: {lost:?}"
    );
    assert!(!acknowledged.is_empty());

    // 5. A slow database: the app's tests still pass with 50 ms on every answer of the
    //    database, only slower; then the path is direct again.
    let direct = Instant::now();
    app_api_tests(&http, &url).await?;
    let direct = direct.elapsed();
    lab.chaos()
        .database_latency("flask-crud-db", Duration::from_millis(50))
        .await?;
    let slow = Instant::now();
    app_api_tests(&http, &url).await?;
    let slow = slow.elapsed();
    lab.chaos().clear().await?;
    println!(
        "the app's tests: {:.0} ms direct, {:.0} ms with +50 ms on the database's answers",
        direct.as_secs_f64() * 1000.0,
        slow.as_secs_f64() * 1000.0
    );
    assert!(
        slow > direct + Duration::from_millis(200),
        "{slow:?} vs {direct:?}"
    );

    lab.shutdown().await?;
    Ok(())
}

#[cfg_attr(test, allow(dead_code))]
#[tokio::main]
async fn main() -> Result<()> {
    run().await
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_app_passes_its_tests_and_survives_a_database_failover() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("tierlab=info")
            .with_test_writer()
            .try_init();
        if let Err(e) = super::run().await {
            panic!("{}", tierlab::error::chain(&*e));
        }
    }
}
