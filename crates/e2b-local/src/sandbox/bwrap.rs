//! The bubblewrap command line of a sandbox.
//!
//! The sandbox's root is an empty tmpfs; only what is listed here is visible:
//! the host's `/usr` and `/etc` read-only (with per-sandbox `passwd`, `group`,
//! `shadow`, `hosts`… on top and the host's secrets masked), `/bin`, `/lib*`,
//! `/sbin` as on the host, a private `/proc` (kernel knobs read-only, kernel
//! memory, keys and timers masked), `/dev`, the sandbox's own `/home/user`
//! and `/tmp`, and the agent binary. The host's `/root`, `/run`, `/home`,
//! `/var`, `/sys` and the server's data directory are simply not there.
//!
//! Every sandbox gets its own pid, IPC, UTS, cgroup, mount and network
//! namespaces, and runs in a user namespace (the server's, see
//! [`userns`](super::userns), or one bubblewrap makes for an unprivileged
//! server). Nothing that names host paths is visible to the sandbox: the
//! arguments reach bubblewrap through a descriptor (`--args`), so the
//! sandbox's pid 1 shows only `bwrap --args N`; the agent's socket and
//! configuration are descriptors too (`--listen-fd`, `--config-fd`), never
//! paths the sandbox could replace.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use super::layout;

/// Capabilities the in-sandbox root keeps when the server is root (Docker's
/// default set minus `MKNOD`): enough to switch users, own files and signal
/// processes, not to mount, load modules, trace or reconfigure the network.
const ROOT_CAPS: [&str; 12] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_SETFCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SYS_CHROOT",
];

/// Top-level host paths that are either symlinks into `/usr` (merged-usr) or real directories.
const TOP_LEVEL: [&str; 6] = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/// Host files that must not be readable inside a sandbox (masked with `/dev/null`).
const SECRET_FILES: [&str; 3] = ["/etc/shadow-", "/etc/gshadow-", "/etc/security/opasswd"];

/// Host directories that must not be readable inside a sandbox (masked with an empty tmpfs).
const SECRET_DIRS: [&str; 1] = ["/etc/ssl/private"];

/// `/proc` entries made read-only: kernel parameters and triggers.
const PROC_READ_ONLY: [&str; 5] = [
    "/proc/sys",
    "/proc/sysrq-trigger",
    "/proc/irq",
    "/proc/bus",
    "/proc/fs",
];

/// `/proc` files masked with `/dev/null`: kernel memory, keys, timers and
/// scheduler internals of the whole host.
const PROC_MASKED_FILES: [&str; 7] = [
    "/proc/kcore",
    "/proc/keys",
    "/proc/key-users",
    "/proc/timer_list",
    "/proc/sched_debug",
    "/proc/latency_stats",
    "/proc/kallsyms",
];

/// `/proc` directories masked with an empty read-only tmpfs (hardware).
const PROC_MASKED_DIRS: [&str; 3] = ["/proc/acpi", "/proc/scsi", "/proc/asound"];

/// How a top-level host path is reproduced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TopLevel {
    Symlink { path: &'static str, target: PathBuf },
    Dir { path: &'static str },
}

/// What the host looks like, read once at server start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HostLayout {
    pub(crate) top_level: Vec<TopLevel>,
    /// `/etc` files replaced by per-sandbox copies (only those the host has:
    /// a bind needs an existing mount point inside the read-only `/etc`).
    etc_overrides: Vec<&'static str>,
    secret_files: Vec<PathBuf>,
    secret_dirs: Vec<PathBuf>,
    /// Where `/etc/resolv.conf` really lives when it points into `/run`.
    resolv_target: Option<PathBuf>,
    /// The `/proc` entries this kernel has, of [`PROC_READ_ONLY`].
    proc_read_only: Vec<&'static str>,
    /// The `/proc` files this kernel has, of [`PROC_MASKED_FILES`].
    proc_masked_files: Vec<&'static str>,
    /// The `/proc` directories this kernel has, of [`PROC_MASKED_DIRS`].
    proc_masked_dirs: Vec<&'static str>,
}

