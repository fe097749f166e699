//! A template's start and ready commands.
//!
//! E2B runs a template's start command when the sandbox starts (before the
//! template's snapshot is taken) and counts the sandbox as started once the
//! ready command succeeds. Here the agent does the same at every start: it
//! starts the start command in the background, then runs the ready command
//! until it exits with 0, and only then says `ready` to the server — which
//! bounds the wait by the template's ready timeout and fails the create with
//! the agent's last words (the ready command's latest output) otherwise.
//!
//! Both run as the template's default user, in its working directory, with
//! the sandbox's environment, through `bash -l -c` (`sh -c` without bash).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

use super::AgentConfig;
use super::process::spawn::environment;

/// Pause between two runs of the ready command.
const READY_INTERVAL: Duration = Duration::from_millis(50);

/// Start the start command and wait for the ready command, if the
/// configuration has them. Returns when the sandbox may be called ready.
pub(crate) async fn run(config: &AgentConfig) -> anyhow::Result<()> {
    if config.start_cmd.is_none() && config.ready_cmd.is_none() {
        return Ok(());
    }
    let user = config
        .users
        .iter()
        .find(|u| u.name == config.default_user)
        .ok_or_else(|| anyhow::anyhow!("unknown default user {}", config.default_user))?;
    let switch = rustix::process::geteuid().is_root() && user.uid != 0;
    let cwd = if config.default_workdir.is_empty() {
        PathBuf::from(&user.home)
    } else {
        PathBuf::from(&config.default_workdir)
    };
    let env = environment(user, &config.env_vars, std::iter::empty(), false);
    let shell = |script: &str| {
        let mut command = if Path::new("/bin/bash").exists() {
            let mut c = Command::new("/bin/bash");
            c.args(["-l", "-c", script]);
            c
        } else {
            let mut c = Command::new("/bin/sh");
            c.args(["-c", script]);
            c
        };
        command
            .env_clear()
            .envs(&env)
            .current_dir(if cwd.is_dir() {
                cwd.as_path()
            } else {
                Path::new("/")
            })
            .stdin(Stdio::null())
            .kill_on_drop(false);
        if switch {
            command.uid(user.uid).gid(user.gid);
        }
        command
    };
    if let Some(start) = &config.start_cmd {
        let mut command = shell(start);
        command
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|e| anyhow::anyhow!("the start command `{start}` did not start: {e}"))?;
        // Its output goes to the agent's log; the command runs on after
        // the sandbox is ready, reaped whenever it ends.
        for (stream, name) in [
            (
                child
                    .stdout
                    .take()
                    .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
                "stdout",
            ),
            (
                child
                    .stderr
                    .take()
                    .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
                "stderr",
            ),
        ] {
            if let Some(stream) = stream {
                tokio::spawn(async move {
                    let mut lines = BufReader::new(stream).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        tracing::info!(target: "e2b_local::start_cmd", stream = name, "{line}");
                    }
                });
            }
        }
        let start = start.clone();
        tokio::spawn(async move {
            if let Ok(status) = child.wait().await {
                tracing::info!(%status, "the start command `{start}` ended");
            }
        });
    }
    let Some(ready) = &config.ready_cmd else {
        return Ok(());
    };
    let mut last = String::new();
    loop {
        let output = shell(ready)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await;
        match output {
            Ok(out) if out.status.success() => return Ok(()),
            Ok(out) => {
                let said = String::from_utf8_lossy(&out.stderr).trim().to_owned();
                let report = format!(
                    "the ready command `{ready}` has not succeeded ({}){}",
                    out.status,
                    if said.is_empty() {
                        String::new()
                    } else {
                        format!(": {said}")
                    }
                );
                if report != last {
                    // On stderr, so a create that times out reports it.
                    eprintln!("{report}");
                    last = report;
                }
            }
            Err(e) => anyhow::bail!("the ready command `{ready}` did not start: {e}"),
        }
        tokio::time::sleep(READY_INTERVAL).await;
    }
}
