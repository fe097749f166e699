//! Writable root filesystems on an unprivileged server: `e2b-local serve`
//! run as an ordinary account with subordinate ids (`make deps` creates
//! `e2b-rootless` when run as root) gives its sandboxes what a root server
//! gives them — root writes anywhere, `user` needs `sudo`, apt and pip
//! install, sandboxes do not see each other's writes, snapshots keep
//! everything — and nothing a sandbox writes is owned by the server's
//! account or by host root.
//!
//! As root the test runs the server as `e2b-rootless`; as another user it
//! runs it as that user. It is skipped (with a message) where that account
//! has no subordinate ids.

use e2b_test_support as support;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_e2b-local");
/// The account `make deps` creates for this test.
const ACCOUNT: &str = "e2b-rootless";

/// An unprivileged `e2b-local serve` child.
struct Unprivileged {
    child: Child,
    url: String,
    key: String,
    /// The server's uid and the first of its subordinate uids.
    uid: u32,
    sub_uid: u32,
    data: PathBuf,
    log: PathBuf,
    /// For `e2b-local` commands on the same data directory.
    account: Account,
    place: Place,
}

/// `(uid, gid)` of `name`, from `/etc/passwd`.
fn account(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.first() == Some(&name))
            .then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))?
    })
}

/// The first subordinate uid of `name` (or of `uid`).
fn sub_uid(name: &str, uid: u32) -> Option<u32> {
    let text = std::fs::read_to_string("/etc/subuid").ok()?;
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        let ours = f.first() == Some(&name) || f.first() == Some(&uid.to_string().as_str());
        ours.then(|| f.get(1)?.parse().ok())?
    })
}

/// The account an unprivileged server runs as.
struct Account {
    uid: u32,
    gid: u32,
    sub_uid: u32,
    /// The test runs as root and switches to the account.
    switch: bool,
}

impl Account {
    /// `e2b-rootless` as root, else the current user; `None` (with a
    /// message) where it has no subordinate ids.
    fn find() -> Option<Self> {
        if !Path::new("/dev/fuse").exists() {
            eprintln!("skipped: this machine has no /dev/fuse");
            return None;
        }
        let me = rustix::process::geteuid().as_raw();
        let (name, uid, gid) = if me == 0 {
            let Some((uid, gid)) = account(ACCOUNT) else {
                eprintln!("skipped: no {ACCOUNT} account (`make deps` as root creates it)");
                return None;
            };
            (ACCOUNT.to_owned(), uid, gid)
        } else {
            let name = std::env::var("USER").unwrap_or_default();
            (name, me, rustix::process::getegid().as_raw())
        };
        let Some(sub_uid) = sub_uid(&name, uid) else {
            eprintln!("skipped: {name} has no subordinate uids in /etc/subuid");
            return None;
        };
        Some(Self {
            uid,
            gid,
            sub_uid,
            switch: me == 0,
        })
    }

    /// `program` run as the account.
    fn command(&self, program: &Path) -> Command {
        if self.switch {
            let mut cmd = Command::new("setpriv");
            cmd.args([
                format!("--reuid={}", self.uid),
                format!("--regid={}", self.gid),
                "--clear-groups".to_owned(),
            ])
            .arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }
}

/// A directory the account may reach (the build's target directory may be
/// under a home only its owner enters) with a copy of the binary, a data
/// and a cache directory.
struct Place {
    dir: tempfile::TempDir,
    bin: PathBuf,
    data: PathBuf,
    cache: PathBuf,
}

impl Place {
    fn new(account: &Account) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.path().join("e2b-local");
        std::fs::copy(BIN, &bin).unwrap();
        let data = dir.path().join("data");
        let cache = dir.path().join("cache");
        for d in [&data, &cache] {
            std::fs::create_dir(d).unwrap();
            std::os::unix::fs::chown(d, Some(account.uid), Some(account.gid)).unwrap();
        }
        Self {
            dir,
            bin,
            data,
            cache,
        }
    }

    /// `e2b-local ARGS` as the account.
    fn e2b_local(&self, account: &Account) -> Command {
        let mut cmd = account.command(&self.bin);
        cmd.env("XDG_CACHE_HOME", &self.cache)
            .env_remove("E2B_LOCAL_BIN")
            .current_dir(self.dir.path())
            .kill_on_drop(true);
        cmd
    }
}