impl HostLayout {
    /// Inspect the host.
    pub(crate) fn detect() -> Self {
        let top_level = TOP_LEVEL
            .iter()
            .filter_map(|&path| {
                let meta = fs::symlink_metadata(path).ok()?;
                if meta.file_type().is_symlink() {
                    Some(TopLevel::Symlink {
                        path,
                        target: fs::read_link(path).ok()?,
                    })
                } else if meta.is_dir() {
                    Some(TopLevel::Dir { path })
                } else {
                    None
                }
            })
            .collect();
        let etc_overrides = layout::ETC_FILES
            .iter()
            .copied()
            .filter(|name| Path::new("/etc").join(name).exists())
            .collect();
        let mut secret_files: Vec<PathBuf> = SECRET_FILES
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.is_file())
            .collect();
        if let Ok(entries) = fs::read_dir("/etc/ssh") {
            let mut keys: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("ssh_host_") && n.ends_with("_key"))
                })
                .collect();
            keys.sort();
            secret_files.extend(keys);
        }
        let secret_dirs = SECRET_DIRS
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.is_dir())
            .collect();
        let resolv_target = fs::canonicalize("/etc/resolv.conf")
            .ok()
            .filter(|p| p.starts_with("/run/"));
        let present = |list: &[&'static str]| -> Vec<&'static str> {
            list.iter()
                .copied()
                .filter(|p| Path::new(p).exists())
                .collect()
        };
        Self {
            top_level,
            etc_overrides,
            secret_files,
            secret_dirs,
            resolv_target,
            proc_read_only: present(&PROC_READ_ONLY),
            proc_masked_files: present(&PROC_MASKED_FILES),
            proc_masked_dirs: present(&PROC_MASKED_DIRS),
        }
    }
}

/// Who the server runs as, which decides how identities are set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Privilege {
    /// Root: sandboxes run in the server's user namespace (ids mapped to an
    /// unprivileged host range); the agent is root inside (with a reduced
    /// capability set, valid only in the sandbox's namespaces) and can act
    /// as `root` or `user`.
    Root,
    /// Unprivileged: a user namespace maps the server's user to uid 1000
    /// inside; the agent and every process run as `user`.
    UserNamespace,
}

/// Host directories that make the code-interpreter kernel environment usable inside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KernelMounts {
    /// The venv, shown at [`layout::KERNEL_ENV_IN_SANDBOX`].
    pub(crate) env: PathBuf,
    /// The base interpreter's installation prefix, shown at its own path (the
    /// venv's `python` links there), unless it is under `/usr` already.
    pub(crate) interpreter_prefix: Option<PathBuf>,
}

impl KernelMounts {
    /// The mounts of `env`, or `None` (with a warning) when it is unusable.
    pub(crate) fn of(env: &crate::interpreter::kernel_env::KernelEnv) -> Option<Self> {
        if let Some(problem) = env.problem() {
            tracing::warn!(%problem, "kernel environment not shown to sandboxes");
            return None;
        }
        let home = env.base_interpreter_dir()?;
        let prefix = home.parent().map(Path::to_path_buf).unwrap_or(home);
        Some(Self {
            env: env.root().to_path_buf(),
            interpreter_prefix: (!prefix.starts_with("/usr")).then_some(prefix),
        })
    }

    /// Whether `/root` must be traversable by `user` to reach the interpreter.
    pub(crate) fn needs_root_traversal(&self) -> bool {
        self.interpreter_prefix
            .as_deref()
            .is_some_and(|p| p.starts_with("/root"))
    }
}

