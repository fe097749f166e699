//! The host-side directories and files of one sandbox, and what the agent is told.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use super::userns::UserNamespace;
use crate::agent::{AgentConfig, UserAccount};

/// Uid and gid of the `user` account inside every sandbox.
pub(crate) const USER_ID: u32 = 1000;
/// The sandbox's own run directory (a directory of its tmpfs root).
pub(crate) const RUN_DIR_IN_SANDBOX: &str = "/run/e2b";
/// The directory of the agent binary inside the sandbox.
pub(crate) const AGENT_DIR_IN_SANDBOX: &str = "/run/e2b/bin";
/// The agent binary inside the sandbox.
pub(crate) const AGENT_IN_SANDBOX: &str = "/run/e2b/bin/e2b-local";
/// Where the code-interpreter kernel environment appears (read-only).
pub(crate) const KERNEL_ENV_IN_SANDBOX: &str = "/run/e2b-kernel";
/// Where kernels keep their connection files and sockets (code-interpreter sandboxes).
pub(crate) const KERNEL_RUNTIME_IN_SANDBOX: &str = "/run/e2b-kernels";
/// The sandbox's home inside the sandbox.
pub(crate) const HOME_IN_SANDBOX: &str = "/home/user";
/// Host name of every sandbox.
pub(crate) const HOSTNAME: &str = "e2b";

/// Files made per sandbox and shown over the host's `/etc` copies.
pub(crate) const ETC_FILES: [&str; 6] =
    ["passwd", "group", "shadow", "gshadow", "hosts", "hostname"];
/// The resolver configuration of sandboxes with internet access (shown
/// over the host's).
pub(crate) const RESOLV_CONF: &str = "resolv.conf";
/// The DNS forwarder of the user-mode network (slirp4netns's default).
pub(crate) const NAMESERVER: &str = "10.0.2.3";

/// The host paths of one sandbox (under `<data dir>/sandboxes/<id>/`).
#[derive(Clone, Debug)]
pub(crate) struct SandboxPaths {
    /// `sandboxes/<id>/`.
    pub(crate) root: PathBuf,
    /// The sandbox's disk, holding `home/` and `tmp/` (see [`disk`](super::disk)).
    pub(crate) image: PathBuf,
    /// Bound at `/home/user` (sandboxes without a disk).
    pub(crate) home: PathBuf,
    /// Bound at `/tmp` (sandboxes without a disk).
    pub(crate) tmp: PathBuf,
    /// The upper layers of its root filesystem's trees (unprivileged
    /// servers with writable roots, see [`rootless`](super::rootless)).
    pub(crate) rootfs: PathBuf,
    /// The server's own files of the sandbox (the agent's socket); never
    /// visible inside, so nothing in it can be replaced by the sandbox.
    pub(crate) ctl: PathBuf,
}

impl SandboxPaths {
    /// The paths under `root`.
    pub(crate) fn new(root: PathBuf) -> Self {
        Self {
            image: root.join(super::disk::IMAGE_FILE),
            home: root.join("home"),
            tmp: root.join("tmp"),
            rootfs: root.join("rootfs"),
            ctl: root.join("ctl"),
            root,
        }
    }

    /// The agent's socket on the host (the server binds it and hands the
    /// listening descriptor to the agent).
    pub(crate) fn socket(&self) -> PathBuf {
        self.ctl.join("agent.sock")
    }

    /// The record file.
    pub(crate) fn record(&self) -> PathBuf {
        self.root.join("sandbox.json")
    }

    /// Whether the sandbox keeps its writable state on a disk of its own.
    pub(crate) fn has_disk(&self) -> bool {
        self.image.is_file()
    }

    /// What makes up the sandbox's writable state (copied by snapshots and
    /// forks), by name: its disk, or its two directories.
    pub(crate) fn writable(&self) -> Vec<(&'static str, &Path)> {
        if self.has_disk() {
            vec![(super::disk::IMAGE_FILE, &self.image)]
        } else if self.rootfs.is_dir() {
            vec![("rootfs", &self.rootfs)]
        } else {
            vec![("home", &self.home), ("tmp", &self.tmp)]
        }
    }
}

/// Who owns the sandbox's files on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ownership {
    /// The server is root: sandbox ids are mapped (see
    /// [`UserNamespace`]); the home belongs to `user`, `/tmp` and the
    /// `/etc` files to root, as seen inside.
    Root,
    /// The server is unprivileged: everything belongs to the server's user,
    /// mapped to uid 1000 inside.
    ServerUser,
}

/// Create the directories of a sandbox and its writable state: a disk
/// from `disks` for a new sandbox when given, else `home` and `tmp`
/// directories. Existing state (snapshot restore, cold resume) is kept.
pub(crate) fn prepare(
    paths: &SandboxPaths,
    ownership: Ownership,
    disks: Option<&super::disk::Disks>,
) -> io::Result<()> {
    fs::create_dir_all(&paths.root)?;
    fs::set_permissions(&paths.root, fs::Permissions::from_mode(0o711))?;
    fs::create_dir_all(&paths.ctl)?;
    fs::set_permissions(&paths.ctl, fs::Permissions::from_mode(0o700))?;
    if paths.has_disk() {
        return Ok(());
    }
    if let Some(disks) = disks
        && !paths.home.exists()
    {
        return disks.create(&paths.image);
    }
    for dir in [&paths.home, &paths.tmp] {
        fs::create_dir_all(dir)?;
    }
    fs::set_permissions(&paths.tmp, fs::Permissions::from_mode(0o1777))?;
    // Ownership as seen inside: root's files and `user`'s home.
    let chown = |path: &Path, inside: u32| match ownership {
        Ownership::Root => {
            let id = UserNamespace::host_id(inside);
            std::os::unix::fs::lchown(path, Some(id), Some(id))
        }
        Ownership::ServerUser => Ok(()),
    };
    chown(&paths.home, USER_ID)?;
    chown(&paths.tmp, 0)?;
    fs::set_permissions(&paths.home, fs::Permissions::from_mode(0o755))
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
        RESOLV_CONF => format!("nameserver {NAMESERVER}\n"),
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
        sudo_socket: None,
        start_cmd: None,
        ready_cmd: None,
        local_fuse: false,
    }
}

/// The agent configuration as the agent reads it from its descriptor.
pub(crate) fn agent_config_bytes(config: &AgentConfig) -> io::Result<Vec<u8>> {
    serde_json::to_vec(config).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_creates_the_layout() {
        let dir = tempfile::tempdir().unwrap();
        let paths = SandboxPaths::new(dir.path().join("sb"));
        prepare(&paths, Ownership::ServerUser, None).unwrap();
        assert!(paths.home.is_dir());
        assert!(!paths.has_disk());
        assert_eq!(paths.writable().len(), 2);
        assert_eq!(
            fs::metadata(&paths.tmp).unwrap().permissions().mode() & 0o7777,
            0o1777
        );
        assert_eq!(
            fs::metadata(&paths.ctl).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(etc_file(RESOLV_CONF), "nameserver 10.0.2.3\n");
        assert!(etc_file("passwd").contains("user:x:1000:1000::/home/user:/bin/bash"));
        // Idempotent (cold resume re-prepares an existing sandbox).
        fs::write(paths.home.join("keep"), b"x").unwrap();
        prepare(&paths, Ownership::ServerUser, None).unwrap();
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
