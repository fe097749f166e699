//! Routing modes, debug mode, the v2→v1 fallback and request deadlines, end to end through
//! a small proxy in front of e2b-local; the HTTPS modes (shared sandbox host, per-sandbox
//! hosts, `api.<domain>`) through a TLS edge reached over an HTTP CONNECT proxy.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use e2b_sandbox::{
    Client, CommandOptions, ConnectionConfig, DEBUG_SANDBOX_ID, FilesystemEventType, PtyOptions,
    RoutingMode, Sandbox, Scheme, TimeoutKind,
};
use e2b_test_support::sdk::{Local, read_until};
use futures_util::StreamExt as _;
use http::{HeaderValue, StatusCode, Uri};
use support::edge::{Edge, Seen};
use support::proxy::{Proxy, Verdict};

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A sandbox with a 60 s timeout, created through `client`.
async fn create(client: &Client) -> Sandbox {
    Sandbox::builder()
        .timeout(Duration::from_secs(60))
        .create(client)
        .await
        .unwrap()
}

/// Run `echo <word>` in `sbx` and check what it printed.
async fn assert_echo(sbx: &Sandbox, word: &str) {
    let out = sbx.commands().run(format!("echo {word}")).await.unwrap();
    assert_eq!(out.stdout, format!("{word}\n"));
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
    let sbx = create(&client).await;
    assert_eq!(
        sbx.envd_url(),
        format!("{}/kruise/{}/49983", proxy.url(), sbx.id())
    );
    assert_eq!(
        sbx.host(8080),
        format!("{}/kruise/{}/8080", proxy.addr(), sbx.id())
    );
    assert_eq!(
        sbx.mcp_url(),
        format!("{}/kruise/{}/50005/mcp", proxy.url(), sbx.id())
    );
    assert_echo(&sbx, "via-gateway").await;
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
    let config = e2b_test_support::sdk::config(&local.server)
        .api_url(proxy.url())
        .build()
        .unwrap();
    let client = Client::new(config).unwrap();
    let sbx = create(&client).await;
    assert_eq!(v2_attempts.load(Ordering::SeqCst), 1);
    // The client remembers: later calls go straight to v1.
    let again = Sandbox::connect(&client, sbx.id()).await.unwrap();
    assert_eq!(again.id(), sbx.id());
    assert_echo(&again, "v1").await;
    create(&client).await;
    assert_eq!(v2_attempts.load(Ordering::SeqCst), 1);

    // A fresh client on the same old control plane: connect falls back too.
    let fresh = Client::new(
        e2b_test_support::sdk::config(&local.server)
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
    let sbx = create(&direct).await;
    Sandbox::connect(&direct, sbx.id()).await.unwrap();
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_and_connect_use_the_v2_paths_and_only_insecure_sandboxes_v1() {
    let local = Local::start().await;
    let calls = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&calls);
    let proxy = Proxy::start(
        loopback(),
        local.server.api_url(),
        Arc::new(move |parts| {
            if parts.method == http::Method::POST {
                seen.lock().unwrap().push(parts.uri.path().to_owned());
            }
            Verdict::Forward
        }),
    )
    .await
    .unwrap();
    let config = e2b_test_support::sdk::config(&local.server)
        .api_url(proxy.url())
        .build()
        .unwrap();
    let client = Client::new(config).unwrap();
    let taken = || std::mem::take(&mut *calls.lock().unwrap());

    // What upstream's SDKs call from 2.51 on: every v2 sandbox is secured.
    let sbx = create(&client).await;
    assert_eq!(taken(), ["/v2/sandboxes"]);
    assert!(
        sbx.envd_access_token().is_some(),
        "v2 sandboxes are secured"
    );
    let again = Sandbox::connect(&client, sbx.id()).await.unwrap();
    assert_eq!(taken(), [format!("/v2/sandboxes/{}/connect", sbx.id())]);
    assert_echo(&again, "v2").await;

    // An unsecured sandbox is only expressible on v1; it does not make the client forget v2.
    let open = Sandbox::builder()
        .secure(false)
        .timeout(Duration::from_secs(60))
        .create(&client)
        .await
        .unwrap();
    assert_eq!(taken(), ["/sandboxes"]);
    assert!(open.envd_access_token().is_none());
    assert_echo(&open, "v1").await;
    create(&client).await;
    assert_eq!(taken(), ["/v2/sandboxes"]);
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
    let config = e2b_test_support::sdk::config(&local.server)
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
        e2b_test_support::sdk::config(&local.server)
            .sandbox_url(hang.url())
            .request_timeout(Duration::from_millis(300))
            .build()
            .unwrap(),
    )
    .unwrap();
    let stuck = Sandbox::connect(&envd_hangs, sbx.id()).await.unwrap();
    let started = Instant::now();
    let err = stuck.commands().run("true").await.unwrap_err();
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::Request), "{err}");
    let err = stuck
        .commands()
        .run_with(
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
    assert_eq!(sbx.host(3000), "localhost:3000");
    assert_echo(&sbx, "debug").await;
    let connected = Sandbox::connect(&client, DEBUG_SANDBOX_ID).await.unwrap();
    assert!(connected.is_running().await.unwrap());
    // No control plane: these do nothing.
    assert!(sbx.kill().await.unwrap());
    sbx.set_timeout(Duration::from_secs(10)).await.unwrap();
    assert!(sbx.metrics().await.unwrap().is_empty());
    // The real sandbox is untouched by the debug kill.
    assert!(real.is_running().await.unwrap());
    drop(proxy);
    local.stop().await;
}

