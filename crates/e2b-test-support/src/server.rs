//! An in-process e2b-local server driven as the SDKs drive it: the control plane over
//! HTTP, and commands through envd's Connect `process.Process` service, reached through
//! the server's routing headers. Sandboxes run the real agent ([`agent_binary`]).

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use e2b_envd::connect::{CallOptions, Client};
use e2b_envd::process::process_client::ProcessClient;
use e2b_envd::process::process_event::{Event, data_event};
use e2b_envd::process::{ProcessConfig, StartRequest};
use e2b_local::{ENVD_PORT, Server, ServerOptions};
use futures_util::StreamExt as _;
use http::{HeaderMap, HeaderValue};
use serde_json::Value;

use crate::agent_binary;

/// Upper bound of one command run through envd; reaching it fails the test.
pub const COMMAND_PATIENCE: Duration = Duration::from_secs(30);

/// Options for a server whose sandboxes run the real agent.
pub fn options() -> ServerOptions {
    ServerOptions::default().with_agent_binary(agent_binary())
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
    e2b_api::control::Client::new_with_client(
        &server.api_url(),
        authed_http(server),
        e2b_api::Transport::direct(),
    )
}

/// A plain client.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// `GET` a control-plane `path` (e.g. `/sandboxes/<id>`), authenticated; its JSON.
pub async fn api_get(server: &Server, path: &str) -> Value {
    authed_http(server)
        .get(format!("{}{path}", server.api_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The first directory under `root`, at most `depth` levels down, whose name
/// satisfies `name` and which holds one of `files` (a cgroup of some controller).
pub fn find_cgroup(
    root: &std::path::Path,
    name: &dyn Fn(&str) -> bool,
    files: &[&str],
    depth: u32,
) -> Option<std::path::PathBuf> {
    let dirs: Vec<std::path::PathBuf> = std::fs::read_dir(root)
        .ok()?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    let matching = |d: &&std::path::PathBuf| {
        d.file_name().and_then(|n| n.to_str()).is_some_and(name)
            && files.iter().any(|f| d.join(f).exists())
    };
    if let Some(found) = dirs.iter().find(matching) {
        return Some(found.clone());
    }
    if depth == 0 {
        return None;
    }
    dirs.iter()
        .find_map(|d| find_cgroup(d, name, files, depth - 1))
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

/// A Connect client for sandbox `id`'s envd, through the routing headers
/// (and with the envd access token of a secure sandbox).
pub fn envd(server: &Server, id: &str, token: Option<&str>) -> ProcessClient {
    envd_at(&server.sandbox_url(), id, token)
}

/// [`envd`] for a server known only by its URL (a `serve` child process).
pub fn envd_at(sandbox_url: &str, id: &str, token: Option<&str>) -> ProcessClient {
    let mut headers = HeaderMap::new();
    headers.insert("e2b-sandbox-id", HeaderValue::from_str(id).unwrap());
    headers.insert("e2b-sandbox-port", HeaderValue::from(ENVD_PORT));
    if let Some(t) = token {
        headers.insert("x-access-token", HeaderValue::from_str(t).unwrap());
    }
    ProcessClient::new(Client::new(http(), sandbox_url).with_headers(headers))
}

/// Call options acting as `user` (envd's Basic auth with an empty password);
/// `None` acts as the sandbox's default user (`user`).
pub fn as_user(user: Option<&str>) -> CallOptions {
    let Some(user) = user else {
        return CallOptions::new();
    };
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:"));
    CallOptions::new().header(
        http::header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Basic {basic}")).unwrap(),
    )
}

/// A `Start` request for `cmd` (program and arguments), stdin closed.
pub fn start_request(cmd: &[&str]) -> StartRequest {
    let (program, args) = cmd.split_first().expect("a command");
    StartRequest {
        process: Some(ProcessConfig {
            cmd: (*program).to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            envs: HashMap::new(),
            cwd: None,
        }),
        stdin: Some(false),
        ..Default::default()
    }
}

/// Run `cmd` to completion in sandbox `id` through envd, as `user` (the
/// sandbox's default user `user` when `None`); (exit code, stdout, stderr).
pub async fn exec(
    server: &Server,
    id: &str,
    token: Option<&str>,
    cmd: &[&str],
    user: Option<&str>,
) -> (i32, String, String) {
    run(&envd(server, id, token), cmd, user).await
}

/// [`exec`] with a ready client.
pub async fn run(
    client: &ProcessClient,
    cmd: &[&str],
    user: Option<&str>,
) -> (i32, String, String) {
    let work = async {
        let mut stream = client
            .start(start_request(cmd), as_user(user))
            .await
            .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
        let (mut out, mut err, mut code) = (Vec::new(), Vec::new(), None);
        while let Some(item) = stream.next().await {
            let item = item.unwrap_or_else(|e| panic!("the stream of {cmd:?} failed: {e}"));
            match item.event.and_then(|e| e.event) {
                Some(Event::Data(d)) => match d.output {
                    Some(data_event::Output::Stdout(b)) => out.extend(b),
                    Some(data_event::Output::Stderr(b)) => err.extend(b),
                    _ => {}
                },
                Some(Event::End(end)) => code = Some(end.exit_code),
                _ => {}
            }
        }
        (
            code.unwrap_or_else(|| panic!("no end event for {cmd:?}")),
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    };
    tokio::time::timeout(COMMAND_PATIENCE, work)
        .await
        .unwrap_or_else(|_| panic!("{cmd:?} did not finish within {COMMAND_PATIENCE:?}"))
}

/// Start `cmd` in the background in sandbox `id` (as `user`, output
/// discarded) and return once it has been started.
pub async fn spawn(
    server: &Server,
    id: &str,
    token: Option<&str>,
    cmd: &[&str],
    user: Option<&str>,
) {
    let mut argv = vec!["sh", "-c", "\"$@\" </dev/null >/dev/null 2>&1 &", "sh"];
    argv.extend_from_slice(cmd);
    let (code, _, err) = exec(server, id, token, &argv, user).await;
    assert_eq!(code, 0, "starting {cmd:?} in the background: {err}");
}

/// `GET /envs` of sandbox `id`'s envd.
pub async fn envs(server: &Server, id: &str, token: Option<&str>) -> Value {
    let mut req = to_sandbox(server, reqwest::Method::GET, id, ENVD_PORT, "/envs");
    if let Some(t) = token {
        req = req.header("X-Access-Token", t);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200, "GET /envs");
    resp.json().await.unwrap()
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
