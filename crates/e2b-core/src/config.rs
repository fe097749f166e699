//! [`ConnectionConfig`]: credentials, endpoints, timeouts, proxy and routing of one client.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use crate::env::{self, EnvProxy, EnvVars};
use crate::routing::{self, Routing, RoutingMode};
use crate::secret::{is_valid_api_key, redact_url};

/// Default timeout of one request (`REQUEST_TIMEOUT` in the official SDKs).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default timeout for establishing a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The volume content API URL used in debug mode.
pub const DEBUG_VOLUME_API_URL: &str = "http://localhost:8080";
/// Default number of retries of a connection that could not be established
/// (`E2B_CONNECTION_RETRIES` in the official Python SDK).
pub const DEFAULT_CONNECTION_RETRIES: u32 = 3;
/// Default time an idle pooled connection is kept (`E2B_KEEPALIVE_EXPIRY`).
pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Default number of idle connections kept per host (`E2B_MAX_KEEPALIVE_CONNECTIONS`).
pub const DEFAULT_POOL_MAX_IDLE_PER_HOST: usize = 20;

/// How to reach E2B: credentials, endpoints, timeouts, proxy and routing.
///
/// Build one with [`ConnectionConfig::builder`] (explicit settings only) or
/// [`ConnectionConfig::from_env`] (the official `E2B_*` variables). To combine them, call
/// [`ConnectionConfigBuilder::env`] on a builder: explicit settings always beat the
/// environment, whatever the order of the calls.
///
/// ```
/// use std::time::Duration;
/// use e2b_core::ConnectionConfig;
///
/// let config = ConnectionConfig::builder()
///     .api_key("e2b_0123abcd")
///     .request_timeout(Duration::from_secs(30))
///     .build()?;
/// assert_eq!(config.api_url(), "https://api.e2b.app");
/// # Ok::<(), e2b_core::ConfigError>(())
/// ```
///
/// Secrets are never printed: the `Debug` output shows `[REDACTED]` in their place.
#[derive(Clone)]
#[non_exhaustive]
pub struct ConnectionConfig {
    api_key: Option<SecretString>,
    access_token: Option<SecretString>,
    domain: String,
    api_url: String,
    sandbox_url: Option<String>,
    volume_api_url: String,
    /// `volume_api_url` was set (builder, `E2B_VOLUME_API_URL`) or chosen by debug mode.
    volume_api_url_fixed: bool,
    request_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    connection_retries: u32,
    pool_idle_timeout: Duration,
    pool_max_idle_per_host: usize,
    api_headers: HeaderMap,
    sandbox_headers: HeaderMap,
    proxy: ProxyConfig,
    root_certificates: RootCertificates,
    debug: bool,
    validate_api_key: bool,
    routing: Routing,
}

/// Extra trusted roots: the PEM bundles as given (to rebuild a builder) and the
/// certificates parsed from them.
#[derive(Clone, Default)]
pub(crate) struct RootCertificates {
    pem: Vec<Arc<[u8]>>,
    parsed: Vec<reqwest::Certificate>,
}

impl RootCertificates {
    /// Parse every bundle; each must hold at least one certificate.
    fn parse(pem: Vec<Arc<[u8]>>) -> Result<Self, ConfigError> {
        let mut parsed = Vec::new();
        for (index, bundle) in pem.iter().enumerate() {
            let invalid = |reason: &str| ConfigError::InvalidRootCertificate {
                reason: format!("bundle {} {reason}", index + 1),
            };
            let certs = reqwest::Certificate::from_pem_bundle(bundle)
                .map_err(|_| invalid("is not valid PEM"))?;
            if certs.is_empty() {
                return Err(invalid("holds no `-----BEGIN CERTIFICATE-----` block"));
            }
            parsed.extend(certs);
        }
        Ok(RootCertificates { pem, parsed })
    }

    /// The certificates, for the HTTP clients.
    pub(crate) fn certificates(&self) -> &[reqwest::Certificate] {
        &self.parsed
    }
}

/// Where proxy settings came from.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) enum ProxyConfig {
    /// No proxy.
    #[default]
    None,
    /// An explicit proxy for all traffic.
    Explicit(String),
    /// The conventional environment variables (`HTTPS_PROXY`, …, `NO_PROXY`).
    Env(EnvProxy),
}

impl fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyConfig::None => f.write_str("None"),
            ProxyConfig::Explicit(url) => {
                f.debug_tuple("Explicit").field(&redact_url(url)).finish()
            }
            ProxyConfig::Env(env) => f.debug_tuple("Env").field(env).finish(),
        }
    }
}

impl ConnectionConfig {
    /// A builder with nothing set and the environment ignored.
    pub fn builder() -> ConnectionConfigBuilder {
        ConnectionConfigBuilder::default()
    }

