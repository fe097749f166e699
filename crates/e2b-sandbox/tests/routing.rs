//! Routing modes, debug mode, the v2→v1 fallback and request deadlines, end to end through
//! a small proxy in front of e2b-local.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use e2b_sandbox::{
    Client, CommandOptions, ConnectionConfig, DEBUG_SANDBOX_ID, RoutingMode, Sandbox, Scheme,
    TimeoutKind,
};
use http::{HeaderValue, StatusCode, Uri};
use support::Local;
use support::proxy::{Proxy, Verdict};

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Rewrite the request's path.
fn set_path(parts: &mut http::request::Parts, path: &str) {
    parts.uri = Uri::builder().path_and_query(path).build().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openkruise_path_prefix_routing() {
    let local = Local::start().await;
    // The gateway: `/kruise/api/...` is the control plane, `/kruise/<id>/<port>/...` a
    // sandbox port, which e2b-local reaches through its routing headers.
    let proxy = Proxy::start(
        loopback(),
        local.server.api_url(),
        Arc::new(|parts| {
            let path = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            let Some(rest) = path.strip_prefix("/kruise/") else {
                return Verdict::Respond(StatusCode::NOT_FOUND, r#"{"code":404}"#);
            };
            if let Some(api) = rest.strip_prefix("api") {
                set_path(parts, if api.is_empty() { "/" } else { api });
                return Verdict::Forward;
            }
            let mut segments = rest.splitn(3, '/');
            let (Some(id), Some(port)) = (segments.next(), segments.next()) else {
                return Verdict::Respond(StatusCode::NOT_FOUND, r#"{"code":404}"#);
            };
            let tail = format!("/{}", segments.next().unwrap_or(""));
            parts
                .headers
                .insert("e2b-sandbox-id", HeaderValue::from_str(id).unwrap());
            parts
                .headers
                .insert("e2b-sandbox-port", HeaderValue::from_str(port).unwrap());
            set_path(parts, &tail);
            Verdict::Forward
        }),
    )
    .await
    .unwrap();

    let config = ConnectionConfig::builder()
        .api_key(local.server.api_key())
        .domain(proxy.addr().to_string())
        .routing_mode(RoutingMode::OpenKruise {
            scheme: Scheme::Http,
        })
        .build()
        .unwrap();
    assert_eq!(config.api_url(), format!("{}/kruise/api", proxy.url()));
    let client = Client::new(config).unwrap();
    let sbx = Sandbox::builder()
        .timeout(Duration::from_secs(60))
        .create(&client)
        .await
        .unwrap();
    assert_eq!(
        sbx.envd_url(),
        format!("{}/kruise/{}/49983", proxy.url(), sbx.id())
    );
    assert_eq!(
        sbx.get_host(8080),
        format!("{}/kruise/{}/8080", proxy.addr(), sbx.id())
    );
    assert_eq!(
        sbx.mcp_url(),
        format!("{}/kruise/{}/50005/mcp", proxy.url(), sbx.id())
    );
    let out = sbx
        .commands()
        .run("echo via-gateway", CommandOptions::new())
        .await
        .unwrap();
    assert_eq!(out.stdout, "via-gateway\n");
    assert!(sbx.is_running().await.unwrap());
    assert_eq!(sbx.info().await.unwrap().sandbox_id, sbx.id());
    assert!(sbx.kill().await.unwrap());
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_paths_fall_back_to_v1_on_older_control_planes() {
    let local = Local::start().await;
    let v2_attempts = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&v2_attempts);
    // An older control plane: no POST under /v2/sandboxes.
    let proxy = Proxy::start(
        loopback(),
        local.server.api_url(),
        Arc::new(move |parts| {
            if parts.method == http::Method::POST && parts.uri.path().starts_with("/v2/sandboxes") {
                seen.fetch_add(1, Ordering::SeqCst);
                return if parts.uri.path() == "/v2/sandboxes" {
                    Verdict::Respond(
                        StatusCode::METHOD_NOT_ALLOWED,
                        r#"{"code":405,"message":"Method not allowed"}"#,
                    )
                } else {
                    Verdict::Respond(
                        StatusCode::NOT_FOUND,
                        r#"{"code":404,"message":"Not found"}"#,
                    )
                };
            }
            Verdict::Forward
        }),
    )
    .await
    .unwrap();
    let config = support::config(&local.server)
        .api_url(proxy.url())
        .build()
        .unwrap();
    let client = Client::new(config).unwrap();
    let sbx = Sandbox::builder()
        .timeout(Duration::from_secs(60))
        .create(&client)
        .await
        .unwrap();
    assert_eq!(v2_attempts.load(Ordering::SeqCst), 1);
    // The client remembers: later calls go straight to v1.
    let again = Sandbox::connect(&client, sbx.id()).await.unwrap();
    assert_eq!(again.id(), sbx.id());
    let out = again
        .commands()
        .run("echo v1", CommandOptions::new())
        .await
        .unwrap();
    assert_eq!(out.stdout, "v1\n");
    Sandbox::builder()
        .timeout(Duration::from_secs(60))
        .create(&client)
        .await
        .unwrap();
    assert_eq!(v2_attempts.load(Ordering::SeqCst), 1);

    // A fresh client on the same old control plane: connect falls back too.
    let fresh = Client::new(
        support::config(&local.server)
            .api_url(proxy.url())
            .build()
            .unwrap(),
    )
    .unwrap();
    let connected = Sandbox::connect(&fresh, sbx.id()).await.unwrap();
    assert_eq!(connected.id(), sbx.id());
    assert_eq!(v2_attempts.load(Ordering::SeqCst), 2);
    // An unknown sandbox is still not found, after both paths said so.
    let err = Sandbox::connect(&fresh, "i0000000000000000none")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");

    // A current control plane answers v2 directly.
    let direct = local.client.clone();
    let sbx = Sandbox::builder()
        .timeout(Duration::from_secs(60))
        .create(&direct)
        .await
        .unwrap();
    Sandbox::connect(&direct, sbx.id()).await.unwrap();
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_deadlines_bound_every_call() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    // A gateway that accepts connections and never answers.
    let hang = Proxy::start(
        loopback(),
        local.server.api_url(),
        Arc::new(|_| Verdict::Hang),
    )
    .await
    .unwrap();
    let config = support::config(&local.server)
        .api_url(hang.url())
        .sandbox_url(hang.url())
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let client = Client::new(config).unwrap();
    assert_eq!(client.request_timeout(), Some(Duration::from_millis(300)));

    let started = Instant::now();
    let err = client.sandbox_info(sbx.id()).await.unwrap_err();
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::Request), "{err}");
    let err = Sandbox::builder().create(&client).await.unwrap_err();
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::Request), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // envd calls through the same hanging edge: the start of a command, unary calls and
    // the health check are bounded by the request timeout; a per-call override wins.
    let envd_hangs = Client::new(
        support::config(&local.server)
            .sandbox_url(hang.url())
            .request_timeout(Duration::from_millis(300))
            .build()
            .unwrap(),
    )
    .unwrap();
    let stuck = Sandbox::connect(&envd_hangs, sbx.id()).await.unwrap();
    let started = Instant::now();
    let err = stuck
        .commands()
        .run("true", CommandOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::Request), "{err}");
    let err = stuck
        .commands()
        .run(
            "true",
            CommandOptions::new().request_timeout(Duration::from_millis(100)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::Request), "{err}");
    let err = stuck.commands().list().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let err = stuck.is_running().await.unwrap_err();
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::Request), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // A longer deadline on a derived client still ends.
    let patient = client.with_request_timeout(Duration::from_millis(600));
    let started = Instant::now();
    let err = patient.kill_sandbox(sbx.id()).await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(600));
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_mode_skips_the_control_plane() {
    let local = Local::start().await;
    // A real sandbox stands in for the debug envd at localhost:49983.
    let real = Sandbox::builder()
        .secure(false)
        .timeout(Duration::from_secs(60))
        .create(&local.client)
        .await
        .unwrap();
    let real_id = HeaderValue::from_str(real.id()).unwrap();
    let proxy = Proxy::start(
        "127.0.0.1:49983".parse().unwrap(),
        local.server.sandbox_url(),
        Arc::new(move |parts| {
            if parts
                .headers
                .get("e2b-sandbox-id")
                .map(HeaderValue::as_bytes)
                == Some(DEBUG_SANDBOX_ID.as_bytes())
            {
                parts.headers.insert("e2b-sandbox-id", real_id.clone());
                Verdict::Forward
            } else {
                Verdict::Respond(StatusCode::BAD_REQUEST, r#"{"code":400}"#)
            }
        }),
    )
    .await
    .expect("port 49983 must be free for the debug-mode test");

    let config = ConnectionConfig::builder().debug(true).build().unwrap();
    let client = Client::new(config).unwrap();
    let sbx = Sandbox::create(&client).await.unwrap();
    assert_eq!(sbx.id(), DEBUG_SANDBOX_ID);
    assert_eq!(sbx.envd_url(), "http://localhost:49983");
    assert!(sbx.envd_version().to_string().starts_with("99.99.99"));
    assert_eq!(sbx.get_host(3000), "localhost:3000");
    let out = sbx
        .commands()
        .run("echo debug", CommandOptions::new())
        .await
        .unwrap();
    assert_eq!(out.stdout, "debug\n");
    let connected = Sandbox::connect(&client, DEBUG_SANDBOX_ID).await.unwrap();
    assert!(connected.is_running().await.unwrap());
    // No control plane: these do nothing.
    assert!(sbx.kill().await.unwrap());
    sbx.set_timeout(Duration::from_secs(10)).await.unwrap();
    assert!(
        sbx.metrics(e2b_sandbox::MetricsOptions::new())
            .await
            .unwrap()
            .is_empty()
    );
    // The real sandbox is untouched by the debug kill.
    assert!(real.is_running().await.unwrap());
    drop(proxy);
    local.stop().await;
}
