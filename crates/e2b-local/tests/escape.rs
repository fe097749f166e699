//! Escape attempts from inside real sandboxes, as `root` and as `user`.
//!
//! Every test plays a hostile tenant: it only runs commands through the
//! public API, tries one way out, and fails if the way out works. Each
//! attack is also checked to have really been tried (the attacking program
//! ran and reported), so a broken probe cannot pass for a blocked attack.

use e2b_test_support as support;

use std::io::Write as _;
use std::time::{Duration, Instant};

use e2b_local::{Server, ServerOptions};
use serde_json::json;

const USERS: [&str; 2] = ["root", "user"];

/// Run a shell command as `user`; (exit code, stdout, stderr).
async fn sh(server: &Server, id: &str, user: &str, cmd: &str) -> (i32, String, String) {
    support::exec(server, id, None, &["sh", "-c", cmd], Some(user)).await
}

/// Run a Python program as `user`; its stdout, after checking it ran to the end.
async fn py(server: &Server, id: &str, user: &str, program: &str) -> String {
    let (code, out, err) =
        support::exec(server, id, None, &["python3", "-c", program], Some(user)).await;
    assert_eq!(code, 0, "probe failed as {user}: {err}\n{program}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_knobs_and_host_memory_are_out_of_reach() {
    let server = support::server().await;
    let id = support::create_base(&server, 120).await;
    let host_core_pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    for user in USERS {
        for (knob, value) in [
            ("/proc/sys/kernel/core_pattern", "|/tmp/p.sh"),
            ("/proc/sys/kernel/modprobe", "/tmp/p.sh"),
            ("/proc/sys/vm/panic_on_oom", "1"),
            ("/proc/sysrq-trigger", "h"),
            ("/proc/sys/net/ipv4/ip_forward", "1"),
        ] {
            let (code, _, err) = sh(&server, &id, user, &format!("echo '{value}' > {knob}")).await;
            assert_ne!(code, 0, "{user} could write {knob}");
            assert!(!err.is_empty(), "the write to {knob} failed silently");
        }
        // Kernel memory, keys and timers of the host read as nothing.
        for masked in [
            "/proc/kcore",
            "/proc/keys",
            "/proc/timer_list",
            "/proc/kallsyms",
        ] {
            let (_, out, _) = sh(&server, &id, user, &format!("head -c 64 {masked} | wc -c")).await;
            assert_eq!(out.trim(), "0", "{user} read {masked}");
        }
        // /sys is not there at all.
        let (code, _, _) = sh(&server, &id, user, "ls /sys/kernel").await;
        assert_ne!(code, 0, "{user} sees /sys");
    }
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        host_core_pattern
    );
    server.shutdown().await;
}