    /// A configuration from the environment alone; see [`ConnectionConfigBuilder::env`].
    ///
    /// # Errors
    ///
    /// [`ConfigError::MissingApiKey`] if `E2B_API_KEY` is unset (outside debug mode and
    /// without an access token), [`ConfigError::InvalidApiKey`] if it is malformed, and
    /// the other [`ConfigError`]s for malformed values.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::builder().env().build()
    }

    /// A builder holding every setting of this configuration, as explicit settings, to
    /// derive a variant (e.g. a different request timeout for one call).
    pub fn to_builder(&self) -> ConnectionConfigBuilder {
        let headers = |map: &HeaderMap| {
            map.iter()
                .map(|(k, v)| PendingHeader::Valid(k.clone(), v.clone()))
                .collect()
        };
        ConnectionConfigBuilder {
            api_key: self.api_key.clone(),
            access_token: self.access_token.clone(),
            domain: Some(self.domain.clone()),
            api_url: Some(self.api_url.clone()),
            sandbox_url: self.sandbox_url.clone(),
            volume_api_url: self
                .volume_api_url_fixed
                .then(|| self.volume_api_url.clone()),
            request_timeout: Some(self.request_timeout.unwrap_or(Duration::ZERO)),
            connect_timeout: Some(self.connect_timeout.unwrap_or(Duration::ZERO)),
            connection_retries: Some(self.connection_retries),
            pool_idle_timeout: Some(self.pool_idle_timeout),
            pool_max_idle_per_host: Some(self.pool_max_idle_per_host),
            api_headers: headers(&self.api_headers),
            sandbox_headers: headers(&self.sandbox_headers),
            proxy: self.proxy.clone(),
            root_certificates: self.root_certificates.pem.clone(),
            debug: Some(self.debug),
            validate_api_key: Some(self.validate_api_key),
            routing: Some(self.routing.mode()),
            env: None,
        }
    }

    /// The API key, sent to the control plane as `X-API-KEY`.
    pub fn api_key(&self) -> Option<&SecretString> {
        self.api_key.as_ref()
    }

    /// The access token, sent to the control plane as `Authorization: Bearer`.
    pub fn access_token(&self) -> Option<&SecretString> {
        self.access_token.as_ref()
    }

    /// The domain (default `e2b.app`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The control-plane base URL, without a trailing `/`.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The sandbox URL override, without a trailing `/`.
    pub fn sandbox_url(&self) -> Option<&str> {
        self.sandbox_url.as_deref()
    }

    /// The volume content API base URL, without a trailing `/`.
    pub fn volume_api_url(&self) -> &str {
        &self.volume_api_url
    }

    /// The volume content API base URL for a volume the control plane placed on
    /// `domain` (a custom cluster's, as `VolumeAndToken.domain` reports it): a URL set
    /// explicitly (builder or `E2B_VOLUME_API_URL`) or debug mode wins, as upstream;
    /// otherwise `https://api.<domain>`; without a domain, [`volume_api_url`](Self::volume_api_url).
    pub fn volume_api_url_for(&self, domain: Option<&str>) -> String {
        match domain.filter(|d| !d.is_empty()) {
            Some(domain) if !self.volume_api_url_fixed => format!("https://api.{domain}"),
            _ => self.volume_api_url.clone(),
        }
    }

    /// The timeout of one request; `None` means no timeout.
    pub fn request_timeout(&self) -> Option<Duration> {
        self.request_timeout
    }

    /// The timeout for establishing a connection; `None` means no timeout.
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    /// How many times a connection that could not be established is tried again (default
    /// 3). Only failures before any byte of the request was sent are retried, and for
    /// `GET` requests a connection that broke before the response arrived; see
    /// [`raw::HttpClient`](crate::raw::HttpClient).
    pub fn connection_retries(&self) -> u32 {
        self.connection_retries
    }

    /// How long an idle pooled connection is kept (default 300 s); `Duration::ZERO`: none
    /// is kept.
    pub fn pool_idle_timeout(&self) -> Duration {
        self.pool_idle_timeout
    }

    /// How many idle connections are kept per host (default 20).
    pub fn pool_max_idle_per_host(&self) -> usize {
        self.pool_max_idle_per_host
    }

    /// Extra headers sent on control-plane requests (values marked sensitive).
    pub fn api_headers(&self) -> &HeaderMap {
        &self.api_headers
    }

    /// Extra headers sent on sandbox requests (values marked sensitive).
    pub fn sandbox_headers(&self) -> &HeaderMap {
        &self.sandbox_headers
    }

    /// The explicitly configured proxy URL, if any. Proxies taken from the environment
    /// (`HTTPS_PROXY`, …) are applied by [`HttpClient`](crate::raw::HttpClient) but not shown here.
    pub fn proxy(&self) -> Option<&str> {
        match &self.proxy {
            ProxyConfig::Explicit(url) => Some(url),
            _ => None,
        }
    }

    pub(crate) fn proxy_config(&self) -> &ProxyConfig {
        &self.proxy
    }

    /// How many extra root certificates are trusted besides the system's; see
    /// [`ConnectionConfigBuilder::root_certificates_pem`].
    pub fn root_certificate_count(&self) -> usize {
        self.root_certificates.parsed.len()
    }

    pub(crate) fn root_certificates(&self) -> &RootCertificates {
        &self.root_certificates
    }

    /// Whether debug mode is on: no control-plane calls for sandbox lifecycle, sandboxes
    /// at `localhost`.
    pub fn is_debug(&self) -> bool {
        self.debug
    }

    /// Whether the API key format is checked client-side.
    pub fn validates_api_key(&self) -> bool {
        self.validate_api_key
    }

    /// The routing mode.
    pub fn routing_mode(&self) -> RoutingMode {
        self.routing.mode()
    }

    /// The routing: control-plane URL and sandbox URLs and headers.
    pub fn routing(&self) -> &Routing {
        &self.routing
    }
}

impl fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionConfig")
            .field("api_key", &redacted(&self.api_key))
            .field("access_token", &redacted(&self.access_token))
            .field("domain", &self.domain)
            .field("api_url", &redact_url(&self.api_url))
            .field("sandbox_url", &self.sandbox_url.as_deref().map(redact_url))
            .field("volume_api_url", &redact_url(&self.volume_api_url))
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("connection_retries", &self.connection_retries)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .field("api_headers", &self.api_headers.keys().collect::<Vec<_>>())
            .field(
                "sandbox_headers",
                &self.sandbox_headers.keys().collect::<Vec<_>>(),
            )
            .field("proxy", &self.proxy)
            .field("root_certificates", &self.root_certificates.parsed.len())
            .field("debug", &self.debug)
            .field("validate_api_key", &self.validate_api_key)
            .field("routing_mode", &self.routing.mode())
            .finish()
    }
}

fn redacted(secret: &Option<SecretString>) -> Option<&'static str> {
    secret.as_ref().map(|_| "[REDACTED]")
}

