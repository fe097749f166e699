//! The host-side directories and files of one sandbox, and what the agent is told.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::agent::{AgentConfig, UserAccount};

/// Uid and gid of the `user` account inside every sandbox.
pub(crate) const USER_ID: u32 = 1000;
/// Where the run directory (socket, agent config) appears inside the sandbox.
pub(crate) const RUN_DIR_IN_SANDBOX: &str = "/run/e2b";
/// The agent binary inside the sandbox.
pub(crate) const AGENT_IN_SANDBOX: &str = "/run/e2b/bin/e2b-local";
/// Where the code-interpreter kernel environment appears (read-only).
pub(crate) const KERNEL_ENV_IN_SANDBOX: &str = "/run/e2b-kernel";
/// Where kernels keep their connection files and sockets (code-interpreter sandboxes).
pub(crate) const KERNEL_RUNTIME_IN_SANDBOX: &str = "/run/e2b-kernels";
/// The agent's socket inside the sandbox.
pub(crate) const SOCKET_IN_SANDBOX: &str = "/run/e2b/envd.sock";
/// The agent's configuration inside the sandbox.
pub(crate) const CONFIG_IN_SANDBOX: &str = "/run/e2b/agent.json";
/// The sandbox's home inside the sandbox.
pub(crate) const HOME_IN_SANDBOX: &str = "/home/user";
/// Host name of every sandbox.
pub(crate) const HOSTNAME: &str = "e2b";

/// Files written per sandbox and bound over the host's `/etc` copies.
pub(crate) const ETC_FILES: [&str; 6] =
    ["passwd", "group", "shadow", "gshadow", "hosts", "hostname"];

/// The host paths of one sandbox (under `<data dir>/sandboxes/<id>/`).
#[derive(Clone, Debug)]
pub(crate) struct SandboxPaths {
    /// `sandboxes/<id>/`.
    pub(crate) root: PathBuf,
    /// Bound at `/home/user`.
    pub(crate) home: PathBuf,
    /// Bound at `/tmp`.
    pub(crate) tmp: PathBuf,
    /// Bound at `/run/e2b`: socket and agent config.
    pub(crate) run: PathBuf,
    /// Per-sandbox `/etc` files.
    pub(crate) etc: PathBuf,
}

impl SandboxPaths {
    /// The paths under `root`.
    pub(crate) fn new(root: PathBuf) -> Self {
        Self {
            home: root.join("home"),
            tmp: root.join("tmp"),
            run: root.join("run"),
            etc: root.join("etc"),
            root,
        }
    }

    /// The agent's socket on the host.
    pub(crate) fn socket(&self) -> PathBuf {
        self.run.join("envd.sock")
    }

    /// The agent config on the host.
    pub(crate) fn agent_config(&self) -> PathBuf {
        self.run.join("agent.json")
    }

    /// The (empty) file the agent binary is bound onto.
    pub(crate) fn agent_mount_point(&self) -> PathBuf {
        self.run.join("bin").join("e2b-local")
    }

    /// An empty read-only file used to mask host secrets.
    pub(crate) fn empty_file(&self) -> PathBuf {
        self.etc.join("empty")
    }

    /// The record file.
    pub(crate) fn record(&self) -> PathBuf {
        self.root.join("sandbox.json")
    }

    /// The directories that make up the sandbox's writable state (copied by snapshots).
    pub(crate) fn writable(&self) -> [(&'static str, &Path); 2] {
        [("home", &self.home), ("tmp", &self.tmp)]
    }
}

/// Who owns the sandbox's files on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ownership {
    /// The server is root: the home belongs to uid/gid 1000.
    Root,
    /// The server is unprivileged: everything belongs to the server's user,
    /// mapped to uid 1000 inside.
    ServerUser,
}

