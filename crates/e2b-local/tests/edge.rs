//! Sandbox traffic at the edge: routing, envd authentication (tokens and
//! signed URLs), traffic tokens, and proxying to other ports.

use e2b_test_support as support;

use std::time::Duration;

use e2b_local::signature::{Operation, sign};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn query(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_by_headers_or_host() {
    let server = support::server().await;
    let id = support::create_base(&server, 120).await;

    // Path and query reach envd: a file written and read back through the headers.
    let resp = support::to_sandbox(
        &server,
        Method::POST,
        &id,
        49983,
        "/files?path=/home/user/routed.txt",
    )
    .header("content-type", "application/octet-stream")
    .body("routed")
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let resp = support::to_sandbox(
        &server,
        Method::GET,
        &id,
        49983,
        "/files?path=/home/user/routed.txt",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "routed");

    // `<port>-<id>.<domain>` host form, on the same listener.
    let host = format!("49983-{id}.{}", server.domain());
    let resp = support::http()
        .get(format!(
            "{}/files?path=/home/user/routed.txt",
            server.api_url()
        ))
        .header("host", &host)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "routed");

    // One header alone is a bad request.
    let resp = support::http()
        .get(format!("{}/health", server.api_url()))
        .header("E2b-Sandbox-Id", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"code": 400, "message": "Missing header: E2b-Sandbox-Port"})
    );
    let resp = support::http()
        .get(format!("{}/health", server.api_url()))
        .header("E2b-Sandbox-Port", "49983")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["message"],
        "Missing header: E2b-Sandbox-Id"
    );
    let resp = support::to_sandbox(&server, Method::GET, "BAD-ID", 49983, "/health")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // Unknown or killed sandboxes are 502 with the proxy's JSON.
    let resp = support::to_sandbox(&server, Method::GET, "inosuchsandbox", 49983, "/health")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["sandboxId"], "inosuchsandbox");
    assert_eq!(body["code"], 502);
    assert!(body["message"].as_str().unwrap().contains("not found"));
    support::authed_http(&server)
        .delete(format!("{}/sandboxes/{id}", server.api_url()))
        .send()
        .await
        .unwrap();
    let resp = support::to_sandbox(&server, Method::GET, &id, 49983, "/health")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_envd_requires_the_token() {
    let server = support::server().await;
    let sandbox = support::create(
        &server,
        json!({"templateID": "base", "timeout": 120, "secure": true}),
    )
    .await;
    let id = sandbox["sandboxID"].as_str().unwrap();
    let token = sandbox["envdAccessToken"].as_str().unwrap();

    let resp = support::to_sandbox(&server, Method::POST, id, 49983, "/process.Process/Start")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"code": 401, "message": "unauthorized access, please provide a valid access token or method signing if supported"})
    );
    let resp = support::to_sandbox(&server, Method::GET, id, 49983, "/envs")
        .header("X-Access-Token", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = support::to_sandbox(&server, Method::GET, id, 49983, "/envs")
        .header("X-Access-Token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["E2B_SANDBOX_ID"], id);
    // With the token, Connect calls go through to envd.
    let (code, out, _) = support::exec(&server, id, Some(token), &["echo", "through"], None).await;
    assert_eq!((code, out.as_str()), (0, "through\n"));
    // Health is open.
    let resp = support::to_sandbox(&server, Method::GET, id, 49983, "/health")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    // Internal routes never reach the agent.
    for path in ["/init", "/.e2b/forward?port=1"] {
        let resp = support::to_sandbox(&server, Method::POST, id, 49983, path)
            .header("X-Access-Token", token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_file_urls_are_verified() {
    let server = support::server().await;
    let sandbox = support::create(
        &server,
        json!({"templateID": "base", "timeout": 120, "secure": true}),
    )
    .await;
    let id = sandbox["sandboxID"].as_str().unwrap();
    let token = sandbox["envdAccessToken"].as_str().unwrap();
    let path = "/home/user/some file+x.txt";
    let get =
        |q: String| support::to_sandbox(&server, Method::GET, id, 49983, &format!("/files?{q}"));
    let post =
        |q: String| support::to_sandbox(&server, Method::POST, id, 49983, &format!("/files?{q}"));

    // Header token: right → through; wrong → 401 even with a valid signature.
    let resp = post(query(&[("path", path)]))
        .header("X-Access-Token", token)
        .header("content-type", "application/octet-stream")
        .body("signed content")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = get(query(&[("path", path)]))
        .header("X-Access-Token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "signed content");
    let sig = sign(path, Operation::Read, "", token, None);
    let resp = get(query(&[("path", path), ("signature", &sig)]))
        .header("X-Access-Token", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // Neither → 401.
    let resp = get(query(&[("path", path)])).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["message"],
        "missing signature query parameter"
    );

    // A valid read signature reads, but does not write.
    let resp = get(query(&[("path", path), ("signature", &sig)]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "signed content");
    let resp = post(query(&[("path", path), ("signature", &sig)]))
        .header("content-type", "application/octet-stream")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // A write signature for a user writes; tampering with path or user fails.
    let wsig = sign(path, Operation::Write, "root", token, None);
    let resp = post(query(&[
        ("path", path),
        ("username", "root"),
        ("signature", &wsig),
    ]))
    .header("content-type", "application/octet-stream")
    .body("data")
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let (_, owner, _) =
        support::exec(&server, id, Some(token), &["stat", "-c", "%U", path], None).await;
    assert_eq!(owner.trim(), "root", "written as the signed user");
    let resp = post(query(&[
        ("path", path),
        ("username", "user"),
        ("signature", &wsig),
    ]))
    .header("content-type", "application/octet-stream")
    .body("data")
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = post(query(&[
        ("path", "/etc/passwd"),
        ("username", "root"),
        ("signature", &wsig),
    ]))
    .header("content-type", "application/octet-stream")
    .body("x")
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["message"],
        "invalid signature"
    );

    // Expiration: future ok, past refused, tampered refused.
    let now = chrono::Utc::now().timestamp();
    let future = (now + 600).to_string();
    let fsig = sign(path, Operation::Read, "", token, Some(now + 600));
    let resp = get(query(&[
        ("path", path),
        ("signature", &fsig),
        ("signature_expiration", &future),
    ]))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "data");
    let past = (now - 10).to_string();
    let psig = sign(path, Operation::Read, "", token, Some(now - 10));
    let resp = get(query(&[
        ("path", path),
        ("signature", &psig),
        ("signature_expiration", &past),
    ]))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["message"],
        "signature is already expired"
    );
    let resp = get(query(&[
        ("path", path),
        ("signature", &psig),
        ("signature_expiration", &future),
    ]))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = get(query(&[
        ("path", path),
        ("signature", &fsig),
        ("signature_expiration", "tomorrow"),
    ]))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 400);

    // A sandbox without a token needs neither.
    let open = support::create_base(&server, 60).await;
    let resp = support::to_sandbox(
        &server,
        Method::GET,
        &open,
        49983,
        "/files?path=/etc/hostname",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "e2b\n");
    server.shutdown().await;
}

/// An HTTP server for inside a sandbox (`python3 -c ECHO_SERVER <port>`):
/// answers every `GET` with its method, path, query and headers as JSON.
const ECHO_SERVER: &str = r#"
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Echo(BaseHTTPRequestHandler):
    def do_GET(self):
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        body = json.dumps({"method": self.command, "path": path, "query": query, "headers": headers}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
"#;

/// Start [`ECHO_SERVER`] on `port` inside the sandbox and wait until it answers.
async fn serve_http_inside(
    server: &e2b_local::Server,
    id: &str,
    token: Option<&str>,
    port: u16,
    headers: &[(&str, &str)],
) {
    let port_arg = port.to_string();
    support::spawn(
        server,
        id,
        token,
        &["python3", "-c", ECHO_SERVER, &port_arg],
        None,
    )
    .await;
    support::eventually(
        Duration::from_secs(20),
        "the server inside the sandbox to answer",
        || async {
            let mut req = support::to_sandbox(server, Method::GET, id, port, "/ready");
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.send().await.is_ok_and(|r| r.status() == 200)
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_ports_are_proxied_into_the_sandbox() {
    let server = support::server().await;
    // Its own network namespace: port 8000 cannot collide with the host or other tests.
    let sandbox = support::create(
        &server,
        json!({"templateID": "base", "timeout": 120, "allow_internet_access": false}),
    )
    .await;
    let id = sandbox["sandboxID"].as_str().unwrap().to_owned();
    serve_http_inside(&server, &id, None, 8000, &[]).await;

    // Method, path, query and headers arrive as sent; hop-by-hop headers do not.
    let echo: Value = support::to_sandbox(&server, Method::GET, &id, 8000, "/some/page?a=1&b=two")
        .header("x-custom", "kept")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "dropped")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["path"], "/some/page");
    assert_eq!(echo["query"], "a=1&b=two");
    assert_eq!(echo["headers"]["x-custom"], "kept");
    assert!(echo["headers"].get("x-hop").is_none(), "{echo}");
    // `<port>-<id>.<domain>` host form: the app sees the host the client used.
    let host = format!("8000-{id}.{}", server.domain());
    let resp = support::http()
        .get(format!("{}/index.html", server.api_url()))
        .header("host", &host)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let echo: Value = resp.json().await.unwrap();
    assert_eq!(echo["path"], "/index.html");
    assert_eq!(echo["headers"]["host"], host.as_str());

    // A closed port: 502 with the proxy's JSON.
    let resp = support::to_sandbox(&server, Method::GET, &id, 8001, "/")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["message"],
        "The sandbox is running but port is not open"
    );
    assert_eq!(body["port"], "8001");
    assert_eq!(body["sandboxId"], id.as_str());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_token_guards_other_ports() {
    let server = support::server().await;
    let sandbox = support::create(
        &server,
        json!({"templateID": "base", "timeout": 120, "secure": true, "allow_internet_access": false, "network": {"allowPublicTraffic": false}}),
    )
    .await;
    let id = sandbox["sandboxID"].as_str().unwrap().to_owned();
    let envd_token = sandbox["envdAccessToken"].as_str().unwrap().to_owned();
    let traffic = sandbox["trafficAccessToken"].as_str().unwrap().to_owned();
    serve_http_inside(
        &server,
        &id,
        Some(&envd_token),
        8000,
        &[("e2b-traffic-access-token", &traffic)],
    )
    .await;

    let resp = support::to_sandbox(&server, Method::GET, &id, 8000, "/index.html")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(
        resp.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("is missing")
    );
    let resp = support::to_sandbox(&server, Method::GET, &id, 8000, "/index.html")
        .header("e2b-traffic-access-token", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = support::to_sandbox(&server, Method::GET, &id, 8000, "/index.html")
        .header("e2b-traffic-access-token", &traffic)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["path"], "/index.html");
    // envd is exempt from the traffic token (it has its own).
    let resp = support::to_sandbox(&server, Method::GET, &id, 49983, "/envs")
        .header("X-Access-Token", &envd_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgraded_connections_are_spliced() {
    let server = support::server().await;
    let sandbox = support::create(
        &server,
        json!({"templateID": "base", "timeout": 120, "allow_internet_access": false}),
    )
    .await;
    let id = sandbox["sandboxID"].as_str().unwrap().to_owned();
    // A tiny server inside: answers one upgrade with 101, then echoes bytes.
    let script = r#"
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 9000)); s.listen(8)
while True:
    c, _ = s.accept()
    f = c.makefile("rb")
    while f.readline() not in (b"\r\n", b""):
        pass
    c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()
"#;
    support::spawn(&server, &id, None, &["python3", "-c", script], None).await;

    let addr = server.local_addr();
    let mut attempt = 0;
    let mut stream = loop {
        attempt += 1;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: 9000-{id}.{}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
            server.domain()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).await.unwrap() == 0 {
                break;
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        if head.starts_with("HTTP/1.1 101") {
            break stream;
        }
        // The server inside may not listen yet (502): poll until it does.
        assert!(attempt < 200, "no upgrade: {head}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    stream.write_all(b"ping through the tunnel").await.unwrap();
    let mut buf = vec![0u8; 23];
    stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping through the tunnel");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_file_urls_work_without_routing() {
    // The official SDKs sign `<E2B_SANDBOX_URL>/files?…`: no host or header
    // names the sandbox, the signature does.
    let server = support::server().await;
    let mut tokens = Vec::new();
    for content in ["first", "second"] {
        let sandbox = support::create(
            &server,
            json!({"templateID": "base", "timeout": 120, "secure": true}),
        )
        .await;
        let id = sandbox["sandboxID"].as_str().unwrap().to_owned();
        let token = sandbox["envdAccessToken"].as_str().unwrap().to_owned();
        let (code, _, err) = support::exec(
            &server,
            &id,
            Some(&token),
            &["sh", "-c", &format!("echo {content} > /home/user/f.txt")],
            None,
        )
        .await;
        assert_eq!(code, 0, "{err}");
        tokens.push(token);
    }
    let path = "/home/user/f.txt";
    let http = support::http();
    let plain = |q: String| http.get(format!("{}/files?{q}", server.sandbox_url()));
    for (token, content) in tokens.iter().zip(["first", "second"]) {
        let sig = sign(path, Operation::Read, "", token, None);
        let resp = plain(query(&[("path", path), ("signature", &sig)]))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), format!("{content}\n"));
    }
    // An upload URL signed for the second sandbox writes there.
    let wsig = sign(path, Operation::Write, "", &tokens[1], None);
    let resp = http
        .post(format!(
            "{}/files?{}",
            server.sandbox_url(),
            query(&[("path", path), ("signature", &wsig)])
        ))
        .header("content-type", "application/octet-stream")
        .body("uploaded")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    // An expired signature reaches its sandbox, which refuses it.
    let now = chrono::Utc::now().timestamp();
    let old = sign(path, Operation::Read, "", &tokens[0], Some(now - 10));
    let resp = plain(query(&[
        ("path", path),
        ("signature", &old),
        ("signature_expiration", &(now - 10).to_string()),
    ]))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 401);
    // Unsigned, badly signed, or signed as a read for a write: never a sandbox.
    for q in [
        query(&[("path", path)]),
        query(&[("path", path), ("signature", "v1_bogus")]),
        query(&[("path", "/etc/passwd"), ("signature", &wsig)]),
    ] {
        let resp = plain(q).send().await.unwrap();
        assert_eq!(resp.status(), 404);
    }
    server.shutdown().await;
}

/// Start `sleep 30` through envd over raw HTTP/1.1 (a Connect
/// server-streaming call, as the SDKs make it); returns the connection once
/// the start event has arrived.
async fn streaming_command(server: &e2b_local::Server, id: &str) -> tokio::net::TcpStream {
    let message = br#"{"process":{"cmd":"/bin/sleep","args":["30"]}}"#;
    let mut body = vec![0u8];
    body.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    body.extend_from_slice(message);
    let mut conn = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    let head = format!(
        "POST /process.Process/Start HTTP/1.1\r\nHost: {}\r\nE2b-Sandbox-Id: {id}\r\nE2b-Sandbox-Port: 49983\r\nContent-Type: application/connect+json\r\nConnect-Protocol-Version: 1\r\nContent-Length: {}\r\n\r\n",
        server.local_addr(),
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&body).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("\"start\"") {
        let n = tokio::time::timeout(Duration::from_secs(20), conn.read(&mut buf))
            .await
            .expect("the start event arrives")
            .unwrap();
        assert_ne!(
            n,
            0,
            "the stream ended early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    conn
}

/// Read until the connection ends: `Ok` for an orderly end, else the error kind.
async fn stream_end(conn: &mut tokio::net::TcpStream) -> Result<(), std::io::ErrorKind> {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) => return Ok(()),
                Ok(_) => continue,
                Err(e) => return Err(e.kind()),
            }
        }
    })
    .await
    .expect("the stream ends")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_dying_mid_stream_resets_the_clients_connection() {
    let server = support::server().await;
    let id = support::create_base(&server, 120).await;
    let mut conn = streaming_command(&server, &id).await;
    let resp = support::authed_http(&server)
        .delete(format!("{}/sandboxes/{id}", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    // The connection is dropped (reset), not ended in order mid-chunk.
    assert_eq!(
        stream_end(&mut conn).await,
        Err(std::io::ErrorKind::ConnectionReset)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_ends_the_requests_in_flight() {
    let server = support::server().await;
    let id = support::create_base(&server, 120).await;
    let mut conn = streaming_command(&server, &id).await;
    let resp = support::authed_http(&server)
        .post(format!("{}/sandboxes/{id}/pause", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    // The stream from the now frozen sandbox ends at once instead of hanging.
    assert_eq!(
        stream_end(&mut conn).await,
        Err(std::io::ErrorKind::ConnectionReset)
    );
    // New requests are refused while it is paused, and it resumes working.
    let resp = support::to_sandbox(&server, Method::GET, &id, 49983, "/health")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    let resp = support::authed_http(&server)
        .post(format!("{}/sandboxes/{id}/connect", server.api_url()))
        .json(&json!({"timeout": 60}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let (code, out, _) = support::exec(&server, &id, None, &["echo", "back"], None).await;
    assert_eq!((code, out.as_str()), (0, "back\n"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_request_bodies_are_cut() {
    let options = support::options().with_request_body_idle_timeout(Duration::from_millis(500));
    let server = e2b_local::Server::start(options).await.unwrap();
    let id = support::create_base(&server, 120).await;
    // Headers promising 1000 bytes, then 5 of them, then nothing.
    let mut conn = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    let head = format!(
        "POST /files?path=/tmp/stalled HTTP/1.1\r\nHost: localhost\r\nE2b-Sandbox-Id: {id}\r\n\
         E2b-Sandbox-Port: 49983\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: 1000\r\n\r\nhello"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = [0u8; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut buf).await.unwrap() {
                0 => break,
                n => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "a stalled upload was never answered");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    // A steady upload through the same edge still works.
    let resp = support::to_sandbox(&server, Method::POST, &id, 49983, "/files?path=/tmp/ok")
        .header("content-type", "application/octet-stream")
        .body("fine")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    server.shutdown().await;
}

/// Send a request's head announcing a `length`-byte body, read the answer
/// (sent before any of the body), then send the body: `Err` when the
/// connection was cut under the client.
async fn refused_then_send_body(
    server: &e2b_local::Server,
    head: &str,
    length: usize,
) -> (String, Result<(), std::io::ErrorKind>) {
    let mut conn = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    let head = format!(
        "{head}Host: {}\r\nContent-Length: {length}\r\n\r\n",
        server.local_addr()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let status_line = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "no answer before the body");
            answer.extend_from_slice(&buf[..n]);
            if let Some(end) = answer.windows(2).position(|w| w == b"\r\n") {
                return String::from_utf8_lossy(&answer[..end]).into_owned();
            }
        }
    })
    .await
    .expect("the refusal came before the body");
    let chunk = vec![b'x'; 16 * 1024];
    let mut sent = Ok(());
    let mut left = length;
    while left > 0 {
        let n = left.min(chunk.len());
        if let Err(e) = conn.write_all(&chunk[..n]).await {
            sent = Err(e.kind());
            break;
        }
        left -= n;
        // Each write waits for the server to take the last one, so a cut
        // connection shows up before the body is all in the socket buffer.
        tokio::task::yield_now().await;
        if let Err(e) = conn.flush().await {
            sent = Err(e.kind());
            break;
        }
    }
    // What is left to read ends cleanly (end of stream), not with a reset.
    if sent.is_ok() {
        let rest = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match conn.read(&mut buf).await {
                    Ok(0) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(e.kind()),
                }
            }
        })
        .await;
        sent = rest.unwrap_or(Ok(()));
    }
    (status_line, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_read_the_rest_of_a_small_body_like_go_does() {
    let server = support::server().await;
    let secure = json!({"templateID": "base", "timeout": 120, "secure": true});
    let id = support::create(&server, secure).await["sandboxID"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = 200 * 1024;
    let cases = [
        // An unverified signed URL without routing: the control plane's 404.
        "POST /files?path=%2Fhome%2Fuser%2Fx&signature=v1_bad HTTP/1.1\r\nConnection: close\r\n".to_owned(),
        // No access token for a secured sandbox's envd.
        format!(
            "POST /files?path=%2Fhome%2Fuser%2Fx HTTP/1.1\r\nConnection: close\r\nE2b-Sandbox-Id: {id}\r\nE2b-Sandbox-Port: 49983\r\n"
        ),
        // A sandbox that does not exist.
        "POST /files HTTP/1.1\r\nConnection: close\r\nE2b-Sandbox-Id: inope\r\nE2b-Sandbox-Port: 49983\r\n".to_owned(),
    ];
    for head in &cases {
        let (status, sent) = refused_then_send_body(&server, head, body).await;
        let code: u16 = status
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        assert!((400..600).contains(&code), "{head}: {status}");
        assert_eq!(
            sent,
            Ok(()),
            "{head}: the connection was cut under the client ({status})"
        );
    }
    server.shutdown().await;
}
