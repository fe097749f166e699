//! `make bench`'s Rust side (benches/bench.sh runs it, and the Python and JS twins, against
//! one release e2b-local): one scenario per run, through this SDK or the raw floor.
//!
//! ```text
//! suite ours|floor SCENARIO [ARG]
//! ```
//!
//! Scenarios: `run_true`, `read_small`, `run_code`, `transfer FILE` (`transfer_ci FILE`
//! through a code-interpreter sandbox, this SDK only), `stdout MIB`, `concurrent`,
//! `create_first`, `create_ci_first [cold]` (create a code-interpreter sandbox, then
//! `run_code("1+1")`; each create waits for the server's warm pools to be full first, and
//! `cold` names the samples `create_ci_cold`, for a server without a pool). Each prints one JSON line per measured operation (`emit`);
//! `BENCH_ITERATIONS` (100), `BENCH_WARMUP` (10) and `BENCH_REPEATS` (3) set the counts.

mod emit;
mod floor;
mod sdk;
mod warm;

use anyhow::Context as _;

/// Sandboxes and commands of the `concurrent` scenario.
pub(crate) const SANDBOXES: usize = 10;
pub(crate) const COMMANDS: usize = 1000;

/// Sample counts: latency scenarios take `warmup` untimed and `iterations` timed calls,
/// the others `repeats` timed runs (`create_ci_first`: `ci_creates`).
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) iterations: usize,
    pub(crate) warmup: usize,
    pub(crate) repeats: usize,
    /// Code-interpreter creates of `create_ci_first`.
    pub(crate) ci_creates: usize,
}

fn count(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(v) => v.parse().with_context(|| format!("{name}={v}")),
        Err(_) => Ok(default),
    }
}

/// A command writing `size` bytes of `x` to stdout.
pub(crate) fn stdout_command(size: u64) -> String {
    format!("head -c {size} /dev/zero | tr '\\0' x")
}

/// Write out the dirty pages of earlier transfers (of this client or the one before)
/// before a timed one, so that no transfer is timed while the disk writes back another's
/// gigabyte. Every client does the same before each of its transfers.
pub(crate) fn settle_disk() -> anyhow::Result<()> {
    let status = std::process::Command::new("sync").status()?;
    anyhow::ensure!(status.success(), "sync failed: {status}");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = Settings {
        iterations: count("BENCH_ITERATIONS", 100)?.max(1),
        warmup: count("BENCH_WARMUP", 10)?,
        repeats: count("BENCH_REPEATS", 3)?.max(1),
        ci_creates: count("BENCH_CI_CREATES", 15)?.max(1),
    };
    let (client, scenario) = match args.as_slice() {
        [client, scenario, ..] => (client.as_str(), scenario.as_str()),
        _ => anyhow::bail!("usage: suite ours|floor SCENARIO [ARG]"),
    };
    let arg = args.get(2).map(String::as_str);
    match client {
        "ours" => sdk::run(scenario, arg, &settings).await,
        "floor" => floor::run(scenario, arg, &settings).await,
        other => anyhow::bail!("unknown client {other}: ours or floor"),
    }
}
