//! tierlab as a library, the way an integration test uses it: start the default stack, talk to
//! the app through the load balancer over HTTPS (trusting tierlab's CA), kill a task and watch
//! the service replace it, then stop everything.
//!
//!     cargo run --example lab_as_library
//!
//! In a test, the same calls go inside `#[tokio::test]` (see tests/stack.rs).

use std::time::{Duration, Instant};

use tierlab::Lab;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("tierlab=info").init();
    let lab = Lab::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/emulator.toml")).await?;
    let url = lab.https_url().expect("the default stack has an HTTPS listener");

    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(lab.ca_cert_pem().as_bytes())?)
        .build()?;
    let created: serde_json::Value = client
        .post(format!("{url}/api/entries"))
        .json(&serde_json::json!({"text": "hello from a library user"}))
        .send()
        .await?
        .json()
        .await?;
    println!("created {created}");

    let service = lab.service("flask-app-service").expect("service of the default stack");
    let victim = service.status().tasks[0].container_id.clone();
    let killed = Instant::now();
    lab.docker().expect("docker is connected").kill_container(&victim).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    service.wait_steady(Duration::from_secs(30)).await?;
    println!("task replaced and healthy {:.2}s after the kill", killed.elapsed().as_secs_f64());

    lab.shutdown().await?;
    Ok(())
}
