//! Sandbox lifecycle end to end against e2b-local: create, connect, info, timeout,
//! health, pause and resume, kill, fork, snapshots, metrics, logs, network, hosts.

use std::time::{Duration, SystemTime};

use e2b_sandbox::{
    CommandOptions, ConnectOptions, EnvdFeature, ForkOptions, Lifecycle, LogLevel, LogsOptions,
    MAX_LOG_ENTRIES, McpServers, MetricsOptions, NetworkConfig, NetworkUpdate, NotFoundKind,
    OnTimeoutAction, PauseOptions, Sandbox, SandboxState, SnapshotListOptions, SnapshotOptions,
    VolumeMount,
};
use e2b_test_support::sdk::Local;
use futures_util::TryStreamExt as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_with_options_and_read_them_back() {
    let local = Local::start().await;
    let sbx = Sandbox::builder()
        .template("base")
        .timeout(Duration::from_secs(90))
        .metadata([("owner", "tests"), ("case", "create")])
        .secure(true)
        .lifecycle(Lifecycle::pause_on_timeout().auto_resume(false))
        .network(
            NetworkConfig::new()
                .allow_out(["1.1.1.1"])
                .mask_request_host("${PORT}-m.test"),
        )
        .create(&local.client)
        .await
        .unwrap();
    assert!(!sbx.id().is_empty());
    assert!(
        sbx.envd_access_token().is_some(),
        "secure sandboxes get a token"
    );
    assert!(sbx.envd_version().supports(EnvdFeature::WatchNetworkMounts));
    // Secrets are never printed.
    let token =
        e2b_sandbox::ExposeSecret::expose_secret(sbx.envd_access_token().unwrap()).to_owned();
    assert!(!format!("{sbx:?}").contains(&token));

    let info = sbx.info().await.unwrap();
    assert_eq!(info.sandbox_id, sbx.id());
    assert_eq!(info.state, SandboxState::Running);
    assert_eq!(info.metadata["owner"], "tests");
    assert_eq!(info.metadata["case"], "create");
    let life = info.end_at.duration_since(info.started_at).unwrap();
    assert!(
        life >= Duration::from_secs(89) && life <= Duration::from_secs(91),
        "{life:?}"
    );
    let lifecycle = info.lifecycle.expect("lifecycle reported");
    assert_eq!(lifecycle.on_timeout, OnTimeoutAction::Pause);
    assert!(!lifecycle.auto_resume);
    let network = info.network.expect("network reported");
    assert_eq!(network.allow_out, ["1.1.1.1"]);
    assert_eq!(network.mask_request_host.as_deref(), Some("${PORT}-m.test"));

    // Insecure sandboxes have no token and still work.
    let open = Sandbox::builder()
        .secure(false)
        .timeout(Duration::from_secs(60))
        .create(&local.client)
        .await
        .unwrap();
    assert!(open.envd_access_token().is_none());
    let out = open.commands().run("echo ok").await.unwrap();
    assert_eq!(out.stdout, "ok\n");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_options_fail_before_any_request() {
    let local = Local::start().await;
    let cases = [
        Sandbox::builder().lifecycle(Lifecycle::kill_on_timeout().auto_resume(true)),
        Sandbox::builder().lifecycle(Lifecycle::new().keep_memory(false)),
        Sandbox::builder().lifecycle(
            Lifecycle::pause_on_timeout()
                .keep_memory(false)
                .auto_resume(true),
        ),
    ];
    for builder in cases {
        let err = builder.create(&local.client).await.unwrap_err();
        assert!(err.is_invalid_argument(), "{err}");
    }
    let sbx = local.sandbox().await;
    let err = sbx
        .fork_with(ForkOptions::new().count(0))
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    let err = "sideways".parse::<e2b_sandbox::ListOrder>().unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    let err = local
        .client
        .list_sandboxes_with(e2b_sandbox::ListOptions::new().page_size(0))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    // Nothing but the one sandbox was created.
    let all: Vec<_> = local.client.list_sandboxes().try_collect().await.unwrap();
    assert_eq!(all.len(), 1);
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_sandboxes_are_not_found() {
    let local = Local::start().await;
    let client = &local.client;
    let id = "i0000000000000000none";
    let err = client.sandbox_info(id).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.not_found_kind(), Some(NotFoundKind::Sandbox));
    let err = Sandbox::connect(client, id).await.unwrap_err();
    assert_eq!(err.not_found_kind(), Some(NotFoundKind::Sandbox), "{err}");
    assert!(!client.kill_sandbox(id).await.unwrap());
    let err = client
        .set_sandbox_timeout(id, Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = client.pause_sandbox(id).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = client.sandbox_metrics(id).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = client.sandbox_logs(id).await.unwrap_err();
    assert_eq!(err.not_found_kind(), Some(NotFoundKind::Sandbox), "{err}");
    let err = client.fork_sandbox(id).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = client.create_snapshot(id).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = client
        .update_sandbox_network(id, NetworkUpdate::new())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(!client.delete_snapshot("no-such-snapshot").await.unwrap());
    let err = client.sandbox_info("").await.unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    let err = Sandbox::builder()
        .template("no-such-template")
        .create(client)
        .await
        .unwrap_err();
    assert_eq!(err.not_found_kind(), Some(NotFoundKind::Template), "{err}");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_health_and_kill() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    assert!(sbx.is_running().await.unwrap());

    let before = sbx.info().await.unwrap().end_at;
    sbx.set_timeout(Duration::from_secs(600)).await.unwrap();
    let after = sbx.info().await.unwrap().end_at;
    assert!(after > before, "{after:?} > {before:?}");
    let left = after.duration_since(SystemTime::now()).unwrap();
    assert!(left > Duration::from_secs(590), "{left:?}");

    assert!(sbx.kill().await.unwrap());
    assert!(!sbx.is_running().await.unwrap());
    assert!(!sbx.kill().await.unwrap(), "already gone");
    let err = sbx.info().await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_timeout_ends_the_sandbox() {
    let local = Local::start().await;
    let sbx = Sandbox::builder()
        .timeout(Duration::from_secs(1))
        .create(&local.client)
        .await
        .unwrap();
    let handle = sbx
        .commands()
        .spawn_with("sleep 30", CommandOptions::new().no_timeout())
        .await
        .unwrap();
    // The sandbox's own timeout kills it; the command learns within about a second.
    let err = handle.wait().await.unwrap_err();
    assert!(err.is_sandbox_gone(), "{err:?}");
    assert!(err.to_string().contains("killed or timed out"), "{err}");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    sbx.commands()
        .run("echo kept > /home/user/marker")
        .await
        .unwrap();
    assert!(sbx.pause().await.unwrap());
    assert!(!sbx.pause().await.unwrap(), "already paused");
    assert_eq!(sbx.info().await.unwrap().state, SandboxState::Paused);
    assert!(!sbx.is_running().await.unwrap());

    let resumed = sbx
        .resume_with(ConnectOptions::new().timeout(Duration::from_secs(120)))
        .await
        .unwrap();
    assert_eq!(resumed.id(), sbx.id());
    assert!(resumed.is_running().await.unwrap());
    let out = resumed
        .commands()
        .run("cat /home/user/marker")
        .await
        .unwrap();
    assert_eq!(out.stdout, "kept\n");

    // Connecting by id works too, and a filesystem-only pause resumes cold.
    assert!(
        resumed
            .pause_with(PauseOptions::new().keep_memory(false))
            .await
            .unwrap()
    );
    let again = Sandbox::connect(&local.client, sbx.id()).await.unwrap();
    let out = again.commands().run("cat /home/user/marker").await.unwrap();
    assert_eq!(out.stdout, "kept\n");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_snapshots_and_metrics() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    sbx.commands()
        .run("echo from-parent > /home/user/f")
        .await
        .unwrap();

    let forks = sbx.fork_with(ForkOptions::new().count(2)).await.unwrap();
    assert_eq!(forks.len(), 2);
    for fork in forks {
        let fork = fork.unwrap();
        assert_ne!(fork.id(), sbx.id());
        let out = fork.commands().run("cat /home/user/f").await.unwrap();
        assert_eq!(out.stdout, "from-parent\n");
        assert!(fork.kill().await.unwrap());
    }

    let snapshot = sbx
        .create_snapshot_with(SnapshotOptions::new().name("snap-one"))
        .await
        .unwrap();
    assert!(!snapshot.snapshot_id.is_empty());
    let listed: Vec<_> = sbx.list_snapshots().try_collect().await.unwrap();
    assert!(listed.iter().any(|s| s.snapshot_id == snapshot.snapshot_id));
    let all: Vec<_> = local
        .client
        .list_snapshots_with(SnapshotListOptions::new().page_size(1))
        .try_collect()
        .await
        .unwrap();
    assert!(all.iter().any(|s| s.snapshot_id == snapshot.snapshot_id));

    let from_snapshot = Sandbox::builder()
        .template(snapshot.snapshot_id.clone())
        .timeout(Duration::from_secs(60))
        .create(&local.client)
        .await
        .unwrap();
    let out = from_snapshot
        .commands()
        .run("cat /home/user/f")
        .await
        .unwrap();
    assert_eq!(out.stdout, "from-parent\n");
    assert!(
        local
            .client
            .delete_snapshot(&snapshot.snapshot_id)
            .await
            .unwrap()
    );
    assert!(
        !local
            .client
            .delete_snapshot(&snapshot.snapshot_id)
            .await
            .unwrap()
    );

    let now = SystemTime::now();
    let metrics = sbx
        .metrics_with(
            MetricsOptions::new()
                .start(now - Duration::from_secs(600))
                .end(now + Duration::from_secs(60)),
        )
        .await
        .unwrap();
    assert!(
        !metrics.is_empty(),
        "e2b-local samples every running sandbox"
    );
    for m in &metrics {
        assert!(m.cpu_count >= 1);
        assert!(m.mem_total >= m.mem_used);
    }

    // Logs: e2b-local keeps none (they go to its stderr), with every option accepted.
    let logs = sbx
        .client()
        .sandbox_logs_with(
            sbx.id(),
            LogsOptions::new()
                .start(now - Duration::from_secs(600))
                .limit(10)
                .level(LogLevel::Warn)
                .search("error"),
        )
        .await
        .unwrap();
    assert!(logs.is_empty(), "{logs:?}");
    assert!(sbx.logs().await.unwrap().is_empty());
    let err = sbx
        .client()
        .sandbox_logs_with(sbx.id(), LogsOptions::new().limit(MAX_LOG_ENTRIES + 1))
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_network_and_hosts() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    sbx.update_network(
        NetworkUpdate::new()
            .deny_out(["10.0.0.0/8"])
            .allow_out(["10.1.1.1"]),
    )
    .await
    .unwrap();
    let network = sbx.info().await.unwrap().network.expect("network reported");
    assert_eq!(network.deny_out, ["10.0.0.0/8"]);
    assert_eq!(network.allow_out, ["10.1.1.1"]);

    let domain = local.server.domain();
    assert_eq!(sbx.sandbox_domain(), domain);
    assert_eq!(sbx.host(3000), format!("3000-{}.{domain}", sbx.id()));
    assert_eq!(
        sbx.mcp_url(),
        format!("https://50005-{}.{domain}/mcp", sbx.id())
    );
    // No MCP gateway runs in a base sandbox.
    assert!(sbx.mcp_token().await.unwrap().is_none());

    // A template without the gateway: creation fails and the sandbox is killed.
    let err = Sandbox::builder()
        .template("base")
        .mcp(McpServers::new().server("exa", serde_json::json!({"apiKey": "k"})))
        .timeout(Duration::from_secs(60))
        .create(&local.client)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("MCP gateway"), "{err}");
    let left: Vec<_> = local.client.list_sandboxes().try_collect().await.unwrap();
    assert!(left.iter().all(|s| s.sandbox_id == sbx.id()), "{left:?}");

    // The volume must exist: an unknown name is refused, as at E2B.
    let err = Sandbox::builder()
        .volume_mount("/mnt/data", "vol")
        .timeout(Duration::from_secs(60))
        .create(&local.client)
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    assert!(err.to_string().contains("volume 'vol' not found"), "{err}");
    let created = reqwest::Client::new()
        .post(format!("{}/volumes", local.server.api_url()))
        .header("X-API-Key", local.server.api_key())
        .json(&serde_json::json!({"name": "vol"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let with_mount = Sandbox::builder()
        .volume_mount("/mnt/data", "vol")
        .timeout(Duration::from_secs(60))
        .create(&local.client)
        .await;
    let with_mount = with_mount.unwrap();
    assert_eq!(
        with_mount.info().await.unwrap().volume_mounts,
        [VolumeMount::new("vol", "/mnt/data")]
    );
    local.stop().await;
}
