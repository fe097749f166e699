//! A 256 MiB file through `/files` with the real agent arrives intact both ways, and
//! the server streams it in constant memory (the only test in this binary, so the
//! process's peak RSS is this transfer's; the agent is a separate process inside the
//! sandbox). Throughput is measured by `benches/files.sh`, not here.

use e2b_test_support as support;

use e2b_local::ENVD_PORT;
use e2b_test_support::transfer::{pattern_body, read_pattern};
use reqwest::Method;
use serde_json::{Value, json};

const SIZE: usize = 256 << 20;
const MAX_GROWTH: u64 = 64 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_256_mib_file_round_trips_in_constant_memory() {
    let server = support::server().await;
    let sandbox = support::create(
        &server,
        json!({"templateID": "base", "timeout": 600, "secure": true}),
    )
    .await;
    let id = sandbox["sandboxID"].as_str().unwrap().to_owned();
    let token = sandbox["envdAccessToken"].as_str().unwrap().to_owned();
    let baseline = support::rss_bytes();

    let resp = support::to_sandbox(
        &server,
        Method::POST,
        &id,
        ENVD_PORT,
        "/files?path=/home/user/big.bin",
    )
    .header("X-Access-Token", &token)
    .header("content-type", "application/octet-stream")
    .body(pattern_body(SIZE))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let written: Value = resp.json().await.unwrap();
    assert_eq!(written[0]["path"], "/home/user/big.bin");
    let (code, size, _) = support::exec(
        &server,
        &id,
        Some(&token),
        &["stat", "-c", "%s", "/home/user/big.bin"],
        None,
    )
    .await;
    assert_eq!((code, size.trim()), (0, SIZE.to_string().as_str()));

    let resp = support::to_sandbox(
        &server,
        Method::GET,
        &id,
        ENVD_PORT,
        "/files?path=/home/user/big.bin",
    )
    .header("X-Access-Token", &token)
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(read_pattern(resp.bytes_stream()).await, SIZE);

    let peak = support::peak_rss_bytes();
    assert!(
        peak.saturating_sub(baseline) < MAX_GROWTH,
        "peak RSS grew by {} MiB",
        peak.saturating_sub(baseline) >> 20
    );
    server.shutdown().await;
}
