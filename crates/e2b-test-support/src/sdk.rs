//! A server and an `e2b-sandbox` client for it (feature `sandbox`).

use std::time::Duration;

use bytes::Bytes;
use e2b_local::{Server, ServerOptions};
use e2b_sandbox::{Client, ConnectionConfig, ConnectionConfigBuilder, OutputStream, Sandbox};
use futures_util::StreamExt as _;

use crate::agent_binary;

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

    /// Start a server whose sandboxes can run code: with the [kernel
    /// environment](crate::kernel_env).
    pub async fn with_kernels() -> Local {
        let kernels = crate::kernel_env().root().to_path_buf();
        Local::start_with(|options| options.with_kernel_env(Some(kernels))).await
    }

    /// A sandbox from `base` with a short timeout.
    pub async fn sandbox(&self) -> Sandbox {
        Sandbox::builder()
            .timeout(Duration::from_secs(120))
            .create(&self.client)
            .await
            .expect("sandbox created")
    }

    /// A code-interpreter sandbox with a short timeout (the server must have been started
    /// [with kernels](Local::with_kernels)).
    #[cfg(feature = "code-interpreter")]
    pub async fn interpreter(&self) -> e2b_code_interpreter::CodeInterpreter {
        e2b_code_interpreter::CodeInterpreter::builder()
            .timeout(Duration::from_secs(180))
            .create(&self.client)
            .await
            .expect("code-interpreter sandbox created")
    }

    /// Shut the server down.
    pub async fn stop(self) {
        self.server.shutdown().await;
    }
}

/// The configuration pointing at `server`, explicit (the environment is ignored).
pub fn config(server: &Server) -> ConnectionConfigBuilder {
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
