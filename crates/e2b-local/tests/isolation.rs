//! What a process inside a sandbox can see and do, with real bubblewrap.

use e2b_test_support as support;

use std::time::Duration;

use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandboxes_cannot_see_each_other_or_the_host() {
    let server = support::server().await;
    let a = support::create_base(&server, 120).await;
    let b = support::create_base(&server, 120).await;
    let (code, _, err) = support::exec(
        &server,
        &b,
        None,
        &[
            "sh",
            "-c",
            "echo b-secret > /home/user/secret; echo t > /tmp/b-tmp",
        ],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let data_dir = server.data_dir().display().to_string();
    let b_home = format!("{data_dir}/sandboxes/{b}/home/secret");

    // The data dir (and so every other sandbox's files) does not exist inside.
    for path in [data_dir.as_str(), b_home.as_str()] {
        let (code, _, _) =
            support::exec(&server, &a, None, &["test", "-e", path], Some("root")).await;
        assert_ne!(code, 0, "{path} is visible inside a sandbox");
    }
    let (_, out, _) = support::exec(
        &server,
        &a,
        None,
        &[
            "sh",
            "-c",
            "ls -A /home; ls -A /tmp; ls -A /run; ls -A /root",
        ],
        Some("root"),
    )
    .await;
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["user", "e2b"],
        "only its own home, empty /tmp and /root, and /run/e2b"
    );

    // `..` and symlinks resolve inside the sandbox's own tree, never to the host's.
    let escape = format!("/home/user/../../..{b_home}");
    let (code, _, _) = support::exec(&server, &a, None, &["cat", &escape], Some("root")).await;
    assert_ne!(code, 0);
    let (code, _, _) = support::exec(
        &server,
        &a,
        None,
        &[
            "sh",
            "-c",
            &format!("ln -s {b_home} /home/user/link && cat /home/user/link"),
        ],
        Some("user"),
    )
    .await;
    assert_ne!(code, 0);
    let (code, out, _) = support::exec(
        &server,
        &a,
        None,
        &[
            "sh",
            "-c",
            "ln -sf /etc/shadow /home/user/shadow && cat /home/user/shadow",
        ],
        Some("root"),
    )
    .await;
    assert_eq!(code, 0);
    assert!(
        out.contains("user:*:") && !out.contains("$"),
        "the host's shadow leaked: {out}"
    );

    // Pid namespace: only the sandbox's own processes.
    let (_, out, _) = support::exec(
        &server,
        &a,
        None,
        &["sh", "-c", "ls /proc | grep -c '^[0-9]'"],
        None,
    )
    .await;
    let count: u32 = out.trim().parse().unwrap();
    assert!(count < 10, "{count} processes visible");
    let (_, out, _) = support::exec(&server, &a, None, &["hostname"], None).await;
    assert_eq!(out.trim(), "e2b");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_and_root_have_the_expected_rights() {
    let server = support::server().await;
    let id = support::create_base(&server, 120).await;
    let run = |cmd: &'static str, user: Option<&'static str>| {
        let server = &server;
        let id = id.clone();
        async move { support::exec(server, &id, None, &["sh", "-c", cmd], user).await }
    };
    let (code, out, _) = run("id -un; stat -c '%u:%g' /home/user", Some("user")).await;
    assert_eq!(code, 0);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["user", "1000:1000"]);
    let (code, _, _) = run("echo x > /home/user/mine && echo y > /tmp/y", Some("user")).await;
    assert_eq!(code, 0);
    // The system is root's, the agent's directory private.
    for cmd in ["touch /usr/x", "touch /etc/x", "touch /run/e2b/bin/x"] {
        let (code, _, _) = run(cmd, Some("user")).await;
        assert_ne!(code, 0, "user could `{cmd}`");
    }
    // The agent's socket and configuration are the server's descriptors,
    // never files the sandbox (even its root) can see or replace; the only
    // other entry is the socket of `sudo`, where the agent serves it.
    for user in ["user", "root"] {
        let (code, out, _) = run("ls -A /run/e2b | grep -vx sudo.sock", Some(user)).await;
        assert_eq!((code, out.trim()), (0, "bin"), "as {user}");
    }
    let (code, _, _) = run("touch /run/e2b/bin/e2b-local", Some("root")).await;
    assert_ne!(code, 0, "root could replace the agent's executable");
    // Root inside keeps no mount or admin capability.
    let (code, _, _) = run(
        "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m",
        Some("root"),
    )
    .await;
    assert_ne!(code, 0, "root could mount");
    let (_, out, _) = run("grep CapEff /proc/self/status", Some("root")).await;
    let caps = u64::from_str_radix(out.split_whitespace().nth(1).unwrap(), 16).unwrap();
    const CAP_SYS_ADMIN: u64 = 1 << 21;
    const CAP_SETUID: u64 = 1 << 7;
    assert_eq!(caps & CAP_SYS_ADMIN, 0, "CapEff {caps:x}");
    assert_ne!(
        caps & CAP_SETUID,
        0,
        "the agent must be able to switch users: CapEff {caps:x}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sandbox_has_its_own_network() {
    let server = support::server().await;
    let offline = support::create(
        &server,
        json!({"templateID": "base", "allow_internet_access": false}),
    )
    .await;
    let offline = offline["sandboxID"].as_str().unwrap();
    let (_, out, _) = support::exec(
        &server,
        offline,
        None,
        &["sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1"],
        None,
    )
    .await;
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["lo"]);
    let online = support::create_base(&server, 60).await;
    let (_, out, _) = support::exec(
        &server,
        &online,
        None,
        &["sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1"],
        None,
    )
    .await;
    let mut ifaces: Vec<&str> = out.split_whitespace().collect();
    ifaces.sort_unstable();
    assert_eq!(
        ifaces,
        ["lo", "tap0"],
        "an online sandbox has its own network: loopback and the user-mode link"
    );
    server.shutdown().await;
}

