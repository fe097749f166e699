//! A volume's files stream in constant memory: 1 GiB (`E2B_VOLUME_MEMORY_TEST_MIB`) up
//! through the volume content API as a stream and back down, compared as it arrives,
//! must raise this process's peak resident memory (which includes the in-process
//! e2b-local serving both transfers) by less than 32 MiB. A test binary of its own, so
//! that no other test's allocations count.

use std::time::Duration;

use bytes::Bytes;
use e2b_test_support::peak_rss_bytes;
use e2b_test_support::sdk::Local;
use e2b_volume::{ReadOptions, Volume, WriteOptions};
use futures_util::StreamExt as _;

const MIB: usize = 1024 * 1024;
const LIMIT_MIB: u64 = 32;

/// How many distinct chunks the data cycles through (made once: generating 2 GiB byte
/// by byte would dominate the test's time in a debug build).
const DISTINCT: usize = 7;

/// Chunk `i` of the test data: deterministic, every byte value, shared (cloning `Bytes`
/// allocates nothing).
fn chunk(i: usize) -> Bytes {
    static POOL: std::sync::OnceLock<Vec<Bytes>> = std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| {
        (0..DISTINCT)
            .map(|k| {
                (0..MIB)
                    .map(|j| (k.wrapping_mul(31) + j) as u8)
                    .collect::<Vec<u8>>()
                    .into()
            })
            .collect()
    });
    pool[i % DISTINCT].clone()
}

/// Upload `mib` MiB of [`chunk`]s to `path` as a stream, download them back and compare
/// as they arrive.
async fn round_trip(volume: &Volume, path: &str, mib: usize) {
    let upload = futures_util::stream::iter(0..mib).map(|i| Ok::<_, std::io::Error>(chunk(i)));
    let written = volume
        .write_stream_with(path, upload, WriteOptions::new().force(true))
        .await
        .unwrap();
    assert_eq!(written.size, (mib * MIB) as u64);

    let mut download = volume
        .read_stream_with(
            path,
            ReadOptions::new().idle_timeout(Duration::from_secs(60)),
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
    volume.remove(path).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_file_streams_both_ways_in_constant_memory() {
    let mib = std::env::var("E2B_VOLUME_MEMORY_TEST_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let local = Local::start().await;
    let volume = Volume::create(&local.client, "big").await.unwrap();
    chunk(0);
    // Warm up the connection pools and every code path.
    round_trip(&volume, "/warm.bin", 2).await;
    let before = peak_rss_bytes();

    round_trip(&volume, "/big/file.bin", mib).await;
    let grown_mib = (peak_rss_bytes() - before) >> 20;
    eprintln!("moving {mib} MiB each way grew peak memory by {grown_mib} MiB");
    assert!(
        grown_mib < LIMIT_MIB,
        "peak memory grew by {grown_mib} MiB moving {mib} MiB each way"
    );
    local.stop().await;
}
