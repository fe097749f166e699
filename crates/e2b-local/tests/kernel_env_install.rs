//! `e2b-local kernel-env install` and where `serve` and `doctor` look for the
//! kernel environment without `--kernel-env`: E2B_LOCAL_KERNEL_ENV, else
//! `$XDG_DATA_HOME/e2b-local/kernel`.
//!
//! A full installation downloads about 100 MB from PyPI and npm and takes a
//! minute or more, so it is not repeated here: `make kernel-env` (run by
//! `make test`) builds the checkout's `.venv/kernel` with this very command, and
//! `tests/kernel_env.rs` checks what it built. These tests cover the choices
//! and the failures, with HOME and XDG_DATA_HOME under a temporary directory.

use e2b_test_support as support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_e2b-local");
const KEY: &str = "e2b_00112233445566778899aabbccddeeff";

/// `e2b-local ARGS` with HOME and XDG_DATA_HOME inside `dir`, no kernel
/// environment named, and the serving binary as the agent.
fn e2b_local(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("HOME", dir.join("home"))
        .env("XDG_DATA_HOME", dir.join("xdg"))
        .env_remove("E2B_LOCAL_KERNEL_ENV")
        .env_remove("E2B_LOCAL_BIN")
        .env("NO_COLOR", "1")
        .kill_on_drop(true);
    cmd
}

/// Run `serve --ephemeral` with `cmd`'s environment, let `with_api` use its
/// API URL, stop it with SIGTERM and return its log.
async fn serve_log<F, Fut>(mut cmd: Command, with_api: F) -> String
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut child = cmd
        .args([
            "serve",
            "--ephemeral",
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            KEY,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let log = tokio::spawn(async move {
        let mut log = String::new();
        stderr.read_to_string(&mut log).await.unwrap();
        log
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let api = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("serve printed its environment");
            if let Some(url) = line.strip_prefix("E2B_API_URL=") {
                return url.to_owned();
            }
        }
    })
    .await
    .expect("serve printed its environment in time");
    with_api(api).await;
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id().unwrap()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("serve stopped in time")
        .unwrap();
    assert!(status.success(), "{status}");
    log.await.unwrap()
}

#[tokio::test]
async fn install_without_python_fails_clearly_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("kernel");
    let missing = dir.path().join("no-python");
    let out = e2b_local(dir.path(), &["kernel-env", "install", "--python"])
        .arg(&missing)
        .arg(&target)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "Python interpreter `{}` not found",
            missing.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("--python PATH"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(!target.exists());
}

#[tokio::test]
async fn install_goes_to_the_user_data_directory_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let out = e2b_local(dir.path(), &["kernel-env", "install", "--python"])
        .arg(dir.path().join("no-python"))
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let default = dir.path().join("xdg/e2b-local/kernel");
    assert!(
        stderr.contains(&format!(
            "installing the kernel environment in {}",
            default.display()
        )),
        "{stderr}"
    );

    let out = e2b_local(dir.path(), &["kernel-env", "install", "--help"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    // Wrapped to the terminal's width when clap's `wrap_help` is on: compare
    // with the whitespace collapsed.
    let help = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        help.contains(
            "[default: $XDG_DATA_HOME/e2b-local/kernel, else ~/.local/share/e2b-local/kernel"
        ),
        "{help}"
    );
    assert!(help.contains("[default: python3]"), "{help}");
}

#[tokio::test]
async fn install_refuses_a_directory_that_is_not_a_venv() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("kernel");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep.txt"), "mine").unwrap();
    let out = e2b_local(dir.path(), &["kernel-env", "install"])
        .arg(&target)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not a Python virtual environment"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(&target).unwrap().count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_uses_the_installed_environment_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let default = dir.path().join("xdg/e2b-local/kernel");
    std::fs::create_dir_all(default.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(support::kernel_env().root(), &default).unwrap();

    let log = serve_log(e2b_local(dir.path(), &[]), |api| async move {
        let http = support::http();
        let resp = http
            .post(format!("{api}/sandboxes"))
            .header("X-API-Key", KEY)
            .json(&json!({"templateID": "code-interpreter-v1", "timeout": 60}))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body = resp.text().await.unwrap();
        assert_eq!(status, 201, "{body}");
    })
    .await;
    assert!(
        log.contains(&format!(
            "code-interpreter-v1 runs kernels from {}",
            default.display()
        )),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_variable_beats_the_default_location() {
    let dir = tempfile::tempdir().unwrap();
    let default = dir.path().join("xdg/e2b-local/kernel");
    std::fs::create_dir_all(&default).unwrap();
    let named = dir.path().join("named-kernel");
    let mut cmd = e2b_local(dir.path(), &[]);
    cmd.env("E2B_LOCAL_KERNEL_ENV", &named);
    let log = serve_log(cmd, |_| async {}).await;
    assert!(
        log.contains(&format!(
            "code-interpreter-v1 is unavailable: kernel environment {} does not exist",
            named.display()
        )),
        "{log}"
    );
    assert!(log.contains("e2b-local kernel-env install"), "{log}");
    assert!(!log.contains(&default.display().to_string()), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_any_environment_serve_and_doctor_name_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let default = dir.path().join("xdg/e2b-local/kernel");
    let log = serve_log(e2b_local(dir.path(), &[]), |_| async {}).await;
    assert!(
        log.contains("code-interpreter-v1 is unavailable without a kernel environment"),
        "{log}"
    );
    assert!(log.contains("run `e2b-local kernel-env install`"), "{log}");

    // doctor may fail on other checks; its report is on stdout either way.
    let out = e2b_local(dir.path(), &["doctor"]).output().await.unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&format!(
            "E2B_LOCAL_KERNEL_ENV is not set and {} does not exist",
            default.display()
        )),
        "{report}"
    );
    assert!(report.contains("e2b-local kernel-env install"), "{report}");
}
