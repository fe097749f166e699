//! Volumes: CRUD on the control plane, the content API with per-volume tokens,
//! escapes through paths and through symlinks planted by a sandbox, ownership
//! as sandboxes see it, durability across restarts, and one volume mounted
//! live into two sandboxes.

use e2b_test_support as support;

use std::path::Path;

use e2b_local::Server;
use serde_json::{Value, json};

const KEY: &str = "e2b_00112233445566778899aabbccddeeff";

async fn start(dir: &Path) -> Server {
    Server::start(support::options().with_data_dir(dir).with_api_key(KEY))
        .await
        .expect("server starts")
}

/// Status and JSON body (`Null` when not JSON).
async fn call(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Create volume `name`; (id, token).
async fn create_volume(server: &Server, name: &str) -> (String, String) {
    let (status, body) = call(
        support::authed_http(server)
            .post(format!("{}/volumes", server.api_url()))
            .json(&json!({ "name": name })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    (
        body["volumeID"].as_str().unwrap().to_owned(),
        body["token"].as_str().unwrap().to_owned(),
    )
}

/// The content API of one volume, with a token.
struct Content {
    base: String,
    token: Option<String>,
}

impl Content {
    fn new(server: &Server, id: &str, token: &str) -> Self {
        Self {
            base: format!("{}/volumecontent/{id}", server.api_url()),
            token: Some(token.to_owned()),
        }
    }

    fn req(
        &self,
        method: reqwest::Method,
        what: &str,
        query: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let req = support::http()
            .request(method, format!("{}/{what}", self.base))
            .query(query);
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    async fn write(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
        extra: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut query = vec![("path", path)];
        query.extend_from_slice(extra);
        call(self.req(reqwest::Method::PUT, "file", &query).body(body)).await
    }

    async fn read(&self, path: &str) -> (u16, Vec<u8>) {
        let resp = self
            .req(reqwest::Method::GET, "file", &[("path", path)])
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
    }

    async fn stat(&self, path: &str) -> (u16, Value) {
        call(self.req(reqwest::Method::GET, "path", &[("path", path)])).await
    }

    async fn list(&self, path: &str, depth: &str) -> (u16, Value) {
        call(self.req(
            reqwest::Method::GET,
            "dir",
            &[("path", path), ("depth", depth)],
        ))
        .await
    }

    async fn mkdir(&self, path: &str, extra: &[(&str, &str)]) -> (u16, Value) {
        let mut query = vec![("path", path)];
        query.extend_from_slice(extra);
        call(self.req(reqwest::Method::POST, "dir", &query)).await
    }

    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        call(
            self.req(reqwest::Method::PATCH, "path", &[("path", path)])
                .json(&body),
        )
        .await
    }

    async fn remove(&self, path: &str) -> (u16, Value) {
        call(self.req(reqwest::Method::DELETE, "path", &[("path", path)])).await
    }
}

fn names(listing: &Value) -> Vec<String> {
    listing
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .collect()
}

/// Run `cmd` with `sh -c` in sandbox `id` as `user`; (exit code, stdout).
async fn sh(server: &Server, id: &str, user: &str, cmd: &str) -> (i32, String) {
    let (code, out, err) = support::exec(server, id, None, &["sh", "-c", cmd], Some(user)).await;
    assert!(
        code == 0 || !err.is_empty() || !out.is_empty(),
        "{cmd}: failed silently"
    );
    (code, out)
}

async fn create_with_mount(server: &Server, name: &str, path: &str) -> String {
    support::create(
        server,
        json!({"templateID": "base", "timeout": 120, "volumeMounts": [{"name": name, "path": path}]}),
    )
    .await["sandboxID"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_tokens_and_durability_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let http = support::authed_http(&server);
    let api = server.api_url();

    let (id, token) = create_volume(&server, "data-1").await;
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let (other_id, other_token) = create_volume(&server, "other").await;
    assert_ne!(token, other_token);

    // Names are unique and follow upstream's pattern; both refusals are 400s.
    for (name, what) in [
        ("data-1", "already exists"),
        ("bad name", "Invalid volume name"),
        ("", "Invalid volume name"),
    ] {
        let (status, body) = call(
            http.post(format!("{api}/volumes"))
                .json(&json!({ "name": name })),
        )
        .await;
        assert_eq!(status, 400, "{name:?}: {body}");
        assert!(body["message"].as_str().unwrap().contains(what), "{body}");
    }
    // The API key is required.
    let (status, _) = call(support::http().get(format!("{api}/volumes"))).await;
    assert_eq!(status, 401);

    let (status, listed) = call(http.get(format!("{api}/volumes"))).await;
    assert_eq!(status, 200);
    assert_eq!(
        listed,
        json!([{"volumeID": id, "name": "data-1"}, {"volumeID": other_id, "name": "other"}])
    );
    let (status, got) = call(http.get(format!("{api}/volumes/{id}"))).await;
    assert_eq!(status, 200);
    assert_eq!(
        got,
        json!({"volumeID": id, "name": "data-1", "token": token})
    );
    let (status, _) = call(http.get(format!("{api}/volumes/not-a-uuid"))).await;
    assert_eq!(status, 400);
    let (status, _) = call(http.get(format!(
        "{api}/volumes/00000000-0000-4000-8000-000000000000"
    )))
    .await;
    assert_eq!(status, 404);

    let content = Content::new(&server, &id, &token);
    assert_eq!(
        content
            .write("/notes/a.txt", "kept", &[("force", "true")])
            .await
            .0,
        201
    );

    // Restart on the same data directory: volumes, tokens and content are all back.
    server.shutdown().await;
    let server = start(dir.path()).await;
    let http = support::authed_http(&server);
    let api = server.api_url();
    let (_, listed) = call(http.get(format!("{api}/volumes"))).await;
    assert_eq!(names_of_volumes(&listed), ["data-1", "other"]);
    let (_, got) = call(http.get(format!("{api}/volumes/{id}"))).await;
    assert_eq!(got["token"], token.as_str());
    let content = Content::new(&server, &id, &token);
    assert_eq!(content.read("/notes/a.txt").await, (200, b"kept".to_vec()));

    // Delete: 204, then 404 everywhere, and the token stops working.
    let (status, _) = call(http.delete(format!("{api}/volumes/{id}"))).await;
    assert_eq!(status, 204);
    let (status, _) = call(http.delete(format!("{api}/volumes/{id}"))).await;
    assert_eq!(status, 404);
    let (status, _) = call(http.get(format!("{api}/volumes/{id}"))).await;
    assert_eq!(status, 404);
    assert_eq!(content.stat("/").await.0, 401);
    let (_, listed) = call(http.get(format!("{api}/volumes"))).await;
    assert_eq!(names_of_volumes(&listed), ["other"]);
    server.shutdown().await;
}

fn names_of_volumes(listed: &Value) -> Vec<&str> {
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_operations_and_their_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let (id, token) = create_volume(&server, "work").await;
    let (other_id, other_token) = create_volume(&server, "elsewhere").await;
    let content = Content::new(&server, &id, &token);

    // Authentication: missing, wrong, and another volume's token.
    let anonymous = Content {
        base: content.base.clone(),
        token: None,
    };
    let (status, body) = anonymous.stat("/").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        body["code"], "401",
        "the spec's Error has a string code: {body}"
    );
    let wrong = Content {
        base: content.base.clone(),
        token: Some("e2bvol_wrong".into()),
    };
    assert_eq!(wrong.stat("/").await.0, 401);
    assert_eq!(wrong.write("/x", "x", &[]).await.0, 401);
    let borrowed = Content {
        base: content.base.clone(),
        token: Some(other_token.clone()),
    };
    assert_eq!(borrowed.stat("/").await.0, 403);
    assert_eq!(borrowed.read("/x").await.0, 403);
    // The API key is no substitute, and the content API does not take it.
    let (status, _) = call(
        support::http()
            .get(format!("{}/path", content.base))
            .query(&[("path", "/")])
            .header("X-API-Key", KEY),
    )
    .await;
    assert_eq!(status, 401);
    // The other volume's own token works there.
    assert_eq!(
        Content::new(&server, &other_id, &other_token)
            .stat("/")
            .await
            .0,
        200
    );

    // Directories: parents with force, ownership and mode as given (modes
    // travel as decimal integers: 488 is 0o750).
    let (status, made) = content.mkdir("/a/b", &[]).await;
    assert_eq!(status, 404, "no parent without force: {made}");
    let (status, made) = content
        .mkdir(
            "/a/b",
            &[
                ("force", "true"),
                ("uid", "1000"),
                ("gid", "1000"),
                ("mode", "488"),
            ],
        )
        .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["type"], "directory");
    assert_eq!(made["path"], "/a/b");
    assert_eq!(
        (
            made["uid"].as_u64(),
            made["gid"].as_u64(),
            made["mode"].as_u64()
        ),
        (Some(1000), Some(1000), Some(0o750))
    );
    let (status, _) = content.mkdir("/a/b", &[]).await;
    assert_eq!(status, 409);
    assert_eq!(
        content.mkdir("/a/b", &[("force", "true")]).await.0,
        201,
        "force accepts an existing directory"
    );

    // Files: defaults are upstream's (owner 9090, mode 0666); no overwrite without force.
    let (status, file) = content.write("/a/b/f.txt", "hello", &[]).await;
    assert_eq!(status, 201, "{file}");
    assert_eq!(
        (
            file["type"].as_str(),
            file["size"].as_u64(),
            file["uid"].as_u64(),
            file["mode"].as_u64()
        ),
        (Some("file"), Some(5), Some(9090), Some(0o666))
    );
    assert_eq!(content.write("/a/b/f.txt", "again", &[]).await.0, 409);
    let (status, file) = content
        .write(
            "/a/b/f.txt",
            "bye",
            &[
                ("force", "true"),
                ("mode", "384"),
                ("uid", "0"),
                ("gid", "0"),
            ],
        )
        .await;
    assert_eq!(status, 201, "{file}");
    assert_eq!(
        (
            file["size"].as_u64(),
            file["uid"].as_u64(),
            file["mode"].as_u64()
        ),
        (Some(3), Some(0), Some(0o600))
    );
    assert_eq!(content.read("/a/b/f.txt").await, (200, b"bye".to_vec()));
    assert_eq!(
        content
            .write("/deep/er/g.bin", vec![7u8; 70_000], &[("force", "true")])
            .await
            .0,
        201
    );
    assert_eq!(content.read("/deep/er/g.bin").await.1, vec![7u8; 70_000]);
    assert_eq!(
        content.write("/x", "x", &[("uid", "70000")]).await.0,
        400,
        "no such id in sandboxes"
    );
    assert_eq!(content.write("/x", "x", &[("mode", "rw")]).await.0, 400);

    // Stat, list (depth), update, remove.
    let (status, info) = content.stat("a/b/f.txt").await;
    assert_eq!(status, 200);
    assert_eq!(info["name"], "f.txt");
    assert_eq!(info["path"], "/a/b/f.txt");
    assert!(info["mtime"].as_str().unwrap().contains('T'), "{info}");
    assert_eq!(content.stat("/missing").await.0, 404);
    let (status, listing) = content.list("/", "1").await;
    assert_eq!(status, 200);
    assert_eq!(names(&listing), ["/a", "/deep"]);
    let (_, listing) = content.list("/", "3").await;
    assert_eq!(
        names(&listing),
        [
            "/a",
            "/a/b",
            "/a/b/f.txt",
            "/deep",
            "/deep/er",
            "/deep/er/g.bin"
        ]
    );
    assert_eq!(content.list("/", "11").await.0, 400, "depth is 1..=10");
    assert_eq!(content.list("/missing", "1").await.0, 404);
    assert_eq!(content.list("/a/b/f.txt", "1").await.0, 400);
    let (status, patched) = content
        .patch("/a/b/f.txt", json!({"mode": 0o640, "uid": 1000}))
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        (
            patched["mode"].as_u64(),
            patched["uid"].as_u64(),
            patched["gid"].as_u64()
        ),
        (Some(0o640), Some(1000), Some(0))
    );
    assert_eq!(content.patch("/nope", json!({"mode": 0o600})).await.0, 404);
    assert_eq!(content.patch("/a", json!({"mode": "x"})).await.0, 400);
    assert_eq!(content.read("/a").await.0, 400, "a directory is not a file");
    assert_eq!(content.read("/nope").await.0, 404);
    assert_eq!(content.remove("/").await.0, 400);
    assert_eq!(content.remove("/a").await.0, 204);
    assert_eq!(content.stat("/a/b/f.txt").await.0, 404);
    assert_eq!(content.remove("/a").await.0, 404);
    // A path is required.
    let (status, _) = call(content.req(reqwest::Method::GET, "path", &[])).await;
    assert_eq!(status, 400);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_and_planted_symlinks_never_leave_the_volume() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let (id, token) = create_volume(&server, "shared").await;
    let content = Content::new(&server, &id, &token);
    let volume_dir = dir.path().join("volumes").join(&id);

    // `..` and absolute paths stop at the volume's root (as upstream cleans them).
    for path in ["../../../../etc/passwd", "/../../etc/passwd", "/etc/passwd"] {
        assert_eq!(content.read(path).await.0, 404, "{path}");
        assert_eq!(content.stat(path).await.0, 404, "{path}");
    }
    let (status, written) = content.write("../../escaped.txt", "inside", &[]).await;
    assert_eq!(status, 201, "{written}");
    assert_eq!(written["path"], "/escaped.txt");
    assert!(volume_dir.join("escaped.txt").is_file());
    assert!(!dir.path().join("escaped.txt").exists());

    // A sandbox that mounts the volume plants symlinks to the host's /etc and /,
    // a relative one climbing out, one at a file, and a FIFO.
    let sandbox = create_with_mount(&server, "shared", "/mnt/shared").await;
    let (code, _) = sh(
        &server,
        &sandbox,
        "root",
        "cd /mnt/shared && ln -s /etc etc-link && ln -s / root-link && ln -s ../../../../../.. up \
         && ln -s /etc/passwd pw && mkfifo fifo && ls -la >&2",
    )
    .await;
    assert_eq!(code, 0);
    let host_passwd = std::fs::read("/etc/passwd").unwrap();
    let host_passwd_mode = std::fs::metadata("/etc/passwd").unwrap();

    // Followed, each lands inside the volume, where there is no /etc.
    for path in [
        "etc-link/passwd",
        "root-link/etc/passwd",
        "up/etc/passwd",
        "pw",
        "root-link/root-link/pw",
    ] {
        let (status, bytes) = content.read(path).await;
        assert_ne!(bytes, host_passwd, "{path} read the host's /etc/passwd");
        assert_eq!(status, 404, "{path}");
        assert_eq!(
            content.patch(path, json!({"mode": 0o777})).await.0,
            404,
            "{path}"
        );
    }
    // Through `/` the volume's own root is listed, never the host's.
    let (status, listing) = content.list("root-link", "1").await;
    assert_eq!(status, 200);
    let listed = names(&listing);
    assert!(
        listed.contains(&"/root-link/escaped.txt".to_owned()),
        "{listed:?}"
    );
    assert!(!listed.iter().any(|p| p.ends_with("/usr")), "{listed:?}");
    // Writing through a link creates inside the volume.
    let (status, _) = content
        .write("root-link/tmp/planted", "x", &[("force", "true")])
        .await;
    assert_eq!(status, 201);
    assert!(volume_dir.join("tmp/planted").is_file());
    assert!(!Path::new("/tmp/planted").exists());
    // A link to a directory the volume lacks leads nowhere; once the volume
    // has one, it leads there.
    assert_eq!(content.write("etc-link/evil", "x", &[]).await.0, 404);
    assert_eq!(content.mkdir("/etc", &[]).await.0, 201);
    assert_eq!(content.write("etc-link/evil", "x", &[]).await.0, 201);
    assert!(volume_dir.join("etc/evil").is_file());
    assert!(!Path::new("/etc/evil").exists());
    // A link is reported as a link, and removing it removes only the link.
    let (status, link) = content.stat("etc-link").await;
    assert_eq!(status, 200);
    assert_eq!(link["type"], "symlink");
    assert_eq!(link["target"], "/etc");
    assert_eq!(content.remove("root-link").await.0, 204);
    assert_eq!(content.remove("etc-link").await.0, 204);
    assert!(Path::new("/etc/passwd").exists());
    // A FIFO is neither read nor written (nothing blocks on it).
    assert_eq!(content.read("fifo").await.0, 400);
    assert_eq!(
        content.write("fifo", "x", &[("force", "true")]).await.0,
        400
    );
    assert_eq!(std::fs::read("/etc/passwd").unwrap(), host_passwd);
    let now = std::fs::metadata("/etc/passwd").unwrap();
    use std::os::unix::fs::MetadataExt as _;
    assert_eq!(now.mode(), host_passwd_mode.mode());
    assert_eq!(now.uid(), host_passwd_mode.uid());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_volume_mounted_live_in_two_sandboxes() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let (id, token) = create_volume(&server, "team").await;
    let content = Content::new(&server, &id, &token);
    assert_eq!(
        content
            .write(
                "/from-api.txt",
                "api",
                &[("uid", "1000"), ("gid", "1000"), ("mode", "416")]
            )
            .await
            .0,
        201
    );

    // An unknown volume and a bad path are refused as upstream refuses them.
    let resp = support::authed_http(&server)
        .post(format!("{}/sandboxes", server.api_url()))
        .json(&json!({"templateID": "base", "volumeMounts": [
            {"name": "nope", "path": "/mnt/a"}, {"name": "team", "path": "relative"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("volume mount #0: volume 'nope' not found"),
        "{message}"
    );
    assert!(
        message.contains("volume mount #1: path must be absolute"),
        "{message}"
    );

    let one = create_with_mount(&server, "team", "/mnt/team").await;
    let two = create_with_mount(&server, "team", "/home/user/team").await;
    let info = support::api_get(&server, &format!("/sandboxes/{one}")).await;
    assert_eq!(
        info["volumeMounts"],
        json!([{"name": "team", "path": "/mnt/team"}])
    );

    // The API's owner and mode are what sandboxes see.
    let (code, out) = sh(
        &server,
        &one,
        "user",
        "stat -c '%u:%g:%a' /mnt/team/from-api.txt && cat /mnt/team/from-api.txt",
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "1000:1000:640\napi");
    // Written in one sandbox (as user, and as root), seen in the other and by the API.
    let (code, _) = sh(&server, &one, "user", "echo from-one > /mnt/team/one.txt").await;
    assert_eq!(code, 0);
    let (code, _) = sh(
        &server,
        &one,
        "root",
        "mkdir /mnt/team/rootdir && echo r > /mnt/team/rootdir/r",
    )
    .await;
    assert_eq!(code, 0);
    let (code, out) = sh(
        &server,
        &two,
        "user",
        "cat /home/user/team/one.txt; stat -c '%U %u' /home/user/team/rootdir",
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(out, "from-one\nroot 0\n");
    let (_, info) = content.stat("/one.txt").await;
    assert_eq!(
        (info["uid"].as_u64(), info["size"].as_u64()),
        (Some(1000), Some(9))
    );
    let (_, info) = content.stat("/rootdir").await;
    assert_eq!(info["uid"].as_u64(), Some(0));
    // Written by the API, seen at once in both.
    assert_eq!(content.write("/later.txt", "later", &[]).await.0, 201);
    let (_, out) = sh(&server, &two, "user", "cat /home/user/team/later.txt").await;
    assert_eq!(out, "later");
    let (code, _) = sh(
        &server,
        &two,
        "user",
        "echo more >> /home/user/team/later.txt",
    )
    .await;
    assert_eq!(code, 0, "the default mode 0666 lets `user` write");
    assert_eq!(content.read("/later.txt").await.1, b"latermore\n");

    // Deleting a mounted volume is not refused (E2B answers 204); its content goes.
    let (status, _) =
        call(support::authed_http(&server).delete(format!("{}/volumes/{id}", server.api_url())))
            .await;
    assert_eq!(status, 204);
    let (_, out) = sh(&server, &one, "user", "ls -A /mnt/team | wc -l").await;
    assert_eq!(out.trim(), "0");
    // A sandbox created with the name now fails to find it.
    let resp = support::authed_http(&server)
        .post(format!("{}/sandboxes", server.api_url()))
        .json(&json!({"templateID": "base", "volumeMounts": [{"name": "team", "path": "/mnt/a"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mounts_on_a_read_only_system_without_disks() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        support::options()
            .with_data_dir(dir.path())
            .with_api_key(KEY)
            .with_writable_root(false)
            .with_sandbox_disk_limit(None),
    )
    .await
    .unwrap();
    let (id, token) = create_volume(&server, "plain").await;
    let content = Content::new(&server, &id, &token);
    assert_eq!(
        content.write("/in.txt", "in", &[("mode", "420")]).await.0,
        201
    );
    let sandbox = support::create(
        &server,
        json!({"templateID": "base", "timeout": 120, "volumeMounts": [
            {"name": "plain", "path": "/srv/deep/plain"},
            {"name": "plain", "path": "/home/user/plain"}]}),
    )
    .await["sandboxID"]
        .as_str()
        .unwrap()
        .to_owned();
    // Both mount points show the same directory; parents made for the mount are usable.
    let (code, out) = sh(
        &server,
        &sandbox,
        "user",
        "cat /srv/deep/plain/in.txt && echo out > /home/user/plain/out.txt && cat /srv/deep/plain/out.txt && stat -c %a /srv/deep",
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "inout\n755\n");
    assert_eq!(content.read("/out.txt").await, (200, b"out\n".to_vec()));
    // The rest of the system is still read-only, the volume is not.
    let (code, _) = sh(&server, &sandbox, "user", "touch /srv/deep/x").await;
    assert_ne!(code, 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_is_cut_off_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        support::options()
            .with_data_dir(dir.path())
            .with_api_key(KEY)
            .with_request_body_idle_timeout(std::time::Duration::from_millis(300)),
    )
    .await
    .unwrap();
    let (id, token) = create_volume(&server, "slow").await;
    let content = Content::new(&server, &id, &token);
    let first = futures_util::stream::once(async {
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"partial"))
    });
    let stalled = futures_util::StreamExt::chain(first, futures_util::stream::pending());
    let (status, body) = content
        .write("/slow.bin", reqwest::Body::wrap_stream(stalled), &[])
        .await;
    assert_eq!(status, 408, "{body}");
    assert_eq!(
        content.stat("/slow.bin").await.0,
        404,
        "the partial file is removed"
    );
    // And a retry without force works.
    assert_eq!(content.write("/slow.bin", "whole", &[]).await.0, 201);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_sandbox_gets_its_volume_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let (id, token) = create_volume(&server, "kept").await;
    let sandbox = create_with_mount(&server, "kept", "/mnt/kept").await;
    let (code, _) = sh(
        &server,
        &sandbox,
        "user",
        "echo before > /mnt/kept/before.txt",
    )
    .await;
    assert_eq!(code, 0);
    let http = support::authed_http(&server);
    let (status, body) = call(
        http.post(format!("{}/sandboxes/{sandbox}/pause", server.api_url()))
            .json(&json!({"memory": false})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    server.shutdown().await;

    let server = start(dir.path()).await;
    let content = Content::new(&server, &id, &token);
    assert_eq!(
        content.write("/while-paused.txt", "later", &[]).await.0,
        201
    );
    let (status, body) = call(
        support::authed_http(&server)
            .post(format!("{}/sandboxes/{sandbox}/connect", server.api_url()))
            .json(&json!({"timeout": 120})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (code, out) = sh(
        &server,
        &sandbox,
        "user",
        "cat /mnt/kept/before.txt /mnt/kept/while-paused.txt && echo after > /mnt/kept/after.txt",
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "before\nlater");
    assert_eq!(content.read("/after.txt").await, (200, b"after\n".to_vec()));
    server.shutdown().await;
}
