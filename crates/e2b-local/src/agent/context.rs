//! What every part of the agent needs to know about its sandbox.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use e2b_envd::connect::Code;

use super::fs_user::FsUser;
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
    /// Environment variables of every process: the configuration's, until
    /// the server replaces them (a sandbox handed out from a warm pool gets
    /// its caller's variables after it started).
    env_vars: RwLock<Arc<BTreeMap<String, String>>>,
    /// Whether `POST /files` takes `application/octet-stream` bodies: envd
    /// does from 0.5.7 on, so an agent reporting an older version refuses
    /// them as that envd would.
    pub(crate) octet_stream_upload: bool,
    /// FUSE mounts are the sandbox's own trees (see
    /// [`AgentConfig::local_fuse`]).
    pub(crate) local_fuse: bool,
}

/// The first envd version that takes `application/octet-stream` uploads.
const OCTET_STREAM_UPLOAD: [u64; 3] = [0, 5, 7];

/// `major.minor.patch` of a version such as `0.6.13+local`; missing or
/// unparsable parts count as 0.
fn version_triple(version: &str) -> [u64; 3] {
    let core = version.split(['+', '-']).next().unwrap_or_default();
    let mut triple = [0; 3];
    for (slot, part) in triple
        .iter_mut()
        .zip(core.trim_start_matches('v').split('.'))
    {
        *slot = part.parse().unwrap_or(0);
    }
    triple
}

impl Sandbox {
    pub(crate) fn new(config: AgentConfig) -> Result<Self, ConfigError> {
        let agent_uid = rustix::process::geteuid().as_raw();
        Ok(Sandbox {
            users: Users::new(config.users, config.default_user, agent_uid)?,
            default_workdir: config.default_workdir,
            env_vars: RwLock::new(Arc::new(config.env_vars)),
            octet_stream_upload: version_triple(&config.envd_version) >= OCTET_STREAM_UPLOAD,
            local_fuse: config.local_fuse,
        })
    }

    /// The environment variables of every process started from now on.
    pub(crate) fn env_vars(&self) -> Arc<BTreeMap<String, String>> {
        let guard = self.env_vars.read().unwrap_or_else(|e| e.into_inner());
        Arc::clone(&guard)
    }

    /// Replace the environment variables of every process started from now
    /// on (kernels already running catch up at their next execution).
    pub(crate) fn set_env_vars(&self, vars: BTreeMap<String, String>) {
        *self.env_vars.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(vars);
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

    /// Who file operations for `user` act as: the user when the agent runs
    /// as root and can switch, else the agent itself.
    pub(crate) fn fs_user(&self, user: &UserAccount) -> FsUser {
        if self.users.agent_is_root() {
            FsUser::new(user.uid, user.gid)
        } else {
            FsUser::AGENT
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(version_triple("0.6.13+local"), [0, 6, 13]);
        assert_eq!(version_triple("v0.5.6"), [0, 5, 6]);
        assert_eq!(version_triple("1.2"), [1, 2, 0]);
        assert!(version_triple("0.5.6") < OCTET_STREAM_UPLOAD);
        assert!(version_triple("0.5.7-rc1") >= OCTET_STREAM_UPLOAD);
    }
}
