//! Sandboxes of templates made from OCI images pulled from a real registry
//! on loopback: the image's root filesystem, environment, working directory
//! and user; writes that stay in the sandbox and survive a snapshot; the
//! template's start and ready commands.

use e2b_test_support as support;

use std::time::Duration;

use e2b_api::control::types;
use e2b_local::image::{PullOptions, RegistryAuth};
use e2b_local::templates::{ImageTemplate, create_from_image};
use e2b_local::{Server, ServerOptions};
use e2b_test_support::oci::{runnable, runnable_image};
use e2b_test_support::registry::Registry;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A loopback registry holding the runnable test image; the reference to it.
fn runnable_in_registry() -> (Registry, tempfile::TempDir, String) {
    let registry = Registry::start();
    let layout = registry.push_image(runnable_image(), "e2b/runnable", "v1");
    let reference = format!("{}/e2b/runnable:v1", registry.host());
    (registry, layout, reference)
}

/// A server on `data` (a template directory made before it started, or while it runs).
async fn server_on(data: &std::path::Path) -> Server {
    Server::start(
        ServerOptions::default()
            .with_agent_binary(support::agent_binary())
            .with_data_dir(data),
    )
    .await
    .expect("server starts")
}

async fn sh(server: &Server, id: &str, user: Option<&str>, cmd: &str) -> (i32, String, String) {
    support::exec(server, id, None, &["bash", "-c", cmd], user).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandboxes_run_on_the_images_root_with_its_config() {
    if !is_root() {
        return; // Image templates need a root server (writable roots).
    }
    let (_registry, _layout, reference) = runnable_in_registry();
    let data = tempfile::tempdir().unwrap();
    let template = ImageTemplate::new("runnable", &reference);
    let record = create_from_image(
        data.path(),
        &template,
        &RegistryAuth::Anonymous,
        &PullOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(record.user, runnable::USER);
    let server = server_on(data.path()).await;
    let id = support::create(
        &server,
        serde_json::json!({"templateID": "runnable", "timeout": 120}),
    )
    .await["sandboxID"]
        .as_str()
        .unwrap()
        .to_owned();
    // The image's environment, working directory and user are the defaults.
    let (code, out, err) = sh(&server, &id, None, "echo $IMAGE_VAR; pwd; id -un; cat /app/hello.txt; ls /opt/stuff; test -e /etc/removed-by-layer2 || echo whited-out").await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            runnable::IMAGE_VAR.1,
            runnable::WORKDIR,
            runnable::USER,
            "hello from layer 2",
            runnable::OPAQUE_KEPT,
            "whited-out"
        ]
    );
    // No host system inside: the image has no python3, the host does.
    let (code, _, _) = sh(&server, &id, Some("root"), "test -e /usr/bin/python3").await;
    assert_ne!(code, 0, "the host's /usr shows through the image's root");
    // Root writes anywhere; user through sudo.
    let (code, out, err) = sh(
        &server,
        &id,
        Some("root"),
        "echo mine > /etc/written && mkdir -p /srv/x && id -un",
    )
    .await;
    assert_eq!((code, out.trim()), (0, "root"), "{err}");
    let (code, out, err) = sh(
        &server,
        &id,
        Some("user"),
        "sudo cat /etc/written && sudo id -u",
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().collect::<Vec<_>>(), ["mine", "0"]);
    // The store's copy of the image is untouched; a second sandbox starts clean.
    let other =
        support::create(&server, serde_json::json!({"templateID": "runnable"})).await["sandboxID"]
            .as_str()
            .unwrap()
            .to_owned();
    let (code, _, _) = sh(&server, &other, Some("root"), "test -e /etc/written").await;
    assert_ne!(code, 0, "one sandbox's write showed in another");
    // A snapshot keeps the write and the image beneath it.
    let snapshot = support::api(&server)
        .post_sandboxes_sandbox_id_snapshots()
        .sandbox_id(&id)
        .body(types::SandboxSnapshotRequest {
            name: Some("runnable-edited".into()),
        })
        .send()
        .await
        .unwrap()
        .into_inner();
    let restored = support::create(
        &server,
        serde_json::json!({"templateID": snapshot.snapshot_id}),
    )
    .await["sandboxID"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, out, err) = sh(
        &server,
        &restored,
        None,
        "cat /etc/written; echo $IMAGE_VAR; pwd",
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["mine", runnable::IMAGE_VAR.1, runnable::WORKDIR]
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_waits_for_the_ready_command_and_reports_when_it_never_succeeds() {
    if !is_root() {
        return; // Image templates need a root server (writable roots).
    }
    let (_registry, _layout, reference) = runnable_in_registry();
    let data = tempfile::tempdir().unwrap();
    let ready = ImageTemplate::new("served", &reference).with_start_cmd(
        "sleep 0.3; echo up > /tmp/started; exec sleep 600",
        Some("test -s /tmp/started".to_owned()),
    );
    create_from_image(
        data.path(),
        &ready,
        &RegistryAuth::Anonymous,
        &PullOptions::default(),
    )
    .await
    .unwrap();
    let never = ImageTemplate::new("never", &reference)
        .with_ready_cmd("echo not yet >&2; false")
        .with_ready_timeout(Duration::from_secs(1));
    create_from_image(
        data.path(),
        &never,
        &RegistryAuth::Anonymous,
        &PullOptions::default(),
    )
    .await
    .unwrap();
    let server = server_on(data.path()).await;
    let id =
        support::create(&server, serde_json::json!({"templateID": "served"})).await["sandboxID"]
            .as_str()
            .unwrap()
            .to_owned();
    // Create returned after readiness: the start command's file is there,
    // and the start command still runs.
    let count_sleeps = "n=0; for f in /proc/[0-9]*/cmdline; do mapfile -d '' p < $f; [[ \"${p[*]}\" == 'sleep 600' ]] && n=$((n+1)); done; echo $n";
    let (code, out, err) = sh(
        &server,
        &id,
        None,
        &format!("cat /tmp/started; {count_sleeps}"),
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().collect::<Vec<_>>(), ["up", "1"]);
    // A ready command that never succeeds fails the create, saying why.
    let resp = support::authed_http(&server)
        .post(format!("{}/sandboxes", server.api_url()))
        .json(&serde_json::json!({"templateID": "never"}))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_server_error(), "{status}: {text}");
    assert!(
        text.contains("the ready command `echo not yet >&2; false` has not succeeded")
            && text.contains("not yet"),
        "{text}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_makes_lists_and_removes_templates_and_keeps_their_layers() {
    let (_registry, _layout, reference) = runnable_in_registry();
    let data = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_e2b-local"))
            .args(args)
            .arg("--data-dir")
            .arg(data.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let layers = || std::fs::read_dir(data.path().join("layers/sha256")).map_or(0, |d| d.count());
    let (ok, out) = cli(&[
        "template",
        "create",
        "tool",
        "--from-image",
        &reference,
        "--ready-cmd",
        "true",
    ]);
    assert!(ok, "{out}");
    let (ok, out) = cli(&["template", "ls"]);
    assert!(
        ok && out.starts_with("tool\t") && out.contains(&reference),
        "{out}"
    );
    let before = layers();
    assert!(before >= 2, "{before}");
    // Removing the image keeps the layers the template needs.
    let (ok, out) = cli(&["image", "rm", &reference]);
    assert!(ok, "{out}");
    assert_eq!(layers(), before, "{out}");
    if is_root() {
        // The control plane lists it, and a server runs it.
        let server = server_on(data.path()).await;
        let listed = support::api_get(&server, "/templates").await;
        assert!(listed.to_string().contains("\"tool\""), "{listed}");
        let id =
            support::create(&server, serde_json::json!({"templateID": "tool"})).await["sandboxID"]
                .as_str()
                .unwrap()
                .to_owned();
        let (code, out, _) = sh(&server, &id, None, "echo $IMAGE_VAR").await;
        assert_eq!((code, out.trim()), (0, runnable::IMAGE_VAR.1));
        server.shutdown().await;
    }
    let (ok, out) = cli(&["template", "rm", "tool"]);
    assert!(ok, "{out}");
    assert_eq!(layers(), 0, "{out}");
    let (ok, out) = cli(&["template", "rm", "tool"]);
    assert!(!ok && out.contains("no such template"), "{out}");
}
