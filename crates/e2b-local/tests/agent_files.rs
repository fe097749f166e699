//! The agent's plain HTTP routes: `/files`, `/health`, `/metrics`, `/envs`
//! and the forward upgrade.

use std::collections::HashMap;
use std::time::Duration;

use async_compression::tokio::bufread::{GzipDecoder, GzipEncoder};
use e2b_envd::connect::CallOptions;
use e2b_envd::filesystem::StatRequest;
use e2b_test_support::agent::*;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzipEncoder::new(data).read_to_end(&mut out).await.unwrap();
    out
}

async fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzipDecoder::new(data).read_to_end(&mut out).await.unwrap();
    out
}

/// Every byte value, many times over, in a pattern that does not repeat
/// with a short period.
fn all_bytes(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 256) as u8 ^ ((i / 256) % 251) as u8)
        .collect()
}

async fn upload_raw(agent: &TestAgent, path: &str, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .post(agent.url("/files"))
        .query(&[("path", path)])
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn error_body(response: reqwest::Response) -> (StatusCode, serde_json::Value) {
    let status = response.status();
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], status.as_u16(), "{body}");
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn octet_stream_round_trip_of_every_byte() {
    let agent = TestAgent::start().await;
    let content = all_bytes(300_000);
    let response = upload_raw(&agent, "dir/data.bin", content.clone()).await;
    assert_eq!(response.status(), 200);
    let written: serde_json::Value = response.json().await.unwrap();
    let path = agent.home.join("dir/data.bin");
    assert_eq!(
        written,
        serde_json::json!([{"path": path.to_string_lossy(), "name": "data.bin", "type": "file"}])
    );
    assert_eq!(std::fs::read(&path).unwrap(), content);
    assert!(owned_by(&path, 1000) && owned_by(&agent.home.join("dir"), 1000));

    let response = reqwest::get(agent.url("/files?path=dir/data.bin"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-disposition"], "inline; filename=data.bin");
    assert_eq!(
        headers["content-length"],
        content.len().to_string().as_str()
    );
    assert!(headers.get("content-encoding").is_none());
    assert_eq!(response.bytes().await.unwrap(), content);

    // As root, the same relative path is under root's home.
    let response = reqwest::Client::new()
        .post(agent.url("/files?path=r.bin&username=root"))
        .header("content-type", "application/octet-stream")
        .body(vec![0u8, 255])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        std::fs::read(agent.root_home.join("r.bin")).unwrap(),
        [0, 255]
    );
    assert!(owned_by(&agent.root_home.join("r.bin"), 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_both_ways_with_a_large_file() {
    let agent = TestAgent::start().await;
    let content = all_bytes(16 * 1024 * 1024 + 7);
    let response = reqwest::Client::new()
        .post(agent.url("/files?path=big.bin"))
        .header("content-type", "application/octet-stream")
        .header("content-encoding", "gzip")
        .body(gzip(&content).await)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(std::fs::read(agent.home.join("big.bin")).unwrap(), content);

    let response = reqwest::Client::new()
        .get(agent.url("/files?path=big.bin"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert_eq!(response.headers()["vary"], "Accept-Encoding");
    let compressed = response.bytes().await.unwrap();
    assert_eq!(gunzip(&compressed).await, content);

    // A range request is answered uncompressed.
    let response = reqwest::Client::new()
        .get(agent.url("/files?path=big.bin"))
        .header("accept-encoding", "gzip")
        .header("range", "bytes=2-5")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(
        response.headers()["content-range"],
        format!("bytes 2-5/{}", content.len()).as_str()
    );
    assert_eq!(response.bytes().await.unwrap(), content[2..6]);

    let bad = reqwest::Client::new()
        .post(agent.url("/files?path=x"))
        .header("content-type", "application/octet-stream")
        .header("content-encoding", "br")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(error_body(bad).await.0, 400);
}

fn multipart(boundary: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, filename, data) in parts {
        body.extend(format!("--{boundary}\r\n").as_bytes());
        let disposition = match filename {
            Some(f) => format!("form-data; name=\"{name}\"; filename=\"{f}\""),
            None => format!("form-data; name=\"{name}\""),
        };
        body.extend(format!("Content-Disposition: {disposition}\r\n").as_bytes());
        body.extend(b"Content-Type: application/octet-stream\r\n\r\n");
        body.extend(*data);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    body
}

async fn upload_multipart(agent: &TestAgent, query: &str, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .post(agent.url(&format!("/files{query}")))
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_writes_every_file_part() {
    let agent = TestAgent::start().await;
    let absolute = agent.home.join("abs/one.bin");
    let first = all_bytes(70_000);
    let body = multipart(
        "XyZ",
        &[
            ("file", Some(&absolute.to_string_lossy()), &first),
            ("note", None, b"ignored field"),
            (
                "file",
                Some("rel/dir/two.txt"),
                b"second\r\n--not a boundary",
            ),
        ],
    );
    let response = upload_multipart(&agent, "", body).await;
    assert_eq!(response.status(), 200);
    let written: Vec<serde_json::Value> = response.json().await.unwrap();
    let paths: Vec<&str> = written
        .iter()
        .map(|w| w["path"].as_str().unwrap())
        .collect();
    let second = agent.home.join("rel/dir/two.txt");
    assert_eq!(
        paths,
        [&*absolute.to_string_lossy(), &*second.to_string_lossy()]
    );
    assert_eq!(written[1]["name"], "two.txt");
    assert_eq!(std::fs::read(&absolute).unwrap(), first);
    assert_eq!(
        std::fs::read(&second).unwrap(),
        b"second\r\n--not a boundary"
    );
    assert!(owned_by(&agent.home.join("rel/dir"), 1000));

    // One target path for two parts is refused.
    let body = multipart(
        "XyZ",
        &[("file", Some("a"), b"1"), ("file", Some("b"), b"2")],
    );
    let response = upload_multipart(&agent, "?path=same.txt", body).await;
    let (status, body) = error_body(response).await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("same path"),
        "{body}"
    );

    // A gzip-compressed multipart body.
    let body = gzip(&multipart(
        "XyZ",
        &[("file", Some("zipped.txt"), b"zipped")],
    ))
    .await;
    let response = reqwest::Client::new()
        .post(agent.url("/files"))
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .header("content-encoding", "gzip")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        std::fs::read(agent.home.join("zipped.txt")).unwrap(),
        b"zipped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_headers_become_xattrs() {
    let agent = TestAgent::start().await;
    let response = reqwest::Client::new()
        .post(agent.url("/files?path=meta.txt"))
        .header("content-type", "application/octet-stream")
        .header("X-Metadata-Owner", "alice")
        .header("x-metadata-Stage", "draft")
        .body("v1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let written: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        written[0]["metadata"],
        serde_json::json!({"owner": "alice", "stage": "draft"})
    );
    let path = agent.home.join("meta.txt");
    assert_eq!(
        xattr::get(&path, "user.e2b.owner").unwrap().unwrap(),
        b"alice"
    );

    let entry = agent
        .filesystem()
        .stat(
            StatRequest {
                path: "meta.txt".into(),
            },
            CallOptions::new(),
        )
        .await
        .unwrap()
        .entry
        .unwrap();
    assert_eq!(
        entry.metadata,
        HashMap::from([
            ("owner".into(), "alice".into()),
            ("stage".into(), "draft".into())
        ])
    );

    // Rewriting replaces the whole set.
    let response = reqwest::Client::new()
        .post(agent.url("/files?path=meta.txt"))
        .header("content-type", "application/octet-stream")
        .header("X-Metadata-Stage", "final")
        .body("v2")
        .send()
        .await
        .unwrap();
    let written: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        written[0]["metadata"],
        serde_json::json!({"stage": "final"})
    );
    assert!(xattr::get(&path, "user.e2b.owner").unwrap().is_none());

    let bad = reqwest::Client::new()
        .post(agent.url("/files?path=meta.txt"))
        .header("content-type", "application/octet-stream")
        .header("X-Metadata-Big", "v".repeat(5000))
        .body("v3")
        .send()
        .await
        .unwrap();
    assert_eq!(error_body(bad).await.0, 400);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"v2",
        "a refused upload writes nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_errors() {
    let agent = TestAgent::start().await;
    let missing = reqwest::get(agent.url("/files?path=nope.txt"))
        .await
        .unwrap();
    let (status, body) = error_body(missing).await;
    assert_eq!(status, 404);
    assert_eq!(
        body["message"],
        format!(
            "path '{}' does not exist",
            agent.home.join("nope.txt").display()
        )
    );

    let dir = reqwest::get(agent.url("/files?path=")).await.unwrap();
    assert_eq!(error_body(dir).await.0, 400);

    let nobody = reqwest::get(agent.url("/files?path=x&username=nobody"))
        .await
        .unwrap();
    assert_eq!(error_body(nobody).await.0, 401);

    let no_path = reqwest::Client::new()
        .post(agent.url("/files"))
        .header("content-type", "application/octet-stream")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(error_body(no_path).await.0, 400);

    let text = reqwest::Client::new()
        .post(agent.url("/files?path=x"))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(error_body(text).await.0, 400);

    std::fs::create_dir(agent.home.join("adir")).unwrap();
    let onto_dir = upload_raw(&agent, "adir", b"x".to_vec()).await;
    assert_eq!(error_body(onto_dir).await.0, 400);

    std::fs::write(agent.home.join("small"), b"abc").unwrap();
    let unsatisfiable = reqwest::Client::new()
        .get(agent.url("/files?path=small"))
        .header("range", "bytes=10-")
        .send()
        .await
        .unwrap();
    assert_eq!(unsatisfiable.status(), 416);
    assert_eq!(unsatisfiable.headers()["content-range"], "bytes */3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_with_far_off_modification_times_download() {
    let agent = TestAgent::start().await;
    // tmpfs keeps any 64-bit time, beyond what HTTP dates can express.
    let dir = tempfile::tempdir_in("/dev/shm").unwrap();
    for seconds in [9_000_000_000_000_i64, -9_000_000_000_000] {
        let path = dir.path().join(format!("t{seconds}"));
        std::fs::write(&path, b"timeless").unwrap();
        let stamp = rustix::fs::Timespec {
            tv_sec: seconds,
            tv_nsec: 0,
        };
        let times = rustix::fs::Timestamps {
            last_access: stamp,
            last_modification: stamp,
        };
        rustix::fs::utimensat(rustix::fs::CWD, &path, &times, rustix::fs::AtFlags::empty())
            .unwrap();
        let url = agent.url(&format!("/files?path={}", path.display()));
        let plain = reqwest::get(&url).await.unwrap();
        assert_eq!(plain.status(), 200, "{seconds}");
        assert!(plain.headers().get("last-modified").is_none(), "{seconds}");
        assert_eq!(plain.bytes().await.unwrap(), &b"timeless"[..]);
        let conditional = reqwest::Client::new()
            .get(&url)
            .header("if-modified-since", "Tue, 01 Jan 2030 00:00:00 GMT")
            .send()
            .await
            .unwrap();
        assert_eq!(conditional.status(), 200, "{seconds}");
        // Stat (JSON, as the SDKs speak it) leaves out what a protobuf
        // timestamp cannot hold.
        let entry = agent
            .filesystem()
            .stat(
                StatRequest {
                    path: path.display().to_string(),
                },
                CallOptions::new(),
            )
            .await
            .unwrap()
            .entry
            .unwrap();
        assert_eq!(entry.size, 8, "{seconds}");
        assert_eq!(entry.modified_time, None, "{seconds}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_envs_and_metrics() {
    let agent = TestAgent::start().await;
    let health = reqwest::get(agent.url("/health")).await.unwrap();
    assert_eq!(health.status(), 204);

    let envs = reqwest::get(agent.url("/envs")).await.unwrap();
    assert_eq!(envs.status(), 200);
    let envs: HashMap<String, String> = envs.json().await.unwrap();
    assert_eq!(
        envs,
        HashMap::from([
            ("E2B_SANDBOX".into(), "true".into()),
            ("SANDBOX_VAR".into(), "from-sandbox".into())
        ])
    );

    let metrics: serde_json::Value = reqwest::get(agent.url("/metrics"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for key in [
        "ts",
        "cpu_count",
        "cpu_used_pct",
        "mem_total",
        "mem_used",
        "mem_cache",
        "mem_total_mib",
        "mem_used_mib",
        "disk_used",
        "disk_total",
    ] {
        assert!(metrics[key].is_number(), "{key} in {metrics}");
    }
    assert!(metrics["mem_total"].as_u64().unwrap() >= metrics["mem_used"].as_u64().unwrap());
}

async fn echo_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = socket.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    port
}

/// Send an upgrade request on a fresh connection; returns the response head
/// and the connection.
async fn upgrade(agent: &TestAgent, query: &str) -> (String, tokio::net::TcpStream) {
    let mut stream = tokio::net::TcpStream::connect(agent.addr).await.unwrap();
    let request = format!(
        "GET /.e2b/forward{query} HTTP/1.1\r\nHost: sandbox\r\nConnection: Upgrade\r\nUpgrade: e2b-tcp\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.unwrap();
        assert_eq!(n, 1, "connection closed in the response head");
        head.push(byte[0]);
    }
    (String::from_utf8(head).unwrap(), stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_tunnels_to_a_sandbox_port() {
    let agent = TestAgent::start().await;
    let port = echo_server().await;
    let (head, mut tunnel) =
        tokio::time::timeout(PATIENCE, upgrade(&agent, &format!("?port={port}")))
            .await
            .unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("upgrade: e2b-tcp"),
        "{head}"
    );
    let payload = all_bytes(100_000);
    let (mut r, mut w) = tunnel.split();
    let send = async {
        w.write_all(&payload).await.unwrap();
        w.shutdown().await.unwrap();
    };
    let receive = async {
        let mut echoed = Vec::new();
        r.read_to_end(&mut echoed).await.unwrap();
        echoed
    };
    let ((), echoed) = tokio::time::timeout(PATIENCE, async { tokio::join!(send, receive) })
        .await
        .unwrap();
    assert_eq!(echoed, payload);

    // A closed port is a 502 before any upgrade.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (head, _) = upgrade(&agent, &format!("?port={closed}")).await;
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");

    let (head, _) = upgrade(&agent, "?port=notaport").await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
}

/// Read from `stream` (after what `buf` already holds) until one complete response (head
/// and `Content-Length` body) is there; take it out of `buf`.
async fn read_response(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> String {
    loop {
        let text = String::from_utf8_lossy(buf).into_owned();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length: usize = text[..head_end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= head_end + 4 + length {
                let response = String::from_utf8_lossy(&buf[..head_end + 4 + length]).into_owned();
                buf.drain(..head_end + 4 + length);
                return response;
            }
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "connection closed after {:?}",
            String::from_utf8_lossy(buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_uploads_are_answered_once_their_body_ends() {
    // A chunked body whose closing boundary arrives before the end of the body: the
    // agent must read the body to its end before answering, as envd's net/http does.
    // Answering earlier cuts off a client (or e2b-local's edge) still sending it.
    let agent = TestAgent::start().await;
    let mut stream = tokio::net::TcpStream::connect(agent.addr).await.unwrap();
    let form = multipart("XyZ", &[("file", Some("chunked.bin"), b"chunked")]);
    let mut request = format!(
        "POST /files HTTP/1.1\r\nHost: agent\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        form.len()
    )
    .into_bytes();
    request.extend_from_slice(&form);
    request.extend_from_slice(b"\r\n");
    stream.write_all(&request).await.unwrap();

    // No answer while the body is unfinished. (A window for an answer that must not
    // come; the agent answers a finished upload in milliseconds.)
    let mut buf = Vec::new();
    let early = tokio::time::timeout(
        Duration::from_millis(500),
        read_response(&mut stream, &mut buf),
    )
    .await;
    assert!(early.is_err(), "answered before the body ended: {early:?}");

    // The end of the body, and a second request on the same connection.
    stream
        .write_all(b"0\r\n\r\nGET /health HTTP/1.1\r\nHost: agent\r\n\r\n")
        .await
        .unwrap();
    let upload = tokio::time::timeout(PATIENCE, read_response(&mut stream, &mut buf))
        .await
        .unwrap();
    assert!(upload.starts_with("HTTP/1.1 200"), "{upload}");
    assert_eq!(
        std::fs::read(agent.home.join("chunked.bin")).unwrap(),
        b"chunked"
    );
    let health = tokio::time::timeout(PATIENCE, read_response(&mut stream, &mut buf))
        .await
        .unwrap();
    assert!(health.starts_with("HTTP/1.1 204"), "{health}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn octet_stream_uploads_need_envd_0_5_7() {
    let old = TestAgent::start_with(|config| config.envd_version = "0.5.6".into()).await;
    let (status, body) = error_body(upload_raw(&old, "raw.bin", b"raw".to_vec()).await).await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("expected multipart/form-data"),
        "{body}"
    );
    assert!(!old.home.join("raw.bin").exists());
    let body = multipart("XyZ", &[("file", Some("form.bin"), b"form")]);
    assert_eq!(upload_multipart(&old, "", body).await.status(), 200);
    assert_eq!(std::fs::read(old.home.join("form.bin")).unwrap(), b"form");

    let current = TestAgent::start_with(|config| config.envd_version = "0.5.7".into()).await;
    let response = upload_raw(&current, "raw.bin", b"raw".to_vec()).await;
    assert_eq!(response.status(), 200);
}
