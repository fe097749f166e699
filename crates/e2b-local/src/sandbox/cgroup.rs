//! Control groups for sandboxes, where the host allows them (root, a writable hierarchy).
//!
//! Used for: freezing a paused sandbox (cgroup v2 `cgroup.freeze`, else the
//! v1 freezer), killing it as a unit (v2 `cgroup.kill`), and limits (memory,
//! pids; v2 controllers when delegated, else v1). Hosts differ (pure v2,
//! v1/v2 hybrids, no delegation): everything is detected at start and each
//! feature is used only when a probe succeeds. Without cgroups the server
//! still works: pause stops processes with `SIGSTOP` and there are no limits.
//!
//! Layout: `<hierarchy>/<server's own cgroup>/e2b-local/<server instance>/<sandbox id>`,
//! where the server instance is `srv-<pid>-<random>`; directories of dead
//! servers are removed at start.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The v1 controllers we use.
const V1_CONTROLLERS: [&str; 4] = ["freezer", "memory", "pids", "cpu"];

/// The CPU quota's scheduling period (100 ms, the kernel's default).
const CPU_PERIOD_US: u64 = 100_000;

/// The CPU time `cpus` CPUs get per [`CPU_PERIOD_US`].
fn cpu_quota_us(cpus: u32) -> u64 {
    u64::from(cpus) * CPU_PERIOD_US
}

/// What the host offers, with the parent directory under which sandbox cgroups go.
#[derive(Clone, Debug, Default)]
pub(crate) struct CgroupSupport {
    /// The v2 directory for this server's sandboxes, when usable.
    v2: Option<PathBuf>,
    /// Whether v2 sandbox cgroups can freeze (kernel ≥ 5.2).
    v2_freeze: bool,
    /// Whether v2 sandbox cgroups have the memory controller.
    v2_memory: bool,
    /// Whether v2 sandbox cgroups have the pids controller.
    v2_pids: bool,
    /// Whether v2 sandbox cgroups have the cpu controller.
    v2_cpu: bool,
    /// v1 directories for this server's sandboxes, per controller.
    v1: Vec<(&'static str, PathBuf)>,
}

/// Resource limits applied to every sandbox (where possible).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Memory limit in bytes.
    pub(crate) memory_bytes: Option<u64>,
    /// Maximum number of processes/threads.
    pub(crate) pids: Option<u64>,
    /// CPU time per scheduling period, in CPUs.
    pub(crate) cpus: Option<u32>,
}

impl CgroupSupport {
    /// Probe the host's hierarchies and create this server instance's directories.
    pub(crate) fn detect() -> Self {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let instance = format!(
            "srv-{}-{}",
            std::process::id(),
            crate::ids::hex(&crate::ids::random_bytes(4).unwrap_or_default())
        );
        let mut support = Self::default();
        for mount in parse_mountinfo(&mountinfo) {
            match mount.kind {
                MountKind::V2 => {
                    if support.v2.is_some() {
                        continue;
                    }
                    let Some(own_path) = own_path(&own, None) else {
                        continue;
                    };
                    let Some(dir) = prepare_parent(&mount.mount_point, &own_path, &instance) else {
                        continue;
                    };
                    // Try to hand memory and pids to our children (works when delegated).
                    let available =
                        fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
                    for c in ["memory", "pids", "cpu"] {
                        if available.split_whitespace().any(|x| x == c) {
                            let _ = fs::write(dir.join("cgroup.subtree_control"), format!("+{c}"));
                        }
                    }
                    let enabled =
                        fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
                    support.v2_memory = enabled.split_whitespace().any(|x| x == "memory");
                    support.v2_pids = enabled.split_whitespace().any(|x| x == "pids");
                    support.v2_cpu = enabled.split_whitespace().any(|x| x == "cpu");
                    support.v2_freeze = probe_child(&dir, "cgroup.freeze");
                    support.v2 = Some(dir);
                }
                MountKind::V1(controllers) => {
                    for controller in V1_CONTROLLERS {
                        if !controllers.iter().any(|c| c == controller)
                            || support.v1.iter().any(|(c, _)| *c == controller)
                        {
                            continue;
                        }
                        let Some(own_path) = own_path(&own, Some(controller)) else {
                            continue;
                        };
                        if let Some(dir) = prepare_parent(&mount.mount_point, &own_path, &instance)
                        {
                            support.v1.push((controller, dir));
                        }
                    }
                }
            }
        }
        support
    }

    /// Remove this server instance's (empty) directories.
    pub(crate) fn release(&self) {
        for dir in self.v2.iter().chain(self.v1.iter().map(|(_, d)| d)) {
            let _ = fs::remove_dir(dir);
        }
    }

