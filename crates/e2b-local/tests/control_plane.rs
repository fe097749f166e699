//! The control plane against the spec: the generated client parses every
//! response, so shapes and status codes must match `spec/openapi.yml`.

use e2b_test_support as support;

use std::time::Duration;

use e2b_api::CommaSeparated;
use e2b_api::control::types::{self, SandboxState};
use futures_util::StreamExt as _;
use serde_json::{Value, json};

fn new_sandbox(value: Value) -> types::NewSandbox {
    serde_json::from_value(value).unwrap()
}

/// The status and JSON body of an error returned through the generated client.
fn error_of<T: std::fmt::Debug>(
    result: Result<T, e2b_api::Error<types::Error>>,
) -> (u16, types::Error) {
    match result.unwrap_err() {
        e2b_api::Error::ErrorResponse(resp) => (resp.status().as_u16(), resp.into_inner()),
        other => panic!("expected a documented error response, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_is_required() {
    let server = support::server().await;
    let url = format!("{}/v2/sandboxes", server.api_url());

    let resp = support::http().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], 401);
    assert!(
        body["message"].as_str().unwrap().contains("API key"),
        "{body}"
    );

    let resp = support::http()
        .get(&url)
        .header("X-API-KEY", "e2b_0000")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], 401);

    // The header name is case-insensitive.
    let resp = support::http()
        .get(&url)
        .header("x-api-key", server.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // The generated client sees a documented 401.
    let anonymous = e2b_api::control::Client::new(&server.api_url(), e2b_api::Transport::direct());
    let (status, body) = error_of(anonymous.get_v2_sandboxes().send().await);
    assert_eq!((status, body.code), (401, 401));

    // Health needs no key.
    let resp = support::http()
        .get(format!("{}/health", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_400() {
    let server = support::server().await;
    let http = support::authed_http(&server);
    let url = format!("{}/sandboxes", server.api_url());
    for body in [
        "{not json",
        "{}",
        r#"{"templateID": 5}"#,
        r#"{"templateID": "base", "timeout": -1}"#,
        r#"{"templateID": ""}"#,
    ] {
        let resp = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{body}");
        let json: Value = resp.json().await.unwrap();
        assert_eq!(json["code"], 400, "{body}");
        assert!(!json["message"].as_str().unwrap().is_empty());
    }
    let resp = http
        .get(format!("{}/v2/sandboxes?limit=0", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = http
        .get(format!("{}/v2/sandboxes?state=dead", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = http
        .get(format!(
            "{}/v2/sandboxes?nextToken=garbage!",
            server.api_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // Unknown routes are JSON 404s too; the server keeps serving after all of it.
    let resp = http
        .get(format!("{}/no/such/route", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], 404);
    let resp = http
        .get(format!("{}/health", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_sandbox_is_404_everywhere() {
    let server = support::server().await;
    let api = support::api(&server);
    let id = "inosuchsandbox000000";
    let (s, b) = error_of(api.get_sandboxes_sandbox_id().sandbox_id(id).send().await);
    assert_eq!((s, b.code), (404, 404));
    let (s, _) = error_of(
        api.delete_sandboxes_sandbox_id()
            .sandbox_id(id)
            .send()
            .await,
    );
    assert_eq!(s, 404);
    let (s, _) = error_of(
        api.post_sandboxes_sandbox_id_timeout()
            .sandbox_id(id)
            .body(types::SandboxTimeoutRequest { timeout: 5 })
            .send()
            .await,
    );
    assert_eq!(s, 404);
    let (s, _) = error_of(
        api.post_sandboxes_sandbox_id_pause()
            .sandbox_id(id)
            .body(types::SandboxPauseRequest::default())
            .send()
            .await,
    );
    assert_eq!(s, 404);
    let (s, _) = error_of(
        api.post_sandboxes_sandbox_id_connect()
            .sandbox_id(id)
            .body(types::ConnectSandbox { timeout: 5 })
            .send()
            .await,
    );
    assert_eq!(s, 404);
    let (s, _) = error_of(
        api.get_sandboxes_sandbox_id_metrics()
            .sandbox_id(id)
            .send()
            .await,
    );
    assert_eq!(s, 404);
    let (s, _) = error_of(
        api.post_sandboxes_sandbox_id_snapshots()
            .sandbox_id(id)
            .body(types::SandboxSnapshotRequest::default())
            .send()
            .await,
    );
    assert_eq!(s, 404);
    let (s, _) = error_of(
        api.post_sandboxes_sandbox_id_fork()
            .sandbox_id(id)
            .body(types::SandboxForkRequest::default())
            .send()
            .await,
    );
    assert_eq!(s, 404);
    // 404 is not a documented status of create, so read it raw.
    let resp = support::authed_http(&server)
        .post(format!("{}/sandboxes", server.api_url()))
        .json(&json!({"templateID": "no-such-template"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], 404);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("no-such-template")
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_kill_with_spec_shapes() {
    let server = support::server().await;
    let api = support::api(&server);
    let created = api
        .post_sandboxes()
        .body(new_sandbox(json!({
            "templateID": "base", "timeout": 120, "secure": true,
            "metadata": {"user": "abc"}, "envVars": {"GREETING": "hi"},
        })))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let sandbox = created.into_inner();
    assert_eq!(sandbox.template_id, "base");
    assert_eq!(sandbox.alias.as_deref(), Some("base"));
    assert_eq!(sandbox.envd_version.0, "0.6.13+local");
    assert!(!sandbox.client_id.is_empty());
    assert!(sandbox.domain.is_none());
    let token = sandbox
        .envd_access_token
        .clone()
        .expect("secure sandboxes get a token");
    assert_eq!(token.len(), 64);
    assert!(
        sandbox
            .sandbox_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );

    let detail = api
        .get_sandboxes_sandbox_id()
        .sandbox_id(&sandbox.sandbox_id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(detail.state, SandboxState::Running);
    assert_eq!(detail.envd_access_token.as_deref(), Some(token.as_str()));
    assert_eq!(detail.metadata.as_ref().unwrap().0["user"], "abc");
    assert!(detail.end_at > detail.started_at);
    assert!((detail.end_at - detail.started_at).num_seconds() >= 119);
    assert!(detail.memory_mb.0 >= 128);
    let lifecycle = detail.lifecycle.unwrap();
    assert_eq!(
        (lifecycle.auto_resume, lifecycle.on_timeout),
        (false, types::SandboxOnTimeout::Kill)
    );

    // The env vars reach the agent's configuration.
    let envs = support::envs(&server, &sandbox.sandbox_id, Some(&token)).await;
    assert_eq!(envs["GREETING"], "hi");
    assert_eq!(envs["E2B_SANDBOX_ID"], sandbox.sandbox_id.as_str());

    // Non-secure sandboxes have no token.
    let resp = support::authed_http(&server)
        .post(format!("{}/sandboxes", server.api_url()))
        .json(&json!({"templateID": "base", "timeout": 60}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let open: Value = resp.json().await.unwrap();
    assert!(open.get("envdAccessToken").is_none());
    assert!(open.get("trafficAccessToken").is_none());
    // The v2 create path works too, and always secures (`NewSandboxV2` has no `secure`).
    let resp = support::authed_http(&server)
        .post(format!("{}/v2/sandboxes", server.api_url()))
        .json(&json!({"templateID": "base", "timeout": 60, "secure": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let secured: Value = resp.json().await.unwrap();
    assert!(secured["envdAccessToken"].is_string(), "{secured}");

    let killed = api
        .delete_sandboxes_sandbox_id()
        .sandbox_id(&sandbox.sandbox_id)
        .send()
        .await
        .unwrap();
    assert_eq!(killed.status(), 204);
    let (s, _) = error_of(
        api.delete_sandboxes_sandbox_id()
            .sandbox_id(&sandbox.sandbox_id)
            .send()
            .await,
    );
    assert_eq!(s, 404);
    assert_eq!(
        support::info_status(&server, &sandbox.sandbox_id).await,
        404
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_token_needs_secure() {
    let server = support::server().await;
    let http = support::authed_http(&server);
    let url = format!("{}/sandboxes", server.api_url());
    let resp = http
        .post(&url)
        .json(&json!({"templateID": "base", "network": {"allowPublicTraffic": false}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let sandbox = support::create(
        &server,
        json!({"templateID": "base", "secure": true, "network": {"allowPublicTraffic": false}}),
    )
    .await;
    assert_eq!(sandbox["trafficAccessToken"].as_str().unwrap().len(), 64);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_paginates_and_filters() {
    let server = support::server().await;
    let api = support::api(&server);
    let mut ids = Vec::new();
    for i in 0..5 {
        let tag = if i % 2 == 0 { "even" } else { "odd" };
        let s = support::create(&server, json!({"templateID": "base", "timeout": 120, "metadata": {"parity": tag, "n": i.to_string()}})).await;
        ids.push(s["sandboxID"].as_str().unwrap().to_owned());
    }

    // Pages of 2, newest first, linked by X-Next-Token.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut req = api
            .get_v2_sandboxes()
            .limit(std::num::NonZeroU32::new(2).unwrap());
        if let Some(t) = &token {
            req = req.next_token(t.clone());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.headers()["x-total-running"], "5");
        let next = resp
            .headers()
            .get("x-next-token")
            .map(|v| v.to_str().unwrap().to_owned());
        let page = resp.into_inner();
        assert!(page.len() <= 2);
        seen.extend(page.into_iter().map(|s| s.sandbox_id));
        pages += 1;
        match next {
            Some(n) => token = Some(n),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen, expected, "newest first, no gaps, no repeats");

    // Ascending order.
    let asc = api
        .get_v2_sandboxes()
        .order(types::OrderDirection::Asc)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        asc.iter().map(|s| s.sandbox_id.clone()).collect::<Vec<_>>(),
        ids
    );

    // Metadata filter (the SDK's encoding: `k=v&k2=v2`, each part percent-encoded).
    let even = api
        .get_v2_sandboxes()
        .metadata("parity=even")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(even.len(), 3);
    let one = api
        .get_v2_sandboxes()
        .metadata("parity=odd&n=3")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        one.iter()
            .map(|s| s.sandbox_id.as_str())
            .collect::<Vec<_>>(),
        [ids[3].as_str()]
    );
    assert_eq!(one[0].metadata.as_ref().unwrap().0["n"], "3");
    let legacy = api
        .get_sandboxes()
        .metadata("parity=odd")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(legacy.len(), 2);

    // State filter.
    api.post_sandboxes_sandbox_id_pause()
        .sandbox_id(&ids[0])
        .body(types::SandboxPauseRequest::default())
        .send()
        .await
        .unwrap();
    let paused = api
        .get_v2_sandboxes()
        .state(CommaSeparated::from(vec![SandboxState::Paused]))
        .send()
        .await
        .unwrap();
    assert!(paused.headers().get("x-total-running").is_none());
    let paused = paused.into_inner();
    assert_eq!(
        paused
            .iter()
            .map(|s| s.sandbox_id.as_str())
            .collect::<Vec<_>>(),
        [ids[0].as_str()]
    );
    assert_eq!(paused[0].state, SandboxState::Paused);
    let both = api
        .get_v2_sandboxes()
        .state(CommaSeparated::from(vec![
            SandboxState::Running,
            SandboxState::Paused,
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(both.headers()["x-total-running"], "4");
    assert_eq!(both.into_inner().len(), 5);
    // The legacy list shows running sandboxes only.
    assert_eq!(
        api.get_sandboxes().send().await.unwrap().into_inner().len(),
        4
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_kill_on_time_and_can_be_changed() {
    let server = support::server().await;
    let api = support::api(&server);
    let short = support::create_base(&server, 1).await;
    support::eventually(
        Duration::from_secs(15),
        "the 1 s sandbox to be killed",
        || async { support::info_status(&server, &short).await == 404 },
    )
    .await;
    // Its envd is gone too: 502, what the SDKs read as "sandbox timed out".
    let resp = support::to_sandbox(&server, reqwest::Method::GET, &short, 49983, "/health")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);

    // set_timeout replaces the deadline (here: shortens it).
    let long = support::create_base(&server, 600).await;
    let resp = api
        .post_sandboxes_sandbox_id_timeout()
        .sandbox_id(&long)
        .body(types::SandboxTimeoutRequest { timeout: 1 })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    support::eventually(
        Duration::from_secs(15),
        "the shortened sandbox to be killed",
        || async { support::info_status(&server, &long).await == 404 },
    )
    .await;

    // connect and refresh only extend.
    let kept = support::create_base(&server, 600).await;
    let before = api
        .get_sandboxes_sandbox_id()
        .sandbox_id(&kept)
        .send()
        .await
        .unwrap()
        .into_inner()
        .end_at;
    let resp = api
        .post_sandboxes_sandbox_id_connect()
        .sandbox_id(&kept)
        .body(types::ConnectSandbox { timeout: 5 })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = api
        .post_sandboxes_sandbox_id_refreshes()
        .sandbox_id(&kept)
        .body(types::SandboxRefreshRequest { duration: Some(5) })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let after = api
        .get_sandboxes_sandbox_id()
        .sandbox_id(&kept)
        .send()
        .await
        .unwrap()
        .into_inner()
        .end_at;
    assert!(after >= before);
    let resp = api
        .post_sandboxes_sandbox_id_connect()
        .sandbox_id(&kept)
        .body(types::ConnectSandbox { timeout: 3000 })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let extended = api
        .get_sandboxes_sandbox_id()
        .sandbox_id(&kept)
        .send()
        .await
        .unwrap()
        .into_inner()
        .end_at;
    assert!(extended > after + chrono::Duration::seconds(1000));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_keep_processes() {
    let server = support::server().await;
    let api = support::api(&server);
    let id = support::create_base(&server, 300).await;
    let (code, _, err) = support::exec(
        &server,
        &id,
        None,
        &[
            "sh",
            "-c",
            "echo kept > /home/user/note; sleep 1000 >/dev/null 2>&1 & echo $! > /tmp/sleeper",
        ],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");

    let resp = api
        .post_sandboxes_sandbox_id_pause()
        .sandbox_id(&id)
        .body(types::SandboxPauseRequest::default())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (s, body) = error_of(
        api.post_sandboxes_sandbox_id_pause()
            .sandbox_id(&id)
            .body(types::SandboxPauseRequest::default())
            .send()
            .await,
    );
    assert_eq!((s, body.code), (409, 409));
    let detail = api
        .get_sandboxes_sandbox_id()
        .sandbox_id(&id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(detail.state, SandboxState::Paused);
    // No auto-resume: traffic gets 502.
    let resp = support::to_sandbox(&server, reqwest::Method::GET, &id, 49983, "/health")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);

    let resp = api
        .post_sandboxes_sandbox_id_connect()
        .sandbox_id(&id)
        .body(types::ConnectSandbox { timeout: 300 })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "connect resumes a paused sandbox");
    let resp = api
        .post_sandboxes_sandbox_id_connect()
        .sandbox_id(&id)
        .body(types::ConnectSandbox { timeout: 300 })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The background process survived the pause.
    let (code, out, _) = support::exec(
        &server,
        &id,
        None,
        &[
            "sh",
            "-c",
            "kill -0 $(cat /tmp/sleeper) && cat /home/user/note",
        ],
        None,
    )
    .await;
    assert_eq!((code, out.trim()), (0, "kept"));

    // Deprecated resume: 409 when running, 201 after a pause.
    let (s, _) = error_of(
        api.post_sandboxes_sandbox_id_resume()
            .sandbox_id(&id)
            .body(types::ResumedSandbox::default())
            .send()
            .await,
    );
    assert_eq!(s, 409);
    api.post_sandboxes_sandbox_id_pause()
        .sandbox_id(&id)
        .body(types::SandboxPauseRequest::default())
        .send()
        .await
        .unwrap();
    let resp = api
        .post_sandboxes_sandbox_id_resume()
        .sandbox_id(&id)
        .body(types::ResumedSandbox {
            auto_pause: None,
            timeout: 300,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.into_inner().sandbox_id, id);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_only_pause_cold_boots_on_resume() {
    let server = support::server().await;
    let api = support::api(&server);
    let id = support::create_base(&server, 300).await;
    let (code, _, err) = support::exec(
        &server,
        &id,
        None,
        &[
            "sh",
            "-c",
            "echo kept > /home/user/note; sleep 1000 >/dev/null 2>&1 & echo $! > /tmp/sleeper",
        ],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let resp = api
        .post_sandboxes_sandbox_id_pause()
        .sandbox_id(&id)
        .body(types::SandboxPauseRequest { memory: false })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = api
        .post_sandboxes_sandbox_id_connect()
        .sandbox_id(&id)
        .body(types::ConnectSandbox { timeout: 300 })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let (code, out, _) = support::exec(&server, &id, None, &["sh", "-c", "cat /home/user/note; kill -0 $(cat /tmp/sleeper) 2>/dev/null && echo alive || echo gone"], None).await;
    assert_eq!(code, 0);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["kept", "gone"]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_pauses_and_traffic_auto_resumes() {
    let server = support::server().await;
    let api = support::api(&server);
    let paused = support::create(
        &server,
        json!({"templateID": "base", "timeout": 1, "autoPause": true}),
    )
    .await;
    let paused = paused["sandboxID"].as_str().unwrap().to_owned();
    support::eventually(
        Duration::from_secs(15),
        "the sandbox to pause at its timeout",
        || async {
            api.get_sandboxes_sandbox_id()
                .sandbox_id(&paused)
                .send()
                .await
                .is_ok_and(|r| r.into_inner().state == SandboxState::Paused)
        },
    )
    .await;
    let detail = api
        .get_sandboxes_sandbox_id()
        .sandbox_id(&paused)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        detail.lifecycle.unwrap().on_timeout,
        types::SandboxOnTimeout::Pause
    );

    let auto = support::create(&server, json!({"templateID": "base", "timeout": 300, "autoPause": true, "autoResume": {"enabled": true}})).await;
    let auto = auto["sandboxID"].as_str().unwrap().to_owned();
    api.post_sandboxes_sandbox_id_pause()
        .sandbox_id(&auto)
        .body(types::SandboxPauseRequest::default())
        .send()
        .await
        .unwrap();
    let resp = support::to_sandbox(&server, reqwest::Method::GET, &auto, 49983, "/health")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204, "traffic resumes an auto-resume sandbox");
    let detail = api
        .get_sandboxes_sandbox_id()
        .sandbox_id(&auto)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(detail.state, SandboxState::Running);
    assert!(detail.lifecycle.unwrap().auto_resume);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_report_real_usage() {
    let server = support::server().await;
    let api = support::api(&server);
    let id = support::create_base(&server, 300).await;
    let (code, _, err) = support::exec(
        &server,
        &id,
        None,
        &[
            "dd",
            "if=/dev/zero",
            "of=/home/user/blob",
            "bs=1M",
            "count=4",
        ],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let metrics = api
        .get_sandboxes_sandbox_id_metrics()
        .sandbox_id(&id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(metrics.len(), 1);
    let m = &metrics[0];
    assert!(m.cpu_count > 0);
    assert!(m.mem_used > 0, "{m:?}");
    assert!(m.mem_total >= m.mem_used, "{m:?}");
    assert!(m.disk_used >= 4 << 20, "{m:?}");
    assert!(m.disk_total > m.disk_used, "{m:?}");
    assert!((0.0..=100.0).contains(&m.cpu_used_pct), "{m:?}");
    assert!((m.timestamp_unix - chrono::Utc::now().timestamp()).abs() <= 5);

    // Burn CPU: the next sample sees it.
    let (code, _, err) = support::exec(
        &server,
        &id,
        None,
        &[
            "sh",
            "-c",
            "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done",
        ],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let busy = api
        .get_sandboxes_sandbox_id_metrics()
        .sandbox_id(&id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(busy[0].cpu_used_pct > 0.0, "{busy:?}");

    // A window in the past holds no sample.
    let old = api
        .get_sandboxes_sandbox_id_metrics()
        .sandbox_id(&id)
        .start(0)
        .end(1000)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(old.is_empty());
    let many = api
        .get_sandboxes_metrics()
        .sandbox_ids(vec![id.clone(), "inosuchsandbox".to_owned()])
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(many.sandboxes.keys().collect::<Vec<_>>(), [&id]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_are_templates() {
    let server = support::server().await;
    let api = support::api(&server);
    let id = support::create(
        &server,
        json!({"templateID": "base", "timeout": 300, "envVars": {"FROM": "source"}}),
    )
    .await;
    let id = id["sandboxID"].as_str().unwrap().to_owned();
    // As root, so the copies must keep ownership: `proj` stays root's.
    let (code, _, err) = support::exec(
        &server,
        &id,
        None,
        &[
            "sh",
            "-c",
            "mkdir -p /home/user/proj && echo v1 > /home/user/proj/state && echo t > /tmp/t",
        ],
        Some("root"),
    )
    .await;
    assert_eq!(code, 0, "{err}");

    let resp = api
        .post_sandboxes_sandbox_id_snapshots()
        .sandbox_id(&id)
        .body(types::SandboxSnapshotRequest {
            name: Some("snap-one".into()),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let info = resp.into_inner();
    assert_eq!(info.snapshot_id, "snap-one:default");
    assert_eq!(info.names, ["snap-one:default"]);
    // The source keeps running.
    let (code, _, _) = support::exec(&server, &id, None, &["true"], None).await;
    assert_eq!(code, 0);

    let unnamed = api
        .post_sandboxes_sandbox_id_snapshots()
        .sandbox_id(&id)
        .body(types::SandboxSnapshotRequest::default())
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(unnamed.snapshot_id.ends_with(":default"));
    assert!(unnamed.names.is_empty());

    let listed = api.get_snapshots().send().await.unwrap().into_inner();
    assert_eq!(listed.len(), 2);
    let by_sandbox = api
        .get_snapshots()
        .sandbox_id(id.clone())
        .name("snap-one")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        by_sandbox
            .iter()
            .map(|s| s.snapshot_id.as_str())
            .collect::<Vec<_>>(),
        ["snap-one:default"]
    );
    let page = api
        .get_snapshots()
        .limit(std::num::NonZeroU32::new(1).unwrap())
        .send()
        .await
        .unwrap();
    assert!(page.headers().contains_key("x-next-token"));
    // A cursor past the end (however far) is an empty last page.
    for offset in ["2", &usize::MAX.to_string()] {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(offset);
        let page = api.get_snapshots().next_token(token).send().await.unwrap();
        assert!(!page.headers().contains_key("x-next-token"), "{offset}");
        assert!(page.into_inner().is_empty(), "{offset}");
    }

    // A sandbox from the snapshot has the files and the env vars.
    let child = support::create(&server, json!({"templateID": "snap-one", "timeout": 60})).await;
    assert_eq!(child["alias"], "snap-one");
    let child = child["sandboxID"].as_str().unwrap().to_owned();
    let (code, out, _) = support::exec(
        &server,
        &child,
        None,
        &[
            "sh",
            "-c",
            "cat /home/user/proj/state /tmp/t; stat -c %U /home/user/proj",
        ],
        None,
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["v1", "t", "root"]);
    let envs = support::envs(&server, &child, None).await;
    assert_eq!(envs["FROM"], "source");
    let from_id = support::create(
        &server,
        json!({"templateID": unnamed.snapshot_id, "timeout": 60}),
    )
    .await;
    assert_eq!(
        from_id["templateID"].as_str().unwrap(),
        unnamed.snapshot_id.trim_end_matches(":default")
    );

    // Delete: 204, then 404; the template is gone.
    let resp = support::authed_http(&server)
        .delete(format!("{}/templates/snap-one%3Adefault", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = support::authed_http(&server)
        .delete(format!("{}/templates/snap-one", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], 404);
    let resp = support::authed_http(&server)
        .post(format!("{}/sandboxes", server.api_url()))
        .json(&json!({"templateID": "snap-one"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_copies_a_running_sandbox() {
    let server = support::server().await;
    let api = support::api(&server);
    let source = support::create(&server, json!({"templateID": "base", "timeout": 300, "secure": true, "metadata": {"role": "source"}})).await;
    let id = source["sandboxID"].as_str().unwrap().to_owned();
    let token = source["envdAccessToken"].as_str().unwrap().to_owned();
    let (code, _, err) = support::exec(
        &server,
        &id,
        Some(&token),
        &["sh", "-c", "echo forked > /home/user/f"],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");

    let resp = api
        .post_sandboxes_sandbox_id_fork()
        .sandbox_id(&id)
        .body(types::SandboxForkRequest {
            count: std::num::NonZeroU32::new(2).unwrap(),
            timeout: 120,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let forks = resp.into_inner();
    assert_eq!(forks.len(), 2);
    let mut fork_ids = Vec::new();
    for fork in &forks {
        assert!(fork.error.is_none(), "{fork:?}");
        let sandbox = fork.sandbox.as_ref().unwrap();
        assert_ne!(sandbox.sandbox_id, id);
        let fork_token = sandbox
            .envd_access_token
            .as_deref()
            .expect("forks of a secure sandbox are secure");
        assert_ne!(fork_token, token);
        let (code, out, _) = support::exec(
            &server,
            &sandbox.sandbox_id,
            Some(fork_token),
            &["cat", "/home/user/f"],
            None,
        )
        .await;
        assert_eq!((code, out.trim()), (0, "forked"));
        let detail = api
            .get_sandboxes_sandbox_id()
            .sandbox_id(&sandbox.sandbox_id)
            .send()
            .await
            .unwrap()
            .into_inner();
        assert_eq!(detail.metadata.unwrap().0["role"], "source");
        fork_ids.push(sandbox.sandbox_id.clone());
    }
    assert_ne!(fork_ids[0], fork_ids[1]);
    // The source still runs; the forks are independent.
    let (code, _, err) = support::exec(
        &server,
        &fork_ids[0],
        forks[0]
            .sandbox
            .as_ref()
            .unwrap()
            .envd_access_token
            .as_deref(),
        &["sh", "-c", "echo changed > /home/user/f"],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (_, out, _) =
        support::exec(&server, &id, Some(&token), &["cat", "/home/user/f"], None).await;
    assert_eq!(out.trim(), "forked");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_update_templates_and_logs() {
    let server = support::server().await;
    let api = support::api(&server);
    let id = support::create_base(&server, 120).await;
    let update: types::SandboxNetworkUpdateConfig =
        serde_json::from_value(json!({"allowOut": ["1.1.1.1"], "denyOut": ["0.0.0.0/0"]})).unwrap();
    let resp = api
        .put_sandboxes_sandbox_id_network()
        .sandbox_id(&id)
        .body(update)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let detail = api
        .get_sandboxes_sandbox_id()
        .sandbox_id(&id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(detail.network.unwrap().allow_out, ["1.1.1.1"]);

    let templates = api.get_templates().send().await.unwrap().into_inner();
    assert_eq!(
        templates
            .iter()
            .map(|t| t.template_id.as_str())
            .collect::<Vec<_>>(),
        ["base"]
    );
    assert_eq!(templates[0].build_status, types::TemplateBuildStatus::Ready);
    let alias = api
        .get_templates_aliases_alias()
        .alias("base")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(alias.template_id, "base");
    let (s, _) = error_of(api.get_templates_aliases_alias().alias("nope").send().await);
    assert_eq!(s, 404);

    let logs = api
        .get_sandboxes_sandbox_id_logs()
        .sandbox_id(&id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(logs.logs.is_empty());
    let logs = api
        .get_v2_sandboxes_sandbox_id_logs()
        .sandbox_id(&id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(logs.logs.is_empty());
    // v2 per-sandbox paths mirror the v1 ones.
    let resp = support::authed_http(&server)
        .post(format!("{}/v2/sandboxes/{id}/connect", server.api_url()))
        .json(&json!({"timeout": 60}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_create_and_connect_follow_upstreams_defaults() {
    let server = support::server().await;
    let http = support::authed_http(&server);
    let api = server.api_url();
    // No timeout: 300 s; no `secure`: secured anyway (a token comes back),
    // so private traffic is allowed too.
    let resp = http
        .post(format!("{api}/v2/sandboxes"))
        .json(&json!({"templateID": "base"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let id = created["sandboxID"].as_str().unwrap().to_owned();
    let token = created["envdAccessToken"]
        .as_str()
        .expect("a token")
        .to_owned();
    let info = support::api_get(&server, &format!("/sandboxes/{id}")).await;
    let lives = chrono::DateTime::parse_from_rfc3339(info["endAt"].as_str().unwrap()).unwrap()
        - chrono::DateTime::parse_from_rfc3339(info["startedAt"].as_str().unwrap()).unwrap();
    assert!((295..=305).contains(&lives.num_seconds()), "{info}");
    let resp = http
        .post(format!("{api}/v2/sandboxes"))
        .json(&json!({"templateID": "base", "network": {"allowPublicTraffic": false}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());

    // Connect without a body, or without a timeout.
    for body in [None, Some(json!({}))] {
        let mut req = http.post(format!("{api}/v2/sandboxes/{id}/connect"));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    }

    // Resuming from the files only: what was written stays, processes go.
    let (code, _, err) = support::exec(
        &server,
        &id,
        Some(&token),
        &[
            "sh",
            "-c",
            "echo kept > /home/user/kept; (sleep 1000 >/dev/null 2>&1 &)",
        ],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let resp = http
        .post(format!("{api}/sandboxes/{id}/pause"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = http
        .post(format!("{api}/v2/sandboxes/{id}/connect"))
        .json(&json!({"memory": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let (code, out, _) = support::exec(
        &server,
        &id,
        Some(&token),
        &[
            "sh",
            "-c",
            "cat /home/user/kept; pgrep -x sleep || echo no-sleep",
        ],
        None,
    )
    .await;
    assert_eq!((code, out.as_str()), (0, "kept\nno-sleep\n"));

    // A killed sandbox cannot be connected to.
    let resp = http
        .delete(format!("{api}/sandboxes/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = http
        .post(format!("{api}/v2/sandboxes/{id}/connect"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    server.shutdown().await;
}

/// An executable script usable as an agent binary.
fn script_agent(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join("agent.sh");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_failures_are_clear_500s_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let broken = script_agent(dir.path(), "echo agent-broke-here >&2; exit 3");
    let server =
        e2b_local::Server::start(e2b_local::ServerOptions::default().with_agent_binary(&broken))
            .await
            .unwrap();
    let http = support::authed_http(&server);
    let resp = http
        .post(format!("{}/sandboxes", server.api_url()))
        .json(&json!({"templateID": "base"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], 500);
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("exited before it was ready") && message.contains("agent-broke-here"),
        "{message}"
    );
    // Nothing is left behind, and the server still answers.
    assert!(
        std::fs::read_dir(server.data_dir().join("sandboxes"))
            .unwrap()
            .next()
            .is_none()
    );
    assert_eq!(
        http.get(format!("{}/v2/sandboxes", server.api_url()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    server.shutdown().await;

    let silent = script_agent(dir.path(), "echo still-starting >&2; exec sleep 60");
    let options = e2b_local::ServerOptions::default()
        .with_agent_binary(&silent)
        .with_agent_ready_timeout(Duration::from_millis(500));
    let server = e2b_local::Server::start(options).await.unwrap();
    let http = support::authed_http(&server);
    let resp = http
        .post(format!("{}/sandboxes", server.api_url()))
        .json(&json!({"templateID": "base"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    let message = resp.json::<Value>().await.unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("not ready within") && message.contains("still-starting"),
        "{message}"
    );
    server.shutdown().await;

    // Output other than the readiness line (here: one endless line) is not
    // mistaken for it, and the server keeps serving.
    let noisy = script_agent(
        dir.path(),
        "echo garbage-follows >&2; yes garbage | tr -d '\\n' | head -c 50000000; exec sleep 60",
    );
    let options = e2b_local::ServerOptions::default()
        .with_agent_binary(&noisy)
        .with_agent_ready_timeout(Duration::from_millis(500));
    let server = e2b_local::Server::start(options).await.unwrap();
    let http = support::authed_http(&server);
    let resp = http
        .post(format!("{}/sandboxes", server.api_url()))
        .json(&json!({"templateID": "base"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    let message = resp.json::<Value>().await.unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("not ready within") && message.contains("garbage-follows"),
        "{message}"
    );
    assert_eq!(
        http.get(format!("{}/v2/sandboxes", server.api_url()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_whose_agent_dies_is_gone() {
    let server = support::server().await;
    let id = support::create_base(&server, 300).await;
    // Kill the agent from inside: root's command is its child. The call
    // itself fails or ends without an end event, whichever comes first.
    let client = support::envd(&server, &id, None);
    let killed = async {
        if let Ok(mut stream) = client
            .start(
                support::start_request(&["sh", "-c", "kill -9 $PPID"]),
                support::as_user(Some("root")),
            )
            .await
        {
            while let Some(Ok(_)) = stream.next().await {}
        }
    };
    tokio::time::timeout(support::COMMAND_PATIENCE, killed)
        .await
        .expect("the call ended when the agent died");
    support::eventually(
        Duration::from_secs(15),
        "the dead sandbox to be removed",
        || async { support::info_status(&server, &id).await == 404 },
    )
    .await;
    let resp = support::to_sandbox(&server, reqwest::Method::GET, &id, 49983, "/health")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    server.shutdown().await;
}
