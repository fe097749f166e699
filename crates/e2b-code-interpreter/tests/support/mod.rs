//! Shared helpers of the end-to-end tests: an in-process e2b-local server with the kernel
//! environment enabled, and a code-interpreter sandbox on it.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use e2b_code_interpreter::{Client, CodeInterpreter, ConnectionConfig};
use e2b_local::kernel_env::{KERNEL_ENV_VAR, KernelEnv};
use e2b_local::{Server, ServerOptions};

/// The e2b-local binary, run inside each sandbox as its agent. Built on first use (cargo
/// does not build binaries of dependencies), unless `E2B_LOCAL_BIN` names one.
pub fn agent_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("E2B_LOCAL_BIN").filter(|p| !p.is_empty()) {
            return PathBuf::from(path);
        }
        let exe = std::env::current_exe().expect("test executable path");
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

/// The kernel environment: `E2B_LOCAL_KERNEL_ENV`, else the checkout's `.venv/kernel`.
pub fn kernel_env() -> PathBuf {
    let env = KernelEnv::from_env().unwrap_or_else(|| {
        KernelEnv::at(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/kernel"))
    });
    if let Some(problem) = env.problem() {
        panic!(
            "{problem}: build it with `make kernel-env` (or run `make test`), or point \
             {KERNEL_ENV_VAR} at one"
        );
    }
    env.root().to_path_buf()
}

/// A server and a client for it.
pub struct Local {
    pub server: Server,
    pub client: Client,
}

impl Local {
    pub async fn start() -> Local {
        let options = ServerOptions::default()
            .with_agent_binary(agent_binary())
            .with_kernel_env(Some(kernel_env()));
        let server = Server::start(options).await.expect("e2b-local starts");
        let config = ConnectionConfig::builder()
            .api_key(server.api_key())
            .api_url(server.api_url())
            .sandbox_url(server.sandbox_url())
            .domain(server.domain())
            .build()
            .expect("config");
        let client = Client::new(config).expect("client");
        Local { server, client }
    }

    /// A code-interpreter sandbox with a short life.
    pub async fn interpreter(&self) -> CodeInterpreter {
        CodeInterpreter::builder()
            .timeout(Duration::from_secs(180))
            .create(&self.client)
            .await
            .expect("code-interpreter sandbox created")
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
    }
}