    /// No cgroups at all (unprivileged hosts, tests).
    pub(crate) fn none() -> Self {
        Self::default()
    }

    /// Whether any hierarchy is usable.
    pub(crate) fn is_usable(&self) -> bool {
        self.v2.is_some() || !self.v1.is_empty()
    }

    /// Whether sandboxes can be frozen through a cgroup.
    pub(crate) fn can_freeze(&self) -> bool {
        (self.v2.is_some() && self.v2_freeze) || self.v1_dir("freezer").is_some()
    }

    /// The per-sandbox limits this host's cgroups can enforce, of memory, cpu and pids.
    pub(crate) fn enforceable_limits(&self) -> Vec<&'static str> {
        let v2 = self.v2.is_some();
        [
            ("memory", v2 && self.v2_memory),
            ("cpu", v2 && self.v2_cpu),
            ("pids", v2 && self.v2_pids),
        ]
        .into_iter()
        .filter(|&(controller, in_v2)| in_v2 || self.v1_dir(controller).is_some())
        .map(|(controller, _)| controller)
        .collect()
    }

    /// A one-line description for logs and `doctor`.
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(dir) = &self.v2 {
            let mut feats = vec!["kill"];
            if self.v2_freeze {
                feats.push("freeze");
            }
            if self.v2_memory {
                feats.push("memory");
            }
            if self.v2_pids {
                feats.push("pids");
            }
            if self.v2_cpu {
                feats.push("cpu");
            }
            parts.push(format!("v2 at {} ({})", dir.display(), feats.join(", ")));
        }
        for (c, dir) in &self.v1 {
            parts.push(format!("v1 {c} at {}", dir.display()));
        }
        if parts.is_empty() {
            "none usable".to_owned()
        } else {
            parts.join("; ")
        }
    }

    fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.v1
            .iter()
            .find(|(c, _)| *c == controller)
            .map(|(_, d)| d.as_path())
    }

    /// Create the cgroups of one sandbox and apply `limits` where supported.
    pub(crate) fn create(&self, sandbox_id: &str, limits: Limits) -> io::Result<SandboxCgroup> {
        let mut cg = SandboxCgroup::default();
        if let Some(parent) = &self.v2 {
            let dir = parent.join(sandbox_id);
            fs::create_dir(&dir)?;
            if let (Some(bytes), true) = (limits.memory_bytes, self.v2_memory) {
                write_best_effort(&dir.join("memory.max"), &bytes.to_string());
            }
            if let (Some(n), true) = (limits.pids, self.v2_pids) {
                write_best_effort(&dir.join("pids.max"), &n.to_string());
            }
            if let (Some(cpus), true) = (limits.cpus, self.v2_cpu) {
                let quota = cpu_quota_us(cpus);
                write_best_effort(&dir.join("cpu.max"), &format!("{quota} {CPU_PERIOD_US}"));
            }
            cg.v2_freeze = self.v2_freeze;
            cg.v2 = Some(dir);
        }
        for (controller, parent) in &self.v1 {
            let dir = parent.join(sandbox_id);
            if let Err(e) = fs::create_dir(&dir) {
                cg.remove();
                return Err(e);
            }
            match *controller {
                "memory" if !self.v2_memory => {
                    if let Some(bytes) = limits.memory_bytes {
                        write_best_effort(&dir.join("memory.limit_in_bytes"), &bytes.to_string());
                    }
                }
                "pids" if !self.v2_pids => {
                    if let Some(n) = limits.pids {
                        write_best_effort(&dir.join("pids.max"), &n.to_string());
                    }
                }
                "cpu" if !self.v2_cpu => {
                    if let Some(cpus) = limits.cpus {
                        let quota = cpu_quota_us(cpus);
                        write_best_effort(
                            &dir.join("cpu.cfs_period_us"),
                            &CPU_PERIOD_US.to_string(),
                        );
                        write_best_effort(&dir.join("cpu.cfs_quota_us"), &quota.to_string());
                    }
                }
                _ => {}
            }
            cg.v1.push((controller, dir));
        }
        Ok(cg)
    }
}

fn write_best_effort(path: &Path, value: &str) {
    if let Err(e) = fs::write(path, value) {
        tracing::warn!(path = %path.display(), error = %e, "could not apply a cgroup limit");
    }
}

/// The cgroups of one sandbox.
#[derive(Debug, Default)]
pub(crate) struct SandboxCgroup {
    v2: Option<PathBuf>,
    v2_freeze: bool,
    v1: Vec<(&'static str, PathBuf)>,
}

impl SandboxCgroup {
    fn v1_dir(&self, controller: &str) -> Option<&Path> {
        self.v1
            .iter()
            .find(|(c, _)| *c == controller)
            .map(|(_, d)| d.as_path())
    }

