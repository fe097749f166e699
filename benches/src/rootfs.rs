//! Writable root filesystems on a release e2b-local: create → first command
//! for `base` (the host's system under a layer per sandbox) and for a
//! template made from an image pulled from a loopback registry, the image's
//! pull + unpack, and a snapshot of a sandbox that changed 200 MiB.
//!
//! ```text
//! E2B_LOCAL_BIN=target/release/e2b-local rootfs [CREATES]    (default 30)
//! ```
//!
//! Starts its own `docker-registry` (Debian's) and pushes the runnable test
//! image with `skopeo`, makes the template with `e2b-local template create`
//! (timed: pull, unpack, record), then starts `e2b-local serve` on a fresh
//! data directory and measures through this SDK. `benches/rootfs.sh` builds
//! and runs it. Prints one JSON line per measurement.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2b::Sandbox;
use e2b_test_support::oci::runnable_image;
use e2b_test_support::registry::Registry;
use tokio::io::AsyncBufReadExt as _;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

fn report(op: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{{\"op\":\"{op}\",\"iterations\":{},\"p50_ms\":{:.2},\"p90_ms\":{:.2},\"min_ms\":{:.2},\"max_ms\":{:.2}}}",
        samples.len(),
        percentile(&samples, 50.0),
        percentile(&samples, 90.0),
        percentile(&samples, 0.0),
        percentile(&samples, 100.0),
    );
}

/// Bytes allocated on disk under `path` (sparse files count what they hold).
fn allocated(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    let own = meta.blocks() * 512;
    if !meta.is_dir() {
        return own;
    }
    own + std::fs::read_dir(path)
        .map(|d| d.flatten().map(|e| allocated(&e.path())).sum())
        .unwrap_or(0)
}

async fn first_commands(
    client: &e2b::Client,
    template: &str,
    creates: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(creates);
    for _ in 0..creates {
        let started = Instant::now();
        let sandbox = Sandbox::builder().template(template).create(client).await?;
        sandbox.commands().run("true").await?;
        samples.push(started.elapsed());
        sandbox.kill().await?;
    }
    Ok(samples)
}

/// Start `e2b-local serve` on `data` with `extra` options; the server and a client of it.
async fn serve(
    bin: &Path,
    data: &Path,
    extra: &[&str],
) -> anyhow::Result<(tokio::process::Child, e2b::Client)> {
    let key = "e2b_0123456789abcdef0123456789abcdef";
    let mut server = tokio::process::Command::new(bin)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            key,
            "--data-dir",
        ])
        .arg(data)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = tokio::io::BufReader::new(server.stdout.take().expect("stdout")).lines();
    let mut env = std::collections::HashMap::new();
    while let Some(line) = lines.next_line().await? {
        if let Some((k, v)) = line.split_once('=') {
            env.insert(k.to_owned(), v.to_owned());
            if k == "E2B_DOMAIN" {
                break;
            }
        }
    }
    let var = |k: &str| env.get(k).cloned().unwrap_or_default();
    let client = e2b::Client::new(
        e2b::ConnectionConfig::builder()
            .api_key(var("E2B_API_KEY"))
            .api_url(var("E2B_API_URL"))
            .sandbox_url(var("E2B_SANDBOX_URL"))
            .domain(var("E2B_DOMAIN"))
            .build()?,
    )?;
    Ok((server, client))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let creates: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(30);
    let bin = e2b_test_support::agent_binary();
    let data = tempfile::tempdir()?;

    let registry = Registry::start();
    let _layout = registry.push_image(runnable_image(), "e2b/runnable", "bench");
    let reference = format!("{}/e2b/runnable:bench", registry.host());
    let started = Instant::now();
    let status = Command::new(&bin)
        .args([
            "template",
            "create",
            "img",
            "--from-image",
            &reference,
            "--data-dir",
        ])
        .arg(data.path())
        .stdout(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "template create failed");
    println!(
        "{{\"op\":\"image pull+unpack+template\",\"ms\":{:.1},\"image_bytes_unpacked\":{}}}",
        started.elapsed().as_secs_f64() * 1000.0,
        allocated(&data.path().join("layers"))
    );

    // The same machine with the host's system read-only, for comparison.
    {
        let read_only = tempfile::tempdir()?;
        let (mut server, client) = serve(&bin, read_only.path(), &["--read-only-root"]).await?;
        first_commands(&client, "base", 2).await?;
        report(
            "create+commands.run(\\\"true\\\") base, read-only root",
            first_commands(&client, "base", creates).await?,
        );
        server.start_kill()?;
        server.wait().await?;
    }
    let (mut server, client) = serve(&bin, data.path(), &[]).await?;
    // Warm both templates' paths (page cache, the host layer) untimed.
    first_commands(&client, "base", 2).await?;
    first_commands(&client, "img", 2).await?;
    report(
        "create+commands.run(\\\"true\\\") base",
        first_commands(&client, "base", creates).await?,
    );
    report(
        "create+commands.run(\\\"true\\\") image template",
        first_commands(&client, "img", creates).await?,
    );

    let sandbox = Sandbox::builder()
        .timeout(Duration::from_secs(600))
        .create(&client)
        .await?;
    sandbox
        .commands()
        .run("sudo sh -c 'head -c 200M /dev/urandom > /opt/delta && sync'")
        .await?;
    // A snapshot is its record plus, on servers with writable roots, a layer
    // of what the sandbox changed under `build-layers/`.
    let stored =
        || allocated(&data.path().join("snapshots")) + allocated(&data.path().join("build-layers"));
    let before = stored();
    let started = Instant::now();
    let snapshot = sandbox.create_snapshot().await?;
    let took = started.elapsed();
    let size = stored().saturating_sub(before);
    println!(
        "{{\"op\":\"snapshot of a 200 MiB delta\",\"ms\":{:.1},\"snapshot_bytes\":{size},\"snapshot\":\"{}\"}}",
        took.as_secs_f64() * 1000.0,
        snapshot.snapshot_id
    );
    let started = Instant::now();
    let restored = Sandbox::builder()
        .template(&snapshot.snapshot_id)
        .create(&client)
        .await?;
    let out = restored.commands().run("stat -c %s /opt/delta").await?;
    println!(
        "{{\"op\":\"create from that snapshot + first command\",\"ms\":{:.1},\"delta_bytes\":{}}}",
        started.elapsed().as_secs_f64() * 1000.0,
        out.stdout.trim()
    );
    restored.kill().await?;
    sandbox.kill().await?;
    server.start_kill()?;
    server.wait().await?;
    Ok(())
}
