//! The files API and the filesystem RPCs act with the permissions of the user
//! a request names, not the agent's (root): attacks through the real server
//! and agent on what only root may read or write, and a gzip bomb upload.

use e2b_test_support as support;

use async_compression::tokio::bufread::GzipEncoder;
use e2b_envd::connect::{Client, Code, Error};
use e2b_envd::filesystem::filesystem_client::FilesystemClient;
use e2b_envd::filesystem::*;
use e2b_local::{ENVD_PORT, Server};
use futures_util::StreamExt as _;
use http::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt as _;

/// A secure sandbox: (id, envd access token).
async fn secure_sandbox(server: &Server) -> (String, String) {
    let sandbox = support::create(
        server,
        json!({"templateID": "base", "timeout": 120, "secure": true}),
    )
    .await;
    (
        sandbox["sandboxID"].as_str().unwrap().to_owned(),
        sandbox["envdAccessToken"].as_str().unwrap().to_owned(),
    )
}

/// Run `script` with `sh -c` as root; its stdout (it must succeed).
async fn as_root(server: &Server, id: &str, token: &str, script: &str) -> String {
    let (code, out, err) =
        support::exec(server, id, Some(token), &["sh", "-c", script], Some("root")).await;
    assert_eq!(code, 0, "{script}: {err}");
    out
}

/// Root-only things to attack: `/tmp/locked` (root, 0755) holding `secret`
/// (root, 0600), `/tmp/private` (root, 0700) holding `f`, and `/root/key`
/// (0600).
async fn plant_secrets(server: &Server, id: &str, token: &str) {
    as_root(
        server,
        id,
        token,
        "set -e
         mkdir -p /tmp/locked /tmp/private
         chmod 755 /tmp/locked; chmod 700 /tmp/private
         echo top-secret > /tmp/locked/secret; chmod 600 /tmp/locked/secret
         echo hidden > /tmp/private/f
         echo key > /root/key; chmod 600 /root/key",
    )
    .await;
}

/// `/files` with `query` (already encoded), authenticated by the token.
fn files(
    server: &Server,
    id: &str,
    token: &str,
    method: Method,
    query: &str,
) -> reqwest::RequestBuilder {
    support::to_sandbox(server, method, id, ENVD_PORT, &format!("/files?{query}"))
        .header("X-Access-Token", token)
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    q.finish()
}

async fn status_and_body(resp: reqwest::Response) -> (StatusCode, String) {
    let status = resp.status();
    (status, resp.text().await.unwrap())
}

async fn download(
    server: &Server,
    id: &str,
    token: &str,
    path: &str,
    user: Option<&str>,
) -> (StatusCode, String) {
    let mut pairs = vec![("path", path)];
    if let Some(u) = user {
        pairs.push(("username", u));
    }
    let resp = files(server, id, token, Method::GET, &query(&pairs))
        .send()
        .await
        .unwrap();
    status_and_body(resp).await
}

async fn upload(
    server: &Server,
    id: &str,
    token: &str,
    path: &str,
    user: Option<&str>,
    body: &'static str,
) -> (StatusCode, String) {
    let mut pairs = vec![("path", path)];
    if let Some(u) = user {
        pairs.push(("username", u));
    }
    let resp = files(server, id, token, Method::POST, &query(&pairs))
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    status_and_body(resp).await
}

async fn upload_multipart(
    server: &Server,
    id: &str,
    token: &str,
    path: &str,
    user: &str,
) -> (StatusCode, String) {
    let form = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\nplanted\r\n--XyZ--\r\n"
    );
    let resp = files(
        server,
        id,
        token,
        Method::POST,
        &query(&[("username", user)]),
    )
    .header("content-type", "multipart/form-data; boundary=XyZ")
    .body(form)
    .send()
    .await
    .unwrap();
    status_and_body(resp).await
}

