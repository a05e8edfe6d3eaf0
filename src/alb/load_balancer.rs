//! [`LoadBalancerHandle`]: a load balancer's listeners, bound and serving.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::access_log;
use super::data_plane::{self, DataPlane};
use super::deadlines::Deadlines;
use super::limits::{self, ConnectionLimit};
use super::listener::{ConnectionSettings, Listener};
use super::metrics::LoadBalancerMetrics;
use super::metrics_endpoint;
use super::observe::ListenerObserver;
use super::proxy::{Proxy, ProxySettings};
use super::rules::Router;
use super::tls::LocalCa;
use super::{AlbError, TargetGroupHandle};
use crate::config::{Certificate, ListenerProtocol, LoadBalancer};

/// Where one listener can be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerEndpoint {
    /// HTTP or HTTPS.
    pub protocol: ListenerProtocol,
    /// The address actually bound (the real port when the config said 0).
    pub addr: SocketAddr,
    /// e.g. `https://127.0.0.1:8443`, without a trailing slash.
    pub url: String,
}

/// A running load balancer. Its tasks live on the tracker given to [`start`](Self::start) and
/// stop when that call's cancellation token fires.
#[derive(Debug, Clone)]
pub struct LoadBalancerHandle {
    name: String,
    endpoints: Vec<ListenerEndpoint>,
    metrics: Arc<LoadBalancerMetrics>,
    metrics_addr: Option<SocketAddr>,
    plane: DataPlane,
    proxy: Proxy,
}

impl LoadBalancerHandle {
    /// Binds every listener of `cfg` and starts serving, without access logs.
    ///
    /// All listeners are bound before any serves, so on error nothing is left running.
    /// `target_groups` must hold every group a listener forwards to; `ca` issues the
    /// certificates of `LocalCa` HTTPS listeners.
    pub async fn start(
        cfg: &LoadBalancer,
        target_groups: &HashMap<String, TargetGroupHandle>,
        ca: &LocalCa,
        tracker: &TaskTracker,
        cancel: CancellationToken,
    ) -> Result<LoadBalancerHandle, AlbError> {
        Self::start_with(cfg, target_groups, ca, tracker, cancel, None).await
    }

    /// [`start`](Self::start), writing access logs under `access_log_dir` when `cfg` enables
    /// them (a lab passes `<state>/labs/<lab>/access-logs`).
    pub async fn start_with(
        cfg: &LoadBalancer,
        target_groups: &HashMap<String, TargetGroupHandle>,
        ca: &LocalCa,
        tracker: &TaskTracker,
        cancel: CancellationToken,
        access_log_dir: Option<&Path>,
    ) -> Result<LoadBalancerHandle, AlbError> {
        // The threads that serve clients; they and every task of this load balancer end on
        // `serving`, which a failed start cancels at once (the guard below).
        let serving = cancel.child_token();
        let stop_on_error = serving.clone().drop_guard();
        let threads = data_plane::threads_for(cfg.data_plane_threads);
        let plane = DataPlane::start(threads, tracker, serving.clone()).map_err(|source| {
            AlbError::DataPlane {
                load_balancer: cfg.name.clone(),
                source,
            }
        })?;
        let tracker = plane.tracker();
        let cancel = serving;
        let proxy = Proxy::in_tree(
            ProxySettings::from_config(cfg),
            tracker,
            cancel.clone(),
            plane.threads(),
        );
        let groups = forwarded_groups(cfg)
            .into_iter()
            .filter_map(|name| target_groups.get(&name).cloned());
        let metrics = Arc::new(LoadBalancerMetrics::new(&cfg.name, groups));
        let connections = connection_settings(cfg);
        // 1. Bind every listener (resolving its action and TLS config first).
        let mut bound = Vec::with_capacity(cfg.listeners.len());
        for listener in &cfg.listeners {
            let route = Router::new(&cfg.name, listener, target_groups)?;
            let tls = match listener.protocol {
                ListenerProtocol::Https => {
                    // Validation guarantees HTTPS listeners have a certificate; default to the
                    // local CA's usual names rather than fail if one slipped through.
                    let fallback = Certificate::LocalCa {
                        hostnames: Vec::new(),
                    };
                    let certs: Vec<&Certificate> =
                        std::iter::once(listener.certificate.as_ref().unwrap_or(&fallback))
                            .chain(&listener.additional_certificates)
                            .collect();
                    Some(ca.listener_tls(&certs, listener.ssl_policy, listener.bind)?)
                }
                ListenerProtocol::Http => None,
            };
            let acceptor = tls.as_ref().map(|t| TlsAcceptor::from(t.config.clone()));
            let l = Listener::bind(
                listener.bind,
                listener.protocol,
                acceptor,
                route,
                proxy.clone(),
                &plane,
            );
            let l = l.map_err(|e| e.in_load_balancer(&cfg.name))?;
            bound.push((l, tls.map(|t| t.certificates)));
        }
        // 2. Access logs and the metrics port, then serve.
        let log = match (cfg.access_logs.enabled, access_log_dir) {
            (true, Some(dir)) => {
                tracing::info!(
                    "load balancer {}: access logs every {:?} under {}",
                    cfg.name,
                    cfg.access_logs.interval,
                    dir.display()
                );
                Some(access_log::spawn_writer(
                    dir.to_path_buf(),
                    &cfg.name,
                    cfg.access_logs.interval,
                    metrics.clone(),
                    tracker,
                    cancel.clone(),
                ))
            }
            (true, None) => {
                tracing::warn!(
                    "load balancer {}: access logs are enabled but this load balancer runs outside a lab; not writing them",
                    cfg.name
                );
                None
            }
            (false, _) => None,
        };
        let metrics_addr = match cfg.metrics_port {
            Some(port) => Some(
                metrics_endpoint::serve(
                    &cfg.name,
                    port,
                    vec![metrics.clone()],
                    tracker,
                    cancel.clone(),
                )
                .await?,
            ),
            None => None,
        };
        if let Some(addr) = metrics_addr {
            tracing::info!(
                "load balancer {}: metrics on http://{addr}/metrics",
                cfg.name
            );
        }
        let mut endpoints = Vec::with_capacity(bound.len());
        for ((listener, certs), config) in bound.into_iter().zip(&cfg.listeners) {
            let addr = listener.local_addr();
            let protocol = config.protocol;
            endpoints.push(ListenerEndpoint {
                protocol,
                addr,
                url: format!("{}://{addr}", protocol.scheme()),
            });
            tracing::info!(
                "load balancer {}: listening on {}://{addr}",
                cfg.name,
                protocol.scheme()
            );
            let observer =
                ListenerObserver::new(metrics.clone(), log.clone(), protocol, addr.port());
            listener
                .observe(observer, certs)
                .limit(connections.clone())
                .spawn(&plane, cancel.clone());
        }
        stop_on_error.disarm();
        Ok(LoadBalancerHandle {
            name: cfg.name.clone(),
            endpoints,
            metrics,
            metrics_addr,
            plane,
            proxy,
        })
    }