/// Everything that decides a sandbox's command line.
#[derive(Debug)]
pub(crate) struct BwrapPlan<'a> {
    /// How identities are set up.
    pub(crate) privilege: Privilege,
    /// The host's layout.
    pub(crate) host: &'a HostLayout,
    /// Where the bound files and directories come from.
    pub(crate) sources: &'a MountSources,
    /// The sandbox reaches the internet (through the server's user-mode
    /// network): its resolver is the one that network provides.
    pub(crate) internet: bool,
    /// Descriptor numbers the child has (see [`LaunchFds`]).
    pub(crate) fds: LaunchFds,
    /// Host paths to cover with an empty tmpfs if they would be visible (the data dir).
    pub(crate) hide: &'a [PathBuf],
    /// The code-interpreter kernel environment to show, read-only.
    pub(crate) kernel: Option<&'a KernelMounts>,
}

/// Where bubblewrap finds what it binds: host paths, or (root servers)
/// their [staged](super::stage) copies, whose mounts name no host path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MountSources {
    /// Bound at `/home/user`.
    pub(crate) home: PathBuf,
    /// Bound at `/tmp`.
    pub(crate) tmp: PathBuf,
    /// The agent binary, bound read-only at [`layout::AGENT_IN_SANDBOX`].
    pub(crate) agent: PathBuf,
    /// The kernel environment's venv (code-interpreter sandboxes).
    pub(crate) kernel_env: Option<PathBuf>,
    /// The kernel environment's interpreter prefix, bound at its host path.
    pub(crate) interpreter_prefix: Option<PathBuf>,
    /// A writable root filesystem (root servers with sandbox disks): where
    /// each of its staged overlays appears, `/` first. Without one the
    /// host's system is shown read-only.
    pub(crate) rootfs: Vec<(&'static str, PathBuf)>,
    /// `/home/user` is part of the root filesystem (image templates), not
    /// bound from [`MountSources::home`].
    pub(crate) home_in_root: bool,
    /// Volumes: each directory (the server's, or its staged copy) and where
    /// it is bound, read-write.
    pub(crate) volumes: Vec<(PathBuf, PathBuf)>,
}

/// Descriptors bubblewrap and the agent inherit, by number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LaunchFds {
    /// Seccomp programs, installed in order.
    pub(crate) seccomp: Vec<i32>,
    /// Where bubblewrap writes `{"child-pid": N}`.
    pub(crate) info: i32,
    /// The agent's listening socket.
    pub(crate) agent_listener: i32,
    /// The agent's configuration (JSON, read once).
    pub(crate) agent_config: i32,
    /// The per-sandbox `/etc` files, by name (see [`BwrapPlan::etc_files`]).
    pub(crate) etc: Vec<(i32, &'static str)>,
}

