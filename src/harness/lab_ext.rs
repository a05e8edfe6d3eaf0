//! The harness's methods on [`Lab`].

use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::lab::Lab;

use super::tunnel::Tunnel;
use super::{HarnessError, LabBuilder, LabChaos, clients, steady};

/// How often `wait_until_steady` reads the status.
const STEADY_POLL: Duration = Duration::from_millis(200);

impl Lab {
    /// A builder for an isolated lab: `Lab::builder().config(...).start().await` (see
    /// [`crate::harness`]).
    pub fn builder() -> LabBuilder {
        LabBuilder::default()
    }

    /// An HTTPS client that trusts this lab's CA (and no other), with a 30 s request timeout;
    /// redirects are followed (the HTTP listener's 301 lands on the HTTPS one).
    pub fn http_client(&self) -> Result<reqwest::Client, HarnessError> {
        self.http_client_builder()?
            .build()
            .map_err(HarnessError::Http)
    }

    /// [`Lab::http_client`]'s builder, to change more (redirects, cookies, timeouts).
    pub fn http_client_builder(&self) -> Result<reqwest::ClientBuilder, HarnessError> {
        clients::http_client_builder(self.ca_cert_pem())
    }

    /// A MySQL pool to the lab's only DB instance, as its master user, through the bastion
    /// tunnel on 127.0.0.1 (opened on first use; it ends with the lab).
    pub async fn mysql(&self) -> Result<mysql_async::Pool, Error> {
        self.mysql_of(None).await
    }

    /// [`Lab::mysql`] for the DB instance `id` (or the only one).
    pub async fn mysql_of(&self, id: Option<&str>) -> Result<mysql_async::Pool, Error> {
        let status = self.status();
        let db = status.database(id)?.clone();
        let tunnel = self.tunnel_to(&db.identifier).await?;
        let password_file = self.state_dir().secret_path(
            &self.config().lab.name,
            &format!("{}-master-password", db.identifier),
        );
        let password =
            std::fs::read_to_string(&password_file).map_err(|source| HarnessError::Password {
                database: db.identifier.clone(),
                source,
            })?;
        let opts = clients::mysql_opts(
            tunnel.port(),
            &db.master_username,
            password.trim(),
            &db.db_name,
        );
        let pool = mysql_async::Pool::new(opts);
        // Fail here, naming the instance, rather than at the test's first query.
        let check = async {
            use mysql_async::prelude::Queryable;
            let mut conn = pool.get_conn().await?;
            conn.ping().await
        };
        check.await.map_err(|source| HarnessError::Mysql {
            database: db.identifier.clone(),
            port: tunnel.port(),
            source,
        })?;
        Ok(pool)
    }

    /// The lab's tunnel to `database`, opened once.
    async fn tunnel_to(&self, database: &str) -> Result<Arc<Tunnel>, HarnessError> {
        let mut tunnels = self.harness.tunnels.lock().await;
        if let Some(tunnel) = tunnels.get(database) {
            return Ok(tunnel.clone());
        }
        let tunnel =
            Arc::new(Tunnel::open(&self.status(), self.state_dir(), Some(database)).await?);
        tunnels.insert(database.to_string(), tunnel.clone());
        Ok(tunnel)
    }

    /// Faults on this lab: kill or stop a task, fail a database over, take a zone down, delay
    /// a replica, or any [`crate::lab::Chaos`].
    pub fn chaos(&self) -> LabChaos {
        LabChaos { view: self.view() }
    }

    /// Waits until every service is at its desired count with no deployment in progress,
    /// every registered target is healthy and every DB instance is available (a Multi-AZ one
    /// with its standby in sync). After `timeout`, the error names what is still not ready.
    pub async fn wait_until_steady(&self, timeout: Duration) -> Result<(), HarnessError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let waiting = steady::not_ready(&self.status());
            if waiting.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(HarnessError::NotSteady {
                    lab: self.config().lab.name.clone(),
                    waited: timeout,
                    waiting,
                });
            }
            tokio::time::sleep(STEADY_POLL).await;
        }
    }
}