/// A header given to the builder, checked when given and reported at
/// [`build`](ConnectionConfigBuilder::build).
#[derive(Clone)]
enum PendingHeader {
    Valid(HeaderName, HeaderValue),
    Invalid { name: String, reason: &'static str },
}

impl PendingHeader {
    fn name(&self) -> &str {
        match self {
            PendingHeader::Valid(name, _) => name.as_str(),
            PendingHeader::Invalid { name, .. } => name,
        }
    }
}

/// Builder of [`ConnectionConfig`].
///
/// Every setter records an explicit setting; [`env`](Self::env) records the environment
/// as a fallback. At [`build`](Self::build), each setting is the explicit value if there
/// is one, else the environment's, else the default. Empty strings count as unset.
#[derive(Clone, Default)]
#[must_use]
pub struct ConnectionConfigBuilder {
    api_key: Option<SecretString>,
    access_token: Option<SecretString>,
    domain: Option<String>,
    api_url: Option<String>,
    sandbox_url: Option<String>,
    volume_api_url: Option<String>,
    request_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    connection_retries: Option<u32>,
    pool_idle_timeout: Option<Duration>,
    pool_max_idle_per_host: Option<usize>,
    api_headers: Vec<PendingHeader>,
    sandbox_headers: Vec<PendingHeader>,
    proxy: ProxyConfig,
    root_certificates: Vec<Arc<[u8]>>,
    debug: Option<bool>,
    validate_api_key: Option<bool>,
    routing: Option<RoutingMode>,
    env: Option<EnvVars>,
}

impl ConnectionConfigBuilder {
    /// Use the environment for every setting not set explicitly:
    ///
    /// | Variable | Setting |
    /// |---|---|
    /// | `E2B_API_KEY` | [`api_key`](Self::api_key) |
    /// | `E2B_ACCESS_TOKEN` | [`access_token`](Self::access_token) |
    /// | `E2B_DOMAIN` | [`domain`](Self::domain) |
    /// | `E2B_API_URL` | [`api_url`](Self::api_url) |
    /// | `E2B_SANDBOX_URL` | [`sandbox_url`](Self::sandbox_url) |
    /// | `E2B_VOLUME_API_URL` | [`volume_api_url`](Self::volume_api_url) |
    /// | `E2B_DEBUG` (`true`, any case) | [`debug`](Self::debug) |
    /// | `E2B_VALIDATE_API_KEY` (`false`, any case, disables) | [`validate_api_key`](Self::validate_api_key) |
    /// | `E2B_CONNECTION_RETRIES` | [`connection_retries`](Self::connection_retries) |
    /// | `E2B_KEEPALIVE_EXPIRY` (seconds) | [`pool_idle_timeout`](Self::pool_idle_timeout) |
    /// | `E2B_MAX_KEEPALIVE_CONNECTIONS` | [`pool_max_idle_per_host`](Self::pool_max_idle_per_host) |
    /// | `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY` (or lower case) | proxy, unless [`proxy`](Self::proxy) is set |
    ///
    /// The variables are read when this is called. `E2B_MAX_CONNECTIONS` is not read: the
    /// official Python SDK dropped it too, as a reqwest pool has no cap on concurrent
    /// connections to honour.
    pub fn env(mut self) -> Self {
        self.env = Some(EnvVars::from_process());
        self
    }

    /// Like [`env`](Self::env), reading variables through `lookup` instead of the process
    /// environment (a `.env` file, a test fixture). `lookup` returns `None` for unset
    /// variables.
    pub fn env_from(mut self, lookup: impl Fn(&str) -> Option<String>) -> Self {
        self.env = Some(EnvVars::from_lookup(lookup));
        self
    }

