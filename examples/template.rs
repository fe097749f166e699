//! A template built from a local directory: the build's logs as it runs (with the time
//! since it started), a second build served from the cache, then a sandbox of the
//! template running the tool the build installed.
//!
//! ```text
//! cargo run -p e2b-examples --example template
//! ```
//!
//! Uses the E2B cloud when `E2B_API_KEY` is set, else an e2b-local server in this process
//! (template builds need it to run as root, for sandboxes with writable roots).

use std::time::{Duration, Instant};

use e2b::Sandbox;
use e2b::template::{BuildOptions, LogLevel, Template, default_build_logger};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let backend = e2b_examples::Backend::from_env().await?;

    // The build context: a small command-line tool and its data.
    let context = tempfile_dir()?;
    std::fs::create_dir_all(context.join("tool"))?;
    std::fs::write(
        context.join("tool/wordfreq"),
        "#!/usr/bin/env python3\n\
         import collections, sys\n\
         words = sys.stdin.read().lower().split()\n\
         for word, n in collections.Counter(words).most_common(3):\n\
         \x20   print(f'{n} {word}')\n",
    )?;
    std::fs::write(
        context.join("tool/sample.txt"),
        "the cat saw the other cat and the dog\n",
    )?;

    let template = Template::with_context(&context)
        .from_base_image()
        .copy("tool", "/opt/wordfreq")
        .run_cmd_with_user(
            "chmod 755 /opt/wordfreq/wordfreq && ln -sf /opt/wordfreq/wordfreq /usr/local/bin/wordfreq",
            "root",
        )
        .set_envs([("WORDFREQ_SAMPLE", "/opt/wordfreq/sample.txt")]);

    let name = format!("wordfreq-{}", std::process::id());
    for attempt in ["first build", "unchanged rebuild (from the cache)"] {
        println!("== {attempt}");
        let started = Instant::now();
        let info = Template::build_with(
            &backend.client,
            &template,
            &name,
            BuildOptions::new().on_build_logs(default_build_logger(LogLevel::Info)),
        )
        .await?;
        println!(
            "built {} ({}) in {:.2?}",
            info.name,
            info.template_id,
            started.elapsed()
        );
    }

    let sandbox = Sandbox::builder()
        .template(&name)
        .timeout(Duration::from_secs(60))
        .create(&backend.client)
        .await?;
    let run = sandbox
        .commands()
        .run("wordfreq < \"$WORDFREQ_SAMPLE\"")
        .await?;
    print!("wordfreq in sandbox {}:\n{}", sandbox.id(), run.stdout);
    sandbox.kill().await?;

    Template::delete(&backend.client, &name).await?;
    std::fs::remove_dir_all(&context)?;
    backend.shutdown().await;
    Ok(())
}

/// A fresh directory under the system's temporary directory.
fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("e2b-template-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
