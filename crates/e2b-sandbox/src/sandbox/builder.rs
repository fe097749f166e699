//! [`SandboxBuilder`]: every option of a new sandbox, and the create flow.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use e2b_api::control::types;
use e2b_core::{Error, ExposeSecret, Result, SecretString};
use tracing::Instrument as _;

use super::{DEBUG_SANDBOX_ID, Sandbox};
use crate::client::Client;
use crate::commands::CommandOptions;
use crate::convert;
use crate::iam::{self, IamToken};
use crate::info::VolumeMount;
use crate::lifecycle::{Lifecycle, LifecycleWire};
use crate::mcp::{DEFAULT_MCP_TEMPLATE, McpServers, shell_quote};
use crate::network::NetworkConfig;

/// The template used when none is given.
pub const DEFAULT_TEMPLATE: &str = "base";
/// The sandbox timeout used when none is given (300 s, like the official SDKs).
pub const DEFAULT_SANDBOX_TIMEOUT: Duration = Duration::from_secs(300);

/// The options of a new sandbox; [`create`](Self::create) creates it.
///
/// ```no_run
/// # async fn demo(client: e2b_sandbox::Client) -> e2b_sandbox::Result<()> {
/// use std::time::Duration;
/// use e2b_sandbox::{Lifecycle, Sandbox};
///
/// let sandbox = Sandbox::builder()
///     .template("base")
///     .timeout(Duration::from_secs(600))
///     .metadata([("user", "42")])
///     .envs([("PYTHONUNBUFFERED", "1")])
///     .lifecycle(Lifecycle::pause_on_timeout().auto_resume(true))
///     .create(&client)
///     .await?;
/// # let _ = sandbox;
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[must_use]
pub struct SandboxBuilder {
    template: Option<String>,
    timeout: Duration,
    metadata: HashMap<String, String>,
    envs: HashMap<String, String>,
    secure: bool,
    allow_internet_access: bool,
    network: Option<NetworkConfig>,
    iam: BTreeMap<String, IamToken>,
    lifecycle: Option<Lifecycle>,
    mcp: Option<McpServers>,
    volume_mounts: Vec<VolumeMount>,
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        SandboxBuilder::new()
    }
}

impl SandboxBuilder {
    /// The defaults: template `base` (`mcp-gateway` with MCP servers), 300 s timeout,
    /// secure, internet access allowed.
    pub fn new() -> Self {
        SandboxBuilder {
            template: None,
            timeout: DEFAULT_SANDBOX_TIMEOUT,
            metadata: HashMap::new(),
            envs: HashMap::new(),
            secure: true,
            allow_internet_access: true,
            network: None,
            iam: BTreeMap::new(),
            lifecycle: None,
            mcp: None,
            volume_mounts: Vec::new(),
        }
    }

    /// The template: a name, `name:tag`, `namespace/name:tag`, a template id or a snapshot id.
    pub fn template(mut self, template: impl Into<String>) -> Self {
        self.template = Some(template.into());
        self
    }

