//! A persistent volume shared by the host and two sandboxes: create it, write a file from
//! here through the volume content API, mount it in two sandboxes, read and write from
//! both, list it, and delete it.
//!
//! ```text
//! cargo run -p e2b-examples --example volumes
//! ```
//!
//! Uses the E2B cloud when `E2B_API_KEY` is set, else an e2b-local server in this process
//! (whose control plane also serves the volume content API).

use std::time::Duration;

use e2b::Sandbox;
use e2b::volume::{ListDirOptions, Volume, VolumeFileType, WriteOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let backend = e2b_examples::Backend::from_env().await?;
    let name = format!("example-{}", std::process::id());
    let volume = Volume::create(&backend.client, &name).await?;
    println!("created volume {} ({})", volume.name(), volume.id());

    // From the host: a file owned by the sandboxes' `user` (uid 1000).
    volume
        .write_with(
            "/inbox/task.txt",
            "count the words in this sentence\n",
            WriteOptions::new()
                .force(true)
                .uid(1000)
                .gid(1000)
                .mode(0o644),
        )
        .await?;

    // Two sandboxes mount the same volume, at different paths.
    let worker = Sandbox::builder()
        .volume_mount("/mnt/work", &volume)
        .timeout(Duration::from_secs(120))
        .create(&backend.client)
        .await?;
    let reviewer = Sandbox::builder()
        .volume_mount("/data", &volume)
        .timeout(Duration::from_secs(120))
        .create(&backend.client)
        .await?;

    // The first reads the host's file and writes its answer next to it.
    let done = worker
        .commands()
        .run("mkdir -p /mnt/work/outbox && wc -w < /mnt/work/inbox/task.txt > /mnt/work/outbox/count.txt && cat /mnt/work/outbox/count.txt")
        .await?;
    println!(
        "worker {} counted {} words",
        worker.id(),
        done.stdout.trim()
    );

    // The second sees it at once, and adds its own note.
    let seen = reviewer
        .commands()
        .run("cat /data/outbox/count.txt && echo 'checked by the reviewer' > /data/outbox/review.txt")
        .await?;
    println!("reviewer {} read {}", reviewer.id(), seen.stdout.trim());

    // Back on the host: everything both wrote, with owners as the sandboxes see them.
    for entry in volume
        .list_dir_with("/", ListDirOptions::new().depth(3))
        .await?
    {
        let kind = match entry.file_type {
            VolumeFileType::Directory => "dir ",
            VolumeFileType::File => "file",
            _ => "    ",
        };
        println!(
            "{kind} {:>4o} uid {:<5} {:>3} bytes  {}",
            entry.mode, entry.uid, entry.size, entry.path
        );
    }
    print!("review: {}", volume.read_text("/outbox/review.txt").await?);

    worker.kill().await?;
    reviewer.kill().await?;
    Volume::destroy(&backend.client, volume.id()).await?;
    println!("deleted volume {name}");
    backend.shutdown().await;
    Ok(())
}