    /// The load balancer's CloudWatch-style metrics (render with [`super::metrics::render`]).
    pub fn metrics(&self) -> Arc<LoadBalancerMetrics> {
        self.metrics.clone()
    }

    /// Where `metrics-port` serves `GET /metrics`, when configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Client connections each data-plane thread accepted so far (see [`data_plane`]).
    pub fn accepted_per_thread(&self) -> Vec<u64> {
        self.plane.accepted()
    }

    /// Idle keep-alive connections to `target` each data-plane thread holds now.
    pub fn idle_to_target_per_thread(&self, target: SocketAddr) -> Vec<usize> {
        self.proxy.idle_per_thread(target)
    }

    /// The load balancer's name (the key under `[load-balancers]`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every listener, in config order, with the address it actually bound.
    pub fn endpoints(&self) -> Vec<ListenerEndpoint> {
        self.endpoints.clone()
    }

    /// URL of the first HTTP listener.
    pub fn http_url(&self) -> Option<String> {
        self.url_of(ListenerProtocol::Http)
    }

    /// URL of the first HTTPS listener.
    pub fn https_url(&self) -> Option<String> {
        self.url_of(ListenerProtocol::Https)
    }

    fn url_of(&self, protocol: ListenerProtocol) -> Option<String> {
        self.endpoints
            .iter()
            .find(|e| e.protocol == protocol)
            .map(|e| e.url.clone())
    }
}

/// How `cfg`'s listeners bound client connections: its deadlines, and one cap shared by all
/// its listeners, `max-connections` or else the process's whole budget (which every load
/// balancer shares too, so the descriptors reserved for the rest of the lab stay free).
/// Client connections a load balancer holds at most when `max-connections` is not set (fewer
/// when the process's descriptor budget is smaller). Bounded so that memory stays bounded too:
/// about 40 KiB each, 400 MiB at most, where a descriptor limit of 1M alone would allow
/// half a million connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

fn connection_settings(cfg: &LoadBalancer) -> ConnectionSettings {
    let process = limits::process_budget();
    let max = cfg
        .connections
        .max_connections
        .map_or(process.max().min(DEFAULT_MAX_CONNECTIONS), |n| {
            n.get() as usize
        });
    tracing::debug!(
        "load balancer {}: at most {max} client connections, first byte within {:?}, idle {:?}",
        cfg.name,
        cfg.first_byte_timeout(),
        cfg.idle_timeout
    );
    ConnectionSettings {
        deadlines: Deadlines {
            first_byte: cfg.first_byte_timeout(),
            idle: cfg.idle_timeout,
        },
        cap: ConnectionLimit::new(max),
        process,
    }
}

/// The target groups `cfg`'s listeners forward to, by any rule or default action, weighted or
/// not (the metrics' `TargetGroup` dimension).
fn forwarded_groups(cfg: &LoadBalancer) -> BTreeSet<String> {
    cfg.listeners
        .iter()
        .flat_map(|l| l.actions())
        .flat_map(|a| a.target_groups())
        .map(str::to_string)
        .collect()
}
