//! `e2b-local doctor`: what this machine has and lacks for running sandboxes.

use std::fmt;
use std::path::Path;

use crate::sandbox::bwrap::Privilege;
use crate::sandbox::cgroup::CgroupSupport;

/// Outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Present and working.
    Ok,
    /// Missing or degraded, but sandboxes still work.
    Warn,
    /// Sandboxes cannot work without it.
    Fail,
}

/// One line of the report.
#[derive(Clone, Debug)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// The outcome.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// How to fix it, when not ok.
    pub hint: Option<String>,
}

/// The whole report.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Every check, in order.
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether nothing required is missing.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Fail)
    }

    fn push(
        &mut self,
        name: &'static str,
        status: Status,
        detail: impl Into<String>,
        hint: Option<&str>,
    ) {
        self.checks.push(Check {
            name,
            status,
            detail: detail.into(),
            hint: hint.map(str::to_owned),
        });
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            let tag = match c.status {
                Status::Ok => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            writeln!(f, "[{tag}] {:<18} {}", c.name, c.detail)?;
            if let Some(hint) = &c.hint {
                writeln!(f, "       {:<18} → {hint}", "")?;
            }
        }
        if self.ok() {
            writeln!(f, "\ne2b-local can run sandboxes on this machine.")
        } else {
            writeln!(f, "\nSomething required is missing; see FAIL above.")
        }
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Examine this machine.
pub async fn run() -> Report {
    let mut report = Report::default();
    let is_root = rustix::process::geteuid().is_root();
    let privilege = if is_root {
        Privilege::Root
    } else {
        Privilege::UserNamespace
    };
    report.push(
        "identity",
        Status::Ok,
        if is_root {
            "running as root: sandboxes get `root` and `user` (uid 1000), cgroups when available"
        } else {
            "running unprivileged: sandboxes run in user namespaces (with `root` and `user` where this user has subordinate ids, else everything as `user`)"
        },
        None,
    );

    const BWRAP_HINT: &str = "install bubblewrap: `apt-get install bubblewrap` (Debian/Ubuntu), `dnf install bubblewrap` (Fedora), `apk add bubblewrap` (Alpine)";
    match crate::edge::server::find_in_path("bwrap") {
        None => report.push(
            "bubblewrap",
            Status::Fail,
            "`bwrap` not found in PATH",
            Some(BWRAP_HINT),
        ),
        Some(bwrap) => {
            let version = tokio::process::Command::new(&bwrap)
                .arg("--version")
                .output()
                .await
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_default();
            report.push(
                "bubblewrap",
                Status::Ok,
                format!("{version} ({})", bwrap.display()),
                None,
            );
            let isolation = crate::sandbox::isolation::Isolation::prepare(privilege);
            let userns = isolation.as_ref().ok().and_then(|i| i.userns.clone());
            match &isolation {
                Ok(i) => {
                    report.push(
                        "sandbox identity",
                        Status::Ok,
                        match &i.userns {
                            Some(_) => format!(
                                "a user namespace: root and user inside are host ids {} and {}, with no capability outside the sandbox",
                                crate::sandbox::userns::UserNamespace::host_id(0),
                                crate::sandbox::userns::UserNamespace::host_id(1000)
                            ),
                            None => "unprivileged: with subordinate ids, one user namespace whose root is this user and `user` a subordinate id (as in rootless Podman); without, one per sandbox mapping this user to `user`".to_owned(),
                        },
                        None,
                    );
                    report.push(
                        "seccomp",
                        Status::Ok,
                        "filter built (kernel modules, kexec, bpf, perf, keyrings, mounts, ptrace, new namespaces, io_uring refused)",
                        None,
                    );
                    match &i.slirp4netns {
                        Ok(path) => report.push(
                            "network",
                            Status::Ok,
                            format!(
                                "every sandbox has its own network namespace; internet through {} (host loopback unreachable)",
                                path.display()
                            ),
                            None,
                        ),
                        Err(why) => report.push(
                            "network",
                            Status::Warn,
                            format!(
                                "every sandbox has its own network namespace; no internet access: {why}"
                            ),
                            Some("apt-get install slirp4netns, and make /dev/net/tun usable (mode 0666)"),
                        ),
                    }
                }
                Err(e) => report.push(
                    "isolation",
                    Status::Fail,
                    e.to_string(),
                    Some("see the user namespace line below"),
                ),
            }
            match crate::edge::server::probe_bwrap(&bwrap, privilege, userns.as_deref()).await {
                Ok(()) => report.push(
                    "namespaces",
                    Status::Ok,
                    "bwrap can create pid, ipc, uts, mount and network namespaces",
                    None,
                ),
                Err(e) => report.push(
                    "namespaces",
                    Status::Fail,
                    e.to_string(),
                    Some("see the user namespace line below"),
                ),
            }
        }
    }

    let max_userns =
        read_trimmed("/proc/sys/user/max_user_namespaces").and_then(|v| v.parse::<u64>().ok());
    let clone_allowed = read_trimmed("/proc/sys/kernel/unprivileged_userns_clone");
    let apparmor = read_trimmed("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
    let mut problems = Vec::new();
    if max_userns == Some(0) {
        problems.push("user.max_user_namespaces is 0");
    }
    if clone_allowed.as_deref() == Some("0") {
        problems.push("kernel.unprivileged_userns_clone is 0");
    }
    if apparmor.as_deref() == Some("1") {
        problems.push("kernel.apparmor_restrict_unprivileged_userns is 1");
    }
    let detail = format!(
        "max_user_namespaces={}, unprivileged_userns_clone={}, apparmor_restrict_unprivileged_userns={}",
        max_userns.map_or("?".to_owned(), |v| v.to_string()),
        clone_allowed.as_deref().unwrap_or("n/a"),
        apparmor.as_deref().unwrap_or("n/a"),
    );
    let status = match (problems.is_empty(), is_root) {
        (true, _) => Status::Ok,
        (false, true) => Status::Warn,
        (false, false) => Status::Fail,
    };
    let hint = (!problems.is_empty()).then_some(
        "allow unprivileged user namespaces: `sysctl -w user.max_user_namespaces=15000 kernel.unprivileged_userns_clone=1 kernel.apparmor_restrict_unprivileged_userns=0` (or run as root)",
    );
    report.push(
        "user namespaces",
        status,
        if problems.is_empty() {
            detail
        } else {
            format!("{} ({detail})", problems.join(", "))
        },
        hint,
    );

    if is_root {
        let cgroups = CgroupSupport::detect();
        let description = cgroups.describe();
        let status = if cgroups.can_freeze() {
            Status::Ok
        } else {
            Status::Warn
        };
        report.push(
            "cgroups",
            status,
            description,
            (status != Status::Ok).then_some("pause falls back to SIGSTOP and there are no limits; mount cgroup v2 (or the v1 freezer) for both"),
        );
        let limits = cgroups.enforceable_limits();
        let missing: Vec<&str> = ["memory", "cpu", "pids"]
            .into_iter()
            .filter(|c| !limits.contains(c))
            .collect();
        report.push(
            "limits",
            if missing.is_empty() {
                Status::Ok
            } else {
                Status::Warn
            },
            if missing.is_empty() {
                format!(
                    "memory ({} MiB), cpu ({} CPUs) and processes per sandbox by default",
                    crate::options::DEFAULT_MEMORY_MB,
                    crate::options::DEFAULT_CPU_COUNT
                )
            } else {
                format!(
                    "enforced: {}; not enforceable here: {}",
                    if limits.is_empty() {
                        "none".to_owned()
                    } else {
                        limits.join(", ")
                    },
                    missing.join(", ")
                )
            },
            (!missing.is_empty()).then_some("enable the missing cgroup controllers"),
        );
        cgroups.release();
        match crate::sandbox::disk::host_support() {
            Ok(_) => report.push(
                "disk",
                Status::Ok,
                format!(
                    "each sandbox's writable files on an ext4 disk of its own ({} MiB by default, sparse)",
                    crate::options::DEFAULT_DISK_MB
                ),
                None,
            ),
            Err(why) => report.push(
                "disk",
                Status::Warn,
                format!("sandbox disk use is not capped: {why}"),
                Some("load the loop module and install e2fsprogs"),
            ),
        }
        writable_root(&mut report, true);
    } else {
        report.push(
            "cgroups",
            Status::Warn,
            "not used unprivileged: pause uses SIGSTOP",
            Some("run as root for the freezer and the memory, cpu and pids limits"),
        );
        report.push(
            "limits",
            Status::Warn,
            "none enforced unprivileged (memory, cpu, processes, disk); mounts show host paths",
            Some("run as root where cgroups are available"),
        );
        writable_root(&mut report, false);
    }

    let hierarchy = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "cgroup v2 (unified)"
    } else if Path::new("/sys/fs/cgroup/unified").exists() {
        "cgroup v1/v2 hybrid"
    } else if Path::new("/sys/fs/cgroup/freezer").exists() {
        "cgroup v1"
    } else {
        "no cgroup mount found"
    };
    report.push("cgroup layout", Status::Ok, hierarchy, None);

    match std::env::current_exe() {
        Ok(exe) => report.push(
            "agent binary",
            Status::Ok,
            format!("{} (runs inside each sandbox as `envd`)", exe.display()),
            None,
        ),
        Err(e) => report.push(
            "agent binary",
            Status::Fail,
            format!("cannot locate this executable: {e}"),
            Some("run e2b-local from a regular file"),
        ),
    }

    match crate::edge::server::find_in_path("python3") {
        Some(python) => report.push(
            "python3",
            Status::Ok,
            format!("{} (for code-interpreter kernels)", python.display()),
            None,
        ),
        None => report.push(
            "python3",
            Status::Warn,
            "not found (only needed for code-interpreter kernels)",
            Some("`apt-get install python3 python3-venv`"),
        ),
    }
    code_interpreter(&mut report);
    report
}

/// Whether sandboxes get writable roots (a root server), and which of the
/// programs E2B's base image has the host's system lacks.
///
/// Unprivileged (`root` false), writable roots take `fuse-overlayfs` and
/// subordinate ids (see [`rootless`](crate::sandbox::rootless)).
fn writable_root(report: &mut Report, root: bool) {
    let works = if root {
        crate::sandbox::disk::host_support().and_then(|_| {
            let ns = crate::sandbox::userns::UserNamespace::create().map_err(|e| e.to_string())?;
            crate::sandbox::idmap::probe(Path::new("/usr"), ns.fd())
                .map_err(|e| format!("idmapped mounts do not work here ({e})"))
        })
    } else {
        crate::sandbox::rootless::Rootless::probe().map(|_| ())
    };
    if let Err(why) = works {
        let hint = if root {
            "Linux 5.12 or later with loop devices and e2fsprogs gives sandboxes writable roots"
        } else {
            "unprivileged, writable roots need fuse-overlayfs, uidmap, a usable /dev/fuse and subordinate ids (/etc/subuid, /etc/subgid); or run as root"
        };
        report.push(
            "root fs",
            Status::Warn,
            format!("read-only (only /home/user and /tmp writable, no sudo): {why}"),
            Some(hint),
        );
        report.push(
            "template builds",
            Status::Warn,
            "unavailable: builds need writable root filesystems",
            None,
        );
        return;
    }
    report.push(
        "template builds",
        Status::Ok,
        "through the template API (the SDKs' Template.build), at most two at a time",
        None,
    );
    let missing: Vec<&str> = ["bash", "python3", "pip3", "node", "npm", "git", "curl"]
        .into_iter()
        .filter(|p| {
            ["/usr/bin", "/usr/local/bin"]
                .iter()
                .all(|d| !Path::new(d).join(p).exists())
        })
        .collect();
    let how = if root {
        "the host's /usr and /etc under a layer per sandbox"
    } else {
        "fuse-overlayfs over the host's /usr and /etc, in a user namespace of subordinate ids; no disk cap"
    };
    if missing.is_empty() {
        report.push(
            "root fs",
            Status::Ok,
            format!("writable ({how}), sudo for user; bash, python3, pip, node, npm, git, curl"),
            None,
        );
    } else {
        report.push(
            "root fs",
            Status::Warn,
            format!("writable, sudo for user; the host's system lacks {}", missing.join(", ")),
            Some("install them on the host (Debian: python3-pip nodejs npm git curl); sandboxes use the host's /usr"),
        );
    }
}

/// The kernel environment `code-interpreter-v1` sandboxes run code with.
/// It is found as `serve` finds it without `--kernel-env`.
fn code_interpreter(report: &mut Report) {
    use crate::interpreter::kernel_env::{KERNEL_ENV_HINT, KERNEL_ENV_VAR};
    let Some(env) = crate::cli::choose_kernel_env(None) else {
        let default = crate::cli::default_kernel_env_dir()
            .map(|dir| format!(" and {} does not exist", dir.display()))
            .unwrap_or_default();
        report.push(
            "code interpreter",
            Status::Warn,
            format!("{KERNEL_ENV_VAR} is not set{default} (only needed for code-interpreter-v1)"),
            Some(KERNEL_ENV_HINT),
        );
        return;
    };
    match env.problem() {
        Some(problem) => report.push(
            "code interpreter",
            Status::Warn,
            format!("{problem} (only needed for code-interpreter-v1)"),
            Some(KERNEL_ENV_HINT),
        ),
        None => {
            let languages: Vec<&str> = env.languages().iter().map(|l| l.name()).collect();
            report.push(
                "code interpreter",
                Status::Ok,
                format!(
                    "{} (languages: {})",
                    env.root().display(),
                    languages.join(", ")
                ),
                None,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_fails_when_a_required_check_fails() {
        let mut r = Report::default();
        r.push("a", Status::Ok, "fine", None);
        r.push("b", Status::Warn, "meh", Some("fix b"));
        assert!(r.ok());
        r.push("c", Status::Fail, "broken", Some("install c"));
        assert!(!r.ok());
        let text = r.to_string();
        assert!(
            text.contains("[FAIL] c") && text.contains("install c"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn this_machine_has_bubblewrap() {
        let report = run().await;
        let bwrap = report
            .checks
            .iter()
            .find(|c| c.name == "bubblewrap")
            .unwrap();
        assert_eq!(bwrap.status, Status::Ok, "{report}");
        assert!(bwrap.detail.contains("bubblewrap"), "{}", bwrap.detail);
        assert!(report.ok(), "{report}");
    }
}
