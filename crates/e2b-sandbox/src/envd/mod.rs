//! The link to one sandbox's envd: the Connect client with routing headers, per-call user
//! authentication, the `/health` probe and the mapping of envd failures.

mod health;

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use e2b_core::raw::{HttpClient, Target};
use e2b_core::{
    ENVD_PORT, EnvdFeature, EnvdVersion, Error, NotFoundKind, Result, SandboxRoute, SecretString,
    TimeoutKind,
};
use e2b_envd::connect::{self, CallOptions, TimeoutKind as CallTimeoutKind};
use e2b_envd::filesystem::filesystem_client::FilesystemClient;
use e2b_envd::process::process_client::ProcessClient;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

pub(crate) use health::Health;

/// The user the official SDKs name when envd is too old to apply the template's default.
const DEFAULT_USER: &str = "user";
/// Asks envd for a keepalive message after this many seconds without output.
pub(crate) const KEEPALIVE_PING_HEADER: HeaderName =
    HeaderName::from_static("keepalive-ping-interval");
/// The keepalive interval the official SDKs ask for.
pub(crate) const KEEPALIVE_PING_INTERVAL: Duration = Duration::from_secs(50);

/// One sandbox's envd.
#[derive(Clone)]
pub(crate) struct Envd {
    base_url: String,
    headers: HeaderMap,
    http: HttpClient,
    process: ProcessClient,
    filesystem: FilesystemClient,
    version: EnvdVersion,
}

impl fmt::Debug for Envd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envd")
            .field("base_url", &self.base_url)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// What a failed envd call was doing, to choose the error's details.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Operation {
    /// A call about a process (pid or tag): not-found means the process.
    Process,
    /// A stream whose deadline is a command's timeout.
    CommandStream {
        /// The command timeout, for the message.
        timeout: Option<Duration>,
    },
    /// Anything else.
    Other,
}

impl Envd {
    pub(crate) fn new(
        http: &HttpClient,
        route: &SandboxRoute,
        access_token: Option<&SecretString>,
        version: EnvdVersion,
    ) -> Result<Self> {
        let base_url = route.envd_url();
        let headers = route.headers(ENVD_PORT, access_token)?;
        let connect = http
            .connect_client(base_url.clone())
            .with_headers(headers.clone());
        Ok(Envd {
            base_url,
            headers,
            http: http.clone(),
            process: ProcessClient::new(connect.clone()),
            filesystem: FilesystemClient::new(connect),
            version,
        })
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    pub(crate) fn version(&self) -> &EnvdVersion {
        &self.version
    }

    pub(crate) fn process(&self) -> &ProcessClient {
        &self.process
    }

    pub(crate) fn filesystem(&self) -> &FilesystemClient {
        &self.filesystem
    }

    /// A request to envd's plain HTTP API (`/files`, `/health`), with the routing (and
    /// access token) headers.
    pub(crate) fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .client(Target::Sandbox)
            .request(method, format!("{}{path}", self.base_url))
            .headers(self.headers.clone())
    }