impl BwrapPlan<'_> {
    /// The arguments of `bwrap` that run the agent in the sandbox. bubblewrap
    /// waits for a byte on its stdin before it starts the agent (so that the
    /// server can move it into its cgroups and connect its network first).
    pub(crate) fn args(&self) -> Vec<OsString> {
        let listener = self.fds.agent_listener.to_string();
        let config = self.fds.agent_config.to_string();
        self.args_for(&[
            layout::AGENT_IN_SANDBOX,
            "envd",
            "--listen-fd",
            &listener,
            "--config-fd",
            &config,
        ])
    }

    /// The per-sandbox `/etc` files a launch passes (by name, each as a
    /// descriptor copied into the sandbox by bubblewrap): those the host has
    /// a file for, and the resolver configuration with internet access.
    pub(crate) fn etc_files(host: &HostLayout, internet: bool) -> Vec<&'static str> {
        let mut names = host.etc_overrides.clone();
        if internet {
            names.push(layout::RESOLV_CONF);
        }
        names
    }

    /// [`args`](Self::args) split for `--args`: bubblewrap reads options
    /// from the descriptor, but the command (from `--` on) must follow on its
    /// own command line. The command names no host path.
    pub(crate) fn options_and_command(&self) -> (Vec<OsString>, Vec<OsString>) {
        let mut options = self.args();
        let at = options
            .iter()
            .position(|a| a == "--")
            .unwrap_or(options.len());
        let command = options.split_off(at);
        (options, command)
    }

    /// The arguments of `bwrap` that run `command` (absolute path inside) in the sandbox.
    fn args_for(&self, command: &[&str]) -> Vec<OsString> {
        let mut a = Args::default();
        a.flag("--die-with-parent");
        a.flag("--new-session");
        a.flags(&[
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--unshare-net",
        ]);
        a.flags(&["--info-fd", &self.fds.info.to_string()]);
        for fd in &self.fds.seccomp {
            a.flags(&["--add-seccomp-fd", &fd.to_string()]);
        }
        match self.privilege {
            Privilege::Root => {
                a.flags(&["--cap-drop", "ALL"]);
                for cap in ROOT_CAPS {
                    a.flags(&["--cap-add", cap]);
                }
            }
            Privilege::UserNamespace => {
                let id = layout::USER_ID.to_string();
                a.flags(&["--unshare-user", "--uid", &id, "--gid", &id]);
            }
        }
        a.flags(&["--hostname", layout::HOSTNAME]);
        a.flags(&["--block-fd", "0"]);

        if self.sources.rootfs.is_empty() {
            self.read_only_system(&mut a);
        } else {
            self.writable_system(&mut a);
        }
        a.pair_single("--proc", "/proc");
        for path in &self.host.proc_read_only {
            a.ro_bind(path, path);
        }
        for path in &self.host.proc_masked_files {
            a.ro_bind("/dev/null", path);
        }
        for path in &self.host.proc_masked_dirs {
            a.flags(&["--perms", "0555"]);
            a.pair_single("--tmpfs", path);
            a.pair_single("--remount-ro", path);
        }
        a.pair_single("--dev", "/dev");

        // Per-sandbox writable state. Implicitly created parents would be 0700
        // (root without a user namespace), so create them explicitly.
        a.flags(&["--perms", "0755", "--dir", "/home"]);
        if !self.sources.home_in_root {
            a.bind(&self.sources.home, layout::HOME_IN_SANDBOX);
        }
        a.bind(&self.sources.tmp, "/tmp");
        for (source, at) in &self.sources.volumes {
            // Explicit, traversable parents (implicit ones would be 0700);
            // existing ones are left as they are.
            let mut parents: Vec<&Path> = at
                .ancestors()
                .skip(1)
                .filter(|p| p.parent().is_some())
                .collect();
            parents.reverse();
            for dir in parents {
                a.flags(&["--perms", "0755"]);
                a.pair_single("--dir", dir);
            }
            a.bind(source, at);
        }
        // Root's home stays private, except that an interpreter installed
        // under it (pyenv) must be reachable: then `user` may traverse it.
        let root_mode = if self.kernel.is_some_and(KernelMounts::needs_root_traversal) {
            "0711"
        } else {
            "0700"
        };
        a.flags(&["--perms", root_mode, "--dir", "/root"]);
        if self.sources.rootfs.is_empty() {
            a.flags(&["--perms", "0755", "--dir", "/run"]);
        } else {
            // Run-time state, as on a booted system: never kept in the
            // writable root.
            a.flags(&["--perms", "0755", "--tmpfs", "/run"]);
        }
        if let Some(target) = &self.host.resolv_target
            && !self.internet
        {
            a.ro_bind(target, target);
        }
        a.flags(&["--perms", "0755", "--dir", layout::RUN_DIR_IN_SANDBOX]);
        a.flags(&["--perms", "0755", "--dir", layout::AGENT_DIR_IN_SANDBOX]);
        a.ro_bind(&self.sources.agent, layout::AGENT_IN_SANDBOX);
        if let Some(kernel) = self.kernel {
            if let Some(prefix) = &kernel.interpreter_prefix {
                // Explicit, traversable parents (implicit ones would be 0700).
                let mut parents: Vec<&Path> = prefix
                    .ancestors()
                    .skip(1)
                    .filter(|p| p.parent().is_some() && *p != Path::new("/root"))
                    .collect();
                parents.reverse();
                for dir in parents {
                    a.flags(&["--perms", "0755"]);
                    a.pair_single("--dir", dir);
                }
                let source = self.sources.interpreter_prefix.as_deref().unwrap_or(prefix);
                a.ro_bind(source, prefix);
            }
            let env = self.sources.kernel_env.as_deref().unwrap_or(&kernel.env);
            a.ro_bind(env, layout::KERNEL_ENV_IN_SANDBOX);
            // Kernels' connection files and sockets: each kernel gets a
            // private directory in here, made by the agent.
            a.flags(&["--perms", "1777"]);
            a.pair_single("--tmpfs", layout::KERNEL_RUNTIME_IN_SANDBOX);
        }
        for path in self.hide {
            if path.starts_with("/usr") || path.starts_with("/etc") {
                a.pair_single("--tmpfs", path);
            }
        }
        a.flags(&["--chdir", "/"]);
        a.flag("--");
        for part in command {
            a.flag(part);
        }
        a.0
    }

    /// The host's system, read-only, with per-sandbox `/etc` files and its
    /// secrets masked.
    fn read_only_system(&self, a: &mut Args) {
        a.ro_bind("/usr", "/usr");
        for entry in &self.host.top_level {
            match entry {
                TopLevel::Symlink { path, target } => a.pair("--symlink", target, path),
                TopLevel::Dir { path } => a.ro_bind(path, path),
            }
        }
        a.ro_bind("/etc", "/etc");
        // Per-sandbox files are copied in by bubblewrap (from descriptors),
        // so that no mount of the sandbox names where they came from.
        for (fd, name) in &self.fds.etc {
            let dest = if *name == layout::RESOLV_CONF {
                self.host
                    .resolv_target
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("/etc/resolv.conf"))
            } else {
                Path::new("/etc").join(name)
            };
            let mode = if name.ends_with("shadow") {
                "0640"
            } else {
                "0644"
            };
            a.flags(&["--perms", mode]);
            a.pair("--ro-bind-data", fd.to_string(), dest);
        }
        for file in &self.host.secret_files {
            a.ro_bind("/dev/null", file);
        }
        for dir in &self.host.secret_dirs {
            a.pair_single("--tmpfs", dir);
        }
    }

    /// A writable root: the staged overlays (their layers hold the `/etc`
    /// files and hide the host's secrets); only the resolver configuration
    /// is bound over them, read-only, as it follows the sandbox's network.
    fn writable_system(&self, a: &mut Args) {
        for (at, staged) in &self.sources.rootfs {
            a.bind(staged, at);
        }
        if let Some((fd, _)) = self.fds.etc.iter().find(|(_, n)| *n == layout::RESOLV_CONF) {
            let dest = self
                .host
                .resolv_target
                .clone()
                .unwrap_or_else(|| PathBuf::from("/etc/resolv.conf"));
            a.flags(&["--perms", "0644"]);
            a.pair("--ro-bind-data", fd.to_string(), dest);
        }
    }

    /// The arguments as bubblewrap reads them from `--args`: each followed by a NUL.
    pub(crate) fn encode(args: &[OsString]) -> Vec<u8> {
        use std::os::unix::ffi::OsStrExt as _;
        let mut out = Vec::new();
        for arg in args {
            out.extend_from_slice(arg.as_bytes());
            out.push(0);
        }
        out
    }
}

