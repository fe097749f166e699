//! Uploads and downloads stream in constant memory: 256 MiB each way (1 GiB with
//! `E2B_MEMORY_TEST_MIB=1024`), then 64 MiB each way gzip-compressed and decoded on the fly
//! (`E2B_MEMORY_TEST_GZIP_MIB`), must raise this process's peak resident memory (which
//! includes the in-process e2b-local) by less than 64 MiB. A test binary of its own, so
//! that no other test's allocations count. Throughput is measured by `benches/files.sh`,
//! not here.

use std::time::Duration;

use bytes::Bytes;
use e2b_sandbox::{Files, ReadOptions, WriteOptions};
use e2b_test_support::peak_rss_bytes;
use e2b_test_support::sdk::Local;
use futures_util::StreamExt as _;

const MIB: usize = 1024 * 1024;
const LIMIT_MIB: u64 = 64;

/// Chunk `i` of the test data: deterministic, every byte value.
fn chunk(i: usize) -> Bytes {
    (0..MIB)
        .map(|j| (i.wrapping_mul(31) + j) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// Upload `mib` MiB of [`chunk`]s to `path` as a stream, download them back and compare
/// as they arrive.
async fn round_trip(files: &Files<'_>, path: &str, mib: usize, gzip: bool) {
    let upload = futures_util::stream::iter(0..mib).map(|i| Ok::<_, std::io::Error>(chunk(i)));
    files
        .write_stream_with(path, upload, WriteOptions::new().gzip(gzip))
        .await
        .unwrap();
    assert_eq!(files.info(path).await.unwrap().size, (mib * MIB) as u64);

    let mut download = files
        .read_stream_with(
            path,
            ReadOptions::new()
                .idle_timeout(Duration::from_secs(60))
                .gzip(gzip),
        )
        .await
        .unwrap();
    let mut offset = 0usize;
    let mut expected = chunk(0);
    while let Some(piece) = download.next().await {
        let mut piece = piece.unwrap();
        while !piece.is_empty() {
            let at = offset % MIB;
            let n = piece.len().min(MIB - at);
            assert!(
                piece[..n] == expected[at..at + n],
                "content differs at byte {offset}"
            );
            offset += n;
            piece = piece.slice(n..);
            if offset.is_multiple_of(MIB) {
                expected = chunk(offset / MIB);
            }
        }
    }
    assert_eq!(offset, mib * MIB, "downloaded everything");
    files.remove(path).await.unwrap();
}

fn env_mib(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_transfers_run_in_constant_memory() {
    let mib = env_mib("E2B_MEMORY_TEST_MIB", 256);
    let gzip_mib = env_mib("E2B_MEMORY_TEST_GZIP_MIB", 64);
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let files = sbx.files();
    // Warm up the connection pools and every code path.
    files.write("/tmp/warm", chunk(0)).await.unwrap();
    assert_eq!(files.read_bytes("/tmp/warm").await.unwrap().len(), MIB);
    round_trip(&files, "/tmp/warm.gz", 1, true).await;
    let before = peak_rss_bytes();

    round_trip(&files, "/tmp/big.bin", mib, false).await;
    round_trip(&files, "/tmp/big.gz", gzip_mib, true).await;
    let grown_mib = (peak_rss_bytes() - before) >> 20;
    assert!(
        grown_mib < LIMIT_MIB,
        "peak memory grew by {grown_mib} MiB moving {mib} MiB plain and {gzip_mib} MiB gzip each way"
    );
    local.stop().await;
}
