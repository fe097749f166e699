//! Large bodies stream through the proxy in constant memory, both ways.
//!
//! The only test in this binary, so the process's peak RSS is this transfer's.

mod support;

use std::time::Instant;

use futures_util::StreamExt as _;
use reqwest::Method;
use serde_json::Value;

/// 512 MiB each way.
const SIZE: usize = 512 << 20;
/// Growth of the peak RSS allowed over the transfer (the body is 8× that).
const MAX_GROWTH: u64 = 64 << 20;

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

fn pattern() -> Vec<u8> {
    (0..=255u8).cycle().take(64 * 1024).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_stream_both_ways_in_constant_memory() {
    let server = support::server().await;
    let id = support::create_base(&server, 600).await;
    let baseline = status_kib("VmRSS:");

    // Upload: a generated stream, never held in memory as a whole.
    let pattern = pattern();
    let chunk = bytes::Bytes::from(pattern.clone());
    let chunks = SIZE / chunk.len();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(
        (0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    ));
    let started = Instant::now();
    let resp = support::to_sandbox(&server, Method::POST, &id, 49983, "/upload")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let upload_secs = started.elapsed().as_secs_f64();
    let got: Value = resp.json().await.unwrap();
    assert_eq!(got["bytes"].as_u64().unwrap(), SIZE as u64);
    assert_eq!(
        got["pattern"], true,
        "the agent received other bytes than sent"
    );

    // Download: counted and checked chunk by chunk.
    let started = Instant::now();
    let resp = support::to_sandbox(
        &server,
        Method::GET,
        &id,
        49983,
        &format!("/download?bytes={SIZE}"),
    )
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
    let download_secs = started.elapsed().as_secs_f64();
    assert_eq!(received, SIZE);

    let peak = status_kib("VmHWM:");
    let growth = peak.saturating_sub(baseline);
    let mib = SIZE as f64 / (1 << 20) as f64;
    println!(
        "512 MiB through the proxy: upload {:.0} MiB/s, download {:.0} MiB/s; RSS baseline {} MiB, peak {} MiB",
        mib / upload_secs,
        mib / download_secs,
        baseline >> 20,
        peak >> 20
    );
    assert!(
        growth < MAX_GROWTH,
        "peak RSS grew by {} MiB over a {} MiB transfer",
        growth >> 20,
        SIZE >> 20
    );
    server.shutdown().await;
}
