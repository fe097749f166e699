//! [`Sandbox`]: a handle on one sandbox.

mod builder;
mod connect;
pub(crate) mod control;
mod options;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use e2b_core::routing::Scheme;
use e2b_core::{
    EnvdFeature, EnvdVersion, Error, MCP_PORT, NotFoundKind, Result, RoutingMode, SandboxRoute,
    SecretString,
};
use tracing::Instrument as _;

pub use builder::{DEFAULT_SANDBOX_TIMEOUT, DEFAULT_TEMPLATE, SandboxBuilder};
pub use options::{ConnectOptions, ForkOptions, MetricsOptions, PauseOptions, SnapshotOptions};

use crate::client::Client;
use crate::commands::Commands;
use crate::convert::SandboxCreated;
use crate::envd::Envd;
use crate::info::{SandboxInfo, SandboxMetrics, SnapshotInfo};
use crate::list::{SnapshotList, SnapshotListOptions};
use crate::network::NetworkUpdate;
use crate::pty::Pty;

/// The sandbox id used in debug mode, where no control plane is asked.
pub const DEBUG_SANDBOX_ID: &str = "debug_sandbox_id";

/// Where the MCP gateway keeps its access token inside the sandbox.
const MCP_TOKEN_PATH: &str = "/etc/mcp-gateway/.token";

/// A sandbox: an isolated Linux machine with a filesystem, processes and network, created
/// with [`Sandbox::builder`] / [`Sandbox::create`] or reached with [`Sandbox::connect`].
///
/// Cheap to clone; clones share everything. Dropping a `Sandbox` does **not** kill the
/// sandbox (it lives until [`kill`](Self::kill) or its timeout): Rust has no async drop, and
/// other processes may still use it.
///
/// ```no_run
/// # async fn demo() -> e2b_sandbox::Result<()> {
/// use e2b_sandbox::{Client, CommandOptions, Sandbox};
///
/// let client = Client::from_env()?;
/// let sandbox = Sandbox::create(&client).await?;
/// let result = sandbox.commands().run("uname -a").await?;
/// println!("{}", result.stdout);
/// sandbox.kill().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
    client: Client,
    /// The user envd runs commands, terminals and file operations as; `None` is the
    /// template's default user.
    user: Option<Arc<str>>,
}

struct Inner {
    id: String,
    template_id: Option<String>,
    alias: Option<String>,
    route: SandboxRoute,
    envd: Envd,
    envd_access_token: Option<SecretString>,
    traffic_access_token: Option<SecretString>,
    mcp_token: Mutex<Option<SecretString>>,
}

impl Sandbox {
    /// A handle for a sandbox the control plane returned (create, connect, fork).
    pub(crate) fn from_created(client: &Client, created: SandboxCreated) -> Result<Sandbox> {
        let version = EnvdVersion::parse(&created.envd_version)?;
        let route = client
            .config()
            .routing()
            .sandbox(&created.sandbox_id, created.domain.as_deref())?;
        let envd_access_token = created.envd_access_token.map(SecretString::from);
        let envd = Envd::new(client.http(), &route, envd_access_token.as_ref(), version)?;
        Ok(Sandbox {
            inner: Arc::new(Inner {
                id: created.sandbox_id,
                template_id: Some(created.template_id).filter(|t| !t.is_empty()),
                alias: created.alias,
                route,
                envd,
                envd_access_token,
                traffic_access_token: created.traffic_access_token.map(SecretString::from),
                mcp_token: Mutex::new(None),
            }),
            client: client.clone(),
            user: None,
        })
    }

    /// The handle used in debug mode: envd at `localhost`, version 99.99.99, no tokens.
    pub(crate) fn debug(client: &Client, id: &str) -> Result<Sandbox> {
        Sandbox::from_created(
            client,
            SandboxCreated {
                sandbox_id: id.to_owned(),
                template_id: String::new(),
                alias: None,
                domain: None,
                envd_version: EnvdVersion::debug_fallback().version().to_string(),
                envd_access_token: None,
                traffic_access_token: None,
            },
        )
    }

