//! Shared setup of the examples: a client for the E2B cloud when `E2B_API_KEY` is set,
//! else for an `e2b-local` server started in this process.
//!
//! The repository's README is included below as documentation when doctests are collected,
//! so that `cargo test` compiles its Rust code (`no_run`) against the current API (this crate
//! depends on `e2b` with `code-interpreter`, the feature the README's `[dependencies]` line
//! enables, and `blocking`).

/// The Rust code blocks of the repository's `README.md`, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
mod readme {}

use anyhow::Context as _;

/// Where the examples' sandboxes run.
#[derive(Debug)]
pub struct Backend {
    /// The client to use.
    pub client: e2b::Client,
    /// The in-process server, when no API key is set; dropping it kills its sandboxes.
    pub local: Option<e2b_local::Server>,
}

impl Backend {
    /// The E2B cloud (or whatever `E2B_*` names) if `E2B_API_KEY` is set, else a local
    /// server started in this process.
    pub async fn from_env() -> anyhow::Result<Backend> {
        if std::env::var_os("E2B_API_KEY").is_some_and(|k| !k.is_empty()) {
            let client = e2b::Client::from_env()?;
            eprintln!(
                "E2B_API_KEY is set: using the API at {}",
                client.config().api_url()
            );
            return Ok(Backend {
                client,
                local: None,
            });
        }
        let server = e2b_local::Server::start(e2b_local::ServerOptions::default())
            .await
            .context(
                "E2B_API_KEY is not set, so the example starts e2b-local, which failed; \
                 build its sandbox agent first with `cargo build -p e2b-local` (and see \
                 `e2b-local doctor`), or set E2B_API_KEY to use the E2B cloud",
            )?;
        eprintln!(
            "E2B_API_KEY is not set: using e2b-local at {}",
            server.api_url()
        );
        let config = e2b::ConnectionConfig::builder()
            .api_key(server.api_key())
            .api_url(server.api_url())
            .sandbox_url(server.sandbox_url())
            .domain(server.domain())
            .build()?;
        Ok(Backend {
            client: e2b::Client::new(config)?,
            local: Some(server),
        })
    }

    /// Stop the local server, if any.
    pub async fn shutdown(self) {
        if let Some(server) = self.local {
            server.shutdown().await;
        }
    }
}

impl Backend {
    /// Like [`Backend::from_env`], but a local server also runs code-interpreter sandboxes:
    /// its kernel environment is `E2B_LOCAL_KERNEL_ENV`, else the checkout's
    /// `.venv/kernel` (built by `make kernel-env`).
    pub async fn with_kernels() -> anyhow::Result<Backend> {
        if std::env::var_os("E2B_API_KEY").is_some_and(|k| !k.is_empty()) {
            return Backend::from_env().await;
        }
        let kernel_env = std::env::var_os(e2b_local::kernel_env::KERNEL_ENV_VAR)
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/kernel")
            });
        let options = e2b_local::ServerOptions::default().with_kernel_env(Some(kernel_env));
        let server = e2b_local::Server::start(options).await.context(
            "E2B_API_KEY is not set, so the example starts e2b-local, which failed; build \
             its sandbox agent with `cargo build -p e2b-local` and its kernel environment \
             with `make kernel-env` (or `e2b-local kernel-env install DIR` and \
             E2B_LOCAL_KERNEL_ENV=DIR; see `e2b-local doctor`), or set E2B_API_KEY to use \
             the E2B cloud",
        )?;
        eprintln!(
            "E2B_API_KEY is not set: using e2b-local at {}",
            server.api_url()
        );
        let config = e2b::ConnectionConfig::builder()
            .api_key(server.api_key())
            .api_url(server.api_url())
            .sandbox_url(server.sandbox_url())
            .domain(server.domain())
            .build()?;
        Ok(Backend {
            client: e2b::Client::new(config)?,
            local: Some(server),
        })
    }
}
