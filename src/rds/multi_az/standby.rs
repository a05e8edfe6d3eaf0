//! The Multi-AZ standby: built from a physical copy of the primary while the primary serves,
//! in the other availability zone's DB subnet, joined by GTID with semi-synchronous
//! acknowledgement; watched; removed.
//!
//! The standby's own network is its subnet's; it is also attached to the primary's network,
//! without an alias, to replicate from it (subnets of a VPC route to each other; here each is a
//! Docker network). It is read-only and has no endpoint: the instance's aliases are on the
//! primary only.

use std::time::Duration;

use tokio::time::Instant;

use crate::docker::{DockerClient, NetworkAttachment};
use crate::rds::DbInstance;
use crate::rds::copy::{self, Restore};
use crate::rds::events::EventKind;
use crate::rds::instance::container_address;
use crate::rds::nodes::{Node, node_name, node_spec, node_volume};
use crate::rds::replication::{self, Source};
use crate::rds::sql::Node as Sql;
use crate::vpc::ZoneHealth;
use crate::vpc::network_name as vpc_network;

use super::decision::StandbyView;
use super::{MultiAzError, NODE_READY_TIMEOUT, SEMI_SYNC_TIMEOUT};

/// Builds the standby of `db` (replacing a broken one) and waits until the primary's commits
/// wait for its acknowledgement. The primary serves throughout.
pub async fn build(
    docker: &DockerClient,
    db: &DbInstance,
    zones: &ZoneHealth,
) -> Result<(), MultiAzError> {
    let id = &db.identifier;
    let docker_err = |source| MultiAzError::Docker {
        identifier: id.clone(),
        source,
    };
    let repl_err = |source| MultiAzError::Replication {
        identifier: id.clone(),
        source,
    };
    let started = std::time::Instant::now();
    let nodes = db.nodes.get();
    let primary = nodes.primary.clone();
    let slot = 1 - primary.slot.min(1);
    let settings = db.settings();
    let Some(subnet) = settings
        .subnets
        .iter()
        .find(|s| **s != primary.subnet)
        .cloned()
    else {
        return Err(MultiAzError::Invalid {
            identifier: id.clone(),
            message: "a Multi-AZ standby needs a DB subnet in another availability zone".into(),
        });
    };
    if let Some(zone) = zones.zone_of(&subnet).filter(|z| zones.is_down(z)) {
        return Err(MultiAzError::Invalid {
            identifier: id.clone(),
            message: format!(
                "the standby's availability zone {zone} is unavailable; it is built there once the zone is back"
            ),
        });
    }
    let Some(primary_address) = primary.address.clone() else {
        return Err(MultiAzError::Invalid {
            identifier: id.clone(),
            message: "the primary has no address on its network".into(),
        });
    };
    let name = node_name(&db.lab, id, slot);
    let volume = node_volume(&db.lab, id, slot);
    // Listed as the instance's from now on, so the orphan sweep leaves it alone while it is built.
    db.nodes.update(|n| n.building = Some(name.clone()));
    let result = async {
        // 1. The replication account, then a copy of the primary (which has the account too).
        let primary_sql = Sql {
            docker,
            container: &primary.container_id,
            port: db.port,
        };
        replication::ensure_user(&primary_sql, &db.replication_password)
            .await
            .map_err(repl_err)?;
        let seed = copy::take(
            docker,
            &primary.container_id,
            db.port,
            &db.storage,
            &format!("seeds/{id}-standby"),
        )
        .await
        .map_err(|source| MultiAzError::Copy {
            identifier: id.clone(),
            source,
        })?;
        // 2. A fresh volume with the copy (a leftover of the slot, e.g. an old primary, goes).
        docker
            .remove_container(&name, true)
            .await
            .map_err(docker_err)?;
        docker.remove_volume(&volume).await.map_err(docker_err)?;
        let restored = copy::restore_into_volume(
            docker,
            &seed,
            &Restore {
                lab: &db.lab,
                identifier: id,
                image: &settings.image,
                storage: &db.storage,
                volume: &volume,
            },
        )
        .await;
        let _ = seed.remove();
        restored.map_err(|source| MultiAzError::Copy {
            identifier: id.clone(),
            source,
        })?;
        // 3. The container: its own subnet's network first, then the primary's to replicate.
        let network = vpc_network(&db.lab, &subnet);
        let networks = vec![
            NetworkAttachment {
                network: network.clone(),
                ..Default::default()
            },
            NetworkAttachment {
                network: primary.network.clone(),
                ..Default::default()
            },
        ];
        let spec = node_spec(&db.template, &db.lab, id, slot, &subnet, networks);
        let container_id = crate::rds::credentials::run_node(docker, &spec, &db.passwords())
            .await
            .map_err(docker_err)?;
        let address = container_address(docker, &container_id, &network)
            .await
            .map_err(docker_err)?;
        let standby_sql = Sql {
            docker,
            container: &container_id,
            port: db.port,
        };
        wait_sql(&standby_sql, NODE_READY_TIMEOUT)
            .await
            .map_err(|message| MultiAzError::Invalid {
                identifier: id.clone(),
                message: format!("the standby did not answer: {message}"),
            })?;
        // 4. Follow the primary from the copy's position; commits wait for it from now on.
        let source = Source {
            host: &primary_address,
            port: db.port,
            password: &db.replication_password,
        };
        replication::follow(&standby_sql, &source, &seed.gtid, true)
            .await
            .map_err(repl_err)?;
        replication::enable_semi_sync_primary(&primary_sql, SEMI_SYNC_TIMEOUT)
            .await
            .map_err(repl_err)?;
        let in_sync = wait_in_sync(&primary_sql, Duration::from_secs(15)).await;
        let node = Node {
            slot,
            name: name.clone(),
            container_id,
            volume: volume.clone(),
            subnet,
            network,
            address,
            spec: std::sync::Arc::new(spec),
        };
        db.nodes.update(|n| {
            n.standby = Some(node.clone());
            n.standby_in_sync = in_sync;
        });
        Ok(())
    }
    .await;
    db.nodes.update(|n| n.building = None);
    if result.is_ok() {
        tracing::info!(
            "database {id}: standby ready in {:.1}s",
            started.elapsed().as_secs_f64()
        );
    }
    result
}

