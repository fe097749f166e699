//! The in-sandbox agent: envd for one sandbox.
//!
//! The server starts it inside the sandbox as
//! `e2b-local envd --socket <dir>/envd.sock --config <dir>/agent.json` and
//! talks HTTP/1.1 to it over that Unix socket. The agent serves exactly envd's
//! API — the Connect services `process.Process` and `filesystem.Filesystem`
//! (JSON and binary proto), `GET`/`POST /files`, `GET /health` (204),
//! `GET /metrics`, `GET /envs` — plus one extra route for the server:
//! `GET /.e2b/forward?port=N` with `Upgrade: e2b-tcp`, which turns the
//! connection into a raw TCP tunnel to `127.0.0.1:N` inside the sandbox.
//!
//! Authentication (access tokens, signed URLs) is the server's job; the agent
//! trusts its socket. The agent prints `ready` on a line of its own to stdout
//! once it accepts connections, then nothing else on stdout.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// One account inside the sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAccount {
    /// Login name (`user`, `root`).
    pub name: String,
    /// Numeric user id.
    pub uid: u32,
    /// Numeric group id.
    pub gid: u32,
    /// Home directory.
    pub home: String,
}

/// What the server tells the agent at start (`agent.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentConfig {
    /// The sandbox id.
    pub sandbox_id: String,
    /// Environment variables of every process (the sandbox's `envVars`).
    #[serde(default)]
    pub env_vars: BTreeMap<String, String>,
    /// User for requests that name none.
    pub default_user: String,
    /// Working directory for requests that name none; empty means the user's home.
    #[serde(default)]
    pub default_workdir: String,
    /// The accounts requests may act as.
    pub users: Vec<UserAccount>,
    /// The envd version reported in headers and metrics.
    pub envd_version: String,
}

/// Entry point of `e2b-local envd`.
pub fn main(_socket: &Path, _config: &Path) -> anyhow::Result<()> {
    anyhow::bail!("the envd agent is not implemented yet")
}
