//! Writable root filesystems: what an agent does in an E2B sandbox — write
//! anywhere as root, `sudo` as `user`, install packages with apt and pip —
//! works, stays in its own sandbox, is kept by snapshots, and shows nothing
//! of the host that not every host user may read.
//!
//! A writable root needs a root server with sandbox disks; unprivileged,
//! these tests check only that the host's system stays read-only.

use e2b_test_support as support;

use std::os::unix::fs::MetadataExt as _;
use std::time::Duration;

use e2b_api::control::types;
use e2b_local::{Server, ServerOptions};

/// Run a shell command; (exit code, stdout, stderr).
async fn sh(server: &Server, id: &str, user: &str, cmd: &str) -> (i32, String, String) {
    support::exec(server, id, None, &["bash", "-c", cmd], Some(user)).await
}

/// Run a shell command that must succeed; its stdout.
async fn ok(server: &Server, id: &str, user: &str, cmd: &str) -> String {
    let (code, out, err) = sh(server, id, user, cmd).await;
    assert_eq!(code, 0, "`{cmd}` as {user} failed: {err}{out}");
    out
}

fn root_server() -> bool {
    rustix::process::geteuid().is_root()
}

/// A server whose sandboxes have writable roots (cache shared with the
/// other tests of this binary, data in a fresh temporary directory).
async fn server_with(adjust: impl FnOnce(ServerOptions) -> ServerOptions) -> Server {
    Server::start(adjust(support::options()))
        .await
        .expect("server starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_writes_anywhere_and_user_needs_sudo() {
    let server = support::server().await;
    let id = support::create_base(&server, 120).await;
    if !root_server() {
        let (code, _, _) = sh(&server, &id, "user", "touch /etc/e2b-probe").await;
        assert_ne!(code, 0, "an unprivileged server's sandbox wrote to /etc");
        server.shutdown().await;
        return;
    }
    let marker = format!("/etc/e2b-written-{id}");
    ok(
        &server,
        &id,
        "root",
        &format!(
            "touch {marker} && mkdir -p /opt/tool /data && echo hi > /opt/tool/f && echo x > /data/y \
             && echo '# edited' >> /etc/passwd && cat /opt/tool/f"
        ),
    )
    .await;
    assert!(
        !std::path::Path::new(&marker).exists(),
        "the sandbox's write reached the host's /etc"
    );
    // Host files shown in the sandbox are changed there only (copied up),
    // even by root with every capability it has inside.
    let host_file = ["/etc/debian_version", "/etc/os-release"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
        .expect("a host file in /etc to tamper with");
    let before = std::fs::read(host_file).unwrap();
    let host_mode = std::fs::metadata(host_file).unwrap().mode();
    let out = ok(
        &server,
        &id,
        "root",
        &format!("echo tampered >> {host_file} && chmod 600 {host_file} && tail -n1 {host_file}"),
    )
    .await;
    assert_eq!(out.trim(), "tampered");
    assert_eq!(
        std::fs::read(host_file).unwrap(),
        before,
        "the sandbox changed the host's {host_file}"
    );
    assert_eq!(
        std::fs::metadata(host_file).unwrap().mode(),
        host_mode,
        "the sandbox changed the host's {host_file}'s mode"
    );
    // `user` may not write there itself, but may with sudo.
    let (code, _, err) = sh(&server, &id, "user", "touch /etc/by-user").await;
    assert_ne!(code, 0);
    assert!(err.contains("Permission denied"), "{err}");
    let out = ok(
        &server,
        &id,
        "user",
        "sudo touch /etc/by-user && stat -c '%U %G' /etc/by-user && sudo id -u && id -u",
    )
    .await;
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["root", "root", "0", "1000"]
    );
    // Ownership reads right for both accounts, and /tmp is still sticky.
    let out = ok(
        &server,
        &id,
        "user",
        "stat -c '%U %a' / /usr /etc /usr/bin/ls /root /home/user /tmp",
    )
    .await;
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "root 755",
            "root 755",
            "root 755",
            "root 755",
            "root 700",
            "user 755",
            "root 1777"
        ]
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandboxes_do_not_see_each_others_writes() {
    if !root_server() {
        return; // Without a writable root there is nothing to share.
    }
    let server = support::server().await;
    let first = support::create_base(&server, 120).await;
    let second = support::create_base(&server, 120).await;
    ok(
        &server,
        &first,
        "root",
        "echo first > /etc/owner && echo 1 > /opt/only-first",
    )
    .await;
    let out = ok(
        &server,
        &second,
        "root",
        "cat /etc/owner 2>/dev/null || echo none; ls /opt",
    )
    .await;
    assert_eq!(
        out.trim(),
        "none",
        "the second sandbox saw the first's writes"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_files_only_root_may_read_stay_hidden() {
    if !root_server() {
        return; // Unprivileged, in-sandbox root is no root at all.
    }
    // Every entry of the host's /etc that not every host user may read.
    let mut private = Vec::new();
    let mut stack = vec![std::path::PathBuf::from("/etc")];
    let etc_dev = std::fs::metadata("/etc").unwrap().dev();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let meta = entry.path().symlink_metadata().unwrap();
            if meta.dev() != etc_dev || meta.file_type().is_symlink() {
                continue;
            }
            let world = if meta.is_dir() { 0o005 } else { 0o004 };
            if meta.mode() & world != world {
                private.push(entry.path());
            } else if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    assert!(
        private.iter().any(|p| p.ends_with("shadow")),
        "this host has no private /etc/shadow to attack: {private:?}"
    );
    let server = support::server().await;
    let id = support::create_base(&server, 120).await;
    for path in &private {
        let path = path.display();
        // Account files are the sandbox's own; everything else is absent.
        let (_, out, _) = sh(
            &server,
            &id,
            "root",
            &format!("test -e {path} && head -c 4096 {path} | base64 -w0"),
        )
        .await;
        let host = std::fs::read(path.to_string()).unwrap_or_default();
        let seen = base64_decode(out.trim());
        if !seen.is_empty() {
            assert_ne!(
                seen,
                host[..host.len().min(4096)],
                "sandbox root read the host's {path}"
            );
            let text = String::from_utf8_lossy(&seen);
            assert!(
                text.contains("user:"),
                "{path} is visible but not the sandbox's own: {text}"
            );
        }
    }
    server.shutdown().await;
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sudo_passes_status_and_signals_and_refuses_strangers() {
    if !root_server() {
        return; // Only a root agent can serve sudo.
    }
    let server = support::server().await;
    let id = support::create_base(&server, 120).await;
    let (code, _, _) = sh(&server, &id, "user", "sudo sh -c 'exit 7'").await;
    assert_eq!(code, 7);
    let out = ok(
        &server,
        &id,
        "user",
        "sudo -u nobody id -u; echo piped | sudo cat; sudo -E env | grep -c '^SUDO_USER=user$'; cd /tmp && sudo pwd",
    )
    .await;
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["65534", "piped", "1", "/tmp"]
    );
    // An interrupt reaches the command, which ends with it.
    let out = ok(
        &server,
        &id,
        "user",
        "timeout -s INT 1 sudo sleep 30; echo $?; pgrep -x sleep | wc -l",
    )
    .await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "124", "{out}");
    support::eventually(Duration::from_secs(5), "the interrupted sleep ends", || {
        let server = &server;
        let id = &id;
        async move {
            ok(server, id, "root", "pgrep -x sleep | wc -l")
                .await
                .trim()
                == "0"
        }
    })
    .await;
    // An account that is neither root, `user` nor in group sudo is refused.
    ok(&server, &id, "root", "useradd guest").await;
    let (code, _, err) = sh(&server, &id, "root", "sudo -u guest sudo true").await;
    assert_eq!(code, 1);
    assert!(err.contains("guest is not in the sudoers file"), "{err}");
    let (code, _, err) = sh(&server, &id, "user", "sudo no-such-program").await;
    assert_eq!(code, 1);
    assert!(err.contains("no-such-program: command not found"), "{err}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packages_install_and_snapshots_keep_them() {
    if !root_server() {
        return; // Installing system packages needs in-sandbox root.
    }
    let server = support::server().await;
    let id = support::create_base(&server, 300).await;
    ok(&server, &id, "user", support::MAKE_PROBE_WHEEL).await;
    // pip as `user` installs for the user; with sudo, for everyone.
    ok(
        &server,
        &id,
        "user",
        "pip install -q --no-index /tmp/e2b_probe-1.0-py3-none-any.whl 2>&1 && python3 -c 'import e2b_probe, sys; assert e2b_probe.__file__.startswith(\"/home/user/.local\"), e2b_probe.__file__'",
    )
    .await;
    ok(
        &server,
        &id,
        "user",
        "pip uninstall -q -y e2b-probe && sudo pip install -q --no-index /tmp/e2b_probe-1.0-py3-none-any.whl 2>&1",
    )
    .await;
    // A Debian package, from Debian's archive.
    ok(
        &server,
        &id,
        "user",
        "sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tree >/dev/null",
    )
    .await;
    let check = "tree --version | head -c 9; echo; python3 -c 'import e2b_probe; print(e2b_probe.VALUE, e2b_probe.__file__)'";
    let before = ok(&server, &id, "user", check).await;
    assert!(before.starts_with("tree v2.1"), "{before}");
    assert!(before.contains("42 /usr/local/lib/python3"), "{before}");

    let api = support::api(&server);
    let snapshot = api
        .post_sandboxes_sandbox_id_snapshots()
        .sandbox_id(&id)
        .body(types::SandboxSnapshotRequest {
            name: Some("with-tree".into()),
        })
        .send()
        .await
        .unwrap()
        .into_inner();
    let from_snapshot = support::create(
        &server,
        serde_json::json!({"templateID": snapshot.snapshot_id, "timeout": 120}),
    )
    .await["sandboxID"]
        .as_str()
        .unwrap()
        .to_owned();
    let after = ok(&server, &from_snapshot, "user", check).await;
    assert_eq!(after, before, "the snapshot lost the installed packages");
    // The package database knows it, too.
    ok(
        &server,
        &from_snapshot,
        "user",
        "dpkg -s tree | grep -q '^Status: install ok installed'",
    )
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disk_limit_covers_the_whole_root() {
    if !root_server() {
        return; // Unprivileged servers have no disk cap (documented).
    }
    let server = server_with(|o| o.with_sandbox_disk_limit(Some(64 << 20))).await;
    let id = support::create_base(&server, 120).await;
    // Written through the overlay of the host's /usr: its copy lands on the disk.
    let (code, _, err) = sh(
        &server,
        &id,
        "root",
        "dd if=/dev/zero of=/usr/big bs=1M count=128",
    )
    .await;
    assert_ne!(code, 0, "128 MiB fit on a 64 MiB disk");
    assert!(err.contains("No space left on device"), "{err}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_root_can_be_chosen() {
    let server = server_with(|o| o.with_writable_root(false)).await;
    let id = support::create_base(&server, 120).await;
    let (code, _, err) = sh(&server, &id, "root", "touch /etc/e2b-probe").await;
    assert_ne!(code, 0);
    assert!(
        err.contains("Read-only file system") || err.contains("Permission denied"),
        "{err}"
    );
    ok(&server, &id, "user", "touch /home/user/ok /tmp/ok").await;
    server.shutdown().await;
}

/// Snapshot `id` under `name`; the snapshot's template reference.
async fn snapshot(server: &Server, id: &str, name: &str) -> String {
    support::api(server)
        .post_sandboxes_sandbox_id_snapshots()
        .sandbox_id(id)
        .body(types::SandboxSnapshotRequest {
            name: Some(name.into()),
        })
        .send()
        .await
        .unwrap()
        .into_inner()
        .snapshot_id
}

/// Bytes of the files under `dir` (allocated blocks).
fn disk_usage(dir: &std::path::Path) -> u64 {
    if !dir.exists() {
        return 0;
    }
    let out = std::process::Command::new("du")
        .arg("-s")
        .arg("-B1")
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_are_layers_of_what_changed_and_chain() {
    if !root_server() {
        return; // Snapshots as layers need writable roots.
    }
    let server = support::server().await;
    let first = support::create_base(&server, 120).await;
    // 24 MiB in the system, a file in the home and in /tmp.
    ok(
        &server,
        &first,
        "root",
        "head -c 25165824 /dev/urandom > /opt/blob && echo home-1 > /home/user/one && echo tmp-1 > /tmp/one",
    )
    .await;
    let layers = server.data_dir().join("build-layers");
    let before = disk_usage(&layers);
    let one = snapshot(&server, &first, "chain-one").await;
    let grown = disk_usage(&layers) - before;
    // The snapshot costs what changed: the blob, not the host's system.
    assert!(
        (24 << 20..40 << 20).contains(&grown),
        "the first snapshot took {grown} bytes"
    );

    // A sandbox of it starts with those changes, adds its own, is snapshotted in turn.
    let second = support::create(
        &server,
        serde_json::json!({"templateID": one, "timeout": 120}),
    )
    .await["sandboxID"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &server,
        &second,
        "user",
        "echo home-2 > /home/user/two && rm /home/user/one",
    )
    .await;
    let before = disk_usage(&layers);
    let two = snapshot(&server, &second, "chain-two").await;
    let grown = disk_usage(&layers) - before;
    assert!(
        grown < 4 << 20,
        "the second snapshot copied the first's changes: {grown} bytes"
    );

    // Deleting the first snapshot keeps what the second stands on.
    let deleted = support::authed_http(&server)
        .delete(format!("{}/templates/{one}", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    let third = support::create(
        &server,
        serde_json::json!({"templateID": two, "timeout": 120}),
    )
    .await["sandboxID"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = ok(
        &server,
        &third,
        "user",
        "stat -c %s /opt/blob; cat /home/user/two /tmp/one; test -e /home/user/one || echo one-removed; stat -c %U /home/user/two",
    )
    .await;
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["25165824", "home-2", "tmp-1", "one-removed", "user"]
    );
}
