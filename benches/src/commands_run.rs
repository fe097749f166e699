//! Latency of `commands().run("true")` against the server named by the environment
//! (`E2B_API_KEY`, `E2B_API_URL`, `E2B_SANDBOX_URL`, `E2B_DOMAIN`, …).
//!
//! ```text
//! commands-run [ITERATIONS] [WARMUP] [CREATES]    (defaults: 300, 20, 0)
//! ```
//!
//! One sandbox; `WARMUP` untimed runs, then `ITERATIONS` timed runs one after another.
//! Prints one JSON line with the percentiles in milliseconds, then one for
//! `is_running()` (one `GET /health` through the same edge: the floor of any envd call).
//! With `CREATES` > 0 (third argument, default 0) it then creates `CREATES`
//! sandboxes one after another and times each create until envd's first answer
//! (`is_running()`, one `GET /health`), then `CREATES` more, each until its first
//! `commands().run("true")` has finished (the sandboxes are killed untimed).
//! `benches/run.sh` runs this and the Python twin (`python/commands_run.py`) against one
//! e2b-local server.

use std::time::{Duration, Instant};

use e2b::Sandbox;

/// Print one JSON line of percentiles (milliseconds) for `op`.
fn report(op: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let mean = samples.iter().sum::<Duration>().as_secs_f64() * 1000.0 / samples.len() as f64;
    println!(
        "{{\"sdk\":\"e2b-rs\",\"op\":\"{op}\",\"iterations\":{},\"p50_ms\":{:.3},\
         \"p90_ms\":{:.3},\"p99_ms\":{:.3},\"mean_ms\":{mean:.3},\"min_ms\":{:.3},\
         \"max_ms\":{:.3}}}",
        samples.len(),
        percentile(&samples, 50.0),
        percentile(&samples, 90.0),
        percentile(&samples, 99.0),
        percentile(&samples, 0.0),
        percentile(&samples, 100.0),
    );
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let iterations: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(300);
    let warmup: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(20);
    let creates: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(0);
    anyhow::ensure!(iterations > 0, "ITERATIONS must be at least 1");

    let client = e2b::Client::from_env()?;
    let sandbox = Sandbox::builder()
        .timeout(Duration::from_secs(600))
        .create(&client)
        .await?;
    let commands = sandbox.commands();
    for _ in 0..warmup {
        commands.run("true").await?;
    }
    let mut run = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        commands.run("true").await?;
        run.push(started.elapsed());
    }
    let mut health = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        anyhow::ensure!(sandbox.is_running().await?, "the sandbox stopped");
        health.push(started.elapsed());
    }
    sandbox.kill().await?;
    report("commands.run(\\\"true\\\")", run);
    report("is_running()", health);
    if creates > 0 {
        let mut answer = Vec::with_capacity(creates);
        for _ in 0..creates {
            let started = Instant::now();
            let sandbox = Sandbox::builder()
                .timeout(Duration::from_secs(60))
                .create(&client)
                .await?;
            anyhow::ensure!(
                sandbox.is_running().await?,
                "the new sandbox is not running"
            );
            answer.push(started.elapsed());
            sandbox.kill().await?;
        }
        report("create+is_running()", answer);
        let mut first = Vec::with_capacity(creates);
        for _ in 0..creates {
            let started = Instant::now();
            let sandbox = Sandbox::builder()
                .timeout(Duration::from_secs(60))
                .create(&client)
                .await?;
            sandbox.commands().run("true").await?;
            first.push(started.elapsed());
            sandbox.kill().await?;
        }
        report("create+commands.run(\\\"true\\\")", first);
    }
    Ok(())
}