    /// A builder for a new sandbox (template `base`, timeout 300 s, secure).
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::new()
    }

    /// Create a sandbox with the default options (see [`Sandbox::builder`]).
    ///
    /// # Errors
    ///
    /// The errors of [`SandboxBuilder::create`].
    pub async fn create(client: &Client) -> Result<Sandbox> {
        SandboxBuilder::new().create(client).await
    }

    /// Connect to a sandbox by id, resuming it if it is paused; its timeout is extended to
    /// 300 s from now if that is later than its current end.
    ///
    /// # Errors
    ///
    /// Not found (of kind [`Sandbox`](NotFoundKind::Sandbox)) if no running or paused sandbox
    /// has this id; authentication, rate-limit and request-timeout errors.
    pub async fn connect(client: &Client, sandbox_id: &str) -> Result<Sandbox> {
        Sandbox::connect_with(client, sandbox_id, ConnectOptions::new()).await
    }

    /// [`Sandbox::connect`] with options (the timeout to extend to).
    ///
    /// # Errors
    ///
    /// The errors of [`Sandbox::connect`].
    pub async fn connect_with(
        client: &Client,
        sandbox_id: &str,
        options: ConnectOptions,
    ) -> Result<Sandbox> {
        connect::connect(client, sandbox_id, options).await
    }

    /// The sandbox id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The id of the template the sandbox was created from, when the control plane said.
    pub fn template_id(&self) -> Option<&str> {
        self.inner.template_id.as_deref()
    }

    /// The template's name, when the control plane said.
    pub fn template_alias(&self) -> Option<&str> {
        self.inner.alias.as_deref()
    }

    /// The domain the sandbox is served under.
    pub fn sandbox_domain(&self) -> &str {
        self.inner.route.domain()
    }

    /// The version of envd inside the sandbox (gates features, like the official SDKs).
    pub fn envd_version(&self) -> &EnvdVersion {
        self.inner.envd.version()
    }

    /// The base URL of the sandbox's envd (requests to it carry the routing headers).
    pub fn envd_url(&self) -> &str {
        self.inner.envd.base_url()
    }

    /// The token envd requires on every request (secure sandboxes), sent as
    /// `X-Access-Token`. A secret: never printed.
    pub fn envd_access_token(&self) -> Option<&SecretString> {
        self.inner.envd_access_token.as_ref()
    }

    /// The token ports of a sandbox without public traffic require, sent as
    /// `E2B-Traffic-Access-Token`. A secret: never printed.
    pub fn traffic_access_token(&self) -> Option<&SecretString> {
        self.inner.traffic_access_token.as_ref()
    }

    /// The client this handle uses.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The deadline of one request to the control plane or envd; `None` means none.
    pub fn request_timeout(&self) -> Option<Duration> {
        self.client.request_timeout()
    }

    /// A handle on the same sandbox whose requests use another deadline (`Duration::ZERO` or
    /// `None`: none).
    #[must_use]
    pub fn with_request_timeout(&self, timeout: impl Into<Option<Duration>>) -> Sandbox {
        Sandbox {
            inner: Arc::clone(&self.inner),
            client: self.client.with_request_timeout(timeout),
            user: self.user.clone(),
        }
    }

    /// The user commands, terminals, git and file operations of this handle run as; `None`
    /// is the template's default user (set with [`with_user`](Self::with_user)).
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// A handle on the same sandbox whose commands, terminals, git and file operations
    /// (including signed file URLs) run as `user` (e.g. `root`) instead of the template's
    /// default user. This is the one way to choose the user; the handle is cheap.
    ///
    /// ```no_run
    /// # async fn demo(sandbox: e2b_sandbox::Sandbox) -> e2b_sandbox::Result<()> {
    /// let root = sandbox.with_user("root");
    /// root.commands().run("apt-get update").await?;
    /// root.files().write("/etc/motd", "hello").await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_user(&self, user: impl Into<String>) -> Sandbox {
        Sandbox {
            inner: Arc::clone(&self.inner),
            client: self.client.clone(),
            user: Some(Arc::from(user.into())),
        }
    }

    /// Commands: run, spawn, connect, list, kill, stdin.
    pub fn commands(&self) -> Commands<'_> {
        Commands::new(self)
    }

    /// Files: read, write, list, stat, create, move, remove, watch.
    pub fn files(&self) -> crate::Files<'_> {
        crate::Files::new(self)
    }

    /// Git: clone, commit, push, pull and the rest, run inside the sandbox.
    pub fn git(&self) -> crate::Git<'_> {
        crate::Git::new(self)
    }

    /// Pseudo-terminals.
    pub fn pty(&self) -> Pty<'_> {
        Pty::new(self)
    }

    pub(crate) fn envd(&self) -> &Envd {
        &self.inner.envd
    }

    /// The base URL that reaches `port` without routing headers: the per-sandbox host (or
    /// the sandbox URL override, or `localhost` in debug mode), never the shared host. For
    /// URLs handed to other clients, such as signed file URLs.
    pub(crate) fn direct_url(&self, port: u16) -> String {
        self.inner.route.direct_url(port)
    }

    /// The host under which a port of the sandbox is exposed: `<port>-<id>.<domain>`
    /// (`localhost:<port>` in debug mode, `<domain>/kruise/<id>/<port>` with OpenKruise
    /// routing).
    pub fn host(&self, port: u16) -> String {
        self.inner.route.host(port)
    }

    /// The URL of the sandbox's MCP gateway: `https://<host of port 50005>/mcp`.
    pub fn mcp_url(&self) -> String {
        let scheme = match self.client.config().routing_mode() {
            _ if self.client.is_debug() => Scheme::Http,
            RoutingMode::OpenKruise { scheme } => scheme,
            _ => Scheme::Https,
        };
        format!("{scheme}://{}/mcp", self.host(MCP_PORT))
    }

    /// The MCP gateway's access token: the one generated at creation, else read from the
    /// sandbox (as `root`). `None` if the sandbox runs no MCP gateway.
    ///
    /// # Errors
    ///
    /// A request timeout, a sandbox-gone timeout or envd's error.
    pub async fn mcp_token(&self) -> Result<Option<SecretString>> {
        if let Some(token) = self.cached_mcp_token() {
            return Ok(Some(token));
        }
        let span = tracing::info_span!("e2b.sandbox.mcp_token", sandbox_id = %self.id());
        let token = self
            .client
            .deadline(
                "reading the MCP token",
                self.read_text_file(MCP_TOKEN_PATH, "root"),
            )
            .instrument(span)
            .await?;
        let token = token.map(|t| SecretString::from(t.trim().to_owned()));
        if let Some(token) = &token {
            *self
                .inner
                .mcp_token
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(token.clone());
        }
        Ok(token)
    }

    fn cached_mcp_token(&self) -> Option<SecretString> {
        self.inner
            .mcp_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_mcp_token(&self, token: SecretString) {
        *self
            .inner
            .mcp_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(token);
    }

    /// Read a text file as `user`, through the same `/files` code as every read; `None`
    /// if it does not exist.
    async fn read_text_file(&self, path: &str, user: &str) -> Result<Option<String>> {
        match self.with_user(user).files().read_text(path).await {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the sandbox is running, asked of envd's `/health` under the request
    /// timeout. `false` when the edge answers 502 (the sandbox was killed, timed out or is
    /// paused).
    ///
    /// # Errors
    ///
    /// A request timeout, a transport error, or another error status.
    pub async fn is_running(&self) -> Result<bool> {
        let span = tracing::info_span!("e2b.sandbox.is_running", sandbox_id = %self.id());
        self.envd()
            .probe_health(self.client.request_timeout())
            .instrument(span)
            .await
    }

    /// Kill the sandbox. Returns `false` if it did not exist (any more). In debug mode this
    /// does nothing and returns `true`.
    ///
    /// # Errors
    ///
    /// Authentication, rate-limit, request-timeout and other control-plane errors.
    pub async fn kill(&self) -> Result<bool> {
        self.client.kill_sandbox(self.id()).await
    }

    /// Set the sandbox to time out `timeout` from now (extending or shortening its life).
    /// Nothing happens in debug mode.
    ///
    /// # Errors
    ///
    /// Not found if the sandbox is gone; invalid argument for a timeout over `i32::MAX`
    /// seconds; other control-plane errors.
    pub async fn set_timeout(&self, timeout: Duration) -> Result<()> {
        self.client.set_sandbox_timeout(self.id(), timeout).await
    }

    /// The sandbox's current information.
    ///
    /// # Errors
    ///
    /// Not found if the sandbox is gone; other control-plane errors.
    pub async fn info(&self) -> Result<SandboxInfo> {
        self.client.sandbox_info(self.id()).await
    }

    /// Pause the sandbox. Returns `false` if it was already paused.
    ///
    /// # Errors
    ///
    /// Not found if the sandbox is gone; other control-plane errors.
    pub async fn pause(&self) -> Result<bool> {
        self.pause_with(PauseOptions::new()).await
    }

    /// [`pause`](Self::pause) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`pause`](Self::pause).
    pub async fn pause_with(&self, options: PauseOptions) -> Result<bool> {
        self.client.pause_sandbox_with(self.id(), options).await
    }

    /// Resume the sandbox if it is paused and extend its timeout (see [`Sandbox::connect`]);
    /// returns a fresh handle (a resumed sandbox may have a new envd access token).
    ///
    /// # Errors
    ///
    /// The errors of [`Sandbox::connect`].
    pub async fn resume(&self) -> Result<Sandbox> {
        self.resume_with(ConnectOptions::new()).await
    }

    /// [`resume`](Self::resume) with options (the timeout to extend to).
    ///
    /// # Errors
    ///
    /// The errors of [`Sandbox::connect`].
    pub async fn resume_with(&self, options: ConnectOptions) -> Result<Sandbox> {
        if self.client.is_debug() {
            return Ok(self.clone());
        }
        Sandbox::connect_with(&self.client, self.id(), options).await
    }

    /// Fork the running sandbox: it is checkpointed in place and `count` new sandboxes start
    /// from the checkpoint. Each fork succeeds or fails on its own.
    ///
    /// # Errors
    ///
    /// Invalid argument for a count of 0; not found if the sandbox is gone; other
    /// control-plane errors. Per-fork failures are the inner `Err`s.
    pub async fn fork(&self) -> Result<Vec<Result<Sandbox>>> {
        self.fork_with(ForkOptions::new()).await
    }

    /// [`fork`](Self::fork) with options (how many forks, their timeout).
    ///
    /// # Errors
    ///
    /// The errors of [`fork`](Self::fork).
    pub async fn fork_with(&self, options: ForkOptions) -> Result<Vec<Result<Sandbox>>> {
        self.client.fork_sandbox_with(self.id(), options).await
    }

    /// Resource usage samples (needs envd 0.1.5 or newer). Empty in debug mode.
    ///
    /// # Errors
    ///
    /// A template error on older envd; not found if the sandbox is gone; other
    /// control-plane errors.
    pub async fn metrics(&self) -> Result<Vec<SandboxMetrics>> {
        self.metrics_with(MetricsOptions::new()).await
    }

    /// [`metrics`](Self::metrics) with options (the time range).
    ///
    /// # Errors
    ///
    /// The errors of [`metrics`](Self::metrics).
    pub async fn metrics_with(&self, options: MetricsOptions) -> Result<Vec<SandboxMetrics>> {
        self.envd_version().require(EnvdFeature::Metrics)?;
        if !self.envd_version().supports(EnvdFeature::DiskMetrics) {
            tracing::warn!(
                sandbox_id = %self.id(),
                "disk metrics are not supported by this sandbox's envd; rebuild the template"
            );
        }
        self.client.sandbox_metrics_with(self.id(), options).await
    }

    /// Replace the sandbox's egress configuration (everything left out is cleared).
    ///
    /// # Errors
    ///
    /// Invalid argument for a malformed egress proxy; not found if the sandbox is gone;
    /// other control-plane errors.
    pub async fn update_network(&self, update: NetworkUpdate) -> Result<()> {
        self.client.update_sandbox_network(self.id(), update).await
    }

    /// Snapshot the sandbox (it is paused while the snapshot is taken). Create sandboxes
    /// from it with [`SandboxBuilder::template`] and the snapshot id.
    ///
    /// # Errors
    ///
    /// Not found if the sandbox is gone; other control-plane errors.
    pub async fn create_snapshot(&self) -> Result<SnapshotInfo> {
        self.create_snapshot_with(SnapshotOptions::new()).await
    }

    /// [`create_snapshot`](Self::create_snapshot) with options (a name).
    ///
    /// # Errors
    ///
    /// The errors of [`create_snapshot`](Self::create_snapshot).
    pub async fn create_snapshot_with(&self, options: SnapshotOptions) -> Result<SnapshotInfo> {
        self.client.create_snapshot_with(self.id(), options).await
    }

    /// This sandbox's snapshots, as a stream over all pages.
    pub fn list_snapshots(&self) -> SnapshotList {
        self.list_snapshots_with(SnapshotListOptions::new())
    }

    /// [`list_snapshots`](Self::list_snapshots) with options (page size, a page token).
    pub fn list_snapshots_with(&self, options: SnapshotListOptions) -> SnapshotList {
        self.client
            .list_snapshots_with(options.sandbox_id(self.id().to_owned()))
    }
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("id", &self.inner.id)
            .field("template_id", &self.inner.template_id)
            .field("domain", &self.inner.route.domain())
            .field("envd_version", self.inner.envd.version())
            .field("envd_url", &self.inner.envd.base_url())
            .field(
                "envd_access_token",
                &self.inner.envd_access_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field(
                "traffic_access_token",
                &self
                    .inner
                    .traffic_access_token
                    .as_ref()
                    .map(|_| "[REDACTED]"),
            )
            .field("request_timeout", &self.client.request_timeout())
            .field("user", &self.user)
            .finish()
    }
}

/// Not-found errors from the control plane about a sandbox.
pub(crate) fn sandbox_not_found(e: Error) -> Error {
    e.with_not_found_kind(NotFoundKind::Sandbox)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use e2b_core::{ConnectionConfig, ExposeSecret};

    use super::*;
    use crate::commands::CommandOptions;

    /// A client whose sandboxes are at an address nothing listens on: every check below must
    /// fail before a request is sent.
    fn offline_client() -> Client {
        let config = ConnectionConfig::builder()
            .api_key("e2b_0123456789abcdef")
            .api_url("http://127.0.0.1:9")
            .sandbox_url("http://127.0.0.1:9")
            .request_timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        Client::new(config).unwrap()
    }

    fn sandbox_with_envd(version: &str) -> Sandbox {
        Sandbox::from_created(
            &offline_client(),
            SandboxCreated {
                sandbox_id: "sbx1".into(),
                template_id: "tpl".into(),
                alias: Some("base".into()),
                domain: None,
                envd_version: version.into(),
                envd_access_token: Some("secret-token-value".into()),
                traffic_access_token: Some("traffic-token-value".into()),
            },
        )
        .unwrap()
    }

    #[tokio::test]
    async fn envd_version_gates_fail_before_any_request() {
        let old = sandbox_with_envd("0.2.9");
        let err = old
            .commands()
            .spawn_with("true", CommandOptions::new().stdin(false))
            .await
            .unwrap_err();
        assert!(err.is_template(), "{err}");
        let err = old.commands().close_stdin(1).await.unwrap_err();
        assert!(err.is_template(), "{err}");
        let err = sandbox_with_envd("0.1.4").metrics().await.unwrap_err();
        assert!(err.is_template(), "{err}");
        let err = sandbox_with_envd("0.5.1")
            .commands()
            .close_stdin(1)
            .await
            .unwrap_err();
        assert!(err.is_template(), "{err}");
        assert!(
            sandbox_with_envd("0.0.9")
                .envd_version()
                .check_minimum()
                .is_err()
        );
    }

    #[test]
    fn the_user_header_follows_the_default_user_gate() {
        let auth = |version: &str, user: Option<&str>| {
            sandbox_with_envd(version)
                .envd()
                .unary_options(None, user)
                .unwrap()
                .headers
                .get(http::header::AUTHORIZATION)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        // Older envd has no default user: the SDK names `user`.
        assert_eq!(auth("0.3.9", None).as_deref(), Some("Basic dXNlcjo="));
        assert_eq!(auth("0.4.0", None), None);
        assert_eq!(
            auth("0.6.13+local", Some("root")).as_deref(),
            Some("Basic cm9vdDo=")
        );
        let stream = sandbox_with_envd("0.6.13")
            .envd()
            .stream_options(
                Some(Duration::from_secs(60)),
                Some(Duration::from_secs(60)),
                None,
            )
            .unwrap();
        assert_eq!(stream.headers["keepalive-ping-interval"], "50");
        assert_eq!(stream.timeout, Some(Duration::from_secs(60)));
    }

    #[test]
    fn accessors_and_debug_without_secrets() {
        let sbx = sandbox_with_envd("0.6.13");
        assert_eq!(sbx.id(), "sbx1");
        assert_eq!(sbx.template_id(), Some("tpl"));
        assert_eq!(sbx.template_alias(), Some("base"));
        assert_eq!(sbx.envd_url(), "http://127.0.0.1:9");
        assert_eq!(sbx.host(8080), "8080-sbx1.e2b.app");
        assert_eq!(sbx.mcp_url(), "https://50005-sbx1.e2b.app/mcp");
        assert_eq!(
            sbx.envd_access_token().unwrap().expose_secret(),
            "secret-token-value"
        );
        let shown = format!("{sbx:?}");
        assert!(!shown.contains("secret-token-value"), "{shown}");
        assert!(!shown.contains("traffic-token-value"), "{shown}");
        let patient = sbx.with_request_timeout(Duration::from_secs(90));
        assert_eq!(patient.request_timeout(), Some(Duration::from_secs(90)));
        assert_eq!(sbx.request_timeout(), Some(Duration::from_secs(2)));
        assert_eq!(
            sbx.with_request_timeout(Duration::ZERO).request_timeout(),
            None
        );
    }
}