/// Whether `path` exists in the sandbox (checked as root).
async fn exists(server: &Server, id: &str, token: &str, path: &str) -> bool {
    let out = as_root(
        server,
        id,
        token,
        &format!("test -e '{path}' && echo yes || echo no"),
    )
    .await;
    out.trim() == "yes"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_api_acts_as_the_requesting_user() {
    let server = support::server().await;
    let (id, token) = secure_sandbox(&server).await;
    plant_secrets(&server, &id, &token).await;

    // Reading what only root may read.
    for (path, user) in [
        ("/tmp/locked/secret", None),
        ("/tmp/locked/secret", Some("user")),
        ("/tmp/private/f", Some("user")),
        ("/root/key", Some("user")),
    ] {
        let (status, body) = download(&server, &id, &token, path, user).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path} as {user:?}: {body}");
        assert!(!body.contains("top-secret") && !body.contains("hidden"));
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["code"], 403, "{body}");
    }
    // Root reads them.
    let (status, body) = download(&server, &id, &token, "/tmp/locked/secret", Some("root")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "top-secret\n"));
    let (status, body) = download(&server, &id, &token, "/root/key", Some("root")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "key\n"));

    // Writing where only root may write: into the directory, below it
    // (creating parents), over a root-only file, into /root.
    for path in [
        "/tmp/locked/new.txt",
        "/tmp/locked/sub/new.txt",
        "/tmp/private/g",
        "/root/planted",
    ] {
        let (status, body) = upload(&server, &id, &token, path, Some("user"), "planted").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(
            !exists(&server, &id, &token, path).await,
            "{path} was written"
        );
    }
    let (status, body) = upload(
        &server,
        &id,
        &token,
        "/tmp/locked/secret",
        None,
        "overwritten",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) =
        upload_multipart(&server, &id, &token, "/tmp/locked/multi.txt", "user").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(!exists(&server, &id, &token, "/tmp/locked/multi.txt").await);
    assert!(!exists(&server, &id, &token, "/tmp/locked/sub").await);
    let (_, body) = download(&server, &id, &token, "/tmp/locked/secret", Some("root")).await;
    assert_eq!(body, "top-secret\n", "the root-only file was changed");

    // Root writes there.
    let (status, body) = upload(
        &server,
        &id,
        &token,
        "/tmp/locked/sub/by-root",
        Some("root"),
        "r",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = upload_multipart(&server, &id, &token, "/root/multi", "root").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // What the user writes, and the directories made for it, are the user's.
    let (status, body) = upload(
        &server,
        &id,
        &token,
        "/tmp/mine/deep/a.txt",
        Some("user"),
        "a",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) =
        upload_multipart(&server, &id, &token, "/home/user/up/b.txt", "user").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let owners = as_root(
        &server,
        &id,
        &token,
        "stat -c %u:%g /tmp/mine /tmp/mine/deep /tmp/mine/deep/a.txt /home/user/up /home/user/up/b.txt /tmp/locked/sub/by-root",
    )
    .await;
    assert_eq!(
        owners.lines().collect::<Vec<_>>(),
        [
            "1000:1000",
            "1000:1000",
            "1000:1000",
            "1000:1000",
            "1000:1000",
            "0:0"
        ]
    );

    // A signed URL acts for the user its signature names.
    let signed = |path: &str, op, user: &str| {
        let signature = e2b_local::signature::sign(path, op, user, &token, None);
        let mut pairs = vec![("path", path), ("signature", signature.as_str())];
        if !user.is_empty() {
            pairs.push(("username", user));
        }
        support::to_sandbox(
            &server,
            Method::GET,
            &id,
            ENVD_PORT,
            &format!("/files?{}", query(&pairs)),
        )
    };
    use e2b_local::signature::Operation;
    for user in ["", "user"] {
        let (status, body) = status_and_body(
            signed("/tmp/locked/secret", Operation::Read, user)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "signed as {user:?}: {body}");
    }
    let (status, body) = status_and_body(
        signed("/tmp/locked/secret", Operation::Read, "root")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "top-secret\n"));
    let signature =
        e2b_local::signature::sign("/tmp/locked/signed", Operation::Write, "user", &token, None);
    let q = query(&[
        ("path", "/tmp/locked/signed"),
        ("username", "user"),
        ("signature", &signature),
    ]);
    let resp = support::to_sandbox(
        &server,
        Method::POST,
        &id,
        ENVD_PORT,
        &format!("/files?{q}"),
    )
    .header("content-type", "application/octet-stream")
    .body("x")
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(!exists(&server, &id, &token, "/tmp/locked/signed").await);
    server.shutdown().await;
}

