//! The escape hatch: the authenticated generated clients and the SDK's HTTP seam, for
//! what the facade does not cover.
//!
//! **Everything here follows the pinned spec and the versions of `reqwest`, `progenitor`
//! and the Connect runtime, not this crate's semver**: a spec bump or a dependency upgrade
//! may change it in any release. It re-exports [`e2b_core::raw`] (the seam
//! [`HttpClient`], [`Target`], the error-mapping functions, the generated crates
//! [`e2b_api`] and [`e2b_envd`], `reqwest`) and adds the clients of one [`Client`] or
//! [`Sandbox`]:
//!
//! - [`control`]: the control-plane REST client, carrying the API key and sending through
//!   the seam (tracing, connection retries); run its operations with
//!   [`HttpClient::call`] to get the request timeout and [`Error`](crate::Error)s.
//! - [`envd_process`] and [`envd_filesystem`]: a sandbox's Connect clients, with its
//!   routing headers and access token (add the user's `Authorization` per call).
//! - [`port_request`]: a request to any port of a sandbox, through the seam.
//!
//! ```no_run
//! # async fn demo(client: &e2b_sandbox::Client) -> e2b_sandbox::Result<()> {
//! use e2b_sandbox::raw;
//!
//! // An operation the facade does not wrap: the v2 sandbox logs.
//! let api = raw::control(client);
//! let logs = raw::http(client)
//!     .call(
//!         "getting the logs",
//!         client.request_timeout(),
//!         api.get_v2_sandboxes_sandbox_id_logs().sandbox_id("i1x9abc").send(),
//!     )
//!     .await?;
//! println!("{} log entries", logs.logs.len());
//! # Ok(()) }
//! ```

pub use e2b_core::raw::*;
use e2b_envd::filesystem::filesystem_client::FilesystemClient;
use e2b_envd::process::process_client::ProcessClient;
use http::Method;

use crate::{Client, PortEndpoint, Sandbox};

/// The HTTP seam of `client`: its pools, tracing and retries.
pub fn http(client: &Client) -> &HttpClient {
    client.http()
}

/// The control-plane REST client of `client`: authenticated, sending through the seam.
pub fn control(client: &Client) -> &e2b_api::control::Client {
    client.api()
}

/// The Connect client of the sandbox's process service, with its routing headers and
/// access token.
pub fn envd_process(sandbox: &Sandbox) -> &ProcessClient {
    sandbox.envd().process()
}

/// The Connect client of the sandbox's filesystem service, with its routing headers and
/// access token.
pub fn envd_filesystem(sandbox: &Sandbox) -> &FilesystemClient {
    sandbox.envd().filesystem()
}

/// A request to `path` of the service behind `endpoint`, with its routing headers and
/// tokens set; send it with [`HttpClient::send`] and [`Target::Sandbox`].
///
/// ```no_run
/// # async fn demo(sandbox: &e2b_sandbox::Sandbox) -> e2b_sandbox::Result<()> {
/// use e2b_sandbox::raw::{self, Target};
///
/// let service = sandbox.port_endpoint(8080)?;
/// let (http, request) = raw::port_request(&service, http::Method::GET, "/status");
/// let request = request.build().map_err(raw::error_from_reqwest)?;
/// let response = http
///     .send(Target::Sandbox, request, "status", sandbox.request_timeout())
///     .await?;
/// let response = raw::check_response(response).await?;
/// println!("{}", response.text().await.map_err(raw::error_from_reqwest)?);
/// # Ok(()) }
/// ```
pub fn port_request<'a>(
    endpoint: &'a PortEndpoint,
    method: Method,
    path: &str,
) -> (&'a HttpClient, reqwest::RequestBuilder) {
    endpoint.request(method, path)
}
