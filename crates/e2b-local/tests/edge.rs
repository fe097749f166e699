//! Sandbox traffic at the edge: routing, envd authentication (tokens and
//! signed URLs), traffic tokens, and proxying to other ports.

mod support;

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

    let echo: Value = support::to_sandbox(&server, Method::GET, &id, 49983, "/echo?a=1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(echo["path"], "/echo");
    assert_eq!(echo["query"], "a=1");

    // `<port>-<id>.<domain>` host form, on the same listener.
    let host = format!("49983-{id}.{}", server.domain());
    let resp = support::http()
        .get(format!("{}/echo", server.api_url()))
        .header("host", &host)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["headers"]["host"], host);

    // One header alone is a bad request.
    let resp = support::http()
        .get(format!("{}/echo", server.api_url()))
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
        .get(format!("{}/echo", server.api_url()))
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
    let resp = support::to_sandbox(&server, Method::GET, id, 49983, "/echo")
        .header("X-Access-Token", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = support::to_sandbox(&server, Method::GET, id, 49983, "/echo")
        .header("X-Access-Token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
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
    let resp = get(query(&[("path", path)]))
        .header("X-Access-Token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
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
    assert_eq!(resp.json::<Value>().await.unwrap()["route"], "files");
    let resp = post(query(&[("path", path), ("signature", &sig)]))
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
    .body("data")
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = post(query(&[
        ("path", path),
        ("username", "user"),
        ("signature", &wsig),
    ]))
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
    let resp = support::to_sandbox(&server, Method::GET, &open, 49983, "/files?path=/x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    server.shutdown().await;
}

/// Start a loopback HTTP server on `port` inside the sandbox and wait until it answers.
async fn serve_http_inside(
    server: &e2b_local::Server,
    id: &str,
    token: Option<&str>,
    port: u16,
    headers: &[(&str, &str)],
) {
    let (code, _, err) = support::exec(
        server,
        id,
        token,
        &["sh", "-c", "echo hello-from-inside > /home/user/index.html"],
        None,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let mut spawn = support::to_sandbox(server, Method::POST, id, 49983, "/spawn").json(&json!({
        "cmd": ["python3", "-m", "http.server", port.to_string(), "--bind", "127.0.0.1", "--directory", "/home/user"],
    }));
    if let Some(t) = token {
        spawn = spawn.header("X-Access-Token", t);
    }
    assert_eq!(spawn.send().await.unwrap().status(), 200);
    support::eventually(
        Duration::from_secs(20),
        "the server inside the sandbox to answer",
        || async {
            let mut req = support::to_sandbox(server, Method::GET, id, port, "/index.html");
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

    let resp = support::to_sandbox(&server, Method::GET, &id, 8000, "/index.html")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "hello-from-inside\n");
    let resp = support::http()
        .get(format!("{}/index.html", server.api_url()))
        .header("host", format!("8000-{id}.{}", server.domain()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

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
    // envd is exempt from the traffic token (it has its own).
    let resp = support::to_sandbox(&server, Method::GET, &id, 49983, "/echo")
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
    let resp = support::to_sandbox(&server, Method::POST, &id, 49983, "/spawn")
        .json(&json!({"cmd": ["python3", "-c", script]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

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
