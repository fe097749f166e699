//! State across server restarts on the same data directory: running
//! sandboxes end with the server; paused sandboxes and snapshots survive.

use e2b_test_support as support;

use e2b_api::control::types::{self, SandboxState};
use e2b_local::Server;
use serde_json::json;

const KEY: &str = "e2b_00112233445566778899aabbccddeeff";

async fn start(dir: &std::path::Path) -> Server {
    Server::start(support::options().with_data_dir(dir).with_api_key(KEY))
        .await
        .expect("server starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_sandboxes_and_snapshots_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path()).await;
    let api = support::api(&first);
    let running = support::create_base(&first, 300).await;
    let paused = support::create(
        &first,
        json!({"templateID": "base", "timeout": 300, "secure": true, "metadata": {"keep": "me"}}),
    )
    .await;
    let paused_id = paused["sandboxID"].as_str().unwrap().to_owned();
    let token = paused["envdAccessToken"].as_str().unwrap().to_owned();
    let (code, _, err) = support::exec(
        &first,
        &paused_id,
        Some(&token),
        &["sh", "-c", "echo durable > /home/user/state"],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    api.post_sandboxes_sandbox_id_snapshots()
        .sandbox_id(&paused_id)
        .body(types::SandboxSnapshotRequest {
            name: Some("kept".into()),
        })
        .send()
        .await
        .unwrap();
    api.post_sandboxes_sandbox_id_pause()
        .sandbox_id(&paused_id)
        .body(types::SandboxPauseRequest::default())
        .send()
        .await
        .unwrap();
    first.shutdown().await;
    assert!(
        !dir.path().join("sandboxes").join(&running).exists(),
        "a running sandbox's files outlived the server"
    );
    assert!(
        dir.path()
            .join("sandboxes")
            .join(&paused_id)
            .join("sandbox.json")
            .is_file()
    );

    let second = start(dir.path()).await;
    let api = support::api(&second);
    assert_eq!(
        support::info_status(&second, &running).await,
        404,
        "running sandboxes end with the server"
    );
    let listed = api.get_v2_sandboxes().send().await.unwrap().into_inner();
    assert_eq!(
        listed
            .iter()
            .map(|s| s.sandbox_id.as_str())
            .collect::<Vec<_>>(),
        [paused_id.as_str()]
    );
    let detail = api
        .get_sandboxes_sandbox_id()
        .sandbox_id(&paused_id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(detail.state, SandboxState::Paused);
    assert_eq!(detail.metadata.unwrap().0["keep"], "me");
    assert_eq!(detail.envd_access_token.as_deref(), Some(token.as_str()));

    // Resuming boots fresh processes over the kept files; the token still works.
    let resp = api
        .post_sandboxes_sandbox_id_connect()
        .sandbox_id(&paused_id)
        .body(types::ConnectSandbox { timeout: 60 })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let (code, out, _) = support::exec(
        &second,
        &paused_id,
        Some(&token),
        &["cat", "/home/user/state"],
        None,
    )
    .await;
    assert_eq!((code, out.trim()), (0, "durable"));

    // The snapshot is still a template.
    let snapshots = api.get_snapshots().send().await.unwrap().into_inner();
    assert_eq!(
        snapshots
            .iter()
            .map(|s| s.snapshot_id.as_str())
            .collect::<Vec<_>>(),
        ["kept:default"]
    );
    let child = support::create(&second, json!({"templateID": "kept"})).await;
    let child = child["sandboxID"].as_str().unwrap();
    let (_, out, _) = support::exec(&second, child, None, &["cat", "/home/user/state"], None).await;
    assert_eq!(out.trim(), "durable");
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_server_leaves_nothing_running_behind() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path()).await;
    let id = support::create_base(&first, 300).await;
    drop(first);
    let second = start(dir.path()).await;
    assert_eq!(support::info_status(&second, &id).await, 404);
    assert!(!dir.path().join("sandboxes").join(&id).exists());
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_records_do_not_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("sandboxes/ibroken")).unwrap();
    std::fs::write(dir.path().join("sandboxes/ibroken/sandbox.json"), b"{ torn").unwrap();
    std::fs::create_dir_all(dir.path().join("snapshots/.tmp-half-written/fs")).unwrap();
    std::fs::create_dir_all(dir.path().join("snapshots/norecord")).unwrap();
    let server = start(dir.path()).await;
    assert_eq!(support::info_status(&server, "ibroken").await, 404);
    assert!(!dir.path().join("sandboxes/ibroken").exists());
    assert!(!dir.path().join("snapshots/.tmp-half-written").exists());
    let snapshots = support::api(&server)
        .get_snapshots()
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(snapshots.is_empty());
    // And it serves normally.
    support::create_base(&server, 30).await;
    server.shutdown().await;
}