    /// Send a request of [`request`](Self::request) through the SDK's HTTP seam, with
    /// `deadline` on the wait for the response head. The response is returned whatever
    /// its status.
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
        operation: &str,
        deadline: Option<Duration>,
    ) -> Result<reqwest::Response> {
        let request = request.build().map_err(e2b_core::raw::error_from_reqwest)?;
        self.http
            .send(Target::Sandbox, request, operation, deadline)
            .await
    }

    /// The user a request acts as: the given one, else the template's default (envd ≥ 0.4.0)
    /// or `user` (older envd).
    pub(crate) fn effective_user<'a>(&self, user: Option<&'a str>) -> Option<&'a str> {
        match user {
            Some(u) if !u.is_empty() => Some(u),
            _ if !self.version.supports(EnvdFeature::DefaultUser) => Some(DEFAULT_USER),
            _ => None,
        }
    }

    /// Options of a unary call: the request timeout, the user's `Authorization: Basic` header.
    pub(crate) fn unary_options(
        &self,
        timeout: Option<Duration>,
        user: Option<&str>,
    ) -> Result<CallOptions> {
        let mut options = CallOptions::new();
        options.timeout = timeout;
        if let Some(user) = self.effective_user(user) {
            options
                .headers
                .insert(http::header::AUTHORIZATION, basic_auth(user)?);
        }
        Ok(options)
    }

    /// Options of a stream: `timeout` bounds the whole stream (envd also kills a started
    /// process when it passes), `idle` the silence between messages.
    pub(crate) fn stream_options(
        &self,
        timeout: Option<Duration>,
        idle: Option<Duration>,
        user: Option<&str>,
    ) -> Result<CallOptions> {
        let mut options = self.unary_options(timeout, user)?;
        options.idle_timeout = idle;
        options
            .headers
            .insert(KEEPALIVE_PING_HEADER, keepalive_interval(idle));
        Ok(options)
    }

    /// Map a failed call. A broken connection is checked against `/health`: if the sandbox is
    /// gone the error says it was killed or timed out.
    pub(crate) async fn map_error(&self, error: connect::Error, op: Operation) -> Error {
        if error.is_transport() && self.health().await == Health::Gone {
            return Error::timeout(
                TimeoutKind::SandboxGone,
                "the sandbox was killed or timed out while the request was in flight",
            );
        }
        let local_deadline = match &error {
            connect::Error::Timeout {
                kind: CallTimeoutKind::Call,
                after,
            } => Some(*after),
            _ => None,
        };
        let mapped = e2b_core::raw::error_from_envd(error);
        match op {
            Operation::Process => mapped.with_not_found_kind(NotFoundKind::Process),
            Operation::CommandStream { timeout } => {
                let deadline = local_deadline.is_some()
                    || mapped.timeout_kind() == Some(TimeoutKind::Execution);
                if deadline {
                    let message = match local_deadline.or(timeout) {
                        Some(limit) => {
                            format!("the command ran longer than its timeout of {limit:?}")
                        }
                        None => "the command ran past its deadline".to_owned(),
                    };
                    Error::timeout(TimeoutKind::Execution, message)
                } else {
                    mapped.with_not_found_kind(NotFoundKind::Process)
                }
            }
            Operation::Other => mapped,
        }
    }

    /// The error of a stream that broke mid-way: the sandbox being gone when `/health`
    /// says so (killed, timed out, paused), `error` otherwise.
    pub(crate) async fn stream_broke(&self, error: Error) -> Error {
        if self.health().await == Health::Gone {
            Error::timeout(
                TimeoutKind::SandboxGone,
                "the sandbox was killed or timed out while the stream was open",
            )
        } else {
            error
        }
    }

    /// What `/health` says within [`health::HEALTH_CHECK_TIMEOUT`], for telling a dead
    /// sandbox from a broken connection.
    pub(crate) async fn health(&self) -> Health {
        match self.probe_health(Some(health::HEALTH_CHECK_TIMEOUT)).await {
            Ok(true) => Health::Alive,
            Ok(false) => Health::Gone,
            Err(error) => {
                tracing::debug!(%error, "/health probe failed");
                Health::Unknown
            }
        }
    }

    /// Ask `/health` whether the sandbox runs: `false` when the edge answers 502 (killed,
    /// timed out or paused). The one place `/health` is asked.
    pub(crate) async fn probe_health(&self, deadline: Option<Duration>) -> Result<bool> {
        health::probe(self, deadline).await
    }
}

/// `Authorization: Basic base64("<user>:")`.
fn basic_auth(user: &str) -> Result<HeaderValue> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:"));
    HeaderValue::from_str(&format!("Basic {encoded}"))
        .map_err(|_| Error::invalid_argument("the user name cannot be sent in a header"))
}

/// The keepalive interval to ask for: the official SDKs' 50 s, or less when the stream's
/// idle timeout would otherwise expire between two keepalives.
fn keepalive_interval(idle: Option<Duration>) -> HeaderValue {
    let default = KEEPALIVE_PING_INTERVAL.as_secs();
    let secs = match idle {
        Some(idle) if idle.as_secs() < default + 5 => (idle.as_secs() / 2).max(1),
        _ => default,
    };
    HeaderValue::from(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_header() {
        assert_eq!(basic_auth("user").unwrap(), "Basic dXNlcjo=");
        assert_eq!(basic_auth("root").unwrap(), "Basic cm9vdDo=");
        assert!(basic_auth("a\nb").is_ok(), "base64 never contains newlines");
    }

    #[test]
    fn keepalive_follows_upstream_unless_idle_is_short() {
        assert_eq!(keepalive_interval(None), "50");
        assert_eq!(keepalive_interval(Some(Duration::from_secs(60))), "50");
        assert_eq!(keepalive_interval(Some(Duration::from_secs(10))), "5");
        assert_eq!(keepalive_interval(Some(Duration::from_millis(500))), "1");
    }
}
