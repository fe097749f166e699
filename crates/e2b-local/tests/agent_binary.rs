//! `e2b-local envd --socket … --config …`: announces readiness and serves
//! on the Unix socket.

use std::process::Stdio;

use e2b_test_support::agent::{PATIENCE, sandbox};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, BufReader};

async fn get(socket: &std::path::Path, path: &str) -> (http::StatusCode, bytes::Bytes) {
    let stream = tokio::net::UnixStream::connect(socket).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = http::Request::get(path)
        .header("host", "sandbox")
        .body(Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body)
}

/// Start the agent binary on `socket` with `config` (written to `dir`),
/// stderr piped, and wait for its readiness line.
async fn start_agent(
    dir: &std::path::Path,
    config: &e2b_local::agent::AgentConfig,
    socket: &std::path::Path,
) -> tokio::process::Child {
    let config_path = dir.join("agent.json");
    std::fs::write(&config_path, serde_json::to_vec(config).unwrap()).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_e2b-local"))
        .arg("envd")
        .arg("--socket")
        .arg(socket)
        .arg("--config")
        .arg(&config_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::time::timeout(PATIENCE, BufReader::new(stdout).read_line(&mut line))
        .await
        .expect("no readiness line")
        .unwrap();
    assert_eq!(line, "ready\n");
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_ready_and_serves_the_socket() {
    let (dir, config, _home, _root) = sandbox();
    let socket = dir.path().join("envd.sock");
    // A stale socket file from an earlier run is replaced.
    std::fs::write(&socket, b"stale").unwrap();
    let mut child = start_agent(dir.path(), &config, &socket).await;

    let (status, _) = get(&socket, "/health").await;
    assert_eq!(status, 204);
    let (status, body) = get(&socket, "/envs").await;
    assert_eq!(status, 200);
    let envs: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(envs["SANDBOX_VAR"], "from-sandbox");

    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_is_reported() {
    let (dir, mut config, _home, _root) = sandbox();
    config.default_user = "ghost".into();
    let config_path = dir.path().join("agent.json");
    std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_e2b-local"))
        .arg("envd")
        .arg("--socket")
        .arg(dir.path().join("envd.sock"))
        .arg("--config")
        .arg(&config_path)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "no readiness line");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the default user `ghost`"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_waits_for_the_templates_ready_command() {
    let (dir, mut config, _home, _root) = sandbox();
    let flag = dir.path().join("started");
    // The start command makes the flag only after a while; the ready command
    // looks for it. Announcing readiness before would leave no flag.
    config.start_cmd = Some(format!(
        "sleep 0.5; echo \"$SANDBOX_VAR\" > {}; exec sleep 600",
        flag.display()
    ));
    config.ready_cmd = Some(format!("test -s {}", flag.display()));
    config.default_user = "root".into();
    let mut child = start_agent(dir.path(), &config, &dir.path().join("envd.sock")).await;
    // The start command ran with the sandbox's environment.
    assert_eq!(std::fs::read_to_string(&flag).unwrap(), "from-sandbox\n");
    // The ready command's failures before that were reported on stderr.
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(
        stderr.contains("the ready command `test -s") && stderr.contains("has not succeeded"),
        "{stderr}"
    );
}
