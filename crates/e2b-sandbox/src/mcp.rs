//! MCP servers run by the MCP gateway inside a sandbox.

use std::collections::BTreeMap;

use e2b_core::{Error, Result};
use serde_json::{Map, Value};

/// The template used when MCP servers are configured and no template is given.
pub const DEFAULT_MCP_TEMPLATE: &str = "mcp-gateway";

/// The MCP servers a sandbox's gateway runs, keyed by server name.
///
/// The configuration is the official SDKs' `McpServer` object: a catalogue server is keyed
/// by its name with its settings as value; a server from a GitHub repository is keyed
/// `github/<owner>/<repo>` (see [`github`](Self::github)).
///
/// ```
/// use e2b_sandbox::McpServers;
/// use serde_json::json;
///
/// let mcp = McpServers::new()
///     .server("exa", json!({ "apiKey": "…" }))
///     .github(
///         "modelcontextprotocol/servers",
///         "npx -y @modelcontextprotocol/server-memory",
///         None,
///         [("MEMORY_FILE", "/home/user/memory.json")],
///     );
/// # let _ = mcp;
/// ```
#[derive(Clone, Default, PartialEq)]
#[non_exhaustive]
#[must_use]
pub struct McpServers {
    servers: Map<String, Value>,
}

/// Server names only: configurations carry API keys and tokens.
impl std::fmt::Debug for McpServers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServers")
            .field("servers", &self.servers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl McpServers {
    /// No servers.
    pub fn new() -> Self {
        McpServers::default()
    }

    /// Add a server with its configuration.
    pub fn server(mut self, name: impl Into<String>, config: Value) -> Self {
        self.servers.insert(name.into(), config);
        self
    }

    /// Add a server built from a GitHub repository (`owner/repo`): `run_cmd` starts a stdio
    /// MCP server, `install_cmd` installs its dependencies (run at the repository root).
    pub fn github<I, K, V>(
        self,
        repo: &str,
        run_cmd: impl Into<String>,
        install_cmd: Option<&str>,
        envs: I,
    ) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut config = Map::new();
        config.insert("runCmd".into(), Value::String(run_cmd.into()));
        if let Some(install) = install_cmd {
            config.insert("installCmd".into(), Value::String(install.to_owned()));
        }
        let envs: BTreeMap<String, String> = envs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        if !envs.is_empty() {
            config.insert(
                "envs".into(),
                Value::Object(envs.into_iter().map(|(k, v)| (k, v.into())).collect()),
            );
        }
        self.server(format!("github/{repo}"), Value::Object(config))
    }

    /// A configuration from its JSON form (an object keyed by server name).
    ///
    /// # Errors
    ///
    /// An invalid-argument error if `json` is not an object.
    pub fn from_json(json: Value) -> Result<Self> {
        match json {
            Value::Object(servers) => Ok(McpServers { servers }),
            other => Err(Error::invalid_argument(format!(
                "the MCP configuration must be a JSON object keyed by server name, not {}",
                json_kind(&other)
            ))),
        }
    }

    /// The JSON form sent to the control plane and the gateway.
    pub fn to_json(&self) -> Value {
        Value::Object(self.servers.clone())
    }

    /// Whether no server is configured.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    pub(crate) fn as_map(&self) -> &Map<String, Value> {
        &self.servers
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Quote a string for a POSIX shell (like Python's `shlex.quote`).
pub(crate) fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./-_".contains(&b))
    {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn github_servers_use_upstream_keys() {
        let m = McpServers::new().github("o/r", "run", Some("install"), [("K", "V")]);
        assert_eq!(
            m.to_json(),
            json!({"github/o/r": {"runCmd": "run", "installCmd": "install", "envs": {"K": "V"}}})
        );
        let m = McpServers::new().github("o/r", "run", None, Vec::<(String, String)>::new());
        assert_eq!(m.to_json(), json!({"github/o/r": {"runCmd": "run"}}));
    }

    #[test]
    fn from_json_needs_an_object() {
        assert!(
            McpServers::from_json(json!([1]))
                .unwrap_err()
                .is_invalid_argument()
        );
        let m = McpServers::from_json(json!({"exa": {"apiKey": "k"}})).unwrap();
        assert!(!m.is_empty());
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("abc"), "abc");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote(r#"{"a":"b c"}"#), r#"'{"a":"b c"}'"#);
        assert_eq!(shell_quote("it's"), r#"'it'"'"'s'"#);
    }
}