    /// The API key (`e2b_…`).
    pub fn api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(api_key.into()));
        self
    }

    /// An access token, sent to the control plane as `Authorization: Bearer …`. With an
    /// access token, an API key is not required.
    pub fn access_token(mut self, token: impl Into<String>) -> Self {
        self.access_token = Some(SecretString::from(token.into()));
        self
    }

    /// The domain, e.g. `e2b.app` (the default) or a self-hosted one. A host name, with
    /// an optional port, without scheme or path.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// The control-plane URL. Defaults to `https://api.<domain>`, `http://localhost:3000`
    /// in debug mode, `<scheme>://<domain>/kruise/api` with [`RoutingMode::OpenKruise`].
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// One URL for every sandbox and port (e.g. a local E2B-compatible server); sandboxes
    /// and ports are then told apart by the routing headers only.
    pub fn sandbox_url(mut self, url: impl Into<String>) -> Self {
        self.sandbox_url = Some(url.into());
        self
    }

    /// The volume content API URL. Defaults to the control-plane URL,
    /// `http://localhost:8080` in debug mode.
    pub fn volume_api_url(mut self, url: impl Into<String>) -> Self {
        self.volume_api_url = Some(url.into());
        self
    }

    /// The timeout of one request (default 60 s). [`Duration::ZERO`] means no timeout.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// The timeout for establishing a connection (default 10 s). [`Duration::ZERO`] means
    /// no timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How many times a connection that could not be established is tried again (default
    /// 3; `0` turns retries off), with a short exponential backoff. Only retries that
    /// cannot repeat a side effect are made: a connection that failed before any byte of
    /// the request was sent (a TLS refusal, such as an untrusted certificate, is not tried
    /// again), and a `GET` (or `HEAD`, `OPTIONS`) whose connection broke before the
    /// response arrived. Requests whose body is a stream are sent once.
    pub fn connection_retries(mut self, retries: u32) -> Self {
        self.connection_retries = Some(retries);
        self
    }

    /// How long an idle pooled connection is kept for reuse (default 300 s).
    /// `Duration::ZERO` keeps none: every request opens a new connection.
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = Some(timeout);
        self
    }

    /// How many idle connections are kept per host (default 20). `0` keeps none.
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = Some(max);
        self
    }

    /// An extra header for control-plane requests (the official SDKs' `api_headers`).
    /// Later values for the same name replace earlier ones. Values are treated as secrets.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        push_header(&mut self.api_headers, name.into(), value.into());
        self
    }

    /// Extra headers for control-plane requests; see [`header`](Self::header).
    pub fn headers<K, V>(mut self, headers: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        for (k, v) in headers {
            push_header(&mut self.api_headers, k.into(), v.into());
        }
        self
    }

    /// An extra header for every sandbox request (e.g. a gateway's own authentication).
    /// It cannot replace the routing headers. Values are treated as secrets.
    pub fn sandbox_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        push_header(&mut self.sandbox_headers, name.into(), value.into());
        self
    }

    /// A proxy for all traffic: `http://`, `https://`, `socks5://` or `socks5h://` URL,
    /// optionally with credentials. Replaces any proxy from the environment.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = ProxyConfig::Explicit(url.into());
        self
    }

    /// Trust the certificate authorities in `pem` (one or more
    /// `-----BEGIN CERTIFICATE-----` blocks) in addition to the system's roots, in both of
    /// the SDK's HTTP clients (control plane and sandbox traffic, see
    /// [`HttpClient`](crate::raw::HttpClient)).
    ///
    /// For a self-hosted E2B whose `*.<domain>` certificate comes from a private CA, or a
    /// corporate proxy that inspects TLS. May be called more than once; every bundle is
    /// trusted. Certificates are public data: nothing secret belongs in `pem` (sections
    /// other than certificates, such as private keys, are ignored).
    ///
    /// The system's roots are the operating system's store; on Linux and the BSDs they are
    /// read from the usual CA bundle, or from the files named by `SSL_CERT_FILE` /
    /// `SSL_CERT_DIR` instead when those are set.
    ///
    /// ```
    /// # fn demo(ca_pem: &[u8]) -> Result<(), e2b_core::ConfigError> {
    /// let config = e2b_core::ConnectionConfig::builder()
    ///     .api_key("e2b_0123abcd")
    ///     .domain("e2b.example.internal")
    ///     .root_certificates_pem(ca_pem)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    ///
    /// [`build`](Self::build) fails with [`ConfigError::InvalidRootCertificate`] if a
    /// bundle holds no certificate.
    pub fn root_certificates_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.root_certificates.push(Arc::from(pem.as_ref()));
        self
    }

    /// Debug mode: no control-plane calls for sandbox lifecycle, control plane at
    /// `http://localhost:3000`, sandboxes at `http://localhost:<port>`.
    pub fn debug(mut self, debug: bool) -> Self {
        self.debug = Some(debug);
        self
    }

    /// Whether to check the API key format (`e2b_` + lowercase hex) when building
    /// (default `true`).
    pub fn validate_api_key(mut self, validate: bool) -> Self {
        self.validate_api_key = Some(validate);
        self
    }

    /// How sandboxes are addressed (default [`RoutingMode::Auto`]).
    pub fn routing_mode(mut self, mode: RoutingMode) -> Self {
        self.routing = Some(mode);
        self
    }

    /// Resolve and validate the configuration.
    ///
    /// # Errors
    ///
    /// - [`ConfigError::MissingApiKey`] if there is no API key, debug mode is off and no
    ///   access token is given;
    /// - [`ConfigError::InvalidApiKey`] if the key is not `e2b_` + lowercase hex and the
    ///   check is not disabled;
    /// - [`ConfigError::InvalidDomain`], [`ConfigError::InvalidUrl`],
    ///   [`ConfigError::InvalidHeader`], [`ConfigError::InvalidProxy`],
    ///   [`ConfigError::InvalidRootCertificate`] for malformed values.
    pub fn build(self) -> Result<ConnectionConfig, ConfigError> {
        let env = self.env.unwrap_or_default();
        let debug = self.debug.or(env.debug).unwrap_or(false);
        let validate_api_key = self
            .validate_api_key
            .or(env.validate_api_key)
            .unwrap_or(true);
        let mode = self.routing.unwrap_or_default();

        let domain = non_empty(self.domain)
            .or(env.domain)
            .map(|d| d.trim().trim_end_matches('.').to_owned())
            .unwrap_or_else(|| routing::DEFAULT_DOMAIN.to_owned());
        routing::validate_domain(&domain, routing::uses_subdomains(mode)).map_err(|reason| {
            ConfigError::InvalidDomain {
                value: domain.clone(),
                reason,
            }
        })?;

        let api_url = match non_empty(self.api_url).or(env.api_url) {
            Some(url) => validate_url("api url", env::E2B_API_URL, &url)?,
            None if debug => routing::DEBUG_API_URL.to_owned(),
            None => Routing::default_api_url(mode, &domain),
        };
        let sandbox_url = non_empty(self.sandbox_url)
            .or(env.sandbox_url)
            .map(|url| validate_url("sandbox url", env::E2B_SANDBOX_URL, &url))
            .transpose()?;
        let (volume_api_url, volume_api_url_fixed) =
            match non_empty(self.volume_api_url).or(env.volume_api_url) {
                Some(url) => (
                    validate_url("volume api url", env::E2B_VOLUME_API_URL, &url)?,
                    true,
                ),
                None if debug => (DEBUG_VOLUME_API_URL.to_owned(), true),
                None => (api_url.clone(), false),
            };

        let api_key = self.api_key.filter(not_blank).or(env.api_key);
        let access_token = self.access_token.filter(not_blank).or(env.access_token);
        match &api_key {
            Some(key) if validate_api_key => {
                if !is_valid_api_key(key.expose_secret()) {
                    return Err(ConfigError::InvalidApiKey);
                }
            }
            Some(_) => {}
            None if debug || access_token.is_some() => {}
            None => return Err(ConfigError::MissingApiKey),
        }

        let proxy = match self.proxy {
            ProxyConfig::Explicit(url) if url.trim().is_empty() => ProxyConfig::None,
            ProxyConfig::Explicit(url) => {
                let url = url.trim().to_owned();
                validate_proxy(&url)?;
                ProxyConfig::Explicit(url)
            }
            ProxyConfig::Env(p) => ProxyConfig::Env(p),
            ProxyConfig::None if env.proxy.is_empty() => ProxyConfig::None,
            ProxyConfig::None => {
                for url in [&env.proxy.https, &env.proxy.http, &env.proxy.all]
                    .into_iter()
                    .flatten()
                {
                    validate_proxy(url)?;
                }
                ProxyConfig::Env(env.proxy)
            }
        };

        let root_certificates = RootCertificates::parse(self.root_certificates)?;
        let api_headers = header_map(self.api_headers)?;
        let sandbox_headers = header_map(self.sandbox_headers)?;
        let connection_retries = match self.connection_retries {
            Some(n) => n,
            None => parse_env(
                env::E2B_CONNECTION_RETRIES,
                env.connection_retries.as_deref(),
            )?
            .unwrap_or(DEFAULT_CONNECTION_RETRIES),
        };
        let pool_idle_timeout = match self.pool_idle_timeout {
            Some(d) => d,
            None => parse_env::<f64>(env::E2B_KEEPALIVE_EXPIRY, env.keepalive_expiry.as_deref())?
                .map(|secs| {
                    Duration::try_from_secs_f64(secs).map_err(|_| ConfigError::InvalidNumber {
                        variable: env::E2B_KEEPALIVE_EXPIRY,
                        value: secs.to_string(),
                    })
                })
                .transpose()?
                .unwrap_or(DEFAULT_POOL_IDLE_TIMEOUT),
        };
        let pool_max_idle_per_host = match self.pool_max_idle_per_host {
            Some(n) => n,
            None => parse_env(
                env::E2B_MAX_KEEPALIVE_CONNECTIONS,
                env.max_keepalive_connections.as_deref(),
            )?
            .unwrap_or(DEFAULT_POOL_MAX_IDLE_PER_HOST),
        };
        let request_timeout =
            Some(self.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT)).filter(|d| !d.is_zero());
        let connect_timeout =
            Some(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT)).filter(|d| !d.is_zero());

        let routing = Routing::new(
            mode,
            domain.clone(),
            debug,
            sandbox_url.clone(),
            api_url.clone(),
            sandbox_headers.clone(),
        );
        // (`debug` itself would be shadowed by the macro's `tracing::field::debug` import.)
        let debug_mode = debug;
        tracing::debug!(
            api_url = %redact_url(&api_url),
            %domain,
            sandbox_url = sandbox_url.as_deref().map(redact_url),
            debug_mode,
            routing_mode = ?mode,
            "resolved e2b connection config"
        );
        Ok(ConnectionConfig {
            api_key,
            access_token,
            domain,
            api_url,
            sandbox_url,
            volume_api_url,
            volume_api_url_fixed,
            request_timeout,
            connect_timeout,
            connection_retries,
            pool_idle_timeout,
            pool_max_idle_per_host,
            api_headers,
            sandbox_headers,
            proxy,
            root_certificates,
            debug,
            validate_api_key,
            routing,
        })
    }
}

