//! Docker-facing behaviour that needs no full stack: image builds through the API with progress,
//! and a subnet that clashes with an existing network.

mod lab_support;

use std::collections::HashMap;
use tokio_util::sync::CancellationToken;

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::RemoveImageOptions;
use lab_support::{DOCKER_LOCK, TestLab, chain, docker, leftovers};
use tierlab::docker::{BuildProgress, labels};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_an_image_through_the_api_with_progress() {
    let _serial = DOCKER_LOCK.lock().await;
    let docker = docker().await;
    let context = tempfile::tempdir().unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        "FROM debian:bookworm-slim\nRUN echo built > /built\n",
    )
    .unwrap();
    let tag = format!("tierlab-test-build:{}", std::process::id());

    let mut steps = Vec::new();
    docker
        .build_image(&tag, context.path(), Default::default(), |p| {
            if let BuildProgress::Step(step) = p {
                steps.push(step)
            }
        })
        .await
        .unwrap_or_else(|e| panic!("build failed: {}", chain(&e)));
    assert!(
        steps.len() >= 2,
        "progress reports each Dockerfile step: {steps:?}"
    );
    assert!(docker.image_exists(&tag).await.unwrap());
    docker
        .bollard()
        .remove_image(&tag, None::<RemoveImageOptions>, None)
        .await
        .unwrap();

    // A failing build says which image and why.
    std::fs::write(
        context.path().join("Dockerfile"),
        "FROM debian:bookworm-slim\nRUN exit 3\n",
    )
    .unwrap();
    let error = docker
        .build_image(&tag, context.path(), Default::default(), |_| {})
        .await
        .unwrap_err();
    let message = chain(&error);
    assert!(
        message.contains(&tag) && message.contains("exit"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subnet_clash_names_the_network_and_the_key_and_leaves_nothing() {
    let _serial = DOCKER_LOCK.lock().await;
    let docker = docker().await;
    let test = TestLab::new("clash");
    let config = test.config();
    let clashing = config.vpc.subnets["private-app-subnet-1a"].cidr;

    // Someone else's network on the same range (labelled as another lab so cleanup finds it).
    let other = format!("tierlab-{}-other", test.name);
    let request = NetworkCreateRequest {
        name: other.clone(),
        ipam: Some(Ipam {
            config: Some(vec![IpamConfig {
                subnet: Some(clashing.to_string()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        labels: Some(labels::of(
            &format!("{}-other", test.name),
            labels::Role::Network,
            "clash",
        )),
        options: Some(HashMap::new()),
        ..Default::default()
    };
    docker.bollard().create_network(request).await.unwrap();

    let options = tierlab::lab::StartOptions {
        state_dir: Some(test.state_path().to_path_buf()),
        reaper: lab_support::reaper(),
        ..Default::default()
    };
    let result = tierlab::Lab::start(config, options, CancellationToken::new()).await;
    docker.remove_network(&other).await.unwrap();
    let message = match result {
        Ok(_) => panic!("a clashing subnet must stop the start"),
        Err(e) => chain(&e),
    };
    assert!(
        message.contains(&other),
        "names the clashing network: {message}"
    );
    assert!(
        message.contains("[vpc.subnets.private-app-subnet-1a]"),
        "names the key to change: {message}"
    );
    assert_eq!(
        leftovers(&docker, &test.name).await,
        (0, 0),
        "nothing of the lab was left behind"
    );
}
