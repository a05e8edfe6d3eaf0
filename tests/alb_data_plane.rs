//! The load balancer's data plane: one single-threaded runtime per thread, each accepting on its
//! own `SO_REUSEPORT` socket and keeping its own connections to targets.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use http::StatusCode;
use tierlab::alb::{LoadBalancerHandle, LocalCa, TargetGroupHandle};
use tierlab::config::LoadBalancer;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use support::alb::{Alb, group_of};
use support::config::{any_port, forward, http_listener, load_balancer, target_group};
use support::{BackendHandle, backend, client, wait_until};

const IDLE: Duration = Duration::from_secs(30);
const CLIENTS: usize = 32;

/// An HTTP listener on `bind` forwarding to `tg`, served by `threads` data-plane threads.
fn config(threads: u32, bind: SocketAddr) -> LoadBalancer {
    let mut cfg = load_balancer(vec![http_listener(bind, forward("tg"))], IDLE);
    cfg.data_plane_threads = NonZeroU32::new(threads);
    cfg
}

/// A load balancer of `threads` threads over `target` (group `tg`), once the target is healthy.
async fn start(threads: u32, target: &BackendHandle) -> (Alb, TargetGroupHandle) {
    let group = group_of(target_group("tg"), &[target]);
    let alb = Alb::start_config(&config(threads, any_port()), &[&group]).await;
    wait_until(&group, "a healthy target", |g| g.healthy_count() == 1).await;
    (alb, group)
}

/// `CLIENTS` clients, each on its own keep-alive connection, each sending three requests.
async fn clients_each_on_a_connection(alb: &Alb) -> Vec<reqwest::Client> {
    let url = &alb.http("/");
    let clients: Vec<reqwest::Client> = (0..CLIENTS).map(|_| client(&alb.ca)).collect();
    let requests = clients.iter().map(|client| async move {
        for _ in 0..3 {
            let response = client.get(url).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.bytes().await.unwrap();
        }
    });
    futures_util::future::join_all(requests).await;
    clients
}

#[tokio::test]
async fn client_connections_spread_over_the_threads_and_each_thread_pools_its_own() {
    let a = backend().name("a").run().await;
    let (alb, _group) = start(2, &a).await;

    let _clients = clients_each_on_a_connection(&alb).await;

    // The kernel hashes each connection to one of the two sockets: both get some (all 32 on
    // one has a chance of 2 in 2^32).
    let accepted = alb.lb.accepted_per_thread();
    assert_eq!(accepted.len(), 2, "{accepted:?}");
    assert_eq!(accepted.iter().sum::<u64>(), CLIENTS as u64, "{accepted:?}");
    assert!(accepted.iter().all(|n| *n > 0), "{accepted:?}");
    assert_eq!(a.hits(), 3 * CLIENTS);
    // Each thread answered its clients over connections of its own, now idle in its shard.
    let idle = alb.lb.idle_to_target_per_thread(a.addr);
    assert_eq!(idle.len(), 2, "{idle:?}");
    assert!(idle.iter().all(|n| *n > 0), "{idle:?}");
    // The threads end with the load balancer (`stop` waits for them, 15 s at most).
    alb.stop().await;
}

#[tokio::test]
async fn one_thread_serves_every_connection_when_configured_so() {
    let a = backend().name("a").run().await;
    let (alb, _group) = start(1, &a).await;

    let _clients = clients_each_on_a_connection(&alb).await;

    assert_eq!(alb.lb.accepted_per_thread(), vec![CLIENTS as u64]);
    let idle = alb.lb.idle_to_target_per_thread(a.addr);
    assert_eq!(idle.len(), 1);
    assert!(idle[0] > 0, "{idle:?}");
    alb.stop().await;
}

#[tokio::test]
async fn a_port_held_by_another_load_balancer_is_refused_not_shared() {
    let a = backend().name("a").run().await;
    let (first, group) = start(2, &a).await;
    let taken = first.lb.endpoints()[0].addr;
    // A second load balancer on the same port (another lab, say): its SO_REUSEPORT sockets
    // could join the first's group and take half of its clients; it must fail instead.
    let cfg = config(2, taken);
    let state = tempfile::tempdir().unwrap();
    let ca = LocalCa::load_or_create(&state.path().join("ca")).unwrap();
    let groups = HashMap::from([("tg".to_string(), group.clone())]);
    let tracker = TaskTracker::new();
    let err = LoadBalancerHandle::start(&cfg, &groups, &ca, &tracker, CancellationToken::new())
        .await
        .expect_err("the port is taken");
    let message = err.to_string();
    assert!(
        message.contains(&format!("cannot bind {taken}: address in use")),
        "{message}"
    );
    // The failed start's threads end by themselves (nobody cancelled its token).
    tracker.close();
    tokio::time::timeout(Duration::from_secs(5), tracker.wait())
        .await
        .expect("the data-plane threads of a failed start end");
    first.stop().await;
}