/// Create the directories and `/etc` files of a sandbox. `home` and `tmp` are
/// created empty unless they already exist (snapshot restore, cold resume).
pub(crate) fn prepare(paths: &SandboxPaths, ownership: Ownership) -> io::Result<()> {
    fs::create_dir_all(&paths.root)?;
    fs::set_permissions(&paths.root, fs::Permissions::from_mode(0o711))?;
    for dir in [
        &paths.home,
        &paths.tmp,
        &paths.run,
        &paths.etc,
        &paths.run.join("bin"),
    ] {
        fs::create_dir_all(dir)?;
    }
    fs::set_permissions(&paths.tmp, fs::Permissions::from_mode(0o1777))?;
    fs::set_permissions(&paths.run, fs::Permissions::from_mode(0o700))?;
    if ownership == Ownership::Root {
        std::os::unix::fs::chown(&paths.home, Some(USER_ID), Some(USER_ID))?;
    }
    fs::set_permissions(&paths.home, fs::Permissions::from_mode(0o755))?;
    let mount_point = paths.agent_mount_point();
    if !mount_point.exists() {
        fs::File::create(&mount_point)?;
    }
    fs::write(paths.empty_file(), b"")?;
    for name in ETC_FILES {
        let path = paths.etc.join(name);
        fs::write(&path, etc_file(name))?;
        let mode = if name.ends_with("shadow") {
            0o640
        } else {
            0o644
        };
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// The content of a per-sandbox `/etc` file.
pub(crate) fn etc_file(name: &str) -> String {
    match name {
        "passwd" => format!(
            "root:x:0:0:root:/root:/bin/bash\nuser:x:{USER_ID}:{USER_ID}::{HOME_IN_SANDBOX}:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        ),
        "group" => format!("root:x:0:\nuser:x:{USER_ID}:\nnogroup:x:65534:\n"),
        "shadow" => {
            "root:*:19000:0:99999:7:::\nuser:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n"
                .to_owned()
        }
        "gshadow" => "root:*::\nuser:!::\nnogroup:*::\n".to_owned(),
        "hosts" => format!(
            "127.0.0.1\tlocalhost\n127.0.1.1\t{HOSTNAME}\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        ),
        "hostname" => format!("{HOSTNAME}\n"),
        _ => String::new(),
    }
}

/// The agent configuration of a sandbox.
pub(crate) fn agent_config(
    sandbox_id: &str,
    template_id: &str,
    env_vars: &BTreeMap<String, String>,
    envd_version: &str,
) -> AgentConfig {
    let mut env = BTreeMap::from([
        ("E2B_SANDBOX".to_owned(), "true".to_owned()),
        ("E2B_SANDBOX_ID".to_owned(), sandbox_id.to_owned()),
        ("E2B_TEMPLATE_ID".to_owned(), template_id.to_owned()),
    ]);
    env.extend(env_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    AgentConfig {
        sandbox_id: sandbox_id.to_owned(),
        env_vars: env,
        default_user: "user".to_owned(),
        default_workdir: String::new(),
        users: vec![
            UserAccount {
                name: "root".to_owned(),
                uid: 0,
                gid: 0,
                home: "/root".to_owned(),
            },
            UserAccount {
                name: "user".to_owned(),
                uid: USER_ID,
                gid: USER_ID,
                home: HOME_IN_SANDBOX.to_owned(),
            },
        ],
        envd_version: envd_version.to_owned(),
        interpreter: None,
    }
}

/// Write the agent configuration (mode 0600).
pub(crate) fn write_agent_config(paths: &SandboxPaths, config: &AgentConfig) -> io::Result<()> {
    let path = paths.agent_config();
    let bytes = serde_json::to_vec_pretty(config).map_err(io::Error::other)?;
    fs::write(&path, bytes)?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_creates_the_layout() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SandboxPaths::new(dir.path().join("sb"));
        prepare(&paths, Ownership::ServerUser).unwrap();
        assert!(paths.home.is_dir());
        assert_eq!(
            fs::metadata(&paths.tmp).unwrap().permissions().mode() & 0o7777,
            0o1777
        );
        assert_eq!(
            fs::metadata(&paths.run).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert!(paths.agent_mount_point().is_file());
        let passwd = fs::read_to_string(paths.etc.join("passwd")).unwrap();
        assert!(passwd.contains("user:x:1000:1000::/home/user:/bin/bash"));
        // Idempotent (cold resume re-prepares an existing sandbox).
        fs::write(paths.home.join("keep"), b"x").unwrap();
        prepare(&paths, Ownership::ServerUser).unwrap();
        assert!(paths.home.join("keep").exists());
    }

    #[test]
    fn agent_config_merges_system_and_user_env() {
        let env = BTreeMap::from([
            ("A".to_owned(), "1".to_owned()),
            ("E2B_SANDBOX".to_owned(), "custom".to_owned()),
        ]);
        let cfg = agent_config("isb", "base", &env, "0.6.13+local");
        assert_eq!(cfg.env_vars["A"], "1");
        assert_eq!(cfg.env_vars["E2B_SANDBOX_ID"], "isb");
        assert_eq!(cfg.env_vars["E2B_SANDBOX"], "custom");
        assert_eq!(cfg.default_user, "user");
        assert_eq!(
            cfg.users
                .iter()
                .map(|u| u.name.as_str())
                .collect::<Vec<_>>(),
            ["root", "user"]
        );
    }
}
