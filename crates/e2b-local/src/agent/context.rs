//! What every part of the agent needs to know about its sandbox.

use std::collections::BTreeMap;
use std::path::PathBuf;

use e2b_envd::connect::Code;

use super::paths;
use super::users::{ConfigError, Users};
use super::{AgentConfig, UserAccount};
use crate::agent::rpc_error::RpcError;

/// The sandbox as the agent sees it: its accounts and defaults.
#[derive(Debug)]
pub(crate) struct Sandbox {
    pub(crate) users: Users,
    /// Working directory of requests naming none; empty means the user's home.
    pub(crate) default_workdir: String,
    /// Environment variables of every process.
    pub(crate) env_vars: BTreeMap<String, String>,
}

impl Sandbox {
    pub(crate) fn new(config: AgentConfig) -> Result<Self, ConfigError> {
        let agent_uid = rustix::process::geteuid().as_raw();
        Ok(Sandbox {
            users: Users::new(config.users, config.default_user, agent_uid)?,
            default_workdir: config.default_workdir,
            env_vars: config.env_vars,
        })
    }

    /// Resolve a request path for `user`; a path that cannot be resolved is
    /// `invalid_argument`.
    pub(crate) fn resolve(&self, path: &str, user: &UserAccount) -> Result<PathBuf, RpcError> {
        paths::resolve(path, user, &self.default_workdir)
            .map_err(|e| RpcError::new(Code::InvalidArgument, e.to_string()))
    }

    /// Who files and directories created for `user` should belong to: the
    /// user when the agent runs as root, otherwise left to the agent.
    pub(crate) fn owner_for(&self, user: &UserAccount) -> Option<(u32, u32)> {
        self.users.agent_is_root().then_some((user.uid, user.gid))
    }
}
