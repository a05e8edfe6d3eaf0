//! [`LoadBalancerHandle`]: a load balancer's listeners, bound and serving.

use std::collections::HashMap;
use std::net::SocketAddr;

use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::listener::{Listener, Route};
use super::proxy::{Proxy, ProxySettings};
use super::tls::LocalCa;
use super::{AlbError, TargetGroupHandle};
use crate::config::{Action, ListenerProtocol, LoadBalancer};

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
}

impl LoadBalancerHandle {
    /// Binds every listener of `cfg` and starts serving.
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
        let proxy = Proxy::new(ProxySettings::from_config(cfg));
        // 1. Bind every listener (resolving its action and TLS config first).
        let mut bound = Vec::with_capacity(cfg.listeners.len());
        for listener in &cfg.listeners {
            let route = route(cfg, &listener.default_action, target_groups)?;
            let tls = match (&listener.protocol, &listener.certificate) {
                (ListenerProtocol::Https, Some(cert)) => {
                    Some(TlsAcceptor::from(ca.server_config(cert, listener.bind)?))
                }
                // Validation guarantees HTTPS listeners have a certificate; default to the
                // local CA's usual names rather than fail if one slipped through.
                (ListenerProtocol::Https, None) => {
                    let cert = crate::config::Certificate::LocalCa {
                        hostnames: Vec::new(),
                    };
                    Some(TlsAcceptor::from(ca.server_config(&cert, listener.bind)?))
                }
                (ListenerProtocol::Http, _) => None,
            };
            let l = Listener::bind(listener.bind, listener.protocol, tls, route, proxy.clone());
            bound.push(l.await?);
        }
        // 2. Serve.
        let mut endpoints = Vec::with_capacity(bound.len());
        for (listener, config) in bound.into_iter().zip(&cfg.listeners) {
            let addr = listener.local_addr();
            let protocol = config.protocol;
            endpoints.push(ListenerEndpoint {
                protocol,
                addr,
                url: format!("{}://{addr}", protocol.scheme()),
            });
            tracing::info!(load_balancer = %cfg.name, "listening on {}://{addr}", protocol.scheme());
            listener.spawn(tracker, cancel.clone());
        }
        Ok(LoadBalancerHandle {
            name: cfg.name.clone(),
            endpoints,
        })
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

fn route(
    cfg: &LoadBalancer,
    action: &Action,
    groups: &HashMap<String, TargetGroupHandle>,
) -> Result<Route, AlbError> {
    match action {
        Action::Redirect(r) => Ok(Route::Redirect(r.clone())),
        Action::Forward { target_group } => match groups.get(target_group) {
            Some(group) => Ok(Route::Forward(group.clone())),
            None => Err(AlbError::UnknownTargetGroup {
                load_balancer: cfg.name.clone(),
                target_group: target_group.clone(),
            }),
        },
    }
}
