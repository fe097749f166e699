//! Upload and download throughput of one local file through `sandbox.files()`, against
//! the server named by the environment (`E2B_API_KEY`, `E2B_API_URL`, …).
//!
//! ```text
//! files-transfer FILE
//! ```
//!
//! Uploads FILE into a new sandbox (`write_from_file`), downloads it back to `FILE.down`
//! (`read_to_file`), checks the size and prints one JSON line with MiB/s each way. Each
//! transfer starts after `sync`, as in `make bench`.
//! `benches/files.sh` runs this and the Python twin (`python/files_transfer.py`) under
//! `/usr/bin/time -v` against one e2b-local server.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use e2b::Sandbox;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .context("usage: files-transfer FILE")?;
    let size = tokio::fs::metadata(&path).await?.len();
    let client = e2b::Client::from_env()?;
    let sandbox = Sandbox::builder().create(&client).await?;
    let files = sandbox.files();

    sync()?;
    let started = Instant::now();
    files.write_from_file("/tmp/bench.bin", &path).await?;
    let up = started.elapsed();

    sync()?;
    let started = Instant::now();
    let copied = files
        .read_to_file("/tmp/bench.bin", format!("{path}.down"))
        .await?;
    let down = started.elapsed();
    anyhow::ensure!(copied == size, "downloaded {copied} of {size} bytes");
    tokio::fs::remove_file(format!("{path}.down")).await?;
    sandbox.kill().await?;

    let mib = size as f64 / (1024.0 * 1024.0);
    let rate = |d: Duration| mib / d.as_secs_f64();
    println!(
        "{{\"sdk\":\"e2b-rs\",\"mib\":{mib:.0},\"upload_s\":{:.2},\"upload_mib_s\":{:.1},\
         \"download_s\":{:.2},\"download_mib_s\":{:.1}}}",
        up.as_secs_f64(),
        rate(up),
        down.as_secs_f64(),
        rate(down)
    );
    Ok(())
}

/// Write out the dirty pages of what came before, so that no transfer is timed while
/// the disk writes back another's data.
fn sync() -> anyhow::Result<()> {
    let status = std::process::Command::new("sync").status()?;
    anyhow::ensure!(status.success(), "sync failed: {status}");
    Ok(())
}