impl fmt::Debug for ConnectionConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn names(hs: &[PendingHeader]) -> Vec<&str> {
            hs.iter().map(PendingHeader::name).collect()
        }
        f.debug_struct("ConnectionConfigBuilder")
            .field("api_key", &redacted(&self.api_key))
            .field("access_token", &redacted(&self.access_token))
            .field("domain", &self.domain)
            .field("api_url", &self.api_url.as_deref().map(redact_url))
            .field("sandbox_url", &self.sandbox_url.as_deref().map(redact_url))
            .field(
                "volume_api_url",
                &self.volume_api_url.as_deref().map(redact_url),
            )
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("connection_retries", &self.connection_retries)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .field("api_headers", &names(&self.api_headers))
            .field("sandbox_headers", &names(&self.sandbox_headers))
            .field("proxy", &self.proxy)
            .field("root_certificates", &self.root_certificates.len())
            .field("debug", &self.debug)
            .field("validate_api_key", &self.validate_api_key)
            .field("routing_mode", &self.routing)
            .field("env", &self.env)
            .finish()
    }
}

/// A numeric environment variable: `None` when unset, an error naming it when malformed.
fn parse_env<T: std::str::FromStr>(
    variable: &'static str,
    value: Option<&str>,
) -> Result<Option<T>, ConfigError> {
    value
        .map(|v| {
            v.trim().parse().map_err(|_| ConfigError::InvalidNumber {
                variable,
                value: v.to_owned(),
            })
        })
        .transpose()
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn not_blank(secret: &SecretString) -> bool {
    !secrecy::ExposeSecret::expose_secret(secret)
        .trim()
        .is_empty()
}

/// Check a header given to the builder; failures are reported by `build`, by name only.
fn push_header(list: &mut Vec<PendingHeader>, name: String, value: String) {
    let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
        list.push(PendingHeader::Invalid {
            name,
            reason: "not a valid header name",
        });
        return;
    };
    match HeaderValue::from_str(&value) {
        Ok(mut value) => {
            value.set_sensitive(true);
            list.push(PendingHeader::Valid(header, value));
        }
        Err(_) => list.push(PendingHeader::Invalid {
            name,
            reason: "the value has characters not allowed in a header value",
        }),
    }
}

fn header_map(list: Vec<PendingHeader>) -> Result<HeaderMap, ConfigError> {
    let mut map = HeaderMap::new();
    for header in list {
        match header {
            PendingHeader::Valid(name, value) => {
                map.insert(name, value);
            }
            PendingHeader::Invalid { name, reason } => {
                return Err(ConfigError::InvalidHeader { name, reason });
            }
        }
    }
    Ok(map)
}

fn validate_url(
    setting: &'static str,
    var: &'static str,
    url: &str,
) -> Result<String, ConfigError> {
    let trimmed = url.trim().trim_end_matches('/');
    let invalid = |reason: String| ConfigError::InvalidUrl {
        setting,
        variable: var,
        value: redact_url(trimmed),
        reason,
    };
    let parsed = url::Url::parse(trimmed).map_err(|e| invalid(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "the scheme must be http or https, not `{}`",
            parsed.scheme()
        )));
    }
    if parsed.host_str().is_none() {
        return Err(invalid("it has no host".into()));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("it must not have a query or fragment".into()));
    }
    Ok(trimmed.to_owned())
}

fn validate_proxy(url: &str) -> Result<(), ConfigError> {
    reqwest::Proxy::all(url)
        .map(drop)
        .map_err(|_| ConfigError::InvalidProxy {
            value: redact_url(url),
        })
}

/// A configuration problem, found when building a [`ConnectionConfig`].
///
/// Messages never contain secrets.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No API key was given.
    #[error(
        "no api key: set the E2B_API_KEY environment variable or pass one to \
         ConnectionConfigBuilder::api_key (create a key at https://e2b.dev/dashboard?tab=keys)"
    )]
    MissingApiKey,
    /// The API key does not have the format E2B issues.
    #[error(
        "invalid api key format: expected `e2b_` followed by lowercase hex digits; check \
         E2B_API_KEY, or set E2B_VALIDATE_API_KEY=false for keys of another format"
    )]
    InvalidApiKey,
    /// The domain is not a host name.
    #[error("invalid domain `{value}` (E2B_DOMAIN): {reason}")]
    InvalidDomain {
        /// The value given.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A URL setting is malformed.
    #[error("invalid {setting} `{value}` ({variable}): {reason}")]
    InvalidUrl {
        /// Which setting (`"api url"`, `"sandbox url"`, `"volume api url"`).
        setting: &'static str,
        /// The environment variable for the same setting.
        variable: &'static str,
        /// The value given, with credentials redacted.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// An extra header has an invalid name or value.
    #[error("invalid header `{name}`: {reason}")]
    InvalidHeader {
        /// The header name as given.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The proxy URL is malformed.
    #[error("invalid proxy url `{value}`: use an http://, https://, socks5:// or socks5h:// url")]
    InvalidProxy {
        /// The value given, with credentials redacted.
        value: String,
    },
    /// A numeric environment variable (`E2B_CONNECTION_RETRIES`, `E2B_KEEPALIVE_EXPIRY`,
    /// `E2B_MAX_KEEPALIVE_CONNECTIONS`) is not a non-negative number.
    #[error("invalid {variable} `{value}`: expected a non-negative number")]
    InvalidNumber {
        /// The variable.
        variable: &'static str,
        /// The value given.
        value: String,
    },
    /// A PEM bundle given as extra trusted roots holds no usable certificate.
    #[error(
        "invalid root certificate: {reason}; pass PEM text with one or more \
         `-----BEGIN CERTIFICATE-----` blocks"
    )]
    InvalidRootCertificate {
        /// Which bundle (counted from 1, in the order given) and what is wrong with it.
        reason: String,
    },
}

