//! Warm pools: sandboxes started ahead of time and handed out by create
//! with the caller's settings, real sandboxes and real kernels throughout.
//! Whether a create took a pool member is read from the pools' own state
//! (`Server::warm_pools`, `GET /local/warm-pools`), never from timing.

use e2b_test_support as support;

use std::time::Duration;

use e2b_local::{Server, WarmPoolStatus};
use reqwest::Method;
use serde_json::{Value, json};

/// Upper bound of waiting for a pool to fill; reaching it fails the test.
const FILL_PATIENCE: Duration = Duration::from_secs(120);
/// How often the pools' state is read while waiting for it.
const POLL: Duration = Duration::from_millis(20);
const CODE_INTERPRETER: &str = "code-interpreter-v1";

async fn server_with(template: &str, size: usize) -> Server {
    let mut options = support::options().with_warm_pool(template, size);
    if template == CODE_INTERPRETER {
        options = options.with_kernel_env(Some(support::kernel_env().root().to_path_buf()));
    }
    Server::start(options).await.expect("server starts")
}

fn pool(server: &Server) -> WarmPoolStatus {
    let pools = server.warm_pools();
    assert_eq!(pools.len(), 1, "{pools:?}");
    pools.into_iter().next().unwrap()
}

/// Wait until the pool's state satisfies `done`; its state then.
async fn wait_for(
    server: &Server,
    what: &str,
    done: impl Fn(&WarmPoolStatus) -> bool,
) -> WarmPoolStatus {
    let deadline = tokio::time::Instant::now() + FILL_PATIENCE;
    loop {
        let status = pool(server);
        if done(&status) {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pool never got {what} within {FILL_PATIENCE:?}: {status:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

async fn full(server: &Server) -> WarmPoolStatus {
    wait_for(server, "full", |s| s.ready == s.size).await
}

async fn list_ids(server: &Server) -> Vec<String> {
    let listed = support::api_get(server, "/sandboxes").await;
    listed
        .as_array()
        .unwrap_or_else(|| panic!("a list: {listed}"))
        .iter()
        .map(|s| s["sandboxID"].as_str().unwrap().to_owned())
        .collect()
}

/// Run `code` through the code interpreter; the stream's lines.
async fn run_code(server: &Server, id: &str, token: &str, code: &str) -> Vec<Value> {
    let resp = support::to_sandbox(server, Method::POST, id, 49999, "/execute")
        .header("X-Access-Token", token)
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn main_text(lines: &[Value]) -> Option<String> {
    lines
        .iter()
        .find(|l| l["type"] == "result" && l["is_main_result"] == true)
        .and_then(|l| l["text"].as_str())
        .map(str::to_owned)
}

#[tokio::test]
async fn a_pooled_code_interpreter_takes_the_callers_settings() {
    let server = server_with(CODE_INTERPRETER, 1).await;
    let before = full(&server).await;
    assert_eq!(before.handed_out, 0);
    assert_eq!(before.template_id.as_deref(), Some(CODE_INTERPRETER));
    // Ready, and yet no one sees it.
    assert!(list_ids(&server).await.is_empty());

    let created = support::create(
        &server,
        json!({
            "templateID": CODE_INTERPRETER,
            "timeout": 321,
            "secure": true,
            "metadata": {"owner": "warm-test"},
            "envVars": {"POOL_VAR": "from create", "PATH_LIKE": "/a:/b"},
        }),
    )
    .await;
    let after = pool(&server);
    assert_eq!(
        after.handed_out, 1,
        "the create took the pool's member: {after:?}"
    );
    let id = created["sandboxID"].as_str().unwrap();
    let token = created["envdAccessToken"]
        .as_str()
        .expect("a secure sandbox has a token");

    // The kernel was started before the variables existed, and sees them.
    let lines = run_code(&server, id, token, "import os; os.environ['POOL_VAR']").await;
    assert_eq!(
        main_text(&lines).as_deref(),
        Some("from create"),
        "{lines:?}"
    );
    assert_eq!(
        lines[0],
        json!({"type": "number_of_executions", "execution_count": 1})
    );
    let lines = run_code(
        &server,
        id,
        token,
        "import subprocess; subprocess.run(['sh', '-c', 'echo $POOL_VAR'], capture_output=True, text=True).stdout.strip()",
    )
    .await;
    assert_eq!(
        main_text(&lines).as_deref(),
        Some("from create"),
        "{lines:?}"
    );
    // So do commands, and envd's /envs.
    let (code, out, err) = support::exec(
        &server,
        id,
        Some(token),
        &["sh", "-c", "echo \"$POOL_VAR|$PATH_LIKE|$E2B_SANDBOX_ID\""],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("from create|/a:/b|{id}"));
    let envs = support::envs(&server, id, Some(token)).await;
    assert_eq!(envs["POOL_VAR"], "from create", "{envs}");
    assert_eq!(envs["E2B_SANDBOX_ID"], id, "{envs}");

    // Its timeout, metadata and listing are the caller's.
    let info = support::api_get(&server, &format!("/sandboxes/{id}")).await;
    assert_eq!(info["metadata"], json!({"owner": "warm-test"}), "{info}");
    let started =
        chrono::DateTime::parse_from_rfc3339(info["startedAt"].as_str().unwrap()).unwrap();
    let end = chrono::DateTime::parse_from_rfc3339(info["endAt"].as_str().unwrap()).unwrap();
    assert_eq!((end - started).num_seconds(), 321, "{info}");
    assert_eq!(list_ids(&server).await, vec![id.to_owned()]);

    // Only the new token opens it.
    let unauthenticated = support::to_sandbox(&server, Method::GET, id, 49983, "/envs")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);

    // The pool refills in the background, with a sandbox no one has seen.
    let refilled = wait_for(&server, "refilled", |s| s.ready == 1 && s.started == 2).await;
    assert_eq!(refilled.handed_out, 1);
    assert_eq!(list_ids(&server).await, vec![id.to_owned()]);
    server.shutdown().await;
}

#[tokio::test]
async fn concurrent_creates_get_distinct_sandboxes_each_with_its_own_token() {
    let server = server_with("base", 2).await;
    full(&server).await;
    let body = json!({"templateID": "base", "timeout": 60, "secure": true});
    let (a, b) = tokio::join!(
        support::create(&server, body.clone()),
        support::create(&server, body.clone())
    );
    assert_eq!(pool(&server).handed_out, 2);
    let (id_a, id_b) = (
        a["sandboxID"].as_str().unwrap(),
        b["sandboxID"].as_str().unwrap(),
    );
    assert_ne!(id_a, id_b);
    let (token_a, token_b) = (
        a["envdAccessToken"].as_str().unwrap(),
        b["envdAccessToken"].as_str().unwrap(),
    );
    assert_ne!(token_a, token_b);
    for (id, own, other) in [(id_a, token_a, token_b), (id_b, token_b, token_a)] {
        let (code, out, _) = support::exec(&server, id, Some(own), &["hostname"], None).await;
        assert_eq!(code, 0);
        assert!(!out.is_empty());
        let refused = support::to_sandbox(&server, Method::GET, id, 49983, "/envs")
            .header("X-Access-Token", other)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401, "another sandbox's token opens {id}");
    }
    let mut listed = list_ids(&server).await;
    listed.sort();
    let mut expected = vec![id_a.to_owned(), id_b.to_owned()];
    expected.sort();
    assert_eq!(listed, expected);

    // A killed sandbox is gone for good: the refilled pool hands out new ones.
    let kill = support::authed_http(&server)
        .delete(format!("{}/sandboxes/{id_a}", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(kill.status(), 204);
    full(&server).await;
    let c = support::create(&server, json!({"templateID": "base", "timeout": 60})).await;
    assert_eq!(pool(&server).handed_out, 3);
    let id_c = c["sandboxID"].as_str().unwrap();
    assert!(id_c != id_a && id_c != id_b);
    assert_eq!(support::info_status(&server, id_a).await, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn requests_a_started_sandbox_cannot_take_start_cold() {
    let server = server_with("base", 1).await;
    full(&server).await;
    let cold = [
        json!({"templateID": "base", "allow_internet_access": false}),
        json!({"templateID": "base", "network": {"denyOut": ["0.0.0.0/0"]}}),
        json!({"templateID": "base", "mcp": {"some-server": {}}}),
    ];
    for body in cold {
        let created = support::create(&server, body.clone()).await;
        let status = pool(&server);
        assert_eq!(status.handed_out, 0, "{body} took a warm sandbox");
        assert_eq!(status.ready, 1, "{body}");
        assert!(created["sandboxID"].is_string());
    }
    // A plain one takes it; lifecycle settings are applied at handout.
    let created = support::create(
        &server,
        json!({"templateID": "base", "timeout": 30, "autoPause": true}),
    )
    .await;
    assert_eq!(pool(&server).handed_out, 1);
    let id = created["sandboxID"].as_str().unwrap();
    let info = support::api_get(&server, &format!("/sandboxes/{id}")).await;
    assert_eq!(info["lifecycle"]["onTimeout"], "pause", "{info}");
    // Not secure: the member's own token is gone with its handout.
    let (code, _, err) = support::exec(&server, id, None, &["true"], None).await;
    assert_eq!(code, 0, "{err}");
    let answer = support::authed_http(&server)
        .get(format!("{}/local/warm-pools", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let pools: Value = answer.json().await.unwrap();
    assert_eq!(pools[0]["template"], "base", "{pools}");
    assert_eq!(pools[0]["handedOut"], 1, "{pools}");
    // The endpoint needs the API key like the rest of the control plane.
    let anonymous = support::http()
        .get(format!("{}/local/warm-pools", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    server.shutdown().await;
}

/// The ids of the sandboxes with files in the data directory (pool members included).
fn ids_on_disk(data: &std::path::Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(data.join("sandboxes"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_member_is_no_ones_until_handed_out_and_ends_with_the_server() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(
        support::options()
            .with_data_dir(data.path())
            .with_warm_pool("base", 1),
    )
    .await
    .expect("server starts");
    full(&server).await;
    // The member's files name it; nothing the API offers does.
    let member = match ids_on_disk(data.path()).as_slice() {
        [one] => one.clone(),
        other => panic!("one member on disk, found {other:?}"),
    };
    assert_eq!(support::info_status(&server, &member).await, 404);
    let http = support::authed_http(&server);
    let api = server.api_url();
    let kill = http
        .delete(format!("{api}/sandboxes/{member}"))
        .send()
        .await
        .unwrap();
    assert_eq!(kill.status(), 404);
    let timeout = http
        .post(format!("{api}/sandboxes/{member}/timeout"))
        .json(&json!({"timeout": 600}))
        .send()
        .await
        .unwrap();
    assert_eq!(timeout.status(), 404);
    let connect = http
        .post(format!("{api}/sandboxes/{member}/connect"))
        .json(&json!({"timeout": 600}))
        .send()
        .await
        .unwrap();
    assert_eq!(connect.status(), 404);
    let metrics =
        support::api_get(&server, &format!("/sandboxes/metrics?sandbox_ids={member}")).await;
    assert_eq!(metrics["sandboxes"], json!({}), "{metrics}");
    let traffic = support::to_sandbox(&server, Method::GET, &member, 49983, "/envs")
        .send()
        .await
        .unwrap();
    assert_eq!(
        traffic.status(),
        502,
        "sandbox traffic reached a pool member"
    );
    assert!(list_ids(&server).await.is_empty());
    assert_eq!(
        pool(&server).ready,
        1,
        "probing the member took it out of the pool"
    );

    // The token it was started with, as its record keeps it.
    let record: Value = serde_json::from_slice(
        &std::fs::read(
            data.path()
                .join("sandboxes")
                .join(&member)
                .join("sandbox.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let old_token = record["envd_access_token"]
        .as_str()
        .expect("a member has a token of its own")
        .to_owned();

    // Handed out, it is a sandbox like any other, opened by its new token only.
    let created = support::create(
        &server,
        json!({"templateID": "base", "timeout": 60, "secure": true}),
    )
    .await;
    assert_eq!(created["sandboxID"], member.as_str());
    let token = created["envdAccessToken"].as_str().unwrap();
    assert_ne!(token, old_token);
    assert_eq!(support::info_status(&server, &member).await, 200);
    let envs_with = |token: String| {
        support::to_sandbox(&server, Method::GET, &member, 49983, "/envs")
            .header("X-Access-Token", token)
            .send()
    };
    assert_eq!(envs_with(old_token.clone()).await.unwrap().status(), 401);
    assert_eq!(envs_with(token.to_owned()).await.unwrap().status(), 200);
    let (code, out, _) = support::exec(
        &server,
        &member,
        Some(token),
        &["sh", "-c", "echo $E2B_SANDBOX_ID"],
        None,
    )
    .await;
    assert_eq!((code, out.trim()), (0, member.as_str()));

    // Stopping the server ends the new member as well as the sandbox.
    full(&server).await;
    assert_eq!(ids_on_disk(data.path()).len(), 2);
    server.shutdown().await;
    assert_eq!(ids_on_disk(data.path()), Vec::<String>::new());
}

#[tokio::test]
async fn deleting_a_template_drains_its_pool() {
    let data = tempfile::tempdir().unwrap();
    let key = "e2b_00112233445566778899aabbccddeeff";
    let first = Server::start(
        support::options()
            .with_data_dir(data.path())
            .with_api_key(key),
    )
    .await
    .expect("server starts");
    let source = support::create_base(&first, 120).await;
    let (code, _, err) = support::exec(
        &first,
        &source,
        None,
        &["sh", "-c", "echo snapped > /home/user/mark"],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let snapshot = support::authed_http(&first)
        .post(format!("{}/sandboxes/{source}/snapshots", first.api_url()))
        .json(&json!({"name": "warm-snap"}))
        .send()
        .await
        .unwrap();
    assert_eq!(snapshot.status(), 201, "{}", snapshot.text().await.unwrap());
    first.shutdown().await;

    let server = Server::start(
        support::options()
            .with_data_dir(data.path())
            .with_api_key(key)
            .with_warm_pool("warm-snap", 1),
    )
    .await
    .expect("server starts");
    full(&server).await;
    let created = support::create(&server, json!({"templateID": "warm-snap", "timeout": 60})).await;
    assert_eq!(pool(&server).handed_out, 1);
    let id = created["sandboxID"].as_str().unwrap();
    let (code, out, _) = support::exec(&server, id, None, &["cat", "/home/user/mark"], None).await;
    assert_eq!((code, out.trim()), (0, "snapped"));
    full(&server).await;

    let deleted = support::authed_http(&server)
        .delete(format!("{}/templates/warm-snap", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let drained = pool(&server);
    assert_eq!(drained.ready, 0, "{drained:?}");
    // Refilling now fails, is recorded and retried later; nothing crashes.
    let failing = wait_for(&server, "a failed refill", |s| s.failures >= 1).await;
    assert!(
        failing
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("not found")),
        "{failing:?}"
    );
    assert_eq!(failing.ready, 0);
    server.shutdown().await;
}
