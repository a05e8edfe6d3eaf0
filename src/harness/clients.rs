//! Clients a test talks to the lab with: an HTTPS client that trusts the lab's CA (and nothing
//! else), and a MySQL pool through the bastion tunnel.

use std::sync::Arc;
use std::time::Duration;

use super::HarnessError;

/// A request's bound when the test sets none (a hung target must fail the test, not stall it).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// A `reqwest` client builder whose TLS trusts exactly `ca_pem` (the lab's local CA), with
/// rustls and ring set up here: a test needs no process-wide crypto provider.
pub fn http_client_builder(ca_pem: &str) -> Result<reqwest::ClientBuilder, HarnessError> {
    let mut roots = rustls::RootCertStore::empty();
    let mut reader = std::io::BufReader::new(ca_pem.as_bytes());
    for cert in rustls_pemfile::certs(&mut reader) {
        let cert = cert.map_err(|e| HarnessError::Ca(e.to_string()))?;
        roots
            .add(cert)
            .map_err(|e| HarnessError::Ca(e.to_string()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HarnessError::Ca(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(HTTP_TIMEOUT))
}

/// Connection settings of a pool to `database` as `user` through 127.0.0.1:`port`.
pub fn mysql_opts(port: u16, user: &str, password: &str, database: &str) -> mysql_async::Opts {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some(user))
        .pass(Some(password))
        .db_name(Some(database))
        // A tunnel's remote end can stall during a failover: fail fast and let the caller retry.
        .conn_ttl(Some(Duration::from_secs(30)))
        .into()
}
