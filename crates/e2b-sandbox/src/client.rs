//! [`Client`]: one connection configuration, its HTTP pools and the control-plane client.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use e2b_api::ResponseValue;
use e2b_core::raw::HttpClient;
use e2b_core::{ConnectionConfig, Error, Result, TimeoutKind};

/// A connection to E2B (or an E2B-compatible server): configuration, pooled HTTP clients and
/// the control-plane client.
///
/// Cheap to clone: clones share the connection pools, so there is no need to wrap a `Client`
/// in an `Arc`. Every [`Sandbox`](crate::Sandbox) keeps the `Client` it was created or
/// connected with.
///
/// # Deadlines
///
/// Every request to the control plane or to a sandbox's envd is bounded by the *request
/// timeout* (default 60 s, from [`ConnectionConfig::request_timeout`]). Derive a client with
/// another one with [`with_request_timeout`](Self::with_request_timeout); the derived client
/// shares the pools. Any operation's future can also be dropped (e.g. by
/// `tokio::time::timeout`) to cancel it.
///
/// ```no_run
/// # async fn demo() -> e2b_sandbox::Result<()> {
/// use std::time::Duration;
///
/// let client = e2b_sandbox::Client::from_env()?;
/// let patient = client.with_request_timeout(Duration::from_secs(300));
/// # let _ = patient;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    request_timeout: Option<Duration>,
}

struct Inner {
    config: ConnectionConfig,
    http: HttpClient,
    api: e2b_api::control::Client,
    /// Which paths create and connect use; see [`ApiPaths`].
    paths: AtomicU8,
}

/// Whether the control plane serves the v2 create and connect paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ApiPaths {
    /// Not known yet: try v2, fall back to v1 on 404/405.
    Unknown = 0,
    /// v2 answered: use it, and trust its 404s.
    V2 = 1,
    /// v2 was refused and v1 worked: an older control plane, use v1 only.
    V1 = 2,
}

impl Client {
    /// A client for `config`.
    ///
    /// # Errors
    ///
    /// A configuration error if a credential is not a valid header value or the proxy cannot
    /// be used, a transport error if the TLS backend cannot be initialised.
    pub fn new(config: ConnectionConfig) -> Result<Self> {
        let request_timeout = config.request_timeout();
        // The seam's clients carry no timeout of their own: every call applies its deadline,
        // so that a derived client (`with_request_timeout`) can wait longer.
        let http = HttpClient::new(&config)?;
        let api = http.control_client(config.api_url());
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                http,
                api,
                paths: AtomicU8::new(ApiPaths::Unknown as u8),
            }),
            request_timeout,
        })
    }

    /// A client configured from the environment (`E2B_API_KEY`, `E2B_DOMAIN`, `E2B_API_URL`,
    /// `E2B_SANDBOX_URL`, `E2B_DEBUG`, …); see [`ConnectionConfig::from_env`].
    ///
    /// # Errors
    ///
    /// A configuration error naming the variable if `E2B_API_KEY` is missing or malformed (or
    /// another variable is), and the errors of [`Client::new`].
    pub fn from_env() -> Result<Self> {
        Client::new(ConnectionConfig::from_env()?)
    }

    /// The connection configuration.
    pub fn config(&self) -> &ConnectionConfig {
        &self.inner.config
    }

    /// The deadline of one request; `None` means none.
    pub fn request_timeout(&self) -> Option<Duration> {
        self.request_timeout
    }

    /// A client sharing this one's pools whose requests use another deadline.
    /// `Duration::ZERO` or `None` means no deadline.
    #[must_use]
    pub fn with_request_timeout(&self, timeout: impl Into<Option<Duration>>) -> Self {
        Client {
            inner: Arc::clone(&self.inner),
            request_timeout: timeout.into().filter(|d| !d.is_zero()),
        }
    }

    pub(crate) fn http(&self) -> &HttpClient {
        &self.inner.http
    }

    pub(crate) fn api(&self) -> &e2b_api::control::Client {
        &self.inner.api
    }

    pub(crate) fn is_debug(&self) -> bool {
        self.inner.config.is_debug()
    }

    pub(crate) fn api_paths(&self) -> ApiPaths {
        match self.inner.paths.load(Ordering::Relaxed) {
            1 => ApiPaths::V2,
            2 => ApiPaths::V1,
            _ => ApiPaths::Unknown,
        }
    }

    pub(crate) fn set_api_paths(&self, paths: ApiPaths) {
        self.inner.paths.store(paths as u8, Ordering::Relaxed);
    }

    /// Run a control-plane request under the request timeout.
    pub(crate) async fn deadline<T>(
        &self,
        what: &str,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        with_deadline(self.request_timeout, what, call).await
    }

    /// Run one operation of the generated control-plane client through the seam: under
    /// the request timeout, its error mapped.
    pub(crate) async fn call<T>(
        &self,
        operation: &str,
        call: impl Future<
            Output = std::result::Result<
                ResponseValue<T>,
                e2b_api::Error<e2b_api::control::types::Error>,
            >,
        >,
    ) -> Result<ResponseValue<T>> {
        self.inner
            .http
            .call(operation, self.request_timeout, call)
            .await
    }
}

/// Run `call` under `timeout`, failing with a request timeout naming `what`.
pub(crate) async fn with_deadline<T>(
    timeout: Option<Duration>,
    what: &str,
    call: impl Future<Output = Result<T>>,
) -> Result<T> {
    match timeout {
        None => call.await,
        Some(limit) => match tokio::time::timeout(limit, call).await {
            Ok(result) => result,
            Err(_) => Err(Error::timeout(
                TimeoutKind::Request,
                format!("{what} did not complete within {limit:?}"),
            )),
        },
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `ConnectionConfig`'s own `Debug` redacts every secret.
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}
