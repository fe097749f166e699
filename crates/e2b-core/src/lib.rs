//! Shared runtime of the E2B SDK: connection configuration, routing, errors, the HTTP
//! client and envd version gates. The facade crates `e2b-sandbox` and
//! `e2b-code-interpreter` (and the umbrella crate `e2b`) build on it; applications
//! normally use those and meet this crate through [`ConnectionConfig`] and [`Error`].
//!
//! ```no_run
//! use e2b_core::ConnectionConfig;
//!
//! # fn run() -> e2b_core::Result<()> {
//! // E2B_API_KEY, E2B_DOMAIN, E2B_API_URL, E2B_SANDBOX_URL, E2B_DEBUG, … in one place;
//! // explicit settings win over the environment.
//! let config = ConnectionConfig::builder()
//!     .env()
//!     .request_timeout(std::time::Duration::from_secs(30))
//!     .build()?;
//!
//! // A sandbox's envd: URL and routing headers from the routing rules.
//! let route = config.routing().sandbox("i1x9abc", None)?;
//! println!("{}", route.envd_url());
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
//! - [`raw`]: the HTTP seam every request goes through ([`raw::HttpClient`]: deadline,
//!   tracing span, connection retries, error mapping) and the functions that take
//!   transport types; it follows `reqwest`'s and the spec's versions, not this crate's
//!   semver.
//! - [`version`]: envd version gates.
//! - [`secret`]: secrets are never printed.

#![warn(missing_docs)]

// The crate README's Rust code, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

pub mod config;
pub mod env;
pub mod error;
mod http;
pub mod raw;
pub mod routing;
pub mod secret;
pub mod version;

pub use config::{ConfigError, ConnectionConfig, ConnectionConfigBuilder};
pub use error::{CommandExit, Error, ErrorKind, NotFoundKind, Result, TimeoutKind};
pub use routing::{
    CODE_INTERPRETER_PORT, ENVD_PORT, MCP_PORT, Routing, RoutingMode, SandboxRoute, Scheme,
};
pub use secret::{ExposeSecret, SecretString};
pub use version::{EnvdFeature, EnvdVersion};
