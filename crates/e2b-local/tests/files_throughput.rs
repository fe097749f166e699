//! A 256 MiB file through `/files` with the real agent: upload and download
//! throughput, and the server's peak memory (the only test in this binary,
//! so the process's peak RSS is this transfer's; the agent is a separate
//! process inside the sandbox).

mod support;

use std::time::Instant;

use futures_util::StreamExt as _;
use reqwest::Method;
use serde_json::{Value, json};

const SIZE: usize = 256 << 20;
const MAX_GROWTH: u64 = 64 << 20;

fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

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
    let baseline = status_bytes("VmRSS:");

    let pattern: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
    let chunk = bytes::Bytes::from(pattern.clone());
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(
        (0..SIZE / chunk.len()).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    ));
    let started = Instant::now();
    let resp = support::to_sandbox(
        &server,
        Method::POST,
        &id,
        49983,
        "/files?path=/home/user/big.bin",
    )
    .header("X-Access-Token", &token)
    .header("content-type", "application/octet-stream")
    .body(body)
    .send()
    .await
    .unwrap();
    let upload = started.elapsed().as_secs_f64();
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

    let started = Instant::now();
    let resp = support::to_sandbox(
        &server,
        Method::GET,
        &id,
        49983,
        "/files?path=/home/user/big.bin",
    )
    .header("X-Access-Token", &token)
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let doubled = [pattern.as_slice(), pattern.as_slice()].concat();
    let mut stream = resp.bytes_stream();
    let mut received = 0usize;
    while let Some(piece) = stream.next().await {
        let mut piece = &piece.unwrap()[..];
        while !piece.is_empty() {
            let offset = received % pattern.len();
            let n = piece.len().min(pattern.len());
            assert!(
                piece[..n] == doubled[offset..offset + n],
                "bytes at {received} differ"
            );
            received += n;
            piece = &piece[n..];
        }
    }
    let download = started.elapsed().as_secs_f64();
    assert_eq!(received, SIZE);

    let peak = status_bytes("VmHWM:");
    println!(
        "256 MiB through /files (real agent): upload {:.0} MiB/s, download {:.0} MiB/s; server process RSS baseline {} MiB, peak {} MiB",
        256.0 / upload,
        256.0 / download,
        baseline >> 20,
        peak >> 20
    );
    assert!(
        peak.saturating_sub(baseline) < MAX_GROWTH,
        "peak RSS grew by {} MiB",
        (peak - baseline) >> 20
    );
    server.shutdown().await;
}
