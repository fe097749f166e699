//! The `e2b-local` binary: `serve` (environment, health, signals, key
//! validation, unprivileged mode) and `doctor`.

use e2b_test_support as support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_e2b-local");

/// Start `serve` and read the environment it prints.
async fn serve(cmd: Command) -> (Child, Vec<(String, String)>) {
    serve_with_stderr(cmd, Stdio::null()).await
}

/// [`serve`], with its log going to `stderr`.
async fn serve_with_stderr(mut cmd: Command, stderr: Stdio) -> (Child, Vec<(String, String)>) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut env = Vec::new();
    let read = async {
        while env.len() < 5 {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("serve exited before printing its environment");
            let (k, v) = line.split_once('=').expect("KEY=value lines");
            env.push((k.to_owned(), v.to_owned()));
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("serve printed its environment in time");
    (child, env)
}

fn get<'a>(env: &'a [(String, String)], key: &str) -> &'a str {
    env.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{key} not printed"))
}

fn terminate(child: &Child) {
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id().unwrap()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_prints_the_environment_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        // The agent is the serving binary itself.
        .env_remove("E2B_LOCAL_BIN");
    let (mut child, env) = serve(cmd).await;
    assert_eq!(
        env.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        [
            "E2B_API_URL",
            "E2B_SANDBOX_URL",
            "E2B_API_KEY",
            "E2B_DOMAIN",
            "E2B_VOLUME_API_URL"
        ]
    );
    let api = get(&env, "E2B_API_URL");
    assert_eq!(get(&env, "E2B_SANDBOX_URL"), api);
    assert_eq!(get(&env, "E2B_VOLUME_API_URL"), api);
    let key = get(&env, "E2B_API_KEY");
    assert!(e2b_local::is_valid_api_key(key), "{key}");
    assert_eq!(key.len(), 4 + 32);
    let port = api.rsplit(':').next().unwrap();
    assert_eq!(get(&env, "E2B_DOMAIN"), format!("localhost:{port}"));

    let http = support::http();
    assert_eq!(
        http.get(format!("{api}/health"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let resp = http
        .post(format!("{api}/sandboxes"))
        .header("X-API-Key", key)
        .json(&json!({"templateID": "base"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let id = resp.json::<Value>().await.unwrap()["sandboxID"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = http
        .get(format!("{api}/health"))
        .header("E2b-Sandbox-Id", &id)
        .header("E2b-Sandbox-Port", "49983")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);

    terminate(&child);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("serve exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(
        !dir.path().join("sandboxes").join(&id).exists(),
        "the running sandbox outlived the server"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_port_zero_prints_the_port_it_chose() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("E2B_LOCAL_BIN");
    let (mut child, env) = serve(cmd).await;
    let port = |url: &str| -> u16 {
        let port = url.rsplit(':').next().unwrap();
        port.parse()
            .unwrap_or_else(|_| panic!("no port at the end of {url}"))
    };
    let api = get(&env, "E2B_API_URL");
    let chosen = port(api);
    assert_ne!(chosen, 0, "{api}");
    assert_eq!(api, format!("http://127.0.0.1:{chosen}"));
    assert_eq!(port(get(&env, "E2B_SANDBOX_URL")), chosen);
    assert_eq!(get(&env, "E2B_DOMAIN"), format!("localhost:{chosen}"));
    let resp = support::http()
        .get(format!("{api}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    terminate(&child);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_help_names_the_default_port() {
    let out = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    // Help is wrapped to the terminal's width (when clap's `wrap_help` is on in
    // the build): compare it with its whitespace collapsed.
    let help = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(help.contains("[default: 127.0.0.1:49982]"), "{help}");
    assert!(
        help.contains("[default: $XDG_DATA_HOME/e2b-local, else ~/.local/share/e2b-local]"),
        "{help}"
    );
    assert!(help.contains("--ephemeral"), "{help}");

    let out = Command::new(BIN)
        .args(["serve", "--ephemeral", "--data-dir", "/tmp/x"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

/// Stop `child` with SIGTERM and return what it logged on stderr.
async fn stop_and_read_stderr(mut child: Child) -> String {
    let mut stderr = child.stderr.take().unwrap();
    terminate(&child);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    let mut log = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut log)
        .await
        .unwrap();
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_keeps_its_data_in_the_user_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let xdg = dir.path().join("xdg");
    let data = xdg.join("e2b-local");
    let key = "e2b_00112233445566778899aabbccddeeff";
    let command = || {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--api-key", key])
            .env("HOME", dir.path().join("home"))
            .env("XDG_DATA_HOME", &xdg)
            .env_remove("E2B_LOCAL_BIN");
        cmd
    };
    let (child, env) = serve_with_stderr(command(), Stdio::piped()).await;
    let api = get(&env, "E2B_API_URL").to_owned();
    let http = support::http();
    let resp = http
        .post(format!("{api}/sandboxes"))
        .header("X-API-Key", key)
        .json(&json!({"templateID": "base", "metadata": {"keep": "me"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let id = resp.json::<Value>().await.unwrap()["sandboxID"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = http
        .post(format!("{api}/sandboxes/{id}/pause"))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let log = stop_and_read_stderr(child).await;
    assert!(
        log.contains(&format!(
            "e2b-local: data in {} (kept across restarts)",
            data.display()
        )),
        "{log}"
    );
    assert!(data.join("sandboxes").join(&id).is_dir());
    // Nothing went to the home's default data directory (only the shared
    // cache of base layers lives under the home).
    assert!(!dir.path().join("home/.local").exists());

    // A second server on the same directory knows the paused sandbox.
    let (child, env) = serve_with_stderr(command(), Stdio::piped()).await;
    let api = get(&env, "E2B_API_URL");
    let resp = http
        .get(format!("{api}/sandboxes/{id}"))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.json::<Value>().await.unwrap();
    assert_eq!(body["state"], "paused", "{body}");
    assert_eq!(body["metadata"]["keep"], "me", "{body}");

    // ... and a third one is refused while it runs.
    let out = command().output().await.unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("another e2b-local serves from"), "{stderr}");
    assert!(out.stdout.is_empty());
    stop_and_read_stderr(child).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_ephemeral_removes_its_data_at_exit() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--ephemeral"])
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .env_remove("E2B_LOCAL_BIN");
    let (child, _env) = serve_with_stderr(cmd, Stdio::piped()).await;
    let log = stop_and_read_stderr(child).await;
    let line = log
        .lines()
        .find(|l| l.starts_with("e2b-local: data in "))
        .unwrap_or_else(|| panic!("no data line: {log}"));
    let path = line
        .strip_prefix("e2b-local: data in ")
        .and_then(|l| l.strip_suffix(" (temporary, removed at exit)"))
        .unwrap_or_else(|| panic!("{line}"));
    assert!(!Path::new(path).exists(), "{path} outlived the server");
    // Only the cache of base layers, shared by every server, stays.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name != ".cache")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_logs_without_colour_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("E2B_LOCAL_BIN")
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "info");
    let (child, _env) = serve_with_stderr(cmd, Stdio::piped()).await;
    let log = stop_and_read_stderr(child).await;
    assert!(log.contains("e2b-local listening"), "{log}");
    assert!(
        !log.contains('\x1b'),
        "ANSI escapes in a piped log: {log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_uses_a_given_key_and_refuses_malformed_ones() {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--api-key",
        "e2b_abc123",
        "--ephemeral",
    ])
    .env_remove("E2B_LOCAL_BIN");
    let (mut child, env) = serve(cmd).await;
    assert_eq!(get(&env, "E2B_API_KEY"), "e2b_abc123");
    terminate(&child);
    // A graceful exit also removes its temporary data directory.
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");

    for bad in ["abc", "e2b_XYZ", "e2b_"] {
        let out = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--api-key",
                bad,
                "--ephemeral",
            ])
            .output()
            .await
            .unwrap();
        assert!(!out.status.success(), "{bad} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("invalid --api-key"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_this_machine() {
    let out = Command::new(BIN).arg("doctor").output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("[ok  ] bubblewrap") && stdout.contains("bubblewrap 0."),
        "{stdout}"
    );
    assert!(
        stdout.contains("user namespaces") && stdout.contains("cgroups"),
        "{stdout}"
    );

    // Without bwrap in PATH it fails and says how to install it.
    let out = Command::new(BIN)
        .arg("doctor")
        .env("PATH", "/nonexistent")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains("[FAIL] bubblewrap") && stdout.contains("apt-get install bubblewrap"),
        "{stdout}"
    );
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--ephemeral"])
        .env("PATH", "/nonexistent")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("apt-get install bubblewrap"));
}

/// Copy `src` to `dir` as an executable anyone may run.
fn install(src: &Path, dir: &Path, name: &str) -> std::path::PathBuf {
    let dest = dir.join(name);
    std::fs::copy(src, &dest).unwrap();
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755)).unwrap();
    dest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_works_unprivileged() {
    if !rustix::process::geteuid().is_root() {
        // Already unprivileged: the other tests cover this mode.
        return;
    }
    // Everything the unprivileged server touches must be reachable by `nobody`.
    let dir = tempfile::Builder::new()
        .prefix("e2b-unpriv")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // The copy serves and, as the agent, runs inside every sandbox.
    let bin = install(Path::new(BIN), dir.path(), "e2b-local");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::os::unix::fs::chown(&data, Some(65534), Some(65534)).unwrap();

    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        "--",
    ])
    .arg(&bin)
    .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
    .arg(&data)
    .env_remove("E2B_LOCAL_BIN");
    let (mut child, env) = serve(cmd).await;
    let api = get(&env, "E2B_API_URL").to_owned();
    let key = get(&env, "E2B_API_KEY").to_owned();
    let http = support::http();
    // Internet access needs slirp4netns to open /dev/net/tun as `nobody`;
    // where the host does not allow that, the refusal must say why.
    let tun_usable =
        std::fs::metadata("/dev/net/tun").is_ok_and(|m| m.permissions().mode() & 0o006 == 0o006);
    let create = |body: Value| {
        http.post(format!("{api}/sandboxes"))
            .header("X-API-Key", &key)
            .json(&body)
            .send()
    };
    let mut resp = create(json!({"templateID": "base"})).await.unwrap();
    if !tun_usable {
        assert_eq!(resp.status(), 400);
        let text = resp.text().await.unwrap();
        assert!(text.contains("/dev/net/tun"), "{text}");
        resp = create(json!({"templateID": "base", "allow_internet_access": false}))
            .await
            .unwrap();
    }
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let id = resp.json::<Value>().await.unwrap()["sandboxID"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, out, err) = support::run(
        &support::envd_at(&api, &id, None),
        &[
            "sh",
            "-c",
            "id -u; stat -c %u /home/user; echo x > /home/user/f && echo written",
        ],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["1000", "1000", "written"],
        "{out}"
    );
    // The escapes the root server's suite attacks, against an unprivileged
    // server (whose sandboxes have `user` only): kernel knobs, host paths, the
    // host's loopback and the edge.
    let edge_port = api.rsplit(':').next().unwrap().to_owned();
    let host_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host_port = host_listener.local_addr().unwrap().port();
    {
        let attack = format!(
            "echo '|/tmp/p' > /proc/sys/kernel/core_pattern 2>/dev/null && echo core_pattern-written; \
             tr '\\0' ' ' < /proc/1/cmdline | grep -q '{data}' && echo data-dir-visible; \
             for p in {host_port} {edge_port}; do \
               (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && echo reached-$p; \
               (exec 3<>/dev/tcp/10.0.2.2/$p) 2>/dev/null && echo reached-gw-$p; \
             done; echo probed",
            data = data.display()
        );
        let (code, out, err) = support::run(
            &support::envd_at(&api, &id, None),
            &["bash", "-c", &attack],
            None,
        )
        .await;
        assert_eq!((code, out.trim()), (0, "probed"), "{out} {err}");
    }
    drop(host_listener);
    // Pause without a cgroup freezer (SIGSTOP), then resume.
    let resp = http
        .post(format!("{api}/sandboxes/{id}/pause"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = http
        .post(format!("{api}/sandboxes/{id}/connect"))
        .header("X-API-Key", &key)
        .json(&json!({"timeout": 60}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    terminate(&child);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}
