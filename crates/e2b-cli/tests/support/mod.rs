//! Running the `e2b` binary against an in-process e2b-local.

#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use e2b_test_support::sdk::Local;
use serde_json::Value;

/// The binary under test.
pub const E2B: &str = env!("CARGO_BIN_EXE_e2b");

/// A server, and the `e2b` command line configured for it.
pub struct Cli {
    pub local: Local,
}

impl Cli {
    pub async fn start() -> Cli {
        Cli {
            local: Local::start().await,
        }
    }

    /// A server whose `code-interpreter-v1` sandboxes can run code.
    pub async fn with_kernels() -> Cli {
        Cli {
            local: Local::with_kernels().await,
        }
    }

    /// `e2b ARGS…` configured through the environment, as users do; no other `E2B_*`
    /// variable of this process leaks in.
    pub fn command(&self, args: &[&str]) -> Command {
        let server = &self.local.server;
        let mut command = bare(args);
        command
            .env("E2B_API_KEY", server.api_key())
            .env("E2B_API_URL", server.api_url())
            .env("E2B_SANDBOX_URL", server.sandbox_url())
            .env("E2B_DOMAIN", server.domain());
        command
    }

    /// Run `e2b ARGS…` to the end (standard input empty).
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut command = self.command(args);
        output(&mut command, None).await
    }

    /// Run `e2b ARGS…` with `input` on standard input.
    pub async fn run_with_input(&self, args: &[&str], input: &[u8]) -> Output {
        let mut command = self.command(args);
        output(&mut command, Some(input.to_vec())).await
    }

    /// Run `e2b ARGS… --format json`, which must succeed, and parse its output.
    pub async fn json(&self, args: &[&str]) -> Value {
        // Before `--`, after which everything is the remote command's.
        let at = args.iter().position(|a| *a == "--").unwrap_or(args.len());
        let mut all = args.to_vec();
        all.splice(at..at, ["--format", "json"]);
        let out = self.run(&all).await;
        assert_success(&out, &all);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "`e2b {}` printed invalid JSON ({e}): {}",
                all.join(" "),
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Create a sandbox with `e2b sandbox create --detach`; returns its id.
    pub async fn sandbox(&self) -> String {
        let out = self
            .run(&["sandbox", "create", "--detach", "--timeout", "120"])
            .await;
        assert_success(&out, &["sandbox", "create"]);
        let id = stdout(&out).trim().to_owned();
        assert!(
            !id.is_empty() && !id.contains(char::is_whitespace),
            "{id:?}"
        );
        id
    }

    pub async fn stop(self) {
        self.local.stop().await;
    }
}

/// `e2b ARGS…` with no E2B configuration at all.
pub fn bare(args: &[&str]) -> Command {
    let mut command = Command::new(E2B);
    command.args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("E2B_") && key != "E2B_LOCAL_BIN" {
            command.env_remove(key);
        }
    }
    command.env("NO_COLOR", "1");
    command
}

/// Run `command` to the end off the async runtime, with `input` (or nothing) as stdin.
pub async fn output(command: &mut Command, input: Option<Vec<u8>>) -> Output {
    command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("start e2b");
    let stdin = child.stdin.take();
    tokio::task::spawn_blocking(move || {
        if let (Some(mut stdin), Some(input)) = (stdin, input) {
            use std::io::Write as _;
            stdin.write_all(&input).expect("write e2b's stdin");
        }
        // `wait_with_output` drops stdin first: end of file.
        child.wait_with_output().expect("e2b runs")
    })
    .await
    .expect("e2b's waiter")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn assert_success(out: &Output, args: &[&str]) {
    assert!(
        out.status.success(),
        "`e2b {}` failed ({:?}):\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status.code(),
        stdout(out),
        stderr(out)
    );
}

/// The exit code, which must exist (no signal).
pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exited, not killed by a signal")
}

/// Poll `/proc/PID/status` for `field` (kB), in bytes; `None` once the process is gone.
pub fn proc_status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// Every file under `root` with its contents, relative and sorted.
pub fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// How long a test waits for output it expects.
pub const PATIENCE: Duration = Duration::from_secs(30);