impl ConfigError {
    /// The environment variable to look at, if the problem is tied to one.
    pub fn variable(&self) -> Option<&'static str> {
        match self {
            ConfigError::MissingApiKey | ConfigError::InvalidApiKey => Some(env::E2B_API_KEY),
            ConfigError::InvalidDomain { .. } => Some(env::E2B_DOMAIN),
            ConfigError::InvalidUrl { variable, .. }
            | ConfigError::InvalidNumber { variable, .. } => Some(variable),
            ConfigError::InvalidHeader { .. }
            | ConfigError::InvalidProxy { .. }
            | ConfigError::InvalidRootCertificate { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::tests::lookup;
    use crate::routing::Scheme;

    const KEY: &str = "e2b_0123456789abcdef";

    fn from(vars: &[(&str, &str)]) -> ConnectionConfigBuilder {
        ConnectionConfig::builder().env_from(lookup(vars))
    }

    #[test]
    fn defaults() {
        let c = ConnectionConfig::builder().api_key(KEY).build().unwrap();
        assert_eq!(c.api_key().unwrap().expose_secret(), KEY);
        assert!(c.access_token().is_none());
        assert_eq!(c.domain(), "e2b.app");
        assert_eq!(c.api_url(), "https://api.e2b.app");
        assert_eq!(c.volume_api_url(), "https://api.e2b.app");
        assert_eq!(c.sandbox_url(), None);
        assert_eq!(c.request_timeout(), Some(Duration::from_secs(60)));
        assert_eq!(c.connect_timeout(), Some(Duration::from_secs(10)));
        assert!(c.api_headers().is_empty());
        assert_eq!(c.proxy(), None);
        assert_eq!(*c.proxy_config(), ProxyConfig::None);
        assert!(!c.is_debug());
        assert!(c.validates_api_key());
        assert_eq!(c.routing_mode(), RoutingMode::Auto);
        assert_eq!(c.routing().api_url(), c.api_url());
    }

    #[test]
    fn pool_and_retry_settings_follow_the_official_variables() {
        let c = from(&[("E2B_API_KEY", KEY)]).build().unwrap();
        assert_eq!(c.connection_retries(), 3);
        assert_eq!(c.pool_idle_timeout(), Duration::from_secs(300));
        assert_eq!(c.pool_max_idle_per_host(), 20);
        // Empty values (a `VAR=` line in a dotenv file) are the defaults, as upstream.
        let c = from(&[
            ("E2B_API_KEY", KEY),
            ("E2B_CONNECTION_RETRIES", ""),
            ("E2B_KEEPALIVE_EXPIRY", " "),
            ("E2B_MAX_KEEPALIVE_CONNECTIONS", ""),
        ])
        .build()
        .unwrap();
        assert_eq!(c.connection_retries(), 3);
        assert_eq!(c.pool_idle_timeout(), Duration::from_secs(300));
        let env = [
            ("E2B_API_KEY", KEY),
            ("E2B_CONNECTION_RETRIES", "5"),
            ("E2B_KEEPALIVE_EXPIRY", "42.5"),
            ("E2B_MAX_KEEPALIVE_CONNECTIONS", "7"),
        ];
        let c = from(&env).build().unwrap();
        assert_eq!(c.connection_retries(), 5);
        assert_eq!(c.pool_idle_timeout(), Duration::from_millis(42_500));
        assert_eq!(c.pool_max_idle_per_host(), 7);
        // Explicit settings win, and survive `to_builder`.
        let c = from(&env)
            .connection_retries(0)
            .pool_idle_timeout(Duration::ZERO)
            .pool_max_idle_per_host(1)
            .build()
            .unwrap();
        assert_eq!(c.connection_retries(), 0);
        assert_eq!(c.pool_idle_timeout(), Duration::ZERO);
        assert_eq!(c.pool_max_idle_per_host(), 1);
        let d = c.to_builder().build().unwrap();
        assert_eq!(d.connection_retries(), 0);
        assert_eq!(d.pool_max_idle_per_host(), 1);
        // Malformed values name their variable.
        for (var, bad) in [
            ("E2B_CONNECTION_RETRIES", "three"),
            ("E2B_CONNECTION_RETRIES", "-1"),
            ("E2B_KEEPALIVE_EXPIRY", "-5"),
            ("E2B_KEEPALIVE_EXPIRY", "soon"),
            ("E2B_MAX_KEEPALIVE_CONNECTIONS", "1.5"),
        ] {
            let err = from(&[("E2B_API_KEY", KEY), (var, bad)])
                .build()
                .unwrap_err();
            assert!(matches!(err, ConfigError::InvalidNumber { .. }), "{err}");
            assert_eq!(err.variable(), Some(var));
            assert!(err.to_string().contains(var), "{err}");
        }
    }

    #[test]
    fn builder_ignores_environment_unless_asked() {
        // The process environment may hold anything; a plain builder must not read it.
        let err = ConnectionConfig::builder().build().unwrap_err();
        assert_eq!(err, ConfigError::MissingApiKey);
    }

    #[test]
    fn from_env_reads_every_variable() {
        let c = from(&[
            ("E2B_API_KEY", KEY),
            ("E2B_ACCESS_TOKEN", "sk_tok"),
            ("E2B_DOMAIN", "example.com"),
            ("E2B_API_URL", "http://127.0.0.1:3000/"),
            ("E2B_SANDBOX_URL", "http://127.0.0.1:49983"),
            ("E2B_VOLUME_API_URL", "http://127.0.0.1:8080"),
            ("E2B_VALIDATE_API_KEY", "false"),
            ("HTTPS_PROXY", "http://proxy:3128"),
        ])
        .build()
        .unwrap();
        assert_eq!(c.api_key().unwrap().expose_secret(), KEY);
        assert_eq!(c.access_token().unwrap().expose_secret(), "sk_tok");
        assert_eq!(c.domain(), "example.com");
        assert_eq!(c.api_url(), "http://127.0.0.1:3000");
        assert_eq!(c.sandbox_url(), Some("http://127.0.0.1:49983"));
        assert_eq!(c.volume_api_url(), "http://127.0.0.1:8080");
        assert!(!c.validates_api_key());
        assert!(
            matches!(c.proxy_config(), ProxyConfig::Env(p) if p.https.as_deref() == Some("http://proxy:3128"))
        );
        assert_eq!(c.proxy(), None);
    }

    #[test]
    fn explicit_settings_beat_environment_in_any_order() {
        let env = [
            ("E2B_API_KEY", "e2b_aaaa"),
            ("E2B_ACCESS_TOKEN", "env_token"),
            ("E2B_DOMAIN", "env.example"),
            ("E2B_API_URL", "http://env:3000"),
            ("E2B_SANDBOX_URL", "http://env:49983"),
            ("E2B_VOLUME_API_URL", "http://env:8080"),
            ("E2B_DEBUG", "true"),
            ("E2B_VALIDATE_API_KEY", "false"),
            ("HTTPS_PROXY", "http://env-proxy:1"),
        ];
        let set = |b: ConnectionConfigBuilder| {
            b.api_key("e2b_bbbb")
                .access_token("explicit_token")
                .domain("explicit.example")
                .api_url("https://explicit-api")
                .sandbox_url("https://explicit-sbx")
                .volume_api_url("https://explicit-vol")
                .debug(false)
                .validate_api_key(true)
                .proxy("http://explicit-proxy:2")
        };
        let before = set(from(&env)).build().unwrap();
        let after = set(ConnectionConfig::builder())
            .env_from(lookup(&env))
            .build()
            .unwrap();
        for c in [before, after] {
            assert_eq!(c.api_key().unwrap().expose_secret(), "e2b_bbbb");
            assert_eq!(c.access_token().unwrap().expose_secret(), "explicit_token");
            assert_eq!(c.domain(), "explicit.example");
            assert_eq!(c.api_url(), "https://explicit-api");
            assert_eq!(c.sandbox_url(), Some("https://explicit-sbx"));
            assert_eq!(c.volume_api_url(), "https://explicit-vol");
            assert!(!c.is_debug());
            assert!(c.validates_api_key());
            assert_eq!(c.proxy(), Some("http://explicit-proxy:2"));
        }
    }

    #[test]
    fn empty_explicit_values_fall_back_to_environment() {
        let c = from(&[("E2B_API_KEY", KEY), ("E2B_DOMAIN", "env.example")])
            .api_key("")
            .domain(" ")
            .build()
            .unwrap();
        assert_eq!(c.api_key().unwrap().expose_secret(), KEY);
        assert_eq!(c.domain(), "env.example");
    }

    #[test]
    fn missing_key_names_the_variable() {
        let err = from(&[]).build().unwrap_err();
        assert_eq!(err, ConfigError::MissingApiKey);
        assert!(err.to_string().contains("E2B_API_KEY"));
        assert_eq!(err.variable(), Some("E2B_API_KEY"));
    }

    #[test]
    fn key_not_required_in_debug_or_with_access_token() {
        let c = from(&[("E2B_DEBUG", "true")]).build().unwrap();
        assert!(c.is_debug());
        assert!(c.api_key().is_none());
        let c = from(&[("E2B_ACCESS_TOKEN", "tok")]).build().unwrap();
        assert!(c.api_key().is_none());
    }

    #[test]
    fn invalid_key_format_is_rejected_unless_disabled() {
        let err = from(&[("E2B_API_KEY", "sk_live_SECRET")])
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::InvalidApiKey);
        assert!(!err.to_string().contains("SECRET"));
        assert!(err.to_string().contains("E2B_VALIDATE_API_KEY=false"));
        // Also in debug mode: a key that is given must be well-formed.
        let err = from(&[("E2B_API_KEY", "bad"), ("E2B_DEBUG", "true")])
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::InvalidApiKey);
        // Disabled through the environment or explicitly.
        let c = from(&[("E2B_API_KEY", "bad"), ("E2B_VALIDATE_API_KEY", "FALSE")])
            .build()
            .unwrap();
        assert_eq!(c.api_key().unwrap().expose_secret(), "bad");
        assert!(
            ConnectionConfig::builder()
                .api_key("bad")
                .validate_api_key(false)
                .build()
                .is_ok()
        );
    }

