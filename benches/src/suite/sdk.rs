//! The scenarios through this SDK (`e2b`), against the server named by the environment.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use e2b::code_interpreter::CodeInterpreter;
use e2b::{CommandOptions, Sandbox};
use serde_json::json;

use crate::emit::{Client, emit, peak_rss_mib};
use crate::{COMMANDS, SANDBOXES, Settings, settle_disk, stdout_command};

const TIMEOUT: Duration = Duration::from_secs(600);

async fn sandbox(client: &e2b::Client) -> anyhow::Result<Sandbox> {
    Ok(Sandbox::builder().timeout(TIMEOUT).create(client).await?)
}

/// `WARMUP` untimed calls, then `ITERATIONS` timed ones.
async fn timed<F, Fut>(settings: &Settings, mut call: F) -> anyhow::Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    for _ in 0..settings.warmup {
        call().await?;
    }
    let mut samples = Vec::with_capacity(settings.iterations);
    for _ in 0..settings.iterations {
        let started = Instant::now();
        call().await?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}

pub(crate) async fn run(
    scenario: &str,
    arg: Option<&str>,
    settings: &Settings,
) -> anyhow::Result<()> {
    let client = e2b::Client::from_env()?;
    match scenario {
        "run_true" => {
            let sandbox = sandbox(&client).await?;
            let commands = sandbox.commands();
            let samples = timed(settings, || async {
                commands.run("true").await?;
                Ok(())
            })
            .await?;
            sandbox.kill().await?;
            emit(Client::Ours, "run_true", "ms", &samples, json!({}));
        }
        "read_small" => {
            let sandbox = sandbox(&client).await?;
            let files = sandbox.files();
            files.write("/tmp/small.txt", vec![b'x'; 1024]).await?;
            let samples = timed(settings, || async {
                anyhow::ensure!(files.read_bytes("/tmp/small.txt").await?.len() == 1024);
                Ok(())
            })
            .await?;
            sandbox.kill().await?;
            emit(Client::Ours, "read_small", "ms", &samples, json!({}));
        }
        "run_code" => {
            let interpreter = CodeInterpreter::builder()
                .timeout(TIMEOUT)
                .create(&client)
                .await?;
            let samples = timed(settings, || async {
                let execution = interpreter.run_code("1+1").await?;
                anyhow::ensure!(execution.text() == Some("2"), "run_code gave {execution:?}");
                Ok(())
            })
            .await?;
            interpreter.sandbox().kill().await?;
            emit(Client::Ours, "run_code", "ms", &samples, json!({}));
        }
        "transfer" | "transfer_ci" => {
            let path = arg.context("transfer needs a FILE")?;
            let interpreter;
            let plain;
            let sandbox = if scenario == "transfer_ci" {
                interpreter = CodeInterpreter::builder()
                    .timeout(TIMEOUT)
                    .create(&client)
                    .await?;
                // The pool's refill (a new member's kernels starting) would
                // share the CPUs with the transfer: it is timed once done.
                crate::warm::wait_full().await?;
                interpreter.sandbox()
            } else {
                plain = sandbox(&client).await?;
                &plain
            };
            let (up, down, size) = transfer(sandbox, path, settings.repeats).await?;
            sandbox.kill().await?;
            let extra = json!({ "bytes": size, "peak_rss_mib": peak_rss_mib() });
            let suffix = if scenario == "transfer_ci" { "_ci" } else { "" };
            emit(
                Client::Ours,
                &format!("upload{suffix}"),
                "s",
                &up,
                extra.clone(),
            );
            emit(
                Client::Ours,
                &format!("download{suffix}"),
                "s",
                &down,
                extra,
            );
        }
        "stdout" => {
            let mib: u64 = arg.context("stdout needs MIB")?.parse()?;
            let size = mib * 1024 * 1024;
            let sandbox = sandbox(&client).await?;
            let mut samples = Vec::new();
            for _ in 0..settings.repeats {
                let started = Instant::now();
                let result = sandbox
                    .commands()
                    .run_with(stdout_command(size), CommandOptions::new().no_timeout())
                    .await?;
                samples.push(started.elapsed());
                anyhow::ensure!(result.stdout.len() as u64 == size, "stdout was short");
            }
            sandbox.kill().await?;
            emit(
                Client::Ours,
                "stdout",
                "s",
                &samples,
                json!({ "bytes": size }),
            );
        }
        "concurrent" => {
            let sandboxes =
                futures_util::future::try_join_all((0..SANDBOXES).map(|_| sandbox(&client)))
                    .await?;
            futures_util::future::try_join_all(
                sandboxes
                    .iter()
                    .map(|s| async move { s.commands().run("true").await }),
            )
            .await?;
            let mut samples = Vec::new();
            for _ in 0..settings.repeats {
                let started = Instant::now();
                futures_util::future::try_join_all((0..COMMANDS).map(|i| {
                    let sandbox = &sandboxes[i % SANDBOXES];
                    async move { sandbox.commands().run("true").await }
                }))
                .await?;
                samples.push(started.elapsed());
            }
            futures_util::future::try_join_all(sandboxes.iter().map(|s| s.kill())).await?;
            emit(
                Client::Ours,
                "concurrent",
                "s",
                &samples,
                json!({ "commands": COMMANDS, "sandboxes": SANDBOXES }),
            );
        }
        "create_first" => {
            let mut samples = Vec::new();
            for _ in 0..settings.repeats * 3 {
                let started = Instant::now();
                let sandbox = sandbox(&client).await?;
                sandbox.commands().run("true").await?;
                samples.push(started.elapsed());
                sandbox.kill().await?;
            }
            emit(Client::Ours, "create_first", "ms", &samples, json!({}));
        }
        "create_ci_first" => {
            let name = match arg {
                Some("cold") => "create_ci_cold",
                _ => "create_ci_first",
            };
            let mut samples = Vec::new();
            let mut warm = 0;
            for _ in 0..settings.ci_creates {
                crate::warm::wait_full().await?;
                let before = crate::warm::handed_out().await?;
                let started = Instant::now();
                let interpreter = CodeInterpreter::builder()
                    .timeout(TIMEOUT)
                    .create(&client)
                    .await?;
                let execution = interpreter.run_code("1+1").await?;
                samples.push(started.elapsed());
                anyhow::ensure!(execution.text() == Some("2"), "run_code gave {execution:?}");
                if crate::warm::handed_out().await? > before {
                    warm += 1;
                }
                interpreter.sandbox().kill().await?;
            }
            emit(
                Client::Ours,
                name,
                "ms",
                &samples,
                json!({ "served_warm": warm }),
            );
        }
        other => anyhow::bail!("unknown scenario {other}"),
    }
    Ok(())
}

/// Upload FILE and download it back, `repeats` times; the durations each way and the size.
async fn transfer(
    sandbox: &Sandbox,
    path: &str,
    repeats: usize,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>, u64)> {
    let size = tokio::fs::metadata(path).await?.len();
    let files = sandbox.files();
    let (mut up, mut down) = (Vec::new(), Vec::new());
    let out_path = format!("{path}.down");
    for _ in 0..repeats {
        settle_disk()?;
        let started = Instant::now();
        files.write_from_file("/tmp/bench.bin", path).await?;
        up.push(started.elapsed());

        settle_disk()?;
        let started = Instant::now();
        let copied = files.read_to_file("/tmp/bench.bin", &out_path).await?;
        down.push(started.elapsed());
        anyhow::ensure!(copied == size, "downloaded {copied} of {size} bytes");
        tokio::fs::remove_file(&out_path).await?;
    }
    Ok((up, down, size))
}
