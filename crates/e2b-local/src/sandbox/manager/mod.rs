//! The sandbox manager: creates, pauses, resumes, snapshots, forks and kills
//! sandboxes, keeps their records on disk and runs their timeouts.
//!
//! Each sandbox has an operation lock (async) that serialises lifecycle
//! changes, and a small state mutex read by the proxy and listings without
//! waiting for those changes.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant as StdInstant};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::bwrap::{BwrapPlan, HostLayout, KernelMounts, LaunchFds, MountSources, Privilege};
use super::cgroup::{CgroupSupport, Limits};
use super::child_fds::{ChildFds, file_with, pipe};
use super::disk::{self, Disks, LoopDevice};
use super::layout::{self, Ownership, SandboxPaths};
use super::lifecycle::{self, DeadlineTx};
use super::metrics::{self, CpuSample, Usage};
use super::network::NetworkError;
use super::seccomp::SeccompPrograms;
use super::spawner::Spawner;
use super::userns::UserNamespace;
use super::{SandboxError, fs_copy};
use crate::host::HostInfo;
use crate::sandbox::instance::{Instance, LaunchSpec, NetworkSpec};
use crate::sandbox::record::{
    Lifecycle, NetworkSettings, NetworkUpdate, SandboxRecord, SnapshotRecord, State, VolumeMount,
};
use crate::sandbox::stage::{self, Source, Stage};
use crate::store::{self, DataDirs};

mod boot;
mod copies;
mod create;
mod restore;
mod traffic;
mod transitions;
mod usage;
mod warm;

use boot::disk_mount;
use copies::copy_state;
use create::new_token;
pub(crate) use traffic::{TrafficRefusal, TrafficTarget};
pub use warm::WarmPoolStatus;

/// The built-in template.
pub(crate) const BASE_TEMPLATE: &str = "base";
/// The built-in template with the code interpreter (needs a kernel environment).
pub(crate) const CODE_INTERPRETER_TEMPLATE: &str = "code-interpreter-v1";
/// Extra time an agent gets to become ready when it first starts a kernel.
const KERNEL_READY_ALLOWANCE: Duration = Duration::from_secs(60);

/// How long dropping the server waits for its sandboxes' processes to die.
const DROP_KILL_WAIT: Duration = Duration::from_secs(2);
/// How long copying a sandbox's files (snapshot, fork, restore) may take.
const COPY_TIMEOUT: Duration = Duration::from_secs(600);

/// Settings of the manager.
#[derive(Clone, Debug)]
pub(crate) struct ManagerConfig {
    /// The `bwrap` binary.
    pub(crate) bwrap: PathBuf,
    /// The agent binary (this crate's binary).
    pub(crate) agent_binary: PathBuf,
    /// How identities are set up.
    pub(crate) privilege: Privilege,
    /// How long an agent may take to become ready.
    pub(crate) ready_timeout: Duration,
    /// Per-sandbox limits (applied where cgroups allow).
    pub(crate) limits: Limits,
    /// Longest accepted sandbox timeout.
    pub(crate) max_timeout: Duration,
    /// The envd version reported to clients and the agent.
    pub(crate) envd_version: String,
    /// Whether to use cgroups at all.
    pub(crate) use_cgroups: bool,
    /// The code-interpreter kernel environment, when configured.
    pub(crate) kernel_env: Option<crate::interpreter::kernel_env::KernelEnv>,
    /// The user namespace sandboxes join (root servers; `None` when
    /// bubblewrap makes one per sandbox).
    pub(crate) userns: Option<Arc<UserNamespace>>,
    /// The seccomp filter of every sandbox.
    pub(crate) seccomp: SeccompPrograms,
    /// `slirp4netns`, which gives sandboxes internet access; without it
    /// only sandboxes without internet access can be created.
    pub(crate) slirp4netns: Result<PathBuf, String>,
    /// How long a proxied request body may stall.
    pub(crate) body_idle_timeout: Duration,
    /// Every new sandbox's own disk (root servers where the host allows).
    pub(crate) disks: Option<Arc<Disks>>,
    /// The base of writable root filesystems (root servers whose sandboxes
    /// have disks, on hosts with idmapped mounts); without it sandboxes see
    /// the host's system read-only.
    pub(crate) host_base: Option<Arc<crate::sandbox::host_base::HostBase>>,
    /// How an unprivileged server gives sandboxes writable roots (with
    /// [`host_base`](Self::host_base)), when it can.
    pub(crate) rootless: Option<Arc<crate::sandbox::rootless::Rootless>>,
    /// The volumes sandboxes mount.
    pub(crate) volumes: Arc<crate::volumes::VolumeStore>,
    /// The warm pools: a template reference and how many started sandboxes
    /// of it to keep ready.
    pub(crate) warm: Vec<(String, usize)>,
}