/// Removes the standby (container and volume) and stops the primary waiting for it.
pub async fn remove(docker: &DockerClient, db: &DbInstance) -> Result<(), MultiAzError> {
    let nodes = db.nodes.get();
    let primary = Sql {
        docker,
        container: &nodes.primary.container_id,
        port: db.port,
    };
    // Before the standby goes, or every commit would wait SEMI_SYNC_TIMEOUT once.
    if let Err(e) = replication::disable_semi_sync_primary(&primary).await {
        tracing::warn!("database {}: {}", db.identifier, crate::error::chain(&e));
    }
    if let Some(standby) = &nodes.standby {
        discard(docker, db, standby).await?;
    }
    db.nodes.update(|n| {
        n.standby = None;
        n.standby_in_sync = false;
    });
    Ok(())
}

/// Removes a node's container and volume.
pub(super) async fn discard(
    docker: &DockerClient,
    db: &DbInstance,
    node: &Node,
) -> Result<(), MultiAzError> {
    let docker_err = |source| MultiAzError::Docker {
        identifier: db.identifier.clone(),
        source,
    };
    docker
        .remove_container(&node.name, true)
        .await
        .map_err(docker_err)?;
    docker.remove_volume(&node.volume).await.map_err(docker_err)
}

/// What the standby looks like now (`None`: there is none). `in_sync` is the last reading of
/// the primary's semi-sync state ([`check_sync`]), since the primary may be gone.
pub async fn view(docker: &DockerClient, db: &DbInstance) -> Option<StandbyView> {
    let nodes = db.nodes.get();
    let standby = nodes.standby.as_ref()?;
    let sql = Sql {
        docker,
        container: &standby.container_id,
        port: db.port,
    };
    let state = tokio::time::timeout(Duration::from_secs(5), replication::status(&sql)).await;
    let (running, can_apply) = match state {
        Ok(Ok(state)) => (true, state.configured && state.last_sql_error.is_none()),
        _ => (false, false),
    };
    Some(StandbyView {
        running,
        can_apply,
        in_sync: nodes.standby_in_sync,
    })
}

/// Reads whether the primary's commits wait for the standby, records the change (and its
/// event) when it flipped, and returns whether the standby's container still runs. A primary
/// that does not answer leaves the last reading as it was.
pub async fn check(docker: &DockerClient, db: &DbInstance) -> bool {
    let nodes = db.nodes.get();
    let Some(standby) = &nodes.standby else {
        return true;
    };
    let running = matches!(
        docker.inspect_container(&standby.container_id).await,
        Ok(Some(info)) if info.running
    );
    let primary = Sql {
        docker,
        container: &nodes.primary.container_id,
        port: db.port,
    };
    let in_sync = if running {
        match replication::primary_semi_sync(&primary).await {
            Ok(s) => s.enabled && s.active && s.clients > 0,
            // The primary does not answer (it died a moment ago, or hangs): that says nothing
            // of the standby, and the failover decision needs the last reading, not `false`.
            Err(_) => return running,
        }
    } else {
        false
    };
    if in_sync != nodes.standby_in_sync {
        db.nodes.update(|n| n.standby_in_sync = in_sync);
        let event = if in_sync {
            EventKind::StandbyInSync
        } else {
            EventKind::StandbyNotInSync
        };
        db.state.record(&event);
    }
    running
}

/// Waits until `node` answers SQL; `Err` says what it said last.
pub(super) async fn wait_sql(node: &Sql<'_>, timeout: Duration) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let last = match node.value("SELECT 1").await {
            Ok(Some(v)) if v == "1" => return Ok(()),
            Ok(other) => format!("{other:?}"),
            Err(e) => crate::error::chain(&e).to_string(),
        };
        if started.elapsed() > timeout {
            return Err(last);
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Waits (up to `timeout`) until the primary has a semi-sync client and waits for it.
async fn wait_in_sync(primary: &Sql<'_>, timeout: Duration) -> bool {
    let started = Instant::now();
    loop {
        if let Ok(s) = replication::primary_semi_sync(primary).await
            && s.enabled
            && s.active
            && s.clients > 0
        {
            return true;
        }
        if started.elapsed() > timeout {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