/// Start the server, or `None` (with a message) where no account to run it
/// as has subordinate ids.
async fn start() -> Option<Unprivileged> {
    let account = Account::find()?;
    let place = Place::new(&account);
    Some(Unprivileged::start(account, place).await)
}

impl Unprivileged {
    async fn start(account: Account, place: Place) -> Self {
        let log = place.dir.path().join("serve.log");
        let mut cmd = place.e2b_local(&account);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&place.data)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut url, mut key) = (None, None);
        let read = async {
            while url.is_none() || key.is_none() {
                let Some(line) = lines.next_line().await.unwrap() else {
                    break;
                };
                if let Some(v) = line.strip_prefix("E2B_API_URL=") {
                    url = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("E2B_API_KEY=") {
                    key = Some(v.to_owned());
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(60), read)
            .await
            .expect("serve printed its environment in time");
        let (Some(url), Some(key)) = (url, key) else {
            panic!(
                "serve exited early: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        Self {
            child,
            url,
            key,
            uid: account.uid,
            sub_uid: account.sub_uid,
            data: place.data.clone(),
            log,
            account,
            place,
        }
    }
}

impl Unprivileged {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let resp = support::http()
            .post(format!("{}{path}", self.url))
            .header("X-API-Key", &self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(
            status.is_success(),
            "POST {path}: {status} {text}\n{}",
            self.log()
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn create(&self, template: &str) -> String {
        self.post(
            "/sandboxes",
            json!({"templateID": template, "timeout": 300}),
        )
        .await["sandboxID"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Follow a template build to its end; its final status.
    async fn wait_for_build(&self, template: &str, build: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
        loop {
            let status: Value = support::http()
                .get(format!(
                    "{}/templates/{template}/builds/{build}/status",
                    self.url
                ))
                .header("X-API-Key", &self.key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if status["status"] == "ready" || status["status"] == "error" {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the build did not finish: {status}"
            );
            // Polled as the SDKs poll a build's status.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn kill(&self, id: &str) {
        let resp = support::http()
            .delete(format!("{}/sandboxes/{id}", self.url))
            .header("X-API-Key", &self.key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204, "kill {id}");
    }

    async fn sh(&self, id: &str, user: &str, cmd: &str) -> (i32, String, String) {
        let client = support::envd_at(&self.url, id, None);
        support::run(&client, &["bash", "-c", cmd], Some(user)).await
    }

    async fn ok(&self, id: &str, user: &str, cmd: &str) -> String {
        let (code, out, err) = self.sh(id, user, cmd).await;
        assert_eq!(
            code,
            0,
            "`{cmd}` as {user} failed: {err}{out}\nserver log:\n{}",
            self.log()
        );
        out
    }
}

/// The owners (uid) of the entries under `dir`, as the host sees them,
/// with one entry each owns; overlay markers aside (whiteouts: 0:0
/// character devices and `.wh.*` files, which fuse-overlayfs makes as
/// itself).
fn owners(dir: &Path) -> std::collections::BTreeMap<u32, PathBuf> {
    let mut found = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&at) else {
            continue;
        };
        let whiteout =
            std::os::unix::fs::FileTypeExt::is_char_device(&meta.file_type()) && meta.rdev() == 0;
        if whiteout
            || at
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".wh."))
        {
            continue;
        }
        found.entry(meta.uid()).or_insert_with(|| at.clone());
        if meta.is_dir()
            && let Ok(entries) = std::fs::read_dir(&at)
        {
            stack.extend(entries.flatten().map(|e| e.path()));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unprivileged_server_gives_sandboxes_a_writable_root() {
    let Some(mut server) = start().await else {
        return;
    };
    let id = server.create("base").await;

    // Root writes anywhere, and sees the system's files as its own.
    let out = server
        .ok(
            &id,
            "root",
            "id -u; echo marker > /etc/e2b-marker && mkdir -p /opt/tool && echo hi > /opt/tool/f \
             && echo '# edited' >> /etc/passwd && stat -c '%u %g' /etc/e2b-marker /usr/bin/ls /etc/hostname",
        )
        .await;
    assert_eq!(out, "0\n0 0\n0 0\n0 0\n", "{out}");
    // `user` cannot, except through sudo.
    let (code, _, _) = server.sh(&id, "user", "touch /etc/by-user").await;
    assert_ne!(code, 0, "user wrote to /etc");
    let out = server
        .ok(
            &id,
            "user",
            "id -u && sudo touch /etc/by-sudo && stat -c '%u' /etc/by-sudo && touch ~/mine && stat -c '%u %U' ~/mine",
        )
        .await;
    assert_eq!(out, "1000\n0\n1000 user\n", "{out}");
    // pip installs for the user, and with sudo for everyone; apt from Debian's archive.
    server.ok(&id, "user", support::MAKE_PROBE_WHEEL).await;
    server
        .ok(
            &id,
            "user",
            "pip install -q --no-index /tmp/e2b_probe-1.0-py3-none-any.whl 2>&1 \
             && pip uninstall -q -y e2b-probe && sudo pip install -q --no-index /tmp/e2b_probe-1.0-py3-none-any.whl 2>&1",
        )
        .await;
    server
        .ok(
            &id,
            "user",
            "sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tree >/dev/null",
        )
        .await;
    let check = "tree --version | head -c 9; echo; python3 -c 'import e2b_probe; print(e2b_probe.VALUE, e2b_probe.__file__)'; cat /opt/tool/f";
    let before = server.ok(&id, "user", check).await;
    assert!(before.starts_with("tree v2.1"), "{before}");
    assert!(before.contains("42 /usr/local/lib/python3"), "{before}");

    // Another sandbox sees none of it.
    let other = server.create("base").await;
    let (code, out, _) = server
        .sh(
            &other,
            "root",
            "ls /etc/e2b-marker /opt/tool ~user/mine 2>/dev/null; command -v tree",
        )
        .await;
    assert!(code != 0 && out.is_empty(), "another sandbox saw: {out}");
    let passwd = server.ok(&other, "root", "cat /etc/passwd").await;
    assert!(!passwd.contains("# edited"), "{passwd}");

    // What sandboxes wrote belongs to subordinate ids on the host: neither
    // to host root nor to the server's account.
    let rootfs = server.data.join("sandboxes").join(&id).join("rootfs/upper");
    let found = owners(&rootfs);
    let range = server.sub_uid..server.sub_uid + 65_536;
    assert!(
        found.contains_key(&(server.sub_uid + 999)),
        "user's files: {found:?}"
    );
    assert!(
        found.keys().all(|o| range.contains(o)),
        "files outside the subordinate range {range:?} (server {}): {found:?}",
        server.uid
    );

    // A snapshot keeps everything; a sandbox from it has it.
    let snapshot = server
        .post(
            &format!("/sandboxes/{id}/snapshots"),
            json!({"name": "rootless"}),
        )
        .await;
    let snapshot_id = snapshot["snapshotID"].as_str().unwrap().to_owned();
    let restored = server.create(&snapshot_id).await;
    let after = server.ok(&restored, "user", check).await;
    assert_eq!(after, before, "the snapshot lost the installed packages");
    server
        .ok(
            &restored,
            "user",
            "dpkg -s tree | grep -q '^Status: install ok installed' && test -f ~/mine && grep -q '# edited' /etc/passwd",
        )
        .await;

    // A fork has it too; a paused sandbox resumes with it.
    let forks = server
        .post(
            &format!("/sandboxes/{id}/fork"),
            json!({"count": 1, "timeout": 120}),
        )
        .await;
    let fork = forks[0]["sandbox"]["sandboxID"]
        .as_str()
        .unwrap_or_else(|| panic!("{forks}"))
        .to_owned();
    assert_eq!(server.ok(&fork, "user", check).await, before);
    server
        .post(&format!("/sandboxes/{restored}/pause"), json!({}))
        .await;
    server
        .post(
            &format!("/sandboxes/{restored}/connect"),
            json!({"timeout": 120}),
        )
        .await;
    assert_eq!(server.ok(&restored, "user", check).await, before);

    // Killed sandboxes leave nothing behind.
    for sandbox in [&id, &other, &restored, &fork] {
        server.kill(sandbox).await;
        assert!(
            !server.data.join("sandboxes").join(sandbox).exists(),
            "{sandbox}'s files outlived it"
        );
    }
    server.child.start_kill().unwrap();
    let _ = server.child.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unprivileged_servers_sandbox_root_cannot_reach_its_mounts() {
    let Some(mut server) = start().await else {
        return;
    };
    let id = server.create("base").await;
    for user in ["root", "user"] {
        // No mount can be made or undone, and no FUSE device is there to
        // serve a filesystem from.
        for attack in [
            "mount -t tmpfs none /mnt",
            "umount -l /usr",
            "umount -l /",
            "unshare -m true",
            "unshare -U -r true",
            "test -e /dev/fuse",
            // The agent binary (the server's own file) stays read-only, and
            // the FUSE daemons serving the sandbox are not among its processes.
            "echo x >> /run/e2b/bin/e2b-local",
            "ls /proc/*/exe -l 2>/dev/null | grep -q fuse-overlayfs",
        ] {
            let (code, _, _) = server.sh(&id, user, attack).await;
            assert_ne!(code, 0, "`{attack}` worked as {user}");
        }
        // The mount table names no host path of the server's.
        let mounts = server.ok(&id, user, "cat /proc/self/mountinfo").await;
        let data = server.data.to_string_lossy().into_owned();
        assert!(!mounts.contains(&data), "{mounts}");
        assert!(!mounts.contains("/stage/"), "{mounts}");
    }
    // Watches work on the FUSE trees (they are the sandbox's own, not a
    // network filesystem).
    use e2b_envd::filesystem::{CreateWatcherRequest, GetWatcherEventsRequest};
    let mut headers = http::HeaderMap::new();
    headers.insert("e2b-sandbox-id", http::HeaderValue::from_str(&id).unwrap());
    headers.insert(
        "e2b-sandbox-port",
        http::HeaderValue::from(e2b_local::ENVD_PORT),
    );
    let fs = e2b_envd::filesystem::filesystem_client::FilesystemClient::new(
        e2b_envd::connect::Client::new(support::http(), &server.url).with_headers(headers),
    );
    let watcher_id = fs
        .create_watcher(
            CreateWatcherRequest {
                path: "/home/user".into(),
                ..Default::default()
            },
            support::as_user(Some("user")),
        )
        .await
        .expect("a watch on the sandbox's home")
        .watcher_id;
    server.ok(&id, "user", "touch ~/watched").await;
    // Drain until the event is in (each drain is a round trip).
    let drain = async {
        loop {
            let events = fs
                .get_watcher_events(
                    GetWatcherEventsRequest {
                        watcher_id: watcher_id.clone(),
                    },
                    support::as_user(Some("user")),
                )
                .await
                .unwrap()
                .events;
            if events.iter().any(|e| e.name == "watched") {
                break;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), drain)
        .await
        .expect("the watch saw no event");

    server.kill(&id).await;
    server.child.start_kill().unwrap();
    let _ = server.child.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unprivileged_server_runs_sandboxes_of_images() {
    use e2b_test_support::oci::{runnable, runnable_image};
    let Some(account) = Account::find() else {
        return;
    };
    let registry = e2b_test_support::registry::Registry::start();
    let _layout = registry.push_image(runnable_image(), "e2b/runnable", "v1");
    let reference = format!("{}/e2b/runnable:v1", registry.host());
    let place = Place::new(&account);
    let out = place
        .e2b_local(&account)
        .args([
            "template",
            "create",
            "--from-image",
            &reference,
            "--data-dir",
        ])
        .arg(&place.data)
        .arg("runnable")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "template create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut server = Unprivileged::start(account, place).await;
    let id = server.create("runnable").await;
    // The image's environment, working directory and user are the defaults.
    let (code, out, err) = support::run(
        &support::envd_at(&server.url, &id, None),
        &[
            "bash",
            "-c",
            "echo $IMAGE_VAR; pwd; id -un; cat /app/hello.txt; ls /opt/stuff; test -e /etc/removed-by-layer2 || echo whited-out; ls -ld /app/hello.txt /etc/passwd | while read -r _ _ owner _; do echo $owner; done",
        ],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}\n{}", server.log());
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            runnable::IMAGE_VAR.1,
            runnable::WORKDIR,
            runnable::USER,
            "hello from layer 2",
            runnable::OPAQUE_KEPT,
            "whited-out",
            runnable::USER,
            "root",
        ]
    );
    // (Owners as the layers give them: `user`'s file, root's system.)
    // No host system inside; root writes anywhere, `user` in its own files.
    let (code, _, _) = server.sh(&id, "root", "test -e /usr/bin/python3").await;
    assert_ne!(code, 0, "the host's /usr shows through the image's root");
    server
        .ok(&id, "root", "echo mine > /etc/written && mkdir -p /srv/x")
        .await;
    server
        .ok(&id, "user", "echo work >> /app/hello.txt && touch ~/new")
        .await;
    let other = server.create("runnable").await;
    let (code, _, _) = server
        .sh(
            &other,
            "root",
            "test -e /etc/written || test -e /home/user/new",
        )
        .await;
    assert_ne!(code, 0, "one sandbox's write showed in another");
    for sandbox in [&id, &other] {
        server.kill(sandbox).await;
    }

    // Template builds: steps on the image, and on `base`.
    for (name, from, check) in [
        (
            "on-image",
            json!({"fromImage": reference}),
            "cat /opt/stuff/built /opt/stuff/seen; echo $IMAGE_VAR; test -e /tmp/start-ran && echo started",
        ),
        (
            "on-base",
            json!({"fromTemplate": "base"}),
            "cat /opt/stuff/built /opt/stuff/seen; echo from-image; test -e /tmp/start-ran && echo started",
        ),
    ] {
        let requested = server
            .post(
                "/v3/templates",
                json!({"name": name, "cpuCount": 1, "memoryMB": 512}),
            )
            .await;
        let template = requested["templateID"].as_str().unwrap().to_owned();
        let build = requested["buildID"].as_str().unwrap().to_owned();
        let mut body = json!({
            "steps": [
                {"type": "RUN", "args": ["mkdir -p /opt/stuff && echo from-a-step > /opt/stuff/built && echo scratch > /tmp/scratch", "root"]},
                {"type": "RUN", "args": ["cat /tmp/scratch > /opt/stuff/seen", "root"]},
            ],
            "startCmd": "touch /tmp/start-ran",
            "readyCmd": "test -e /tmp/start-ran",
        });
        body.as_object_mut()
            .unwrap()
            .extend(from.as_object().unwrap().clone());
        server
            .post(&format!("/v2/templates/{template}/builds/{build}"), body)
            .await;
        let status = server.wait_for_build(&template, &build).await;
        assert_eq!(
            status["status"],
            "ready",
            "{name}: {status}\n{}",
            server.log()
        );
        let sandbox = server.create(name).await;
        let out = server.ok(&sandbox, "user", check).await;
        assert_eq!(
            out.lines().collect::<Vec<_>>(),
            ["from-a-step", "scratch", "from-image", "started"],
            "{name}"
        );
        server.kill(&sandbox).await;
        let resp = support::http()
            .delete(format!("{}/templates/{template}", server.url))
            .header("X-API-Key", &server.key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204, "delete {name}: {}", server.log());
    }
    server.child.start_kill().unwrap();
    let _ = server.child.wait().await;

    // The command line deletes what the sandboxes left, files of subordinate ids
    // among them: the template, then the image, then its adopted layers.
    let layers = server.data.join("layers/sha256");
    assert!(
        owners(&layers).keys().any(|&uid| uid >= server.sub_uid),
        "the image's layers hold no files of the sandboxes' ids"
    );
    for args in [
        ["template", "rm", "runnable"],
        ["image", "rm", reference.as_str()],
    ] {
        let out = server
            .place
            .e2b_local(&server.account)
            .args(args)
            .arg("--data-dir")
            .arg(&server.data)
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let left: Vec<_> = std::fs::read_dir(&layers)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "layers left: {left:?}");
    assert!(
        !std::fs::read_dir(server.data.join("templates"))
            .unwrap()
            .any(|e| e.unwrap().path().join("template.json").exists()),
        "a template is left"
    );
}
