//! Large bodies stream through the proxy and the agent's port forward in
//! constant memory, both ways, to and from an HTTP server inside the sandbox.
//! (`files_large` covers envd's own `/files`.)
//!
//! The only test in this binary, so the process's peak RSS is this transfer's.

use e2b_test_support as support;

use std::time::Duration;

use e2b_test_support::transfer::{pattern_body, read_pattern};
use reqwest::Method;
use serde_json::{Value, json};

/// 512 MiB each way.
const SIZE: usize = 512 << 20;
/// Growth of the peak RSS allowed over the transfer (the body is 8× that).
const MAX_GROWTH: u64 = 64 << 20;

/// The port the server inside listens on.
const PORT: u16 = 8000;

/// An HTTP/1.1 server for inside the sandbox (`python3 -c SINK_AND_SOURCE <port>`),
/// one connection at a time: `POST` answers `{"bytes": n, "pattern": bool}`
/// (the body's size, and whether it is the pattern `bytes(range(256))`
/// repeated), `GET ?bytes=N` sends N bytes of that pattern.
const SINK_AND_SOURCE: &str = r#"
import socket, sys
PATTERN = bytes(range(256)) * 256
DOUBLE = PATTERN * 2

def body(f, headers):
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int(f.readline().split(b";")[0], 16)
            if size == 0:
                while f.readline() not in (b"\r\n", b""):
                    pass
                return
            while size:
                chunk = f.read(min(size, 1 << 16))
                if not chunk:
                    return
                size -= len(chunk)
                yield chunk
            f.readline()
    else:
        left = int(headers.get("content-length", "0"))
        while left:
            chunk = f.read(min(left, 1 << 16))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk

def head(c, length, content_type):
    c.sendall(("HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (content_type, length)).encode())

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(8)
while True:
    c, _ = srv.accept()
    f = c.makefile("rb")
    method, target, _ = f.readline().decode().split(" ", 2)
    headers = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        k, _, v = line.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    if method == "POST":
        total, same = 0, True
        for chunk in body(f, headers):
            view = memoryview(chunk)
            while view:
                offset = total % len(PATTERN)
                n = min(len(view), len(PATTERN))
                same = same and view[:n] == DOUBLE[offset:offset + n]
                total += n
                view = view[n:]
        answer = ('{"bytes": %d, "pattern": %s}' % (total, "true" if same else "false")).encode()
        head(c, len(answer), "application/json")
        c.sendall(answer)
    else:
        n = int(target.partition("bytes=")[2] or 0)
        head(c, n, "application/octet-stream")
        while n:
            piece = PATTERN[:min(n, len(PATTERN))]
            c.sendall(piece)
            n -= len(piece)
    f.close()
    c.close()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_stream_both_ways_in_constant_memory() {
    let server = support::server().await;
    // Its own network namespace: the port cannot collide with the host's.
    let sandbox = support::create(
        &server,
        json!({"templateID": "base", "timeout": 600, "allow_internet_access": false}),
    )
    .await;
    let id = sandbox["sandboxID"].as_str().unwrap().to_owned();
    let port = PORT.to_string();
    support::spawn(
        &server,
        &id,
        None,
        &["python3", "-c", SINK_AND_SOURCE, &port],
        None,
    )
    .await;
    support::eventually(
        Duration::from_secs(20),
        "the server inside to answer",
        || async {
            support::to_sandbox(&server, Method::GET, &id, PORT, "/?bytes=0")
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        },
    )
    .await;
    let baseline = support::rss_bytes();

    // Upload: a generated stream, never held in memory as a whole.
    let resp = support::to_sandbox(&server, Method::POST, &id, PORT, "/upload")
        .body(pattern_body(SIZE))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let got: Value = resp.json().await.unwrap();
    assert_eq!(got["bytes"].as_u64().unwrap(), SIZE as u64);
    assert_eq!(
        got["pattern"], true,
        "the server inside received other bytes than sent"
    );

    // Download: checked piece by piece as it arrives.
    let resp = support::to_sandbox(
        &server,
        Method::GET,
        &id,
        PORT,
        &format!("/download?bytes={SIZE}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(read_pattern(resp.bytes_stream()).await, SIZE);

    let growth = support::peak_rss_bytes().saturating_sub(baseline);
    assert!(
        growth < MAX_GROWTH,
        "peak RSS grew by {} MiB over a {} MiB transfer",
        growth >> 20,
        SIZE >> 20
    );
    server.shutdown().await;
}
