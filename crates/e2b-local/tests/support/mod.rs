//! Shared helpers of e2b-local's integration tests.
//!
//! Sandboxes run a stand-in agent (`fake_agent.py`, see its docstring) instead
//! of the real one, so these tests exercise the server's side of the contract:
//! control plane, isolation, proxying, lifecycle.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2b_local::{Server, ServerOptions};
use serde_json::Value;

/// The stand-in agent.
pub fn fake_agent() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fake_agent.py")
}

/// Options for a server whose sandboxes run the fake agent.
pub fn options() -> ServerOptions {
    ServerOptions::default().with_agent_binary(fake_agent())
}

/// A server on a fresh temporary data directory.
pub async fn server() -> Server {
    Server::start(options()).await.expect("server starts")
}

/// A reqwest client that sends the server's API key.
pub fn authed_http(server: &Server) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("X-API-KEY", server.api_key().parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// The generated control-plane client, authenticated.
pub fn api(server: &Server) -> e2b_api::control::Client {
    e2b_api::control::Client::new_with_client(&server.api_url(), authed_http(server))
}

/// A plain client.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Create a sandbox with the given JSON body; returns the `Sandbox` JSON.
pub async fn create(server: &Server, body: Value) -> Value {
    let resp = authed_http(server)
        .post(format!("{}/sandboxes", server.api_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 201, "create failed: {text}");
    serde_json::from_str(&text).unwrap()
}

/// Create a `base` sandbox with a timeout of `timeout` seconds; returns its id.
pub async fn create_base(server: &Server, timeout: u64) -> String {
    create(
        server,
        serde_json::json!({"templateID": "base", "timeout": timeout}),
    )
    .await["sandboxID"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A request to `port` of sandbox `id` through the routing headers.
pub fn to_sandbox(
    server: &Server,
    method: reqwest::Method,
    id: &str,
    port: u16,
    path: &str,
) -> reqwest::RequestBuilder {
    http()
        .request(method, format!("{}{path}", server.sandbox_url()))
        .header("E2b-Sandbox-Id", id)
        .header("E2b-Sandbox-Port", port.to_string())
}

/// Run a command in the sandbox through the fake agent's `/exec` (as root unless `user` is given).
pub async fn exec(
    server: &Server,
    id: &str,
    token: Option<&str>,
    cmd: &[&str],
    user: Option<&str>,
) -> (i64, String, String) {
    let mut req = to_sandbox(server, reqwest::Method::POST, id, 49983, "/exec")
        .json(&serde_json::json!({"cmd": cmd, "user": user}));
    if let Some(t) = token {
        req = req.header("X-Access-Token", t);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200, "exec {cmd:?}");
    let v: Value = resp.json().await.unwrap();
    (
        v["code"].as_i64().unwrap(),
        v["stdout"].as_str().unwrap().to_owned(),
        v["stderr"].as_str().unwrap().to_owned(),
    )
}

/// Poll `condition` every 20 ms until it holds or `timeout` passes (then panic with `what`).
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if condition().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The status of `GET /sandboxes/{id}`.
pub async fn info_status(server: &Server, id: &str) -> u16 {
    authed_http(server)
        .get(format!("{}/sandboxes/{id}", server.api_url()))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}