#[derive(Default)]
struct Args(Vec<OsString>);

impl Args {
    fn flag(&mut self, s: &str) {
        self.0.push(s.into());
    }
    fn flags(&mut self, s: &[&str]) {
        self.0.extend(s.iter().map(OsString::from));
    }
    fn pair(&mut self, flag: &str, src: impl AsRef<Path>, dest: impl AsRef<Path>) {
        self.0.push(flag.into());
        self.0.push(src.as_ref().as_os_str().to_owned());
        self.0.push(dest.as_ref().as_os_str().to_owned());
    }
    fn pair_single(&mut self, flag: &str, path: impl AsRef<Path>) {
        self.0.push(flag.into());
        self.0.push(path.as_ref().as_os_str().to_owned());
    }
    fn ro_bind(&mut self, src: impl AsRef<Path>, dest: impl AsRef<Path>) {
        self.pair("--ro-bind", src, dest);
    }
    fn bind(&mut self, src: impl AsRef<Path>, dest: impl AsRef<Path>) {
        self.pair("--bind", src, dest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostLayout {
        HostLayout {
            top_level: vec![
                TopLevel::Symlink {
                    path: "/bin",
                    target: "usr/bin".into(),
                },
                TopLevel::Dir { path: "/lib64" },
            ],
            etc_overrides: vec!["passwd", "group"],
            secret_files: vec!["/etc/ssh/ssh_host_ed25519_key".into()],
            secret_dirs: vec![],
            resolv_target: None,
            proc_read_only: vec!["/proc/sys", "/proc/sysrq-trigger"],
            proc_masked_files: vec!["/proc/kcore"],
            proc_masked_dirs: vec!["/proc/acpi"],
        }
    }

    fn fds() -> LaunchFds {
        LaunchFds {
            seccomp: vec![3, 4],
            info: 5,
            agent_listener: 6,
            agent_config: 7,
            etc: vec![(8, "passwd"), (9, "shadow"), (10, layout::RESOLV_CONF)],
        }
    }

    fn sources(root: &str, agent: &str) -> MountSources {
        MountSources {
            home: Path::new(root).join("home"),
            tmp: Path::new(root).join("tmp"),
            agent: agent.into(),
            kernel_env: None,
            interpreter_prefix: None,
            rootfs: Vec::new(),
            home_in_root: false,
            volumes: Vec::new(),
        }
    }

    fn joined(args: &[OsString]) -> String {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn root_plan_drops_capabilities_and_isolates() {
        let sources = sources("/run/e2b-local-stage/disk", "/run/e2b-local-stage/0");
        let host = host();
        let plan = BwrapPlan {
            privilege: Privilege::Root,
            host: &host,
            sources: &sources,
            internet: true,
            fds: fds(),
            hide: &[],
            kernel: None,
        };
        let s = joined(&plan.args());
        for needle in [
            "--die-with-parent",
            "--unshare-pid --unshare-ipc --unshare-uts --unshare-cgroup-try --unshare-net",
            "--info-fd 5 --add-seccomp-fd 3 --add-seccomp-fd 4",
            "--cap-drop ALL",
            "--cap-add CAP_SETUID",
            "--block-fd 0",
            "--ro-bind /usr /usr",
            "--symlink usr/bin /bin",
            "--ro-bind /lib64 /lib64",
            "--ro-bind /etc /etc",
            "--perms 0644 --ro-bind-data 8 /etc/passwd",
            "--perms 0640 --ro-bind-data 9 /etc/shadow",
            "--perms 0644 --ro-bind-data 10 /etc/resolv.conf",
            "--ro-bind /dev/null /etc/ssh/ssh_host_ed25519_key",
            "--proc /proc --ro-bind /proc/sys /proc/sys --ro-bind /proc/sysrq-trigger /proc/sysrq-trigger",
            "--ro-bind /dev/null /proc/kcore",
            "--perms 0555 --tmpfs /proc/acpi --remount-ro /proc/acpi",
            "--bind /run/e2b-local-stage/disk/home /home/user",
            "--bind /run/e2b-local-stage/disk/tmp /tmp",
            "--ro-bind /run/e2b-local-stage/0 /run/e2b/bin/e2b-local",
            "-- /run/e2b/bin/e2b-local envd --listen-fd 6 --config-fd 7",
        ] {
            assert!(s.contains(needle), "missing `{needle}` in {s}");
        }
        // Neither the server's user namespace (joined before bwrap runs) nor
        // anything the sandbox can write is named.
        assert!(!s.contains("--unshare-user"));
        assert!(!s.contains("CAP_SYS_ADMIN"));
        assert!(!s.contains("CAP_NET_ADMIN"));
        assert!(!s.contains("envd.sock") && !s.contains("agent.json"));
        // The writable home is bound after /home is created with usable permissions.
        assert!(s.find("--dir /home").unwrap() < s.find("/home/user").unwrap());
    }

    #[test]
    fn unprivileged_plan_uses_a_user_namespace() {
        let sources = sources("/d/s/i", "/a");
        let host = host();
        let hide = vec![PathBuf::from("/usr/local/data"), PathBuf::from("/srv/data")];
        let mut fds = fds();
        fds.etc.pop();
        let plan = BwrapPlan {
            privilege: Privilege::UserNamespace,
            host: &host,
            sources: &sources,
            internet: false,
            fds,
            hide: &hide,
            kernel: Some(&KernelMounts {
                env: PathBuf::from("/work/.venv/kernel"),
                interpreter_prefix: Some(PathBuf::from("/root/.pyenv/versions/3.11.7")),
            }),
        };
        let s = joined(&plan.args());
        assert!(s.contains("--perms 0711 --dir /root "), "{s}");
        assert!(
            s.contains(
                "--perms 0755 --dir /root/.pyenv --perms 0755 --dir /root/.pyenv/versions --ro-bind /root/.pyenv/versions/3.11.7 /root/.pyenv/versions/3.11.7 --ro-bind /work/.venv/kernel /run/e2b-kernel --perms 1777 --tmpfs /run/e2b-kernels"
            ),
            "{s}"
        );
        assert!(s.contains("--unshare-user --uid 1000 --gid 1000"));
        assert!(
            s.contains("--unshare-net"),
            "every sandbox has its own network"
        );
        assert!(!s.contains("resolv.conf"));
        assert!(!s.contains("--cap-drop"));
        assert!(s.contains("--tmpfs /usr/local/data"));
        assert!(
            !s.contains("/srv/data"),
            "paths outside the visible trees need no mask"
        );
    }

    #[test]
    fn volumes_are_bound_read_write_under_traversable_parents() {
        let mut sources = sources("/data/sandboxes/i1", "/opt/e2b-local");
        sources.volumes = vec![(
            PathBuf::from("/data/volumes/0b7d"),
            PathBuf::from("/mnt/shared/data"),
        )];
        let host = host();
        let plan = BwrapPlan {
            privilege: Privilege::UserNamespace,
            host: &host,
            sources: &sources,
            internet: false,
            fds: fds(),
            hide: &[],
            kernel: None,
        };
        let args = joined(&plan.args());
        let parents = args
            .find("--perms 0755 --dir /mnt --perms 0755 --dir /mnt/shared")
            .expect(&args);
        let bind = args
            .find("--bind /data/volumes/0b7d /mnt/shared/data")
            .expect(&args);
        assert!(parents < bind, "{args}");
        assert!(
            args.find("--bind /data/sandboxes/i1/tmp /tmp").unwrap() < bind,
            "{args}"
        );
    }

    #[test]
    fn args_are_encoded_for_bubblewrap() {
        let args = vec![OsString::from("--dir"), OsString::from("/a b")];
        assert_eq!(BwrapPlan::encode(&args), b"--dir\0/a b\0");
    }

    #[test]
    fn detects_this_host() {
        let host = HostLayout::detect();
        assert!(host.top_level.iter().any(|t| matches!(
            t,
            TopLevel::Symlink { path: "/bin", .. } | TopLevel::Dir { path: "/bin" }
        )));
        assert!(host.etc_overrides.contains(&"passwd"));
        assert_eq!(
            BwrapPlan::etc_files(&host, true).last(),
            Some(&layout::RESOLV_CONF)
        );
        assert!(!BwrapPlan::etc_files(&host, false).contains(&layout::RESOLV_CONF));
        assert!(host.proc_read_only.contains(&"/proc/sys"));
    }
}
