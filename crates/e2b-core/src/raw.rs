//! The transport level: the HTTP seam and the functions that map transport failures into
//! [`Error`].
//!
//! Everything here names types of `reqwest`, the generated `progenitor` clients
//! (`e2b-api`) or the Connect runtime (`e2b-envd`), and so **follows their versions and
//! the pinned spec rather than this crate's semver**. The facade crates are built on it;
//! applications reach for it (usually through `e2b_sandbox::raw`) only for what the
//! facades do not cover, and should expect to adapt on upgrades.
//!
//! ```no_run
//! use e2b_core::ConnectionConfig;
//! use e2b_core::raw::{HttpClient, Target};
//!
//! # async fn run() -> e2b_core::Result<()> {
//! let config = ConnectionConfig::from_env()?;
//! let http = HttpClient::new(&config)?;
//!
//! // A generated control-plane client, authenticated, sending through the seam
//! // (tracing, connection retries), one operation under the request timeout.
//! let api = http.control_client(config.api_url());
//! let sandboxes = http
//!     .call("get_v2_sandboxes", http.request_timeout(), api.get_v2_sandboxes().send())
//!     .await?;
//! println!("{} sandboxes", sandboxes.len());
//!
//! // A hand-built request to a sandbox's envd.
//! let route = config.routing().sandbox("i1x9abc", None)?;
//! let request = http
//!     .client(Target::Sandbox)
//!     .get(format!("{}/health", route.envd_url()))
//!     .headers(route.headers(e2b_core::ENVD_PORT, None)?)
//!     .build()
//!     .map_err(e2b_core::raw::error_from_reqwest)?;
//! let response = http
//!     .send(Target::Sandbox, request, "envd.health", http.request_timeout())
//!     .await?;
//! if let Err(e) = e2b_core::raw::check_response(response).await {
//!     if e.is_sandbox_gone() {
//!         eprintln!("the sandbox has timed out");
//!     }
//! }
//! # Ok(())
//! # }
//! ```

pub use e2b_api;
pub use e2b_envd;
pub use e2b_envd::connect::Code;
pub use progenitor_client;
pub use reqwest;

pub use crate::http::{
    API_KEY_HEADER, HttpClient, SDK_VERSION, Target, sdk_metadata_headers, user_agent,
};

use crate::error::{Error, connect, http};

/// The error for a response with an error status, reading (at most 64 KiB of) its body.
/// The mapping is [`Error::from_status`]; the response's request id is kept
/// ([`Error::request_id`]).
pub async fn error_from_response(response: reqwest::Response) -> Error {
    http::from_response(response).await
}

/// Pass a successful (2xx) response through; turn an error status into an [`Error`]
/// ([`error_from_response`]).
///
/// # Errors
///
/// The mapped error for any status outside 200–299.
pub async fn check_response(response: reqwest::Response) -> Result<reqwest::Response, Error> {
    http::check_response(response).await
}

/// A `reqwest` failure: timeouts become [`TimeoutKind::Request`](crate::TimeoutKind),
/// undecodable bodies protocol errors, error statuses (from `error_for_status`) are mapped
/// by status, everything else is a transport error naming the host.
pub fn error_from_reqwest(error: reqwest::Error) -> Error {
    http::from_reqwest(error)
}

/// An error of a generated REST client: documented error responses and undocumented
/// statuses are mapped like [`Error::from_status`], transport failures like
/// [`error_from_reqwest`], undecodable bodies become protocol errors.
pub async fn error_from_api<E: serde::Serialize>(error: progenitor_client::Error<E>) -> Error {
    http::from_api_error(error).await
}

/// An error of the Connect runtime: server errors by code (see
/// [`error_from_connect`]), transport failures stay transport errors, client-side deadlines
/// become request or stream-idle timeouts, framing and codec failures protocol errors.
pub fn error_from_envd(error: e2b_envd::connect::Error) -> Error {
    connect::from_envd(error)
}

/// A Connect error sent by envd, by code: `invalid_argument` → invalid argument,
/// `unauthenticated` → authentication, `not_found` → not found, `unavailable` → sandbox
/// gone, `resource_exhausted` → rate limited, `canceled` → request timeout,
/// `deadline_exceeded` → execution timeout, any other →
/// [`ErrorKind::Envd`](crate::ErrorKind::Envd).
pub fn error_from_connect(error: e2b_envd::connect::ConnectError) -> Error {
    connect::from_connect(error)
}

/// The Connect code of an error that came from an envd RPC.
pub fn connect_code(error: &Error) -> Option<Code> {
    error.code()
}
