//! The server with the real agent (this crate's binary in `envd` mode) inside
//! bubblewrap: commands, files, path escapes and port forwarding end to end,
//! through the same routing the SDKs use.

use e2b_test_support as support;

use std::time::Duration;

use e2b_envd::process::StartRequest;
use e2b_envd::process::process_client::ProcessClient;
use reqwest::Method;
use serde_json::{Value, json};
use support::{envd, server};

/// Run `bash -l -c script` as `user`; (exit code, stdout, stderr).
async fn bash(client: &ProcessClient, user: &str, script: &str) -> (i32, String, String) {
    support::run(client, &["/bin/bash", "-l", "-c", script], Some(user)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_run_as_user_and_root() {
    let server = server().await;
    let sandbox = support::create(&server, json!({"templateID": "base", "timeout": 120, "secure": true, "envVars": {"FROM_CREATE": "yes"}})).await;
    let id = sandbox["sandboxID"].as_str().unwrap();
    let token = sandbox["envdAccessToken"].as_str().unwrap();
    let client = envd(&server, id, Some(token));

    let (code, out, err) = bash(
        &client,
        "user",
        "id -un; id -u; pwd; echo $HOME; echo $FROM_CREATE; hostname",
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["user", "1000", "/home/user", "/home/user", "yes", "e2b"]
    );
    let (code, out, _) = bash(&client, "root", "id -u; touch /root/ok && echo wrote").await;
    assert_eq!(
        (code, out.lines().collect::<Vec<_>>()),
        (0, vec!["0", "wrote"])
    );
    let (code, _, _) = bash(&client, "user", "exit 7").await;
    assert_eq!(code, 7);

    // Without the token the same call is refused at the edge.
    let err = envd(&server, id, None)
        .start(StartRequest::default(), support::as_user(Some("user")))
        .await
        .err();
    assert!(err.is_some(), "an unauthenticated call succeeded");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_round_trip_and_escapes_are_refused() {
    let server = server().await;
    let other = support::create_base(&server, 120).await;
    let other_client = envd(&server, &other, None);
    let (code, _, err) = bash(
        &other_client,
        "user",
        "echo other-secret > /home/user/secret",
    )
    .await;
    assert_eq!(code, 0, "{err}");

    let sandbox = support::create(
        &server,
        json!({"templateID": "base", "timeout": 120, "secure": true}),
    )
    .await;
    let id = sandbox["sandboxID"].as_str().unwrap().to_owned();
    let token = sandbox["envdAccessToken"].as_str().unwrap().to_owned();
    let files = |method: Method, q: &str| {
        support::to_sandbox(&server, method, &id, 49983, &format!("/files?{q}"))
            .header("X-Access-Token", &token)
    };

    let resp = files(Method::POST, "path=/home/user/dir/a.txt")
        .header("content-type", "application/octet-stream")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let written: Value = resp.json().await.unwrap();
    assert_eq!(written[0]["path"], "/home/user/dir/a.txt");
    let resp = files(Method::GET, "path=/home/user/dir/a.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "hello");

    // A signed download URL works without the header.
    let sig = e2b_local::signature::sign(
        "/home/user/dir/a.txt",
        e2b_local::signature::Operation::Read,
        "",
        &token,
        None,
    );
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("path", "/home/user/dir/a.txt")
        .append_pair("signature", &sig)
        .finish();
    let resp = support::to_sandbox(&server, Method::GET, &id, 49983, &format!("/files?{q}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "hello");

    // `..` cannot leave the sandbox: it resolves inside the sandbox's own root.
    let other_secret = format!(
        "{}/sandboxes/{other}/home/secret",
        server.data_dir().display()
    );
    let dotdot = format!("/home/user/../../..{other_secret}");
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("path", &dotdot)
        .finish();
    let resp = files(Method::GET, &q).send().await.unwrap();
    assert_eq!(resp.status(), 404, "{}", resp.text().await.unwrap());
    // Neither can a symlink.
    let client = envd(&server, &id, Some(&token));
    let (code, _, _) = bash(
        &client,
        "user",
        &format!("ln -s {other_secret} /home/user/link; ln -s /etc/shadow /home/user/shadow"),
    )
    .await;
    assert_eq!(code, 0);
    let resp = files(Method::GET, "path=/home/user/link")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = files(Method::GET, "path=/home/user/shadow&username=root")
        .send()
        .await
        .unwrap();
    let shadow = resp.text().await.unwrap();
    assert!(
        !shadow.contains('$'),
        "the host's password hashes leaked: {shadow}"
    );
    // Writing to a read-only file system fails, even as root.
    let resp = files(Method::POST, "path=/proc/sys/kernel/evil&username=root")
        .header("content-type", "application/octet-stream")
        .body("x")
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_client_error() || resp.status().is_server_error(),
        "{}",
        resp.status()
    );
    assert!(!std::path::Path::new("/usr/bin/evil").exists());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ports_are_forwarded_by_the_real_agent() {
    let server = server().await;
    let sandbox = support::create(
        &server,
        json!({"templateID": "base", "timeout": 120, "allow_internet_access": false}),
    )
    .await;
    let id = sandbox["sandboxID"].as_str().unwrap().to_owned();
    let client = envd(&server, &id, None);
    let (code, _, err) = bash(
        &client,
        "user",
        "echo served > ~/index.html; nohup python3 -m http.server 8000 --bind 127.0.0.1 --directory /home/user >/dev/null 2>&1 &",
    )
    .await;
    assert_eq!(code, 0, "{err}");
    support::eventually(
        Duration::from_secs(20),
        "the server inside to answer",
        || async {
            support::to_sandbox(&server, Method::GET, &id, 8000, "/index.html")
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        },
    )
    .await;
    let body = support::to_sandbox(&server, Method::GET, &id, 8000, "/index.html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "served\n");
    let resp = support::to_sandbox(&server, Method::GET, &id, 8001, "/")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    server.shutdown().await;
}