/// The domain of the TLS edge: not one of E2B's, so `Auto` picks per-sandbox hosts.
const EDGE_DOMAIN: &str = "e2b.test";
const API_HOST: &str = "api.e2b.test";

/// A configuration that reaches `edge` the way a deployment behind a proxy would: default
/// URLs from the domain, the explicit proxy, the edge's CA trusted.
fn edge_config(
    local: &Local,
    edge: &Edge,
    mode: RoutingMode,
) -> e2b_sandbox::ConnectionConfigBuilder {
    ConnectionConfig::builder()
        .api_key(local.server.api_key())
        .domain(edge.domain())
        .routing_mode(mode)
        .proxy(edge.proxy_url())
        .root_certificates_pem(edge.ca_pem())
}

/// The `User-Agent` of the plain client fetching a signed download URL.
const PLAIN_AGENT: &str = "plain-download";

/// Create a sandbox and drive a command, a file round trip, a terminal and a watch through
/// `client`, and fetch a signed download URL with a plain client; returns the sandbox id
/// after killing it.
async fn exercise(
    client: &Client,
    edge: &Edge,
    expected_envd_url: impl Fn(&str) -> String,
) -> String {
    let sbx = Sandbox::builder()
        .timeout(Duration::from_secs(120))
        .create(client)
        .await
        .unwrap();
    let id = sbx.id().to_owned();
    assert_eq!(sbx.envd_url(), expected_envd_url(&id));
    assert_eq!(sbx.host(8080), format!("8080-{id}.{EDGE_DOMAIN}"));

    let out = sbx.commands().run("echo over-$((40+2))").await.unwrap();
    assert_eq!(out.stdout, "over-42\n");

    let files = sbx.files();
    files.write("/tmp/edge.txt", "through tls").await.unwrap();
    assert_eq!(
        files.read_text("/tmp/edge.txt").await.unwrap(),
        "through tls"
    );
    // Signed URLs always name the per-sandbox host, whatever the SDK's own routing; a plain
    // client sends no routing headers, so the host alone must route it.
    let url = sbx.download_url("/tmp/edge.txt").unwrap();
    let direct = format!("https://49983-{id}.{EDGE_DOMAIN}/files?");
    assert!(url.starts_with(&direct), "{url}");
    let resp = edge
        .plain_client(PLAIN_AGENT)
        .get(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "through tls");

    let term = sbx
        .pty()
        .create_with(PtyOptions::new().timeout(Duration::from_secs(60)))
        .await
        .unwrap();
    let mut output = term.output();
    term.send_input(b"echo MARK$((7+0))\n").await.unwrap();
    read_until(&mut output, "MARK7\r\n").await;
    assert!(term.kill().await.unwrap());

    files.make_dir("/tmp/watched").await.unwrap();
    let mut events = files.watch_dir("/tmp/watched").await.unwrap();
    files.write("/tmp/watched/new.txt", "1").await.unwrap();
    let event = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let event = events.next().await.expect("the watch ended").unwrap();
            if event.name == "new.txt" {
                return event;
            }
        }
    })
    .await
    .expect("an event for new.txt within 20 s");
    assert!(
        matches!(
            event.event_type,
            FilesystemEventType::Create | FilesystemEventType::Write
        ),
        "{event:?}"
    );
    drop(events);

    assert!(sbx.kill().await.unwrap());
    id
}