fn filesystem(server: &Server, id: &str, token: &str) -> FilesystemClient {
    let mut headers = HeaderMap::new();
    headers.insert("e2b-sandbox-id", HeaderValue::from_str(id).unwrap());
    headers.insert("e2b-sandbox-port", HeaderValue::from(ENVD_PORT));
    headers.insert("x-access-token", HeaderValue::from_str(token).unwrap());
    FilesystemClient::new(Client::new(support::http(), server.sandbox_url()).with_headers(headers))
}

fn code<T: std::fmt::Debug>(result: Result<T, Error>) -> Code {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.code(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filesystem_rpcs_act_as_the_requesting_user() {
    let server = support::server().await;
    let (id, token) = secure_sandbox(&server).await;
    plant_secrets(&server, &id, &token).await;
    let fs = filesystem(&server, &id, &token);
    let user = || support::as_user(Some("user"));
    let root = || support::as_user(Some("root"));
    let stat = |path: &str| StatRequest { path: path.into() };
    let list = |path: &str| ListDirRequest {
        path: path.into(),
        depth: 1,
    };

    // Looking into a root-only directory.
    assert_eq!(
        code(fs.stat(stat("/tmp/private/f"), user()).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(fs.stat(stat("/root/key"), user()).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(
            fs.stat(stat("/tmp/private/f"), support::as_user(None))
                .await
        ),
        Code::PermissionDenied
    );
    assert_eq!(
        code(fs.list_dir(list("/tmp/private"), user()).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(fs.list_dir(list("/root"), user()).await),
        Code::PermissionDenied
    );
    // Changing what only root may change.
    let make = |path: &str| MakeDirRequest { path: path.into() };
    assert_eq!(
        code(fs.make_dir(make("/tmp/locked/d"), user()).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(fs.make_dir(make("/tmp/locked/d/e"), user()).await),
        Code::PermissionDenied
    );
    let steal = MoveRequest {
        source: "/tmp/locked/secret".into(),
        destination: "/tmp/stolen".into(),
    };
    assert_eq!(
        code(fs.r#move(steal.clone(), user()).await),
        Code::PermissionDenied
    );
    let remove = |path: &str| RemoveRequest { path: path.into() };
    assert_eq!(
        code(fs.remove(remove("/tmp/locked/secret"), user()).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(fs.remove(remove("/tmp/private"), user()).await),
        Code::PermissionDenied
    );
    assert_eq!(
        as_root(
            &server,
            &id,
            &token,
            "cat /tmp/locked/secret; ls -A /tmp/locked /tmp/private"
        )
        .await,
        "top-secret\n/tmp/locked:\nsecret\n\n/tmp/private:\nf\n"
    );
    // Watching a directory the user may not read.
    let watch = WatchDirRequest {
        path: "/tmp/private".into(),
        ..Default::default()
    };
    let denied = match fs.watch_dir(watch, user()).await {
        Ok(mut s) => s.next().await.unwrap().unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(denied.code(), Code::PermissionDenied);
    let watcher = CreateWatcherRequest {
        path: "/tmp/private".into(),
        ..Default::default()
    };
    assert_eq!(
        code(fs.create_watcher(watcher.clone(), user()).await),
        Code::PermissionDenied
    );

    // Root may do all of it.
    let entry = fs
        .stat(stat("/tmp/private/f"), root())
        .await
        .unwrap()
        .entry
        .unwrap();
    assert_eq!((entry.owner.as_str(), entry.size), ("root", 7));
    let listed = fs
        .list_dir(list("/tmp/private"), root())
        .await
        .unwrap()
        .entries;
    assert_eq!(
        listed.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        ["f"]
    );
    fs.create_watcher(watcher, root()).await.unwrap();
    fs.make_dir(make("/tmp/locked/d"), root()).await.unwrap();
    fs.r#move(
        MoveRequest {
            source: "/tmp/locked/secret".into(),
            destination: "/tmp/locked/d/moved".into(),
        },
        root(),
    )
    .await
    .unwrap();
    fs.remove(remove("/tmp/private"), root()).await.unwrap();

    // What the user makes is the user's.
    let made = fs
        .make_dir(make("/tmp/ours/a/b"), user())
        .await
        .unwrap()
        .entry
        .unwrap();
    assert_eq!((made.owner.as_str(), made.group.as_str()), ("user", "user"));
    assert_eq!(
        as_root(
            &server,
            &id,
            &token,
            "stat -c %u:%g /tmp/ours /tmp/ours/a /tmp/ours/a/b"
        )
        .await,
        "1000:1000\n1000:1000\n1000:1000\n"
    );
    server.shutdown().await;
}

/// `copies` gzip members of a mebibyte of zeros each: a small body that
/// inflates to `copies` MiB.
async fn gzip_bomb(copies: usize) -> Vec<u8> {
    let mut member = Vec::new();
    GzipEncoder::new(&vec![0u8; 1 << 20][..])
        .read_to_end(&mut member)
        .await
        .unwrap();
    member.repeat(copies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bombs_are_refused() {
    let server = support::server().await;
    let (id, token) = secure_sandbox(&server).await;
    let bomb = gzip_bomb(200).await;
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());

    let resp = files(
        &server,
        &id,
        &token,
        Method::POST,
        "path=/home/user/bomb.bin",
    )
    .header("content-type", "application/octet-stream")
    .header("content-encoding", "gzip")
    .body(bomb.clone())
    .send()
    .await
    .unwrap();
    let (status, body) = status_and_body(resp).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(
        body.contains("decompressed request body too large"),
        "{body}"
    );
    assert!(!exists(&server, &id, &token, "/home/user/bomb.bin").await);

    // The same inside a multipart form (gzip members decode as one stream).
    let gzip = |data: &'static [u8]| async move {
        let mut out = Vec::new();
        GzipEncoder::new(data).read_to_end(&mut out).await.unwrap();
        out
    };
    let compressed = [
        gzip(b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"/home/user/bomb2.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").await,
        bomb,
        gzip(b"\r\n--XyZ--\r\n").await,
    ]
    .concat();
    let resp = files(&server, &id, &token, Method::POST, "username=user")
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .header("content-encoding", "gzip")
        .body(compressed)
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_body(resp).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(!exists(&server, &id, &token, "/home/user/bomb2.bin").await);

    // Ordinary compressed uploads pass: a few MiB of zeros is within the floor.
    let resp = files(
        &server,
        &id,
        &token,
        Method::POST,
        "path=/home/user/zeros.bin",
    )
    .header("content-type", "application/octet-stream")
    .header("content-encoding", "gzip")
    .body(gzip_bomb(4).await)
    .send()
    .await
    .unwrap();
    let (status, body) = status_and_body(resp).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        as_root(&server, &id, &token, "stat -c %s /home/user/zeros.bin").await,
        format!("{}\n", 4 << 20)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_mistakes_are_4xx() {
    let server = support::server().await;
    let (id, token) = secure_sandbox(&server).await;
    // A name longer than the file system allows.
    let long = format!("/home/user/{}", "n".repeat(300));
    let (status, body) = upload(&server, &id, &token, &long, None, "x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = download(&server, &id, &token, &long, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // A NUL byte in the path.
    let (status, body) = download(&server, &id, &token, "/home/user/a\0b", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // A read-only path, even for root.
    let (status, body) = upload(
        &server,
        &id,
        &token,
        "/proc/sys/kernel/hostname",
        Some("root"),
        "x",
    )
    .await;
    assert!(status.is_client_error(), "{status}: {body}");
    // A move across mounts (`/tmp` and the home are different file systems).
    let (status, _) = upload(&server, &id, &token, "/tmp/cross", None, "x").await;
    assert_eq!(status, StatusCode::OK);
    let fs = filesystem(&server, &id, &token);
    let moved = fs
        .r#move(
            MoveRequest {
                source: "/tmp/cross".into(),
                destination: "/home/user/cross".into(),
            },
            support::as_user(None),
        )
        .await;
    assert!(
        moved.is_ok() || code(moved) == Code::InvalidArgument,
        "a cross-device move is a client error"
    );
    server.shutdown().await;
}