/// The host paths a sandbox must never learn: the server's data directory
/// and the directory of the agent binary.
fn host_paths(server: &Server) -> (String, String) {
    let agent = support::agent_binary();
    let agent = agent.parent().unwrap();
    (
        server.data_dir().to_string_lossy().into_owned(),
        agent.to_string_lossy().into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_host_path_shows_in_the_sandboxes_processes() {
    let server = support::server().await;
    let id = support::create_base(&server, 120).await;
    let (data_dir, agent) = host_paths(&server);
    for user in USERS {
        let (code, out, _) = sh(
            &server,
            &id,
            user,
            "for f in /proc/[0-9]*/cmdline /proc/[0-9]*/environ; do tr '\\0' ' ' < $f 2>/dev/null; echo; done",
        )
        .await;
        assert_eq!(code, 0);
        assert!(out.contains("envd"), "the probe saw no process: {out}");
        assert!(!out.contains(&data_dir), "{user} saw the data dir: {out}");
        assert!(
            !out.contains(&agent),
            "{user} saw the agent's host path: {out}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_host_path_shows_in_the_sandboxes_mounts() {
    if !rustix::process::geteuid().is_root() {
        // An unprivileged server binds host directories as they are (see
        // the README's isolation model); only a root server can stage them.
        return;
    }
    let server = support::server().await;
    let id = support::create_base(&server, 120).await;
    let (data_dir, agent) = host_paths(&server);
    for user in USERS {
        let (code, out, _) = sh(
            &server,
            &id,
            user,
            "cat /proc/self/mountinfo /proc/1/mountinfo /proc/self/mounts",
        )
        .await;
        assert_eq!(code, 0);
        assert!(
            out.contains(" /home/user "),
            "the probe saw no mount: {out}"
        );
        assert!(!out.contains(&data_dir), "{user} saw the data dir: {out}");
        assert!(
            !out.contains(&agent),
            "{user} saw the agent's host path: {out}"
        );
        assert!(
            !out.contains(&id),
            "{user} saw its sandbox's host directory: {out}"
        );
    }
    server.shutdown().await;
}

/// A server whose sandboxes' disks are small (where the host allows disks).
async fn small_disk_server() -> Server {
    let options: ServerOptions = support::options().with_sandbox_disk_limit(Some(64 * 1024 * 1024));
    Server::start(options).await.expect("server starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filling_the_disk_stops_at_the_sandboxs_own_cap() {
    if !rustix::process::geteuid().is_root() {
        // Sandbox disks are loop-mounted images: a root server's.
        return;
    }
    let server = small_disk_server().await;
    let filler = support::create_base(&server, 120).await;
    let bystander = support::create_base(&server, 120).await;
    for (user, dir) in [("user", "/home/user"), ("root", "/tmp")] {
        // 128 MiB against a 64 MiB disk.
        let (code, _, err) = sh(
            &server,
            &filler,
            user,
            &format!("dd if=/dev/zero of={dir}/fill bs=1M count=128 status=none"),
        )
        .await;
        assert_ne!(code, 0, "{user} wrote past the cap");
        assert!(err.contains("No space left"), "{user}: {err}");
        let (_, out, _) = sh(
            &server,
            &filler,
            user,
            &format!("rm -f {dir}/fill; echo ok"),
        )
        .await;
        assert_eq!(out.trim(), "ok");
    }
    // The host did not pay for it: the data dir holds far less than was written.
    let used = du(server.data_dir());
    assert!(used < 96 * 1024 * 1024, "the data dir grew to {used} bytes");
    // The other sandbox and the server are unaffected, and the sandbox's
    // metrics report its own disk.
    let (code, out, _) = sh(&server, &bystander, "user", "echo alive > f && cat f").await;
    assert_eq!((code, out.trim()), (0, "alive"));
    let metrics = support::api_get(&server, &format!("/sandboxes/{filler}/metrics")).await;
    let total = metrics[0]["diskTotal"].as_u64().unwrap();
    assert!(
        (32 << 20..=64 << 20).contains(&total),
        "diskTotal {total}: {metrics}"
    );
    server.shutdown().await;
}

/// Allocated bytes under `root`.
fn du(root: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let mut total = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        total += meta.blocks() * 512;
        if meta.is_dir() {
            stack.extend(
                std::fs::read_dir(&path)
                    .unwrap()
                    .flatten()
                    .map(|e| e.path()),
            );
        }
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileged_system_calls_are_refused() {
    let server = support::server().await;
    let id = support::create_base(&server, 120).await;
    // Each call must fail; the probe prints the errno of every attempt.
    let probe = r#"
import ctypes, os, platform
libc = ctypes.CDLL(None, use_errno=True)
nr = {"x86_64": {"keyctl": 250, "add_key": 248, "bpf": 321, "init_module": 175,
                 "io_uring_setup": 425, "unshare": 272, "mount": 165, "ptrace": 101,
                 "perf_event_open": 298, "kexec_load": 246},
      "aarch64": {"keyctl": 219, "add_key": 217, "bpf": 280, "init_module": 105,
                  "io_uring_setup": 425, "unshare": 97, "mount": 40, "ptrace": 117,
                  "perf_event_open": 241, "kexec_load": 104}}[platform.machine()]
buf = ctypes.create_string_buffer(256)
calls = {
    "mount": (nr["mount"], b"none", b"/tmp", b"tmpfs", 0, 0),
    "unshare_user": (nr["unshare"], 0x10000000),
    "unshare_mount": (nr["unshare"], 0x00020000),
    "unshare_net": (nr["unshare"], 0x40000000),
    "ptrace_attach_1": (nr["ptrace"], 16, 1, 0, 0),
    "keyctl": (nr["keyctl"], 0, -3, 0),
    "add_key": (nr["add_key"], b"user", b"k", b"v", 1, -4),
    "bpf": (nr["bpf"], 0, buf, 64),
    "init_module": (nr["init_module"], buf, 16, b""),
    "io_uring_setup": (nr["io_uring_setup"], 1, buf),
    "perf_event_open": (nr["perf_event_open"], buf, 0, -1, -1, 0),
    "kexec_load": (nr["kexec_load"], 0, 0, 0, 0),
}
for name, args in calls.items():
    r = libc.syscall(*args)
    print(name, "ok" if r >= 0 else "errno=%d" % ctypes.get_errno())
print("done")
"#;
    for user in USERS {
        let out = py(&server, &id, user, probe).await;
        assert!(out.trim_end().ends_with("done"), "{out}");
        let allowed: Vec<&str> = out.lines().filter(|l| l.ends_with(" ok")).collect();
        assert!(allowed.is_empty(), "as {user}: {allowed:?}\n{out}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandboxes_and_the_host_are_unreachable_over_the_network() {
    let server = support::server().await;
    let a = support::create_base(&server, 120).await;
    let b = support::create_base(&server, 120).await;
    // A host service on loopback, and the server's own port (the edge).
    let host_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host_port = host_listener.local_addr().unwrap().port();
    let edge_port = server.local_addr().port();
    // A service on the same port in both sandboxes: each binds its own.
    let serve = "import socket,sys\ns=socket.socket()\ns.bind(('0.0.0.0', 8123))\ns.listen()\nwhile True:\n    c,_=s.accept()\n    c.sendall(sys.argv[1].encode())\n    c.close()\n";
    for (id, name) in [(&a, "in-a"), (&b, "in-b")] {
        support::spawn(
            &server,
            id,
            None,
            &["python3", "-c", serve, name],
            Some("user"),
        )
        .await;
    }
    let connect = |targets: &[(String, u16)]| {
        let list = targets
            .iter()
            .map(|(h, p)| format!("('{h}', {p})"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "import socket\nfor t in [{list}]:\n    try:\n        c = socket.create_connection(t, timeout=2)\n        print(t, 'open', c.recv(16))\n    except OSError as e:\n        print(t, 'closed', e.__class__.__name__)\nprint('done')\n"
        )
    };
    for user in USERS {
        // Its own service answers; everything outside the sandbox does not.
        let probe = connect(&[("127.0.0.1".into(), 8123)]);
        support::eventually(
            Duration::from_secs(10),
            "b's own service answers",
            || async { py(&server, &b, user, &probe).await.contains("open b'in-b'") },
        )
        .await;
        let out = py(
            &server,
            &b,
            user,
            &connect(&[
                ("127.0.0.1".into(), host_port),
                ("127.0.0.1".into(), edge_port),
                ("10.0.2.2".into(), host_port),
                ("10.0.2.2".into(), edge_port),
                ("10.0.2.2".into(), 8123),
            ]),
        )
        .await;
        assert!(out.trim_end().ends_with("done"), "{out}");
        assert!(!out.contains("open"), "as {user}, reached: {out}");
    }
    drop(host_listener);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packet_sockets_see_no_one_elses_traffic() {
    let server = support::server().await;
    let id = support::create_base(&server, 120).await;
    let marker = "e2b-sniff-marker-7f3a";
    // Capture on every interface for a bounded window, after proving the
    // capture works on the sandbox's own traffic.
    let sniff = format!(
        r#"
import socket, time
try:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
except OSError as e:
    print("refused", e.__class__.__name__); raise SystemExit
s.settimeout(0.2)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"self-marker", ("127.0.0.1", 9))
seen_self = seen_other = False
end = time.time() + 3
while time.time() < end:
    try:
        data = s.recv(65535)
    except socket.timeout:
        continue
    seen_self |= b"self-marker" in data
    seen_other |= b"{marker}" in data
print("self", seen_self, "other", seen_other)
"#
    );
    let key = server.api_key().to_owned();
    let api = server.api_url();
    // Host traffic carrying secrets while the sandbox listens.
    let chatter = tokio::spawn(async move {
        let http = support::http();
        let until = Instant::now() + Duration::from_secs(4);
        while Instant::now() < until {
            let _ = http
                .get(format!("{api}/sandboxes"))
                .header("X-API-Key", &key)
                .header("X-Access-Token", marker)
                .send()
                .await;
        }
    });
    for user in USERS {
        let out = py(&server, &id, user, &sniff).await;
        assert!(
            out.starts_with("refused") || out.trim() == "self True other False",
            "as {user}: {out}"
        );
    }
    chatter.abort();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_agent_files_reaches_nothing_on_the_host() {
    let server = support::server().await;
    let id = support::create_base(&server, 120).await;
    let mut canary = tempfile::NamedTempFile::new().unwrap();
    canary.write_all(b"canary").unwrap();
    let canary_path = canary.path().to_string_lossy().into_owned();
    let host_socket = tempfile::tempdir().unwrap();
    let host_socket_path = host_socket.path().join("host.sock");
    let listener = std::os::unix::net::UnixListener::bind(&host_socket_path).unwrap();
    listener.set_nonblocking(true).unwrap();
    // Point every name the agent once used at host files and sockets.
    let (code, _, err) = sh(
        &server,
        &id,
        "root",
        &format!(
            "cd /run/e2b && for n in envd.sock agent.sock; do rm -f $n; ln -s {} $n; done && for n in agent.json config.json; do rm -f $n; ln -s {canary_path} $n; done",
            host_socket_path.display()
        ),
    )
    .await;
    assert_eq!(code, 0, "{err}");
    // Pause, resume and use the sandbox: the server must still reach its agent.
    let api = support::api(&server);
    api.post_sandboxes_sandbox_id_pause()
        .sandbox_id(&id)
        .body(e2b_api::control::types::SandboxPauseRequest::default())
        .send()
        .await
        .unwrap();
    api.post_sandboxes_sandbox_id_connect()
        .sandbox_id(&id)
        .body(e2b_api::control::types::ConnectSandbox { timeout: 60 })
        .send()
        .await
        .unwrap();
    let (code, out, _) = sh(&server, &id, "user", "echo still-here").await;
    assert_eq!((code, out.trim()), (0, "still-here"));
    assert_eq!(std::fs::read_to_string(canary.path()).unwrap(), "canary");
    assert!(
        listener.accept().is_err(),
        "the server connected to a socket the sandbox chose"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_cannot_be_impersonated_from_inside() {
    let server = support::server().await;
    let id = support::create_base(&server, 120).await;
    let port = server.local_addr().port();
    // `user` tries to become root by calling the edge as a client would.
    let attack = format!(
        "import urllib.request\nfor host in ['127.0.0.1', '10.0.2.2']:\n    req = urllib.request.Request('http://%s:{port}/envs' % host, headers={{'E2b-Sandbox-Id': '{id}', 'E2b-Sandbox-Port': '49983', 'Authorization': 'Basic cm9vdDo='}})\n    try:\n        urllib.request.urlopen(req, timeout=2)\n        print(host, 'reached')\n    except Exception as e:\n        print(host, 'failed', e.__class__.__name__)\nprint('done')\n"
    );
    let out = py(&server, &id, "user", &attack).await;
    assert!(out.trim_end().ends_with("done"), "{out}");
    assert!(!out.contains("reached"), "{out}");
    server.shutdown().await;
}

/// A server with tight limits, for attacks on resources.
async fn limited_server() -> Server {
    let options: ServerOptions = support::options()
        .with_sandbox_memory_limit(Some(256 * 1024 * 1024))
        .with_sandbox_pids_limit(Some(200));
    Server::start(options).await.expect("server starts")
}

/// Whether this server enforces memory and process limits (root with cgroups).
fn limits_enforced() -> bool {
    rustix::process::geteuid().is_root()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_bomb_is_bounded_and_killable() {
    if !limits_enforced() {
        // Unprivileged servers have no cgroups to bound processes with.
        return;
    }
    let server = limited_server().await;
    let bomb = support::create_base(&server, 120).await;
    let bystander = support::create_base(&server, 120).await;
    support::spawn(
        &server,
        &bomb,
        None,
        &["sh", "-c", "b() { b | b & }; b"],
        Some("user"),
    )
    .await;
    // The bomb reaches its ceiling (the pids controller refuses forks)...
    let pids = [
        "/sys/fs/cgroup/pids",
        "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup",
    ]
    .iter()
    .find_map(|root| {
        support::find_cgroup(
            std::path::Path::new(root),
            &|n| n == bomb,
            &["pids.events"],
            7,
        )
    })
    .expect("the sandbox has a pids cgroup");
    support::eventually(Duration::from_secs(20), "the bomb hits pids.max", || {
        let events = std::fs::read_to_string(pids.join("pids.events")).unwrap_or_default();
        async move {
            events
                .split_whitespace()
                .nth(1)
                .is_some_and(|n| n.parse::<u64>().is_ok_and(|n| n > 0))
        }
    })
    .await;
    // ... while the server and the other sandbox answer.
    for _ in 0..3 {
        let started = Instant::now();
        let (code, out, _) = sh(&server, &bystander, "user", "echo alive").await;
        assert_eq!((code, out.trim()), (0, "alive"));
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    let resp = support::authed_http(&server)
        .delete(format!("{}/sandboxes/{bomb}", server.api_url()))
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(support::info_status(&server, &bomb).await, 404);
    let (code, _, _) = sh(&server, &bystander, "user", "true").await;
    assert_eq!(code, 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_hog_is_stopped_at_the_limit() {
    if !limits_enforced() {
        // Unprivileged servers have no cgroups to bound memory with.
        return;
    }
    let server = limited_server().await;
    let hog = support::create_base(&server, 120).await;
    let bystander = support::create_base(&server, 120).await;
    // 1 GiB, touched page by page, against a 256 MiB limit.
    let (code, out, _) = support::exec(
        &server,
        &hog,
        None,
        &[
            "python3",
            "-c",
            "b = []\nfor i in range(64):\n    b.append(bytearray(16 << 20))\nprint('allocated')",
        ],
        Some("user"),
    )
    .await;
    assert_ne!(code, 0, "the hog was not stopped");
    assert!(!out.contains("allocated"), "{out}");
    let (code, out, _) = sh(&server, &bystander, "user", "echo alive").await;
    assert_eq!((code, out.trim()), (0, "alive"));
    // The hog's sandbox itself keeps working after its process was killed.
    let (code, _, _) = sh(&server, &hog, "user", "true").await;
    assert_eq!(code, 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandboxes_get_the_default_cpu_and_memory() {
    let server = support::server().await;
    let created = support::create(&server, json!({"templateID": "base"})).await;
    let id = created["sandboxID"].as_str().unwrap();
    let info = support::api_get(&server, &format!("/sandboxes/{id}")).await;
    let host_cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(
        info["cpuCount"],
        json!(host_cpus.min(e2b_local::DEFAULT_CPU_COUNT as usize))
    );
    assert_eq!(info["memoryMB"], json!(e2b_local::DEFAULT_MEMORY_MB));
    if limits_enforced() {
        // The quota is in the sandbox's cgroup: 2 CPUs per 100 ms period.
        let quota = [
            "/sys/fs/cgroup/cpu",
            "/sys/fs/cgroup/unified",
            "/sys/fs/cgroup",
        ]
        .iter()
        .find_map(|root| {
            support::find_cgroup(
                std::path::Path::new(root),
                &|n| n == id,
                &["cpu.cfs_quota_us", "cpu.max"],
                7,
            )
        })
        .and_then(|dir| {
            std::fs::read_to_string(dir.join("cpu.cfs_quota_us"))
                .or_else(|_| std::fs::read_to_string(dir.join("cpu.max")))
                .ok()
        })
        .expect("the sandbox has a CPU-limited cgroup");
        assert!(
            quota.trim() == "200000" || quota.trim() == "200000 100000",
            "{quota}"
        );
    }
    server.shutdown().await;
}
