//! Upload a local directory into a sandbox, watch it change, download a file back.
//!
//! ```text
//! cargo run -p e2b-examples --example files [DIRECTORY]    (default: examples/)
//! ```
//!
//! Uses the E2B cloud when `E2B_API_KEY` is set, else an e2b-local server in this process.

use std::path::{Path, PathBuf};
use std::time::Duration;

use e2b::{ListDirOptions, ReadOptions, Sandbox, WatchOptions, WriteOptions};
use futures_util::StreamExt as _;

/// Every regular file under `dir`, recursively.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "examples".into()));
    let backend = e2b_examples::Backend::from_env().await?;
    let sandbox = Sandbox::builder()
        .timeout(Duration::from_secs(120))
        .create(&backend.client)
        .await?;
    let files = sandbox.files();
    files.make_dir("/home/user/upload").await?;

    // Watch the target while uploading.
    let mut events = files
        .watch_dir_with("/home/user/upload", WatchOptions::new().recursive(true))
        .await?;

    let mut local = Vec::new();
    walk(&dir, &mut local)?;
    for path in &local {
        let relative = path.strip_prefix(&dir)?.to_string_lossy().into_owned();
        let remote = format!("/home/user/upload/{relative}");
        let file = tokio::fs::File::open(path).await?;
        // Source files compress well: gzip them on the way.
        let info = files
            .write_reader_with(&remote, file, WriteOptions::new().gzip(true))
            .await?;
        println!("uploaded {}", info.path);
    }

    // Events that arrived during the upload (stop after a quiet second).
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(1), events.next()).await {
        let event = event?;
        println!("event: {:?} {}", event.event_type, event.name);
    }
    drop(events); // stops the watch

    for entry in files
        .list_with("/home/user/upload", ListDirOptions::new().depth(3))
        .await?
    {
        println!("{:>8} {} {}", entry.size, entry.permissions, entry.path);
    }

    // Download the first file back, streamed and gzip-compressed, and compare.
    if let Some(first) = local.first() {
        let relative = first.strip_prefix(&dir)?.to_string_lossy().into_owned();
        let mut stream = files
            .read_stream_with(
                &format!("/home/user/upload/{relative}"),
                ReadOptions::new().gzip(true),
            )
            .await?;
        let mut back = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut back).await?;
        anyhow::ensure!(back == std::fs::read(first)?, "downloaded content differs");
        println!("downloaded {relative}: {} bytes, identical", back.len());
    }

    sandbox.kill().await?;
    backend.shutdown().await;
    Ok(())
}