/// Checks shared by both modes: every request arrived over TLS for the host its tunnel
/// named; the SDK's control-plane requests at `api.<domain>` without routing headers, its
/// envd requests at `envd_host` naming the sandbox and port 49983; the plain download at
/// the per-sandbox host without routing headers.
fn check_edge_traffic(seen: &[Seen], id: &str, envd_host: &str) {
    assert!(!seen.is_empty());
    for s in seen {
        let host = s.host.as_deref().expect("a Host header");
        assert_eq!(s.sni.as_deref(), Some(host), "{s:?}");
        assert_eq!(s.tunnel, format!("{host}:443"), "{s:?}");
    }
    let (plain, sdk): (Vec<&Seen>, Vec<&Seen>) = seen
        .iter()
        .partition(|s| s.user_agent.as_deref() == Some(PLAIN_AGENT));
    assert_eq!(plain.len(), 1, "{plain:?}");
    assert_eq!(
        plain[0].host.as_deref(),
        Some(format!("49983-{id}.{EDGE_DOMAIN}").as_str())
    );
    assert_eq!(plain[0].request, "GET /files");
    assert_eq!(plain[0].sandbox_id, None);
    assert!(
        sdk.iter().all(|s| s
            .user_agent
            .as_deref()
            .is_some_and(|ua| ua.starts_with("e2b-rust-sdk/"))),
        "{sdk:?}"
    );
    let (api, envd): (Vec<&Seen>, Vec<&Seen>) = sdk
        .into_iter()
        .partition(|s| s.host.as_deref() == Some(API_HOST));
    assert!(
        api.iter().all(|s| s.sandbox_id.is_none()),
        "routing headers on the control plane: {api:?}"
    );
    assert!(
        api.iter()
            .any(|s| s.request.starts_with("POST ") && s.request.ends_with("/sandboxes")),
        "no create: {api:?}"
    );
    assert!(
        api.iter().any(|s| s.request.starts_with("DELETE ")),
        "no kill: {api:?}"
    );
    for s in &envd {
        assert_eq!(s.host.as_deref(), Some(envd_host), "{s:?}");
        assert_eq!(s.sandbox_id.as_deref(), Some(id), "{s:?}");
        assert_eq!(s.sandbox_port.as_deref(), Some("49983"), "{s:?}");
    }
    let requests: Vec<&str> = envd.iter().map(|s| s.request.as_str()).collect();
    for expected in [
        "POST /process.Process/Start",
        "POST /files",
        "GET /files",
        "POST /process.Process/SendInput",
        "POST /filesystem.Filesystem/WatchDir",
    ] {
        assert!(
            requests.contains(&expected),
            "{expected} missing: {requests:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_sandbox_host_over_tls() {
    let local = Local::start().await;
    let edge = Edge::start(EDGE_DOMAIN, local.server.local_addr()).await;
    let config = edge_config(&local, &edge, RoutingMode::SharedHost)
        .build()
        .unwrap();
    assert_eq!(config.api_url(), format!("https://{API_HOST}"));
    let client = Client::new(config).unwrap();

    let id = exercise(&client, &edge, |_| format!("https://sandbox.{EDGE_DOMAIN}")).await;
    let seen = edge.requests();
    check_edge_traffic(&seen, &id, &format!("sandbox.{EDGE_DOMAIN}"));
    // Only the plain download went to a per-sandbox host.
    let direct = format!("49983-{id}.{EDGE_DOMAIN}");
    assert!(
        seen.iter().all(|s| {
            let host = s.host.as_deref().unwrap_or_default();
            host == API_HOST
                || host == format!("sandbox.{EDGE_DOMAIN}")
                || (host == direct && s.user_agent.as_deref() == Some(PLAIN_AGENT))
        }),
        "{seen:?}"
    );
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_sandbox_hosts_over_tls() {
    let local = Local::start().await;
    let edge = Edge::start(EDGE_DOMAIN, local.server.local_addr()).await;
    let client = Client::new(
        edge_config(&local, &edge, RoutingMode::PerSandboxHost)
            .build()
            .unwrap(),
    )
    .unwrap();

    let id = exercise(&client, &edge, |id| {
        format!("https://49983-{id}.{EDGE_DOMAIN}")
    })
    .await;
    let seen = edge.requests();
    check_edge_traffic(&seen, &id, &format!("49983-{id}.{EDGE_DOMAIN}"));
    assert!(
        !seen
            .iter()
            .any(|s| s.host.as_deref() == Some(&format!("sandbox.{EDGE_DOMAIN}"))),
        "{seen:?}"
    );

    // For a domain that is not E2B's own, the default mode picks per-sandbox hosts too.
    let auto = Client::new(
        edge_config(&local, &edge, RoutingMode::Auto)
            .build()
            .unwrap(),
    )
    .unwrap();
    let sbx = create(&auto).await;
    assert_eq!(
        sbx.envd_url(),
        format!("https://49983-{}.{EDGE_DOMAIN}", sbx.id())
    );
    assert_echo(&sbx, "auto").await;
    let host = format!("49983-{}.{EDGE_DOMAIN}", sbx.id());
    assert!(
        edge.requests()
            .iter()
            .any(|s| s.host.as_deref() == Some(host.as_str())
                && s.sni.as_deref() == Some(host.as_str())),
        "no request for {host}"
    );
    assert!(sbx.kill().await.unwrap());
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_edges_need_a_trusted_certificate() {
    let local = Local::start().await;
    let edge = Edge::start(EDGE_DOMAIN, local.server.local_addr()).await;
    // Same route, but only the system's roots: the handshake fails, nothing is forwarded.
    let config = ConnectionConfig::builder()
        .api_key(local.server.api_key())
        .domain(edge.domain())
        .proxy(edge.proxy_url())
        .build()
        .unwrap();
    let client = Client::new(config).unwrap();
    let err = Sandbox::builder().create(&client).await.unwrap_err();
    assert!(err.is_transport(), "{err}");
    assert_eq!(edge.tunnels(), vec![format!("{API_HOST}:443")]);
    assert!(edge.requests().is_empty(), "{:?}", edge.requests());

    // Trusting some other CA is no better.
    let other = Edge::start(EDGE_DOMAIN, local.server.local_addr()).await;
    let config = ConnectionConfig::builder()
        .api_key(local.server.api_key())
        .domain(edge.domain())
        .proxy(edge.proxy_url())
        .root_certificates_pem(other.ca_pem())
        .build()
        .unwrap();
    let err = Sandbox::builder()
        .create(&Client::new(config).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_transport(), "{err}");
    assert_eq!(edge.tunnels().len(), 2);
    assert!(edge.requests().is_empty(), "{:?}", edge.requests());
    local.stop().await;
}
