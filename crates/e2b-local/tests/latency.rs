//! Create-to-first-answer latency with the real agent, over 50 sandboxes
//! each: to envd's first HTTP answer (`/health`), and to the first command
//! done (`process.Process/Start` of `true` until its end event).
//!
//! One HTTP client is reused throughout (building a client costs more than
//! what is measured). Prints the distribution; the bounds asserted are loose
//! (a loaded CI machine must pass), the printed numbers are the measurement.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use e2b_envd::connect::{CallOptions, Client};
use e2b_envd::process::process_client::ProcessClient;
use e2b_envd::process::process_event::Event;
use e2b_envd::process::{ProcessConfig, StartRequest};
use e2b_local::Server;
use futures_util::StreamExt as _;
use http::{HeaderMap, HeaderValue};
use reqwest::Method;
use serde_json::json;

const RUNS: usize = 50;

fn summary(label: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{label}: n={} min {:.1} ms, p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        samples.len(),
        ms(samples[0]),
        ms(p(0.5)),
        ms(p(0.9)),
        ms(*samples.last().unwrap())
    );
    p(0.5)
}

async fn create(http: &reqwest::Client, server: &Server) -> String {
    let resp = http
        .post(format!("{}/sandboxes", server.api_url()))
        .json(&json!({"templateID": "base", "timeout": 60}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    resp.json::<serde_json::Value>().await.unwrap()["sandboxID"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn kill(http: &reqwest::Client, server: &Server, id: &str) {
    let resp = http
        .delete(format!("{}/sandboxes/{id}", server.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_to_first_answer() {
    // First HTTP answer of envd.
    let server = support::server().await;
    let http = support::authed_http(&server);
    let mut samples = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let id = create(&http, &server).await;
        let resp = http
            .request(Method::GET, format!("{}/health", server.sandbox_url()))
            .header("E2b-Sandbox-Id", &id)
            .header("E2b-Sandbox-Port", "49983")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
        samples.push(started.elapsed());
        kill(&http, &server, &id).await;
    }
    let health_p50 = summary("create → first envd answer", samples);

    // First command run to completion.
    let mut samples = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let id = create(&http, &server).await;
        let mut headers = HeaderMap::new();
        headers.insert("e2b-sandbox-id", HeaderValue::from_str(&id).unwrap());
        headers.insert("e2b-sandbox-port", HeaderValue::from_static("49983"));
        let client = ProcessClient::new(
            Client::new(http.clone(), server.sandbox_url()).with_headers(headers),
        );
        let request = StartRequest {
            process: Some(ProcessConfig {
                cmd: "/bin/true".into(),
                args: vec![],
                envs: HashMap::new(),
                cwd: None,
            }),
            stdin: Some(false),
            ..Default::default()
        };
        let mut stream = client.start(request, CallOptions::new()).await.unwrap();
        let mut ended = false;
        while let Some(item) = stream.next().await {
            if matches!(
                item.unwrap().event.and_then(|e| e.event),
                Some(Event::End(_))
            ) {
                ended = true;
            }
        }
        assert!(ended);
        samples.push(started.elapsed());
        kill(&http, &server, &id).await;
    }
    let command_p50 = summary("create → first command done", samples);
    server.shutdown().await;
    assert!(
        health_p50 < Duration::from_secs(1) && command_p50 < Duration::from_secs(1),
        "{health_p50:?} {command_p50:?}"
    );
}
