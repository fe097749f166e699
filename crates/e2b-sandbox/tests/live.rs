//! Tests against the real E2B cloud, run with the `live` feature and an API key:
//!
//! ```text
//! E2B_API_KEY=e2b_… cargo test -p e2b-sandbox --features live --test live
//! ```
//!
//! They are always compiled (so that `cargo build`/`clippy --all-targets` keep them
//! working); without the feature they are `#[ignore]`d, and a run of ignored tests without
//! E2B_API_KEY skips them with a message. With the feature, a missing key fails them.
//!
//! They create a few short-lived sandboxes (killed at the end, with a 120 s timeout as a
//! backstop) in the account of the key.

use std::time::Duration;

use e2b_sandbox::{
    Client, CommandOptions, ListOptions, PtyOptions, PtySize, Sandbox, SandboxState, TimeoutKind,
};
use futures_util::{StreamExt as _, TryStreamExt as _};

/// Why the tests are ignored without the `live` feature.
const NOT_LIVE: &str = "a live test: run with --features live and E2B_API_KEY";

/// A client for the cloud; `None` (the test is skipped, said on stderr) when neither the
/// `live` feature nor E2B_API_KEY asks for the cloud.
fn client() -> Option<Client> {
    let has_key = std::env::var_os("E2B_API_KEY").is_some_and(|k| !k.is_empty());
    if !has_key && !cfg!(feature = "live") {
        eprintln!("skipped: {NOT_LIVE}");
        return None;
    }
    assert!(
        has_key,
        "the live tests need E2B_API_KEY (and optionally E2B_DOMAIN)"
    );
    Some(Client::from_env().expect("client from the environment"))
}

async fn sandbox(client: &Client) -> Sandbox {
    Sandbox::builder()
        .timeout(Duration::from_secs(120))
        .metadata([("e2b-rs-live-test", "1")])
        .create(client)
        .await
        .expect("sandbox created")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "live"),
    ignore = "a live test: run with --features live and E2B_API_KEY"
)]
async fn lifecycle_and_commands() {
    let Some(client) = client() else { return };
    let sbx = sandbox(&client).await;
    assert!(sbx.is_running().await.unwrap());
    let info = sbx.info().await.unwrap();
    assert_eq!(info.state, SandboxState::Running);
    assert_eq!(info.metadata["e2b-rs-live-test"], "1");

    let listed: Vec<_> = client
        .list_sandboxes_with(ListOptions::new().metadata([("e2b-rs-live-test", "1")]))
        .try_collect()
        .await
        .unwrap();
    assert!(listed.iter().any(|s| s.sandbox_id == sbx.id()));

    let out = sbx
        .commands()
        .run("echo hello; echo err >&2")
        .await
        .unwrap();
    assert_eq!(out.stdout, "hello\n");
    assert_eq!(out.stderr, "err\n");
    let err = sbx.commands().run("exit 4").await.unwrap_err();
    assert_eq!(err.command_exit_result().unwrap().exit_code, 4);
    let err = sbx
        .commands()
        .run_with(
            "sleep 10",
            CommandOptions::new().timeout(Duration::from_secs(1)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::Execution), "{err}");

    let handle = sbx
        .commands()
        .spawn_with("cat", CommandOptions::new().stdin(true))
        .await
        .unwrap();
    handle.send_stdin("round trip\n").await.unwrap();
    handle.close_stdin().await.unwrap();
    assert_eq!(handle.wait().await.unwrap().stdout, "round trip\n");

    sbx.set_timeout(Duration::from_secs(180)).await.unwrap();
    assert!(sbx.kill().await.unwrap());
    assert!(!sbx.is_running().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "live"),
    ignore = "a live test: run with --features live and E2B_API_KEY"
)]
async fn killed_sandbox_is_reported() {
    let Some(client) = client() else { return };
    let sbx = sandbox(&client).await;
    let handle = sbx
        .commands()
        .spawn_with("sleep 60", CommandOptions::new().no_timeout())
        .await
        .unwrap();
    assert!(client.kill_sandbox(sbx.id()).await.unwrap());
    let err = tokio::time::timeout(Duration::from_secs(30), handle.wait())
        .await
        .expect("the stream ends")
        .unwrap_err();
    assert!(err.is_sandbox_gone() || err.is_transport(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "live"),
    ignore = "a live test: run with --features live and E2B_API_KEY"
)]
async fn terminal() {
    let Some(client) = client() else { return };
    let sbx = sandbox(&client).await;
    let term = sbx
        .pty()
        .create_with(PtyOptions::new().size(PtySize::new().rows(24).cols(80)))
        .await
        .unwrap();
    let mut output = term.output();
    term.send_input(b"echo LIVE$((1+1))\n").await.unwrap();
    let mut seen = Vec::new();
    while let Some(chunk) = output.next().await {
        seen.extend_from_slice(&chunk);
        if String::from_utf8_lossy(&seen).contains("LIVE2") {
            break;
        }
    }
    assert!(String::from_utf8_lossy(&seen).contains("LIVE2"));
    assert!(term.kill().await.unwrap());
    assert!(sbx.kill().await.unwrap());
}
