//! Shared helpers of the end-to-end tests: an in-process e2b-local server per test and a
//! client configured for it.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

pub mod edge;
pub mod proxy;

use bytes::Bytes;
use e2b_local::{Server, ServerOptions};
use e2b_sandbox::{Client, ConnectionConfig, OutputStream, Sandbox};
use futures_util::StreamExt as _;

/// The e2b-local binary, run inside each sandbox as its agent. Built on first use (cargo
/// does not build binaries of dependencies), unless `E2B_LOCAL_BIN` names one.
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

/// A server and a client for it.
pub struct Local {
    pub server: Server,
    pub client: Client,
}

impl Local {
    /// Start a server on a fresh data directory.
    pub async fn start() -> Local {
        Local::start_with(|options| options).await
    }

    /// Start a server with options adjusted by `adjust`.
    pub async fn start_with(adjust: impl FnOnce(ServerOptions) -> ServerOptions) -> Local {
        let options = adjust(ServerOptions::default().with_agent_binary(agent_binary()));
        let server = Server::start(options).await.expect("e2b-local starts");
        let client = Client::new(config(&server).build().expect("config")).expect("client");
        Local { server, client }
    }

    /// A sandbox from `base` with a short timeout.
    pub async fn sandbox(&self) -> Sandbox {
        Sandbox::builder()
            .timeout(Duration::from_secs(120))
            .create(&self.client)
            .await
            .expect("sandbox created")
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
    }
}

/// The configuration pointing at `server`, explicit (the environment is ignored).
pub fn config(server: &Server) -> e2b_sandbox::ConnectionConfigBuilder {
    ConnectionConfig::builder()
        .api_key(server.api_key())
        .api_url(server.api_url())
        .sandbox_url(server.sandbox_url())
        .domain(server.domain())
}

/// Read the terminal until its output contains `marker`; returns everything read. Markers
/// are printed as `MARK$((n+0))` so that the terminal's echo of the typed command does not
/// match.
pub async fn read_until(output: &mut OutputStream<Bytes>, marker: &str) -> String {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(chunk) = output.next().await {
            seen.extend_from_slice(&chunk);
            if String::from_utf8_lossy(&seen).contains(marker) {
                return true;
            }
        }
        false
    })
    .await;
    let text = String::from_utf8_lossy(&seen).into_owned();
    assert_eq!(found, Ok(true), "`{marker}` never appeared in: {text:?}");
    text
}