/// A sandbox as requested by create (or derived by fork).
#[derive(Clone, Debug)]
pub(crate) struct SandboxSpec {
    /// Template reference (`base`, a snapshot id or name).
    pub(crate) template: String,
    /// Timeout in seconds.
    pub(crate) timeout_secs: u32,
    /// Metadata.
    pub(crate) metadata: BTreeMap<String, String>,
    /// Environment variables.
    pub(crate) env_vars: BTreeMap<String, String>,
    /// Issue an envd access token.
    pub(crate) secure: bool,
    /// `allow_internet_access` as requested.
    pub(crate) allow_internet_access: Option<bool>,
    /// Network settings.
    pub(crate) network: Option<NetworkSettings>,
    /// Lifecycle settings.
    pub(crate) lifecycle: Lifecycle,
    /// Volume mounts (resolved: each names its volume's id).
    pub(crate) volume_mounts: Vec<VolumeMount>,
    /// MCP configuration (recorded).
    pub(crate) mcp: Option<serde_json::Value>,
    /// The server's own sandbox (see [`SandboxRecord::internal`]).
    pub(crate) internal: bool,
}

/// Result of a fork for one copy.
pub(crate) type ForkOutcome = Result<SandboxRecord, SandboxError>;

/// The manager (cheap to clone).
#[derive(Clone, Debug)]
pub(crate) struct Manager {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: ManagerConfig,
    dirs: DataDirs,
    host: HostInfo,
    host_layout: HostLayout,
    cgroups: CgroupSupport,
    spawner: Mutex<Option<Arc<Spawner>>>,
    sandboxes: Mutex<HashMap<String, Arc<Sandbox>>>,
    snapshots: Mutex<BTreeMap<String, SnapshotRecord>>,
    /// Serialises snapshot writes (names must stay unique).
    snapshot_lock: tokio::sync::Mutex<()>,
    closed: AtomicBool,
    /// The warm pools.
    warm: Vec<Arc<warm::WarmPool>>,
    /// Cancelled when the server stops: the pools stop refilling.
    warm_stop: CancellationToken,
}

#[derive(Debug)]
struct Sandbox {
    id: String,
    paths: SandboxPaths,
    ops: tokio::sync::Mutex<()>,
    state: Mutex<Live>,
    deadline: DeadlineTx,
}

#[derive(Debug)]
struct Live {
    record: SandboxRecord,
    instance: Option<Arc<Instance>>,
    /// The loop device of the sandbox's disk, held from its first start.
    disk: Option<Arc<LoopDevice>>,
    /// CPU time at the last metrics sample.
    cpu: CpuSample,
    /// Where it is in its life (running or paused is in its record).
    presence: Presence,
    /// Cancelled when its processes stop serving (pause, kill, exit): the
    /// requests in flight to it end then instead of hanging.
    serving: CancellationToken,
}

impl Live {
    /// A sandbox's live state before its first start (or its restart).
    fn new(record: SandboxRecord, presence: Presence) -> Self {
        Self {
            record,
            instance: None,
            disk: None,
            cpu: CpuSample::start(),
            presence,
            serving: CancellationToken::new(),
        }
    }
}

/// Where a registered sandbox is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Presence {
    /// Created, not booted yet: not listed (it may still fail to start).
    Starting,
    /// A warm pool's member, not handed out yet: found by no id, listed
    /// nowhere, reachable by no traffic.
    Pooled,
    /// Booted (running or paused).
    Ready,
    /// Killed or failed: on its way out of the registry.
    Removed,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave the data half-updated
    // in a way later readers could not cope with, so poisoning is ignored.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn tokio_deadline(end_at: DateTime<Utc>) -> tokio::time::Instant {
    let left = (end_at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
    tokio::time::Instant::now() + left
}

fn seconds(secs: u32) -> chrono::Duration {
    chrono::Duration::seconds(i64::from(secs))
}