    /// How long the sandbox lives before it is killed (or paused, see
    /// [`lifecycle`](Self::lifecycle)); rounded up to whole seconds. `Duration::ZERO` means
    /// the default, 300 s. The maximum depends on the plan (24 h Pro, 1 h Hobby).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = if timeout.is_zero() {
            DEFAULT_SANDBOX_TIMEOUT
        } else {
            timeout
        };
        self
    }

    /// Metadata to attach (and to filter listings by).
    pub fn metadata<I, K, V>(mut self, metadata: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.metadata
            .extend(metadata.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    crate::setters::env_setters!(
        env = "One environment variable of every command in the sandbox.",
        envs = "Environment variables of every command in the sandbox.",
    );

    /// Whether envd requires the access token on every request (default `true`).
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Whether the sandbox may reach the internet (default `true`); `false` is like denying
    /// [`ALL_TRAFFIC`](crate::ALL_TRAFFIC).
    pub fn allow_internet_access(mut self, allow: bool) -> Self {
        self.allow_internet_access = allow;
        self
    }

    /// The network configuration.
    pub fn network(mut self, network: NetworkConfig) -> Self {
        self.network = Some(network);
        self
    }

    /// Register a workload token under `name`, for network rule headers (see
    /// [`iam_token_placeholder`](crate::iam_token_placeholder)).
    pub fn iam_token(mut self, name: impl Into<String>, token: IamToken) -> Self {
        self.iam.insert(name.into(), token);
        self
    }

    /// What happens on timeout, and auto-resume.
    pub fn lifecycle(mut self, lifecycle: Lifecycle) -> Self {
        self.lifecycle = Some(lifecycle);
        self
    }

    /// MCP servers to run in the sandbox's MCP gateway; the template defaults to
    /// `mcp-gateway`. See [`Sandbox::mcp_url`] and [`Sandbox::mcp_token`].
    pub fn mcp(mut self, servers: McpServers) -> Self {
        self.mcp = Some(servers);
        self
    }

    /// Mount the volume `name` at `path`, read-write. `name` may also be an
    /// `e2b_volume::Volume` (`&volume`), which converts to its name.
    pub fn volume_mount(mut self, path: impl Into<String>, name: impl Into<String>) -> Self {
        self.volume_mounts.push(VolumeMount::new(name, path));
        self
    }

    /// The template that will be used.
    pub fn template_name(&self) -> &str {
        match (&self.template, &self.mcp) {
            (Some(t), _) if !t.is_empty() => t,
            (_, Some(_)) => DEFAULT_MCP_TEMPLATE,
            _ => DEFAULT_TEMPLATE,
        }
    }

    /// Check the options and build the request body.
    fn body(&self) -> Result<CreateBody> {
        let lifecycle = match &self.lifecycle {
            Some(lifecycle) => lifecycle.to_wire()?,
            None => LifecycleWire::default(),
        };
        for name in self.iam.keys() {
            iam::validate_token_name(name)?;
        }
        if let Some(network) = &self.network {
            iam::check_rule_placeholders(&network.rules, &self.iam)?;
        }
        for mount in &self.volume_mounts {
            if mount.name.is_empty() || mount.path.is_empty() {
                return Err(Error::invalid_argument(
                    "a volume mount needs a volume name and a path",
                ));
            }
        }
        let body = types::NewSandboxV2 {
            template_id: self.template_name().to_owned(),
            timeout: Some(timeout_secs(self.timeout)?),
            metadata: Some(types::SandboxMetadata(self.metadata.clone())),
            env_vars: Some(types::EnvVars(self.envs.clone())),
            allow_internet_access: Some(self.allow_internet_access),
            auto_pause: lifecycle.auto_pause,
            auto_pause_memory: lifecycle.auto_pause_memory,
            auto_resume: lifecycle
                .auto_resume
                .map(|enabled| types::SandboxAutoResumeConfig {
                    enabled: types::SandboxAutoResumeEnabled(enabled),
                }),
            network: self
                .network
                .as_ref()
                .map(convert::network_to_wire)
                .transpose()?,
            iam: convert::iam_to_wire(&self.iam),
            mcp: self
                .mcp
                .as_ref()
                .map(|m| types::Mcp(Some(m.as_map().clone()))),
            volume_mounts: convert::mounts_to_wire(&self.volume_mounts),
        };
        Ok(CreateBody {
            body,
            secure: self.secure,
        })
    }

    /// Create the sandbox.
    ///
    /// In debug mode no control plane is asked: the handle names `debug_sandbox_id` on a
    /// local envd.
    ///
    /// # Errors
    ///
    /// - invalid argument for option combinations the official SDKs reject (see
    ///   [`Lifecycle`]), a malformed egress proxy, unknown IAM token references;
    /// - a template error if the template's envd is too old (the sandbox is killed);
    /// - authentication, rate-limit, not-found (template) and request-timeout errors;
    /// - with MCP servers, an error if the gateway fails to start (the sandbox is killed).
    pub async fn create(self, client: &Client) -> Result<Sandbox> {
        let span = tracing::info_span!(
            "e2b.sandbox.create",
            template = %self.template_name(),
            sandbox_id = tracing::field::Empty,
        );
        async {
            let body = self.body()?;
            let sandbox = if client.is_debug() {
                Sandbox::debug(client, DEBUG_SANDBOX_ID)?
            } else {
                let created = super::control::post_create(client, body).await?;
                let sandbox = Sandbox::from_created(client, created)?;
                if let Err(e) = sandbox.envd_version().check_minimum() {
                    let _ = sandbox.kill().await;
                    return Err(e);
                }
                sandbox
            };
            tracing::Span::current().record("sandbox_id", sandbox.id());
            if let Some(servers) = &self.mcp {
                start_mcp_gateway(&sandbox, servers).await?;
            }
            Ok(sandbox)
        }
        .instrument(span)
        .await
    }
}

/// Start the MCP gateway the way the official SDKs do; kill the sandbox if it fails.
async fn start_mcp_gateway(sandbox: &Sandbox, servers: &McpServers) -> Result<()> {
    let token = SecretString::from(uuid::Uuid::new_v4().to_string());
    let config = servers.to_json().to_string();
    let options = CommandOptions::new().env("GATEWAY_ACCESS_TOKEN", token.expose_secret());
    let started = sandbox
        .with_user("root")
        .commands()
        .run_with(
            format!("mcp-gateway --config {}", shell_quote(&config)),
            options,
        )
        .await;
    match started {
        Ok(_) => {
            sandbox.set_mcp_token(token);
            Ok(())
        }
        Err(e) => {
            let _ = sandbox.kill().await;
            match e.command_exit_result() {
                Some(exit) => Err(Error::template(format!(
                    "failed to start the MCP gateway: {}",
                    exit.stderr.trim()
                ))),
                None => Err(e),
            }
        }
    }
}

/// Whole seconds, rounded up, as the API's `int32`.
pub(crate) fn timeout_secs(timeout: Duration) -> Result<i32> {
    let secs = timeout
        .as_secs()
        .saturating_add(u64::from(timeout.subsec_nanos() > 0));
    i32::try_from(secs).map_err(|_| {
        Error::invalid_argument(format!(
            "a timeout of {timeout:?} is too long: at most {} seconds",
            i32::MAX
        ))
    })
}

/// A checked create request: the v2 body (`NewSandboxV2`, always secured), and whether the
/// sandbox is to be secured, which only the v1 body can turn off.
#[derive(Clone, Debug)]
pub(crate) struct CreateBody {
    body: types::NewSandboxV2,
    pub(crate) secure: bool,
}

impl CreateBody {
    /// The body of `POST /v2/sandboxes`.
    pub(crate) fn v2(&self) -> types::NewSandboxV2 {
        self.body.clone()
    }

    /// The same request as `POST /sandboxes` takes it (`NewSandbox`), with `secure`.
    /// `NewSandbox` always carries the lifecycle flags; left unset they are the API's
    /// defaults (no auto-pause, memory kept).
    pub(crate) fn v1(&self) -> types::NewSandbox {
        let b = self.body.clone();
        types::NewSandbox {
            template_id: b.template_id,
            timeout: b
                .timeout
                .unwrap_or(DEFAULT_SANDBOX_TIMEOUT.as_secs() as i32),
            metadata: b.metadata,
            env_vars: b.env_vars,
            secure: Some(self.secure),
            allow_internet_access: b.allow_internet_access,
            auto_pause: b.auto_pause.unwrap_or(false),
            auto_pause_memory: b.auto_pause_memory.unwrap_or(true),
            auto_resume: b.auto_resume,
            network: b.network,
            iam: b.iam,
            mcp: b.mcp,
            volume_mounts: b.volume_mounts,
        }
    }
}

impl fmt::Debug for SandboxBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Environment values, metadata values and MCP settings may be secrets.
        f.debug_struct("SandboxBuilder")
            .field("template", &self.template_name())
            .field("timeout", &self.timeout)
            .field("metadata", &self.metadata.keys().collect::<Vec<_>>())
            .field("envs", &self.envs.keys().collect::<Vec<_>>())
            .field("secure", &self.secure)
            .field("allow_internet_access", &self.allow_internet_access)
            .field("network", &self.network)
            .field("iam", &self.iam.keys().collect::<Vec<_>>())
            .field("lifecycle", &self.lifecycle)
            .field(
                "mcp",
                &self
                    .mcp
                    .as_ref()
                    .map(|m| m.as_map().keys().collect::<Vec<_>>()),
            )
            .field("volume_mounts", &self.volume_mounts)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{NetworkRule, NetworkTransform, iam_token_placeholder};

    fn body(b: SandboxBuilder) -> serde_json::Value {
        serde_json::to_value(b.body().unwrap().v2()).unwrap()
    }

    #[test]
    fn defaults_match_the_official_sdks() {
        // v2: always secured, so no `secure`; the lifecycle fields only when configured.
        assert_eq!(
            body(SandboxBuilder::new()),
            json!({"templateID": "base", "timeout": 300, "metadata": {}, "envVars": {},
                   "allow_internet_access": true})
        );
        let create = SandboxBuilder::new().body().unwrap();
        assert!(create.secure);
        assert_eq!(
            serde_json::to_value(create.v1()).unwrap(),
            json!({"templateID": "base", "timeout": 300, "metadata": {}, "envVars": {},
                   "secure": true, "allow_internet_access": true,
                   "autoPause": false, "autoPauseMemory": true})
        );
    }

    #[test]
    fn every_option_reaches_the_body() {
        let b = SandboxBuilder::new()
            .template("tpl")
            .timeout(Duration::from_millis(1500))
            .metadata([("m", "1")])
            .env("E", "2")
            .secure(false)
            .allow_internet_access(false)
            .lifecycle(
                Lifecycle::pause_on_timeout()
                    .keep_memory(true)
                    .auto_resume(true),
            )
            .network(NetworkConfig::new().deny_out(["0.0.0.0/0"]))
            .iam_token("aws", IamToken::jwt_svid("sts"))
            .mcp(McpServers::new().server("exa", json!({"apiKey": "k"})))
            .volume_mount("/mnt", "vol");
        let create = b.body().unwrap();
        assert!(!create.secure);
        assert_eq!(serde_json::to_value(create.v1()).unwrap()["secure"], false);
        assert_eq!(
            body(b),
            json!({"templateID": "tpl", "timeout": 2, "metadata": {"m": "1"},
                   "envVars": {"E": "2"}, "allow_internet_access": false,
                   "autoPause": true, "autoPauseMemory": true, "autoResume": {"enabled": true},
                   "network": {"denyOut": ["0.0.0.0/0"], "allowPublicTraffic": true},
                   "iam": {"tokens": {"aws": {"audience": "sts", "tokenType": "JWT-SVID"}}},
                   "mcp": {"exa": {"apiKey": "k"}},
                   "volumeMounts": [{"name": "vol", "path": "/mnt"}]})
        );
    }

    #[test]
    fn template_defaults() {
        assert_eq!(SandboxBuilder::new().template_name(), "base");
        let mcp = SandboxBuilder::new().mcp(McpServers::new());
        assert_eq!(mcp.template_name(), "mcp-gateway");
        assert_eq!(mcp.template("x").template_name(), "x");
        assert_eq!(
            SandboxBuilder::new().timeout(Duration::ZERO).timeout,
            DEFAULT_SANDBOX_TIMEOUT
        );
    }

    #[test]
    fn invalid_combinations_are_rejected_before_any_request() {
        let cases = [
            SandboxBuilder::new().lifecycle(Lifecycle::kill_on_timeout().auto_resume(true)),
            SandboxBuilder::new().lifecycle(
                Lifecycle::pause_on_timeout()
                    .keep_memory(false)
                    .auto_resume(true),
            ),
            SandboxBuilder::new().timeout(Duration::from_secs(u64::from(u32::MAX))),
            SandboxBuilder::new().iam_token("a}b", IamToken::jwt_svid("x")),
            SandboxBuilder::new().network(
                NetworkConfig::new().rule(
                    "h",
                    NetworkRule::transform(
                        NetworkTransform::new()
                            .header("Authorization", iam_token_placeholder("missing").unwrap()),
                    ),
                ),
            ),
            SandboxBuilder::new().volume_mount("", "vol"),
        ];
        for b in cases {
            let Err(err) = b.body() else {
                panic!("accepted: {b:?}");
            };
            assert!(err.is_invalid_argument(), "{b:?}: {err}");
        }
    }

    #[test]
    fn timeouts_round_up() {
        assert_eq!(timeout_secs(Duration::from_secs(300)).unwrap(), 300);
        assert_eq!(timeout_secs(Duration::from_millis(1)).unwrap(), 1);
        assert_eq!(timeout_secs(Duration::from_millis(60_001)).unwrap(), 61);
        assert!(timeout_secs(Duration::MAX).is_err());
    }

    #[test]
    fn debug_hides_values() {
        let b = SandboxBuilder::new()
            .env("API_TOKEN", "tok-123")
            .metadata([("owner", "secret-owner")]);
        let s = format!("{b:?}");
        assert!(!s.contains("tok-123") && !s.contains("secret-owner"), "{s}");
    }
}