    /// Whether this sandbox can be frozen through its cgroup.
    pub(crate) fn can_freeze(&self) -> bool {
        (self.v2.is_some() && self.v2_freeze) || self.v1_dir("freezer").is_some()
    }

    /// Move process `pid` (with all its threads) into every hierarchy.
    pub(crate) fn add_process(&self, pid: u32) -> io::Result<()> {
        for dir in self.v2.iter().chain(self.v1.iter().map(|(_, d)| d)) {
            match fs::write(dir.join("cgroup.procs"), pid.to_string()) {
                Ok(()) => {}
                // The process exited in between: nothing to move.
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::SRCH.raw_os_error()) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Freeze every process; waits (bounded by `timeout`) until the kernel reports frozen.
    pub(crate) fn freeze(&self, timeout: Duration) -> io::Result<()> {
        self.set_frozen(true, timeout)
    }

    /// Thaw every process.
    pub(crate) fn thaw(&self, timeout: Duration) -> io::Result<()> {
        self.set_frozen(false, timeout)
    }

    fn set_frozen(&self, frozen: bool, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        if let (Some(dir), true) = (&self.v2, self.v2_freeze) {
            fs::write(dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })?;
            let want = if frozen { "frozen 1" } else { "frozen 0" };
            return wait_for(deadline, || {
                fs::read_to_string(dir.join("cgroup.events"))
                    .map(|t| t.lines().any(|l| l.trim() == want))
            });
        }
        if let Some(dir) = self.v1_dir("freezer") {
            let state = dir.join("freezer.state");
            fs::write(&state, if frozen { "FROZEN" } else { "THAWED" })?;
            let want = if frozen { "FROZEN" } else { "THAWED" };
            return wait_for(deadline, || {
                fs::read_to_string(&state).map(|t| t.trim() == want)
            });
        }
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no cgroup freezer",
        ))
    }

    /// Kill every process at once (cgroup v2 `cgroup.kill`); false when unsupported.
    pub(crate) fn kill_all(&self) -> bool {
        self.v2
            .as_ref()
            .is_some_and(|dir| fs::write(dir.join("cgroup.kill"), "1").is_ok())
    }

    /// Page-cache bytes charged to the sandbox, when a memory controller is present.
    pub(crate) fn memory_cache(&self) -> Option<u64> {
        let (path, key) = match (&self.v2, self.v1_dir("memory")) {
            (Some(dir), _) if dir.join("memory.stat").exists() => (dir.join("memory.stat"), "file"),
            (_, Some(dir)) => (dir.join("memory.stat"), "cache"),
            _ => return None,
        };
        let text = fs::read_to_string(path).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
    }

    /// The memory limit in bytes, when one is set.
    pub(crate) fn memory_limit(&self) -> Option<u64> {
        let text = match (&self.v2, self.v1_dir("memory")) {
            (Some(dir), _) if dir.join("memory.max").exists() => {
                fs::read_to_string(dir.join("memory.max")).ok()?
            }
            (_, Some(dir)) => fs::read_to_string(dir.join("memory.limit_in_bytes")).ok()?,
            _ => return None,
        };
        // "max" (v2) or a huge number (v1) mean unlimited.
        text.trim().parse::<u64>().ok().filter(|&n| n < (1 << 60))
    }

    /// Remove the directories; retries while the kernel still lists exiting tasks (bounded).
    pub(crate) fn remove(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        for dir in self.v2.iter().chain(self.v1.iter().map(|(_, d)| d)) {
            let _ = wait_for(deadline, || match fs::remove_dir(dir) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::BUSY.raw_os_error()) => Ok(false),
                Err(e) => Err(e),
            })
            .map_err(|e| tracing::warn!(dir = %dir.display(), error = %e, "could not remove a sandbox cgroup"));
        }
    }
}