impl Sandbox {
    fn live(&self) -> MutexGuard<'_, Live> {
        lock(&self.state)
    }

    fn record(&self) -> SandboxRecord {
        self.live().record.clone()
    }

    fn save(&self) -> Result<(), SandboxError> {
        let record = self.record();
        store::write_json_atomic(&self.paths.record(), &record)?;
        Ok(())
    }

    fn arm(&self) {
        let live = self.live();
        let deadline =
            (live.record.state == State::Running).then(|| tokio_deadline(live.record.end_at));
        self.deadline.send_replace(deadline);
    }
}

impl Manager {
    /// Open the data directory: reload snapshots and paused sandboxes, drop
    /// what belonged to running sandboxes of a previous run.
    pub(crate) fn open(
        config: ManagerConfig,
        dirs: DataDirs,
        host: HostInfo,
    ) -> Result<Self, SandboxError> {
        dirs.empty_trash()?;
        let cgroups = if config.use_cgroups && host.is_root {
            CgroupSupport::detect()
        } else {
            CgroupSupport::none()
        };
        tracing::info!(cgroups = %cgroups.describe(), "sandbox resource control");
        let handle = tokio::runtime::Handle::current();
        let spawner = match &config.userns {
            Some(_) => {
                let agent = config.agent_binary.clone();
                Spawner::start_with(handle, move || stage::enter_spawner_namespace(&agent))
            }
            None => Spawner::start(handle),
        }
        .map_err(SandboxError::io("start the spawner thread"))?;
        let config_warm = config.warm.clone();
        let shared = Arc::new(Shared {
            config,
            dirs,
            host,
            host_layout: HostLayout::detect(),
            cgroups,
            spawner: Mutex::new(Some(Arc::new(spawner))),
            sandboxes: Mutex::new(HashMap::new()),
            snapshots: Mutex::new(BTreeMap::new()),
            snapshot_lock: tokio::sync::Mutex::new(()),
            closed: AtomicBool::new(false),
            warm: warm::pools(&config_warm),
            warm_stop: CancellationToken::new(),
        });
        shared.load_snapshots()?;
        shared.load_sandboxes()?;
        shared.start_warm_pools();
        Ok(Self { shared })
    }

    /// How long a request body to a sandbox may send nothing.
    pub(crate) fn body_idle_timeout(&self) -> Duration {
        self.shared.config.body_idle_timeout
    }

    /// The envd version reported for every sandbox.
    pub(crate) fn envd_version(&self) -> &str {
        &self.shared.config.envd_version
    }

    /// The record of a sandbox.
    pub(crate) fn get(&self, id: &str) -> Result<SandboxRecord, SandboxError> {
        Ok(self.shared.find(id)?.record())
    }

    /// All sandboxes.
    pub(crate) fn list(&self) -> Vec<SandboxRecord> {
        let sandboxes: Vec<Arc<Sandbox>> = lock(&self.shared.sandboxes).values().cloned().collect();
        sandboxes
            .iter()
            .filter(|s| s.live().presence == Presence::Ready)
            .map(|s| s.record())
            .filter(|r| !r.internal)
            .collect()
    }

    /// Kill every sandbox and wait (bounded) for them to be gone.
    pub(crate) async fn shutdown(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.warm_stop.cancel();
        let all: Vec<Arc<Sandbox>> = lock(&self.shared.sandboxes).values().cloned().collect();
        let kills = all.iter().map(|s| self.shared.end_with_server(s));
        futures_util::future::join_all(kills).await;
        lock(&self.shared.spawner).take();
        self.shared.cgroups.release();
    }