    #[test]
    fn debug_defaults() {
        let c = from(&[("E2B_DEBUG", "TRUE")]).build().unwrap();
        assert_eq!(c.api_url(), "http://localhost:3000");
        assert_eq!(c.volume_api_url(), "http://localhost:8080");
        assert!(c.routing().is_debug());
        // An explicit api url still wins over debug.
        let c = from(&[("E2B_DEBUG", "true"), ("E2B_API_URL", "http://127.0.0.1:9")])
            .build()
            .unwrap();
        assert_eq!(c.api_url(), "http://127.0.0.1:9");
        assert_eq!(c.volume_api_url(), "http://localhost:8080");
    }

    #[test]
    fn api_url_follows_domain_and_routing_mode() {
        let c = from(&[("E2B_API_KEY", KEY), ("E2B_DOMAIN", "my.domain")])
            .build()
            .unwrap();
        assert_eq!(c.api_url(), "https://api.my.domain");
        assert_eq!(c.volume_api_url(), "https://api.my.domain");
        let c = from(&[("E2B_API_KEY", KEY), ("E2B_DOMAIN", "gw.local:8080")])
            .routing_mode(RoutingMode::OpenKruise {
                scheme: Scheme::Http,
            })
            .build()
            .unwrap();
        assert_eq!(c.api_url(), "http://gw.local:8080/kruise/api");
        assert_eq!(
            c.routing().sandbox("sbx", None).unwrap().envd_url(),
            "http://gw.local:8080/kruise/sbx/49983"
        );
    }

    #[test]
    fn ip_domains_need_path_routing() {
        let b = || {
            ConnectionConfig::builder()
                .api_key(KEY)
                .domain("10.0.0.5:8080")
        };
        let err = b().build().unwrap_err();
        assert!(matches!(err, ConfigError::InvalidDomain { .. }), "{err}");
        let c = b()
            .routing_mode(RoutingMode::OpenKruise {
                scheme: Scheme::Http,
            })
            .build()
            .unwrap();
        assert_eq!(c.api_url(), "http://10.0.0.5:8080/kruise/api");
    }

    #[test]
    fn a_volume_domain_applies_unless_the_volume_url_is_fixed() {
        let c = ConnectionConfig::builder().api_key(KEY).build().unwrap();
        assert_eq!(c.volume_api_url_for(None), "https://api.e2b.app");
        assert_eq!(
            c.volume_api_url_for(Some("byoc.example")),
            "https://api.byoc.example"
        );
        let fixed = ConnectionConfig::builder()
            .api_key(KEY)
            .volume_api_url("http://127.0.0.1:9")
            .build()
            .unwrap();
        assert_eq!(
            fixed.volume_api_url_for(Some("byoc.example")),
            "http://127.0.0.1:9"
        );
        // Deriving a variant keeps the URL as it was chosen.
        let derived = c.to_builder().build().unwrap();
        assert_eq!(
            derived.volume_api_url_for(Some("byoc.example")),
            "https://api.byoc.example"
        );
        let derived = fixed.to_builder().build().unwrap();
        assert_eq!(
            derived.volume_api_url_for(Some("byoc.example")),
            "http://127.0.0.1:9"
        );
    }

    #[test]
    fn volume_api_url_defaults_to_explicit_api_url() {
        let c = ConnectionConfig::builder()
            .api_key(KEY)
            .api_url("http://127.0.0.1:3000")
            .build()
            .unwrap();
        assert_eq!(c.volume_api_url(), "http://127.0.0.1:3000");
    }

