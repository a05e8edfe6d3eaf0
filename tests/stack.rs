//! The reference architecture on a real Docker engine: CRUD through the load balancer over
//! HTTPS, the HTTP→HTTPS redirect, round robin across tasks, data that survives a restart, and
//! nothing left behind.

mod lab_support;

use std::collections::HashSet;
use tokio_util::sync::CancellationToken;

use lab_support::{DOCKER_LOCK, TestLab, client, docker, get_json, leftovers, post_json};
use serde_json::{Value, json};
use tierlab::lab::remove_lab;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_over_https_round_robin_and_data_survives_restart() {
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("crud");
    let docker = docker().await;

    let lab = test.start().await;
    let https = lab
        .https_url()
        .expect("the default topology has an HTTPS listener");
    let http = lab
        .http_url()
        .expect("the default topology has an HTTP listener");
    let client = client(&lab);

    // HTTP answers with a 301 to the same path on HTTPS.
    let redirect = client
        .get(format!("{http}/api/entries?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 301);
    let location = redirect.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        location,
        format!("https://127.0.0.1:{}/api/entries?x=1", test.https_port)
    );

    // JSON API: create, read, update, list, delete.
    let created: Value = post_json(
        &client,
        &format!("{https}/api/entries"),
        &json!({"text": "first entry"}),
    )
    .await;
    let id = created["id"].as_i64().expect("created entry has an id");
    assert_eq!(created["text"], "first entry");
    let updated = client
        .put(format!("{https}/api/entries/{id}"))
        .json(&json!({"text": "edited"}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let fetched: Value = get_json(&client, &format!("{https}/api/entries/{id}")).await;
    assert_eq!(fetched["text"], "edited");
    let doomed: Value = post_json(
        &client,
        &format!("{https}/api/entries"),
        &json!({"text": "to delete"}),
    )
    .await;
    let doomed_id = doomed["id"].as_i64().unwrap();
    assert_eq!(
        client
            .delete(format!("{https}/api/entries/{doomed_id}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        client
            .get(format!("{https}/api/entries/{doomed_id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let list: Vec<Value> = get_json(&client, &format!("{https}/api/entries")).await;
    assert!(
        list.iter().any(|e| e["id"] == id && e["text"] == "edited"),
        "list: {list:?}"
    );
    assert!(!list.iter().any(|e| e["id"] == doomed_id));

    // HTML form flow: POST a form, follow the redirect (which must stay on HTTPS), see the entry.
    let form = client
        .post(format!("{https}/entries"))
        .form(&[("text", "from the form")])
        .send()
        .await
        .unwrap();
    assert!(
        form.status().is_redirection(),
        "form post answered {}",
        form.status()
    );
    let back = form.headers()["location"].to_str().unwrap().to_string();
    assert!(
        !back.starts_with("http://"),
        "redirect after POST left HTTPS: {back}"
    );
    let page = client
        .get(format!("{https}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("from the form"),
        "index page lacks the form's entry"
    );
    assert!(page.contains("<form"), "index page has forms");

    // Round robin: consecutive requests alternate between the two tasks.
    let mut served_by = Vec::new();
    for _ in 0..6 {
        let info: Value = get_json(&client, &format!("{https}/api/info")).await;
        served_by.push(info["task"].as_str().unwrap().to_string());
    }
    let distinct: HashSet<&String> = served_by.iter().collect();
    assert_eq!(distinct.len(), 2, "two tasks should serve: {served_by:?}");
    assert!(
        served_by.windows(2).all(|w| w[0] != w[1]),
        "round robin alternates: {served_by:?}"
    );

    // Stop and start again: the data is still there (the volume survives).
    lab.shutdown().await.unwrap();
    assert_eq!(
        leftovers(&docker, &test.name).await,
        (0, 0),
        "shutdown leaves nothing"
    );
    let lab = test.start().await;
    let client = lab_support::client(&lab);
    let fetched: Value = get_json(
        &client,
        &format!("{}/api/entries/{id}", lab.https_url().unwrap()),
    )
    .await;
    assert_eq!(fetched["text"], "edited", "data survives down/up");
    lab.shutdown().await.unwrap();

    // `down --volumes` deletes the data: the next start has an empty table.
    remove_lab(&docker, &test.name, true).await.unwrap();
    let lab = test.start().await;
    let client = lab_support::client(&lab);
    let list: Vec<Value> = get_json(
        &client,
        &format!("{}/api/entries", lab.https_url().unwrap()),
    )
    .await;
    assert!(
        list.is_empty(),
        "down --volumes removes the data, found {list:?}"
    );
    lab.shutdown().await.unwrap();
    remove_lab(&docker, &test.name, true).await.unwrap();
    assert_eq!(leftovers(&docker, &test.name).await, (0, 0));
}

/// A data volume whose password is gone (state directory removed) is reported with the fix, and
/// the failed start leaves nothing running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_database_password_is_reported_and_leaves_nothing() {
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("pwd");
    let docker = docker().await;
    test.start().await.shutdown().await.unwrap();

    let other_state = tempfile::tempdir().unwrap();
    let options = tierlab::lab::StartOptions {
        state_dir: Some(other_state.path().to_path_buf()),
        reaper: lab_support::reaper(),
        ..Default::default()
    };
    let error = match tierlab::Lab::start(test.config(), options, CancellationToken::new()).await {
        Ok(_) => panic!("a lab whose DB password is lost must not start"),
        Err(e) => lab_support::chain(&e),
    };
    assert!(error.contains("tierlab down --volumes"), "{error}");
    assert!(
        error.contains(&format!("tierlab-{}-flask-crud-db-data", test.name)),
        "{error}"
    );
    assert_eq!(
        leftovers(&docker, &test.name).await,
        (0, 0),
        "a failed start cleans up"
    );
    remove_lab(&docker, &test.name, true).await.unwrap();
}