    /// Synchronous last resort (drop): kill every sandbox process now and
    /// wait (at most [`DROP_KILL_WAIT`]) until they are dead.
    pub(crate) fn kill_all_now(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.warm_stop.cancel();
        let all: Vec<Arc<Sandbox>> = lock(&self.shared.sandboxes)
            .drain()
            .map(|(_, s)| s)
            .collect();
        let mut doomed = Vec::new();
        for sandbox in all {
            let Some(instance) = sandbox.live().instance.take() else {
                continue;
            };
            if *instance.exited().borrow() {
                continue;
            }
            // The outer bwrap has not been reaped, so its pid and its
            // descendants' are still the sandbox's.
            doomed.push(instance.pid());
            doomed.extend(instance.processes().iter().map(|p| p.pid));
            if let Some(cg) = instance.cgroup() {
                cg.kill_all();
            }
            for &pid in &doomed {
                let _ = super::freeze::kill(pid);
            }
            if let Some(cg) = instance.cgroup() {
                // Frozen (v1) tasks only die once thawed.
                let _ = cg.thaw(Duration::from_millis(200));
            }
        }
        // The spawner thread's exit also delivers SIGKILL to every bwrap it started.
        lock(&self.shared.spawner).take();
        let deadline = StdInstant::now() + DROP_KILL_WAIT;
        while StdInstant::now() < deadline && doomed.iter().any(|&pid| super::procs::is_alive(pid))
        {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Shared {
    fn check_open(&self) -> Result<(), SandboxError> {
        if self.closed.load(Ordering::SeqCst) {
            Err(SandboxError::ShuttingDown)
        } else {
            Ok(())
        }
    }

    fn validate_timeout(&self, secs: u32) -> Result<(), SandboxError> {
        if Duration::from_secs(u64::from(secs)) > self.config.max_timeout {
            let hours = self.config.max_timeout.as_secs() / 3600;
            return Err(SandboxError::Invalid(format!(
                "Timeout cannot be greater than {hours} hours"
            )));
        }
        Ok(())
    }

    /// A sandbox by id; a warm pool's member is no one's until handed out.
    fn find(&self, id: &str) -> Result<Arc<Sandbox>, SandboxError> {
        let found = lock(&self.sandboxes).get(id).cloned();
        found
            .filter(|s| s.live().presence != Presence::Pooled)
            .ok_or_else(|| SandboxError::NotFound(id.to_owned()))
    }

    /// After taking a sandbox's op lock: it may have been killed meanwhile.
    fn ensure_present(&self, sandbox: &Sandbox) -> Result<(), SandboxError> {
        if sandbox.live().presence == Presence::Removed {
            Err(SandboxError::NotFound(sandbox.id.clone()))
        } else {
            Ok(())
        }
    }

    fn ownership(&self) -> Ownership {
        match self.config.privilege {
            Privilege::Root => Ownership::Root,
            Privilege::UserNamespace => Ownership::ServerUser,
        }
    }

    fn spawner(&self) -> Result<Arc<Spawner>, SandboxError> {
        lock(&self.spawner)
            .clone()
            .ok_or(SandboxError::ShuttingDown)
    }
}

/// Run a sandbox operation on its own task and wait for it. A caller that
/// goes away (a client disconnecting drops the request's future) cannot stop
/// the operation halfway: it finishes, or fails and undoes itself, either way
/// leaving no half-started processes, frozen sandboxes or stray cgroups.
async fn detached<T: Send + 'static>(
    op: impl std::future::Future<Output = Result<T, SandboxError>> + Send + 'static,
) -> Result<T, SandboxError> {
    match tokio::spawn(op).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(SandboxError::ShuttingDown),
    }
}

#[cfg(test)]
mod tests {
    use super::copies::validate_snapshot_name;
    use super::create::isolate_network;
    use super::*;

    fn network(allow: &[&str], deny: &[&str]) -> NetworkSettings {
        NetworkSettings {
            allow_out: allow.iter().map(|s| (*s).to_owned()).collect(),
            deny_out: deny.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn network_isolation_is_all_or_nothing() {
        assert!(!isolate_network(None, None));
        assert!(!isolate_network(Some(true), None));
        assert!(isolate_network(Some(false), None));
        assert!(isolate_network(None, Some(&network(&[], &["0.0.0.0/0"]))));
        assert!(!isolate_network(
            None,
            Some(&network(&["1.1.1.1"], &["0.0.0.0/0"]))
        ));
        assert!(!isolate_network(None, Some(&network(&[], &["10.0.0.0/8"]))));
    }

    #[test]
    fn traffic_targets_hide_their_tokens() {
        let target = TrafficTarget {
            socket: PathBuf::from("/data/sandboxes/iabc/run/envd.sock"),
            envd_access_token: Some("envd-secret-token".into()),
            traffic_access_token: None,
            code_interpreter: false,
            serving: CancellationToken::new(),
        };
        let shown = format!("{target:?}");
        assert!(!shown.contains("secret-token"), "{shown}");
        assert!(
            shown.contains("envd.sock") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn snapshot_names_are_validated() {
        assert!(validate_snapshot_name("my-snap_1.0").is_ok());
        assert!(validate_snapshot_name("").is_err());
        assert!(validate_snapshot_name("../x").is_err());
        assert!(validate_snapshot_name(".hidden").is_err());
        assert!(validate_snapshot_name("a/b").is_err());
    }
}
