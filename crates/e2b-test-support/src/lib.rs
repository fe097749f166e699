//! Shared helpers of the workspace's tests, so that no crate keeps a copy of its own.
//!
//! - The crate root: where the e2b-local binary and the kernel environment are
//!   ([`agent_binary`], [`kernel_env`]), polling with a deadline ([`eventually`]), the
//!   process's memory ([`rss_bytes`], [`peak_rss_bytes`]), and (re-exported from
//!   [`server`](mod@server)) an in-process e2b-local server driven over HTTP and envd's Connect API.
//! - [`agent`]: the sandbox agent alone, served in-process on temp directories.
//! - [`registry`]: a real OCI registry (`docker-registry`) on loopback, pushed to with `skopeo`;
//!   [`oci`]: OCI image layouts built entry by entry, and the runnable test image.
//! - [`transfer`]: large generated bodies and their byte-exact check on the way back.
//! - `sdk` (feature `sandbox`): a server and an `e2b-sandbox` client for it.
//!
//! Used as a dev-dependency only; every helper panics with what went wrong instead of
//! returning errors.

#![allow(missing_debug_implementations)] // test fixtures, never printed

pub mod agent;
pub mod oci;
pub mod registry;
#[cfg(feature = "sandbox")]
pub mod sdk;
pub mod server;
pub mod transfer;

use std::future::Future;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use e2b_local::kernel_env::{KERNEL_ENV_VAR, KernelEnv};

pub use server::*;

/// A wheel with one module, `e2b_probe` (`VALUE = 42`), written by Python
/// inside the sandbox at `/tmp/e2b_probe-1.0-py3-none-any.whl` (a shell command).
pub const MAKE_PROBE_WHEEL: &str = r#"python3 - <<'EOF'
import zipfile
files = {
    "e2b_probe/__init__.py": "VALUE = 42\n",
    "e2b_probe-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: e2b-probe\nVersion: 1.0\n",
    "e2b_probe-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
files["e2b_probe-1.0.dist-info/RECORD"] = "".join(f"{n},,\n" for n in files) + "e2b_probe-1.0.dist-info/RECORD,,\n"
with zipfile.ZipFile("/tmp/e2b_probe-1.0-py3-none-any.whl", "w") as z:
    for name, text in files.items():
        z.writestr(name, text)
EOF"#;

/// The e2b-local binary, run inside each sandbox as its agent: the one `E2B_LOCAL_BIN`
/// names, else `target/<profile>/e2b-local`, built on first use (cargo does not build the
/// binaries of dependencies).
pub fn agent_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("E2B_LOCAL_BIN").filter(|p| !p.is_empty()) {
            return PathBuf::from(path);
        }
        let exe = std::env::current_exe().expect("test executable path");
        // target/<profile>/deps/<test> → target/<profile>
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("test executable in target/<profile>/deps")
            .to_path_buf();
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build.args(["build", "--quiet", "-p", "e2b-local", "--bin", "e2b-local"]);
        if release {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo to build e2b-local");
        assert!(status.success(), "building e2b-local failed");
        profile_dir.join("e2b-local")
    })
    .clone()
}

/// The kernel environment of code-interpreter sandboxes: the one `E2B_LOCAL_KERNEL_ENV`
/// names, else the checkout's `.venv/kernel`; a missing or broken one fails the test with
/// what to run.
pub fn kernel_env() -> KernelEnv {
    let env = KernelEnv::from_env().unwrap_or_else(|| {
        KernelEnv::at(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/kernel"))
    });
    if let Some(problem) = env.problem() {
        panic!(
            "{problem}: build it with `make kernel-env` (or run `make test`), or point \
             {KERNEL_ENV_VAR} at one (`e2b-local kernel-env install DIR` builds one anywhere)"
        );
    }
    env
}

/// Poll `condition` every 20 ms until it holds or `timeout` passes (then panic with `what`).
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if condition().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// This process's resident memory (`VmRSS`) in bytes.
pub fn rss_bytes() -> u64 {
    proc_status_bytes("VmRSS:")
}

/// This process's peak resident memory (`VmHWM`) in bytes.
pub fn peak_rss_bytes() -> u64 {
    proc_status_bytes("VmHWM:")
}

/// A `kB` field of `/proc/self/status`, in bytes.
fn proc_status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
        * 1024
}
