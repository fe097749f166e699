//! Shared runtime of the E2B SDK: connection configuration, routing, errors, the HTTP
//! client and envd version gates. The facade crates (`e2b-sandbox`,
//! `e2b-code-interpreter`, `e2b-template`, `e2b-volume`) build on it; applications
//! normally use those and meet this crate through [`ConnectionConfig`] and [`Error`].
//!
//! ```no_run
//! use e2b_core::{ConnectionConfig, HttpClient, ENVD_PORT};
//!
//! # async fn run() -> e2b_core::Result<()> {
//! // E2B_API_KEY, E2B_DOMAIN, E2B_API_URL, E2B_SANDBOX_URL, E2B_DEBUG, … in one place;
//! // explicit settings win over the environment.
//! let config = ConnectionConfig::builder()
//!     .env()
//!     .request_timeout(std::time::Duration::from_secs(30))
//!     .build()?;
//! let http = HttpClient::new(&config)?;
//!
//! // Control plane: the `api` client carries the API key.
//! let response = http
//!     .api()
//!     .get(format!("{}/v2/sandboxes", config.api_url()))
//!     .send()
//!     .await?;
//! let response = e2b_core::Error::check_response(response).await?;
//! println!("{}", response.text().await?);
//!
//! // A sandbox's envd: URL and routing headers from the routing rules.
//! let route = config.routing().sandbox("i1x9abc", None)?;
//! let health = http
//!     .sandbox()
//!     .get(format!("{}/health", route.envd_url()))
//!     .headers(route.headers(ENVD_PORT, None)?)
//!     .send()
//!     .await?;
//! if let Err(e) = e2b_core::Error::check_response(health).await {
//!     if e.is_sandbox_gone() {
//!         eprintln!("the sandbox has timed out");
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Modules
//!
//! - [`config`]: [`ConnectionConfig`] and its builder; the environment is read by [`env`](mod@env) only.
//! - [`routing`]: every way of addressing sandboxes (per-sandbox host, E2B's shared host,
//!   OpenKruise path prefixes, a URL override, debug) behind [`Routing`].
//! - [`error`]: [`Error`], [`ErrorKind`] and the mapping of HTTP statuses and Connect codes.
//! - [`http`]: the pooled `reqwest` clients.
//! - [`version`]: envd version gates.
//! - [`secret`]: secrets are never printed.

#![warn(missing_docs)]

pub mod config;
pub mod env;
pub mod error;
pub mod http;
pub mod routing;
pub mod secret;
pub mod version;

pub use config::{ConfigError, ConnectionConfig, ConnectionConfigBuilder};
pub use error::{CommandExit, Error, ErrorKind, NotFoundKind, Result, TimeoutKind};
pub use http::HttpClient;
pub use routing::{
    CODE_INTERPRETER_PORT, ENVD_PORT, MCP_PORT, Routing, RoutingMode, SandboxRoute, Scheme,
};
pub use secret::{ExposeSecret, SecretString};
pub use version::{EnvdFeature, EnvdVersion};