fn processes_with(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_removes_every_process_including_daemons() {
    let server = support::server().await;
    let id = support::create_base(&server, 120).await;
    // A unique duration marks this sandbox's processes on the host.
    let marker = format!(
        "{}.{}",
        4000 + std::process::id() % 1000,
        std::process::id()
    );
    let daemon = format!(
        "setsid sh -c 'sleep {marker}' >/dev/null 2>&1 < /dev/null & sleep {marker} >/dev/null 2>&1 &"
    );
    let (code, _, err) =
        support::exec(&server, &id, None, &["sh", "-c", &daemon], Some("user")).await;
    assert_eq!(code, 0, "{err}");
    support::eventually(
        Duration::from_secs(10),
        "the sandbox's processes to start",
        || async { processes_with(&marker) >= 2 },
    )
    .await;
    let resp = support::authed_http(&server)
        .delete(format!("{}/sandboxes/{id}", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    support::eventually(
        Duration::from_secs(10),
        "every process of the killed sandbox to exit",
        || async { processes_with(&marker) == 0 },
    )
    .await;
    // Its files are gone too.
    assert!(!server.data_dir().join("sandboxes").join(&id).exists());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_server_kills_its_sandboxes() {
    let server = support::server().await;
    let id = support::create_base(&server, 120).await;
    let marker = format!(
        "{}.{}",
        5000 + std::process::id() % 1000,
        std::process::id()
    );
    let (code, _, err) = support::exec(
        &server,
        &id,
        None,
        &["sh", "-c", &format!("sleep {marker} >/dev/null 2>&1 &")],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    support::eventually(Duration::from_secs(10), "the process to start", || async {
        processes_with(&marker) == 1
    })
    .await;
    drop(server);
    // Drop itself waits until the processes are dead.
    assert_eq!(
        processes_with(&marker),
        0,
        "a sandbox process outlived the dropped server"
    );
}