    #[test]
    fn request_timeout_zero_means_none() {
        let c = ConnectionConfig::builder()
            .api_key(KEY)
            .request_timeout(Duration::ZERO)
            .connect_timeout(Duration::ZERO)
            .build()
            .unwrap();
        assert_eq!(c.request_timeout(), None);
        assert_eq!(c.connect_timeout(), None);
    }

    #[test]
    fn malformed_values_are_typed_errors() {
        let b = || ConnectionConfig::builder().api_key(KEY);
        let err = b().domain("https://e2b.app").build().unwrap_err();
        assert!(matches!(err, ConfigError::InvalidDomain { .. }), "{err}");
        assert_eq!(err.variable(), Some("E2B_DOMAIN"));

        let err = b().api_url("not a url").build().unwrap_err();
        assert!(matches!(
            err,
            ConfigError::InvalidUrl {
                setting: "api url",
                ..
            }
        ));
        assert_eq!(err.variable(), Some("E2B_API_URL"));
        let err = b().sandbox_url("ftp://x").build().unwrap_err();
        assert_eq!(err.variable(), Some("E2B_SANDBOX_URL"));
        let err = b().volume_api_url("http://x/?q").build().unwrap_err();
        assert_eq!(err.variable(), Some("E2B_VOLUME_API_URL"));

        let err = b().proxy("::not a proxy").build().unwrap_err();
        assert!(matches!(err, ConfigError::InvalidProxy { .. }), "{err}");
        let err = from(&[("E2B_API_KEY", KEY), ("ALL_PROXY", "::bad")])
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::InvalidProxy { .. }), "{err}");

        let err = b().header("bad name", "v").build().unwrap_err();
        assert!(matches!(&err, ConfigError::InvalidHeader { name, .. } if name == "bad name"));
        let err = b()
            .sandbox_header("x-ok", "bad\nSECRET")
            .build()
            .unwrap_err();
        assert!(matches!(&err, ConfigError::InvalidHeader { name, .. } if name == "x-ok"));
        assert!(!err.to_string().contains("SECRET"));
    }

    #[test]
    fn url_errors_redact_credentials() {
        let err = ConnectionConfig::builder()
            .api_key(KEY)
            .api_url("ftp://user:hunter2@host")
            .build()
            .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = ConnectionConfig::builder()
            .api_key(KEY)
            .proxy("bogus://user:hunter2@host")
            .build();
        if let Err(err) = err {
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn headers_are_collected_and_sensitive() {
        let c = ConnectionConfig::builder()
            .api_key(KEY)
            .header("X-Team", "t1")
            .headers([("x-a", "1"), ("x-team", "t2")])
            .sandbox_header("x-gw", "g")
            .build()
            .unwrap();
        assert_eq!(c.api_headers()["x-team"], "t2");
        assert_eq!(c.api_headers()["x-a"], "1");
        assert!(c.api_headers()["x-a"].is_sensitive());
        assert_eq!(c.sandbox_headers()["x-gw"], "g");
        let h = c
            .routing()
            .sandbox("s", None)
            .unwrap()
            .headers(1, None)
            .unwrap();
        assert_eq!(h["x-gw"], "g");
    }

    #[test]
    fn debug_output_never_contains_secrets() {
        let key = "e2b_5ec7e75ec7e7";
        let token = "sk_e2b_access_token_value";
        let c = ConnectionConfig::builder()
            .api_key(key)
            .access_token(token)
            .header("x-custom-auth", "header-secret-value")
            .proxy("http://proxyuser:proxy-password@proxy:3128")
            .build()
            .unwrap();
        let builder = c.to_builder();
        for out in [format!("{c:?}"), format!("{c:#?}"), format!("{builder:?}")] {
            assert!(!out.contains(key), "{out}");
            assert!(!out.contains("5ec7e7"), "{out}");
            assert!(!out.contains(token), "{out}");
            assert!(!out.contains("header-secret-value"), "{out}");
            assert!(!out.contains("proxy-password"), "{out}");
            assert!(out.contains("[REDACTED]"), "{out}");
        }
        let env_builder = from(&[("E2B_API_KEY", key), ("E2B_ACCESS_TOKEN", token)]);
        let out = format!("{env_builder:?}");
        assert!(!out.contains(key) && !out.contains(token), "{out}");
    }

    #[test]
    fn root_certificates_must_hold_a_certificate() {
        let b = || ConnectionConfig::builder().api_key(KEY);
        assert_eq!(b().build().unwrap().root_certificate_count(), 0);
        for bad in [
            &b"not pem at all"[..],
            b"",
            b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
            b"-----BEGIN CERTIFICATE-----\n%%%%\n-----END CERTIFICATE-----\n",
        ] {
            let err = b().root_certificates_pem(bad).build().unwrap_err();
            assert!(
                matches!(err, ConfigError::InvalidRootCertificate { .. }),
                "{err}"
            );
            assert!(err.to_string().contains("bundle 1"), "{err}");
            assert_eq!(err.variable(), None);
        }
        // Two certificates in one bundle, one in another (the content is only decoded here;
        // the TLS stack checks it when it connects, see `http.rs`).
        let cert = "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";
        let c = b()
            .root_certificates_pem(format!("{cert}{cert}"))
            .root_certificates_pem(cert.as_bytes())
            .build()
            .unwrap();
        assert_eq!(c.root_certificate_count(), 3);
        assert!(format!("{c:?}").contains("root_certificates: 3"), "{c:?}");
        assert_eq!(c.to_builder().build().unwrap().root_certificate_count(), 3);
        let err = b()
            .root_certificates_pem(cert)
            .root_certificates_pem("junk")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("bundle 2"), "{err}");
    }

    #[test]
    fn to_builder_round_trips() {
        let c = from(&[
            ("E2B_API_KEY", KEY),
            ("E2B_SANDBOX_URL", "http://127.0.0.1:49983"),
            ("NO_PROXY", "localhost"),
            ("HTTP_PROXY", "http://p:1"),
        ])
        .header("x-a", "1")
        .request_timeout(Duration::ZERO)
        .routing_mode(RoutingMode::SharedHost)
        .build()
        .unwrap();
        let d = c.to_builder().build().unwrap();
        assert_eq!(format!("{c:?}"), format!("{d:?}"));
        assert_eq!(d.request_timeout(), None);
        assert_eq!(d.api_headers()["x-a"], "1");
        assert_eq!(d.proxy_config(), c.proxy_config());
        let e = c
            .to_builder()
            .request_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        assert_eq!(e.request_timeout(), Some(Duration::from_secs(5)));
    }

    #[test]
    fn process_env_is_readable() {
        // Only checks that reading the real environment works; values are not asserted.
        let _ = ConnectionConfig::builder().env().debug(true).build();
    }
}
