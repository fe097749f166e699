//! Latency of `run_code("1+1")` against the server named by the environment
//! (`E2B_API_KEY`, `E2B_API_URL`, `E2B_SANDBOX_URL`, `E2B_DOMAIN`, …).
//!
//! ```text
//! run-code [ITERATIONS] [WARMUP]    (defaults: 300, 20)
//! ```
//!
//! One code-interpreter sandbox. Prints JSON lines (milliseconds): the creation of a
//! `base` sandbox and of the code-interpreter sandbox (whose difference is the kernel's
//! warm-up at creation) and the first `run_code`, once each; then the percentiles of `ITERATIONS`
//! timed `run_code("1+1")` after `WARMUP` untimed ones, then `is_running()` (one
//! `GET /health` through the same edge: the floor of any sandbox call).
//! `benches/run_code.sh` runs this and the Python twin (`python/run_code.py`) against
//! one e2b-local server.

use std::time::{Duration, Instant};

use e2b::code_interpreter::CodeInterpreter;

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
    anyhow::ensure!(iterations > 0, "ITERATIONS must be at least 1");

    let client = e2b::Client::from_env()?;
    // A `base` sandbox first: the difference is what the warm kernel costs at creation.
    let started = Instant::now();
    let base = e2b::Sandbox::builder()
        .timeout(Duration::from_secs(60))
        .create(&client)
        .await?;
    let created_base = started.elapsed();
    base.kill().await?;
    let started = Instant::now();
    let interpreter = CodeInterpreter::builder()
        .timeout(Duration::from_secs(600))
        .create(&client)
        .await?;
    let created = started.elapsed();
    let started = Instant::now();
    let first = interpreter.run_code("1+1").await?;
    let first_run = started.elapsed();
    anyhow::ensure!(first.text() == Some("2"), "unexpected result {first:?}");

    for _ in 0..warmup {
        interpreter.run_code("1+1").await?;
    }
    let mut run = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        let execution = interpreter.run_code("1+1").await?;
        run.push(started.elapsed());
        anyhow::ensure!(execution.text() == Some("2"), "unexpected result");
    }
    let mut health = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        anyhow::ensure!(
            interpreter.sandbox().is_running().await?,
            "the sandbox stopped"
        );
        health.push(started.elapsed());
    }
    interpreter.sandbox().kill().await?;
    report("create(base)", vec![created_base]);
    report("create(code-interpreter-v1)", vec![created]);
    report("first run_code (kernel warm-up)", vec![first_run]);
    report("run_code(\\\"1+1\\\")", run);
    report("is_running()", health);
    Ok(())
}