/// Poll `check` every millisecond until it returns true or `deadline` passes.
fn wait_for(deadline: Instant, mut check: impl FnMut() -> io::Result<bool>) -> io::Result<()> {
    loop {
        if check()? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "cgroup did not reach the requested state in time",
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Create `<mount>/<own>/e2b-local/<instance>`, clear dead servers' leftovers, probe writability.
fn prepare_parent(mount_point: &Path, own_path: &str, instance: &str) -> Option<PathBuf> {
    let base = mount_point
        .join(own_path.trim_start_matches('/'))
        .join("e2b-local");
    fs::create_dir_all(&base).ok()?;
    remove_stale_instances(&base);
    let dir = base.join(instance);
    fs::create_dir_all(&dir).ok()?;
    let probe = dir.join("probe");
    fs::create_dir(&probe).ok()?;
    fs::remove_dir(&probe).ok()?;
    Some(dir)
}

/// Whether a child of `dir` gets the file `name` (a kernel feature probe).
fn probe_child(dir: &Path, name: &str) -> bool {
    let probe = dir.join("probe-feature");
    if fs::create_dir(&probe).is_err() {
        return false;
    }
    let present = probe.join(name).exists();
    let _ = fs::remove_dir(&probe);
    present
}

/// Remove `srv-<pid>-*` directories whose server process is gone.
fn remove_stale_instances(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("srv-"))
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let dir = entry.path();
        if let Ok(children) = fs::read_dir(&dir) {
            for child in children.flatten().filter(|c| c.path().is_dir()) {
                let _ = fs::write(child.path().join("cgroup.kill"), "1");
                let _ = fs::write(child.path().join("freezer.state"), "THAWED");
                let _ = fs::remove_dir(child.path());
            }
        }
        let _ = fs::remove_dir(&dir);
    }
}

#[derive(Debug, PartialEq, Eq)]
enum MountKind {
    V2,
    V1(Vec<String>),
}

#[derive(Debug, PartialEq, Eq)]
struct CgroupMount {
    mount_point: PathBuf,
    kind: MountKind,
}

/// The cgroup mounts listed in `/proc/self/mountinfo`.
fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = left.split_whitespace().nth(4)?;
            let mut right = right.split_whitespace();
            let fstype = right.next()?;
            let _source = right.next()?;
            let options = right.next().unwrap_or("");
            let kind = match fstype {
                "cgroup2" => MountKind::V2,
                "cgroup" => MountKind::V1(options.split(',').map(str::to_owned).collect()),
                _ => return None,
            };
            Some(CgroupMount {
                mount_point: PathBuf::from(unescape_octal(mount_point)),
                kind,
            })
        })
        .collect()
}

/// mountinfo escapes spaces and such as `\040`.
fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)))
            .map(|d| d.iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0')))
            .and_then(|v| u8::try_from(v).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// This process's path in the v2 hierarchy (`controller == None`) or a v1 controller's.
fn own_path(proc_cgroup: &str, controller: Option<&str>) -> Option<String> {
    proc_cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let hierarchy = parts.next()?;
        let controllers = parts.next()?;
        let path = parts.next()?;
        let matches = match controller {
            None => hierarchy == "0" && controllers.is_empty(),
            Some(c) => controllers.split(',').any(|x| x == c),
        };
        matches.then(|| path.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
25 1 0:23 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw
27 25 0:25 / /sys/fs/cgroup/freezer rw,nosuid shared:11 - cgroup cgroup rw,freezer
28 25 0:26 / /sys/fs/cgroup/cpu\\040x rw shared:12 - cgroup cgroup rw,cpu,cpuacct
30 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw";

    #[test]
    fn parses_cgroup_mounts() {
        let mounts = parse_mountinfo(MOUNTINFO);
        assert_eq!(mounts.len(), 3);
        assert_eq!(
            mounts[0],
            CgroupMount {
                mount_point: "/sys/fs/cgroup/unified".into(),
                kind: MountKind::V2
            }
        );
        assert_eq!(
            mounts[1].kind,
            MountKind::V1(vec!["rw".into(), "freezer".into()])
        );
        assert_eq!(mounts[2].mount_point, PathBuf::from("/sys/fs/cgroup/cpu x"));
    }

    #[test]
    fn unescapes_mountinfo_paths() {
        assert_eq!(unescape_octal("/a\\040b"), "/a b");
        assert_eq!(unescape_octal("/a\\777b"), "/a\\777b");
        assert_eq!(unescape_octal("/a\\04"), "/a\\04");
    }

    #[test]
    fn finds_own_paths() {
        let text = "9:name=systemd:/\n6:freezer:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/x\n0::/user.slice\n";
        assert_eq!(own_path(text, None).as_deref(), Some("/user.slice"));
        assert_eq!(
            own_path(text, Some("memory")).as_deref(),
            Some("/process_api/abc")
        );
        assert_eq!(own_path(text, Some("cpuacct")).as_deref(), Some("/x"));
        assert_eq!(own_path(text, Some("pids")), None);
    }

    #[test]
    fn limits_default_to_none() {
        assert_eq!(
            Limits::default(),
            Limits {
                memory_bytes: None,
                pids: None,
                cpus: None,
            }
        );
        assert!(!CgroupSupport::none().can_freeze());
        assert_eq!(CgroupSupport::none().describe(), "none usable");
    }
}
