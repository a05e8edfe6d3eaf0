//! Shared helpers of the integration tests: fake backends, config builders, clients, waits.
#![allow(dead_code, unused_imports)] // each test crate uses a different subset

pub mod alb;
pub mod aws;
pub mod backend;
pub mod config;
pub mod websocket;

pub use backend::{BackendHandle, HEALTH_PATH, backend};

use std::time::Duration;

use tierlab::alb::{LocalCa, TargetGroupHandle};

/// Logs to the test's captured output (`RUST_LOG` to filter, default info for tierlab).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("tierlab=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// A reqwest client that trusts only `ca`, follows no redirects and ignores proxy variables.
pub fn client(ca: &LocalCa) -> reqwest::Client {
    client_builder(ca).build().unwrap()
}

/// [`client`]'s builder, for tests that need to tweak it (e.g. `http1_only`).
pub fn client_builder(ca: &LocalCa) -> reqwest::ClientBuilder {
    // reqwest is built without a crypto provider; the test process installs ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let root = reqwest::Certificate::from_pem(ca.cert_pem().as_bytes()).unwrap();
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(root)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(20))
}

/// Waits (up to 10 s, without polling) until `cond` holds for the target group.
pub async fn wait_until(
    group: &TargetGroupHandle,
    what: &str,
    cond: impl Fn(&TargetGroupHandle) -> bool,
) {
    let mut changes = group.changes();
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while !cond(group) {
            changes.changed().await.expect("target group dropped");
        }
    })
    .await;
    if waited.is_err() {
        panic!(
            "timed out waiting for {what}; targets: {:#?}",
            group.describe()
        );
    }
}

pub mod access_log;
