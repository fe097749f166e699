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

use super::bwrap::{BwrapPlan, HostLayout, KernelMounts, LaunchFds, MountSources, Privilege};
use super::cgroup::{CgroupSupport, Limits};
use super::child_fds::{ChildFds, file_with, pipe};
use super::disk::{self, Disks, LoopDevice};
use super::instance::{Instance, LaunchSpec, NetworkSpec};
use super::layout::{self, Ownership, SandboxPaths};
use super::lifecycle::{self, DeadlineTx};
use super::metrics::{self, CpuSample, Usage};
use super::network::NetworkError;
use super::record::{
    Lifecycle, NetworkSettings, NetworkUpdate, SandboxRecord, SnapshotRecord, State, VolumeMount,
};
use super::seccomp::SeccompPrograms;
use super::spawner::Spawner;
use super::stage::{self, Source, Stage};
use super::userns::UserNamespace;
use super::{SandboxError, fs_copy};
use crate::host::HostInfo;
use crate::store::{self, DataDirs};

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
    pub(crate) kernel_env: Option<crate::kernel_env::KernelEnv>,
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
    /// Volume mounts (recorded).
    pub(crate) volume_mounts: Vec<VolumeMount>,
    /// MCP configuration (recorded).
    pub(crate) mcp: Option<serde_json::Value>,
}

/// Where the proxy sends a sandbox's traffic, and what it must check.
#[derive(Clone)]
pub(crate) struct TrafficTarget {
    /// The agent's socket.
    pub(crate) socket: PathBuf,
    /// Token required on envd (`X-Access-Token`), if the sandbox is secure.
    pub(crate) envd_access_token: Option<String>,
    /// Token required on other ports (`e2b-traffic-access-token`), if set.
    pub(crate) traffic_access_token: Option<String>,
    /// Whether the agent serves the code interpreter (port 49999).
    pub(crate) code_interpreter: bool,
}

impl std::fmt::Debug for TrafficTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Access tokens stay out of logs.
        f.debug_struct("TrafficTarget")
            .field("socket", &self.socket)
            .field(
                "envd_access_token",
                &crate::ids::redacted(self.envd_access_token.as_deref()),
            )
            .field(
                "traffic_access_token",
                &crate::ids::redacted(self.traffic_access_token.as_deref()),
            )
            .finish()
    }
}

/// Why traffic cannot reach a sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TrafficRefusal {
    /// Unknown, killed or still starting.
    NotFound,
    /// Paused, and auto-resume does not apply.
    Paused,
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
    /// Created and not booted yet: not listed (it may still fail to start).
    starting: bool,
    cpu: CpuSample,
    removed: bool,
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
        });
        shared.load_snapshots()?;
        shared.load_sandboxes()?;
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

    /// Create and start a sandbox, to the end even if the caller goes away.
    pub(crate) async fn create(&self, spec: SandboxSpec) -> Result<SandboxRecord, SandboxError> {
        let this = self.clone();
        detached(async move { this.create_now(spec).await }).await
    }

    /// Create and start a sandbox.
    async fn create_now(&self, spec: SandboxSpec) -> Result<SandboxRecord, SandboxError> {
        let shared = &self.shared;
        shared.check_open()?;
        shared.validate_timeout(spec.timeout_secs)?;
        if spec
            .network
            .as_ref()
            .is_some_and(|n| !n.allow_public_traffic)
            && !spec.secure
        {
            return Err(SandboxError::Invalid(
                "You cannot create a sandbox without public access unless you enable secure envd access via 'secure' flag."
                    .to_owned(),
            ));
        }
        let (template_id, alias, snapshot) = shared.resolve_template(&spec.template)?;
        let code_interpreter = template_id == CODE_INTERPRETER_TEMPLATE
            || snapshot.as_ref().is_some_and(|s| s.code_interpreter);
        let id = crate::ids::sandbox_id().map_err(SandboxError::io("generate a sandbox id"))?;
        let paths = SandboxPaths::new(shared.dirs.sandbox(&id));
        let mut env_vars = snapshot
            .as_ref()
            .map(|s| s.env_vars.clone())
            .unwrap_or_default();
        env_vars.extend(spec.env_vars.clone());
        if let Some(snapshot) = &snapshot {
            let from = shared.dirs.snapshot(&snapshot.template_id).join("fs");
            let sources: Vec<(PathBuf, PathBuf)> = SandboxPaths::new(from)
                .writable()
                .into_iter()
                .map(|(name, from)| (from.to_path_buf(), paths.root.join(name)))
                .collect();
            if let Err(e) = copy_state(&paths.root, sources).await {
                let _ = shared.dirs.remove_dir(&paths.root);
                return Err(e);
            }
        }
        let now = Utc::now();
        let record = SandboxRecord {
            id: id.clone(),
            template_id,
            alias,
            started_at: now,
            end_at: now + seconds(spec.timeout_secs),
            timeout_secs: spec.timeout_secs,
            metadata: spec.metadata,
            env_vars,
            envd_access_token: if spec.secure {
                Some(new_token()?)
            } else {
                None
            },
            traffic_access_token: match &spec.network {
                Some(n) if !n.allow_public_traffic => Some(new_token()?),
                _ => None,
            },
            allow_internet_access: spec.allow_internet_access,
            isolated_network: isolate_network(spec.allow_internet_access, spec.network.as_ref()),
            network: spec.network,
            lifecycle: spec.lifecycle,
            volume_mounts: spec.volume_mounts,
            code_interpreter,
            mcp: spec.mcp,
            state: State::Running,
            paused_with_memory: false,
        };
        shared.start_new(paths, record).await
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
            .filter(|s| !s.live().starting)
            .map(|s| s.record())
            .collect()
    }

    /// Kill a sandbox and delete its files, to the end even if the caller goes away.
    pub(crate) async fn kill(&self, id: &str) -> Result<(), SandboxError> {
        let (this, id) = (self.clone(), id.to_owned());
        detached(async move { this.kill_now(&id).await }).await
    }

    /// Kill a sandbox and delete its files.
    async fn kill_now(&self, id: &str) -> Result<(), SandboxError> {
        let sandbox = self.shared.find(id)?;
        self.shared.kill(&sandbox).await
    }

    /// Set the timeout to `secs` from now (running) or for the next resume (paused).
    pub(crate) async fn set_timeout(&self, id: &str, secs: u32) -> Result<(), SandboxError> {
        self.shared.validate_timeout(secs)?;
        let sandbox = self.shared.find(id)?;
        let _ops = sandbox.ops.lock().await;
        self.shared.ensure_present(&sandbox)?;
        {
            let mut live = sandbox.live();
            live.record.timeout_secs = secs;
            if live.record.state == State::Running {
                live.record.end_at = Utc::now() + seconds(secs);
            }
        }
        sandbox.save()?;
        sandbox.arm();
        Ok(())
    }

    /// Extend the timeout to at least `secs` from now.
    pub(crate) async fn refresh(&self, id: &str, secs: u32) -> Result<(), SandboxError> {
        let sandbox = self.shared.find(id)?;
        let _ops = sandbox.ops.lock().await;
        self.shared.ensure_present(&sandbox)?;
        {
            let mut live = sandbox.live();
            if live.record.state == State::Running {
                live.record.end_at = live.record.end_at.max(Utc::now() + seconds(secs));
            }
        }
        sandbox.save()?;
        sandbox.arm();
        Ok(())
    }

    /// [`connect_now`](Self::connect_now), to the end even if the caller goes away.
    pub(crate) async fn connect(
        &self,
        id: &str,
        timeout_secs: u32,
    ) -> Result<(SandboxRecord, bool), SandboxError> {
        let (this, id) = (self.clone(), id.to_owned());
        detached(async move { this.connect_now(&id, timeout_secs).await }).await
    }

    /// Connect: extend a running sandbox's timeout (never shortening it) or
    /// resume a paused one. Returns the record and whether it was resumed.
    async fn connect_now(
        &self,
        id: &str,
        timeout_secs: u32,
    ) -> Result<(SandboxRecord, bool), SandboxError> {
        self.shared.validate_timeout(timeout_secs)?;
        let sandbox = self.shared.find(id)?;
        let _ops = sandbox.ops.lock().await;
        self.shared.ensure_present(&sandbox)?;
        let state = sandbox.live().record.state;
        match state {
            State::Running => {
                {
                    let mut live = sandbox.live();
                    live.record.end_at = live.record.end_at.max(Utc::now() + seconds(timeout_secs));
                }
                sandbox.save()?;
                sandbox.arm();
                Ok((sandbox.record(), false))
            }
            State::Paused => {
                self.shared.resume_locked(&sandbox, timeout_secs).await?;
                Ok((sandbox.record(), true))
            }
        }
    }

    /// [`resume_now`](Self::resume_now), to the end even if the caller goes away.
    pub(crate) async fn resume(
        &self,
        id: &str,
        timeout_secs: u32,
    ) -> Result<SandboxRecord, SandboxError> {
        let (this, id) = (self.clone(), id.to_owned());
        detached(async move { this.resume_now(&id, timeout_secs).await }).await
    }

    /// Resume a paused sandbox (the deprecated resume route).
    async fn resume_now(&self, id: &str, timeout_secs: u32) -> Result<SandboxRecord, SandboxError> {
        self.shared.validate_timeout(timeout_secs)?;
        let sandbox = self.shared.find(id)?;
        let _ops = sandbox.ops.lock().await;
        self.shared.ensure_present(&sandbox)?;
        if sandbox.live().record.state == State::Running {
            return Err(SandboxError::AlreadyRunning(id.to_owned()));
        }
        self.shared.resume_locked(&sandbox, timeout_secs).await?;
        Ok(sandbox.record())
    }

    /// Pause a sandbox, to the end even if the caller goes away.
    pub(crate) async fn pause(&self, id: &str, memory: bool) -> Result<(), SandboxError> {
        let (this, id) = (self.clone(), id.to_owned());
        detached(async move { this.pause_now(&id, memory).await }).await
    }

    /// Pause a sandbox: freeze its processes (`memory`) or stop them keeping only files.
    async fn pause_now(&self, id: &str, memory: bool) -> Result<(), SandboxError> {
        let sandbox = self.shared.find(id)?;
        let _ops = sandbox.ops.lock().await;
        self.shared.ensure_present(&sandbox)?;
        self.shared.pause_locked(&sandbox, memory).await
    }

    /// Replace the network settings (recorded; see the crate docs for what is enforced).
    pub(crate) async fn update_network(
        &self,
        id: &str,
        update: NetworkUpdate,
    ) -> Result<(), SandboxError> {
        let sandbox = self.shared.find(id)?;
        let _ops = sandbox.ops.lock().await;
        self.shared.ensure_present(&sandbox)?;
        {
            let mut live = sandbox.live();
            let mut network = live.record.network.clone().unwrap_or_default();
            network.allow_out = update.allow_out;
            network.deny_out = update.deny_out;
            network.rules = update.rules;
            network.egress_proxy = update.egress_proxy;
            live.record.network = Some(network);
            if let Some(allow) = update.allow_internet_access {
                live.record.allow_internet_access = Some(allow);
            }
        }
        sandbox.save()?;
        Ok(())
    }

    /// Current resource usage of a sandbox.
    pub(crate) async fn metrics(&self, id: &str) -> Result<Usage, SandboxError> {
        let sandbox = self.shared.find(id)?;
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || {
            let (instance, mut cpu) = {
                let live = sandbox.live();
                (live.instance.clone(), live.cpu)
            };
            let processes = instance.as_ref().map(|i| i.processes()).unwrap_or_default();
            let disk = if sandbox.paths.has_disk() {
                match &instance {
                    Some(i) => metrics::DiskProbe::Mounted(disk_mount(i)),
                    None => metrics::DiskProbe::Image(sandbox.paths.image.clone()),
                }
            } else {
                metrics::DiskProbe::Dirs(
                    sandbox
                        .paths
                        .writable()
                        .iter()
                        .map(|(_, p)| p.to_path_buf())
                        .collect(),
                )
            };
            let probe = metrics::Probe {
                processes: &processes,
                cgroup: instance.as_ref().and_then(|i| i.cgroup()),
                disk,
                host: &shared.host,
            };
            let usage = metrics::measure(&probe, &mut cpu);
            sandbox.live().cpu = cpu;
            usage
        })
        .await
        .map_err(|e| SandboxError::Io {
            context: "measure the sandbox".to_owned(),
            source: std::io::Error::other(e),
        })
    }

    /// Where to send traffic for a sandbox; resumes it when paused with auto-resume.
    pub(crate) async fn traffic(&self, id: &str) -> Result<TrafficTarget, TrafficRefusal> {
        let sandbox = self.shared.find(id).map_err(|_| TrafficRefusal::NotFound)?;
        let (state, auto_resume, with_memory, timeout) = {
            let live = sandbox.live();
            if live.removed {
                return Err(TrafficRefusal::NotFound);
            }
            if live.record.state == State::Running {
                return match &live.instance {
                    Some(_) => Ok(target(&sandbox, &live.record)),
                    None => Err(TrafficRefusal::NotFound),
                };
            }
            (
                live.record.state,
                live.record.lifecycle.auto_resume,
                live.record.paused_with_memory,
                live.record.timeout_secs,
            )
        };
        if state != State::Paused || !auto_resume || !with_memory {
            return Err(TrafficRefusal::Paused);
        }
        let _ops = sandbox.ops.lock().await;
        if self.shared.ensure_present(&sandbox).is_err() {
            return Err(TrafficRefusal::NotFound);
        }
        let still_paused = sandbox.live().record.state == State::Paused;
        if still_paused && let Err(e) = self.shared.resume_locked(&sandbox, timeout).await {
            tracing::warn!(sandbox = id, error = %e, "auto-resume failed");
            return Err(TrafficRefusal::Paused);
        }
        let live = sandbox.live();
        Ok(target(&sandbox, &live.record))
    }

    /// [`snapshot_now`](Self::snapshot_now), to the end even if the caller goes away
    /// (a client leaving mid-snapshot never leaves the sandbox frozen).
    pub(crate) async fn snapshot(
        &self,
        id: &str,
        name: Option<String>,
    ) -> Result<SnapshotRecord, SandboxError> {
        let (this, id) = (self.clone(), id.to_owned());
        detached(async move { this.snapshot_now(&id, name).await }).await
    }

    /// Snapshot a sandbox's files as a template.
    async fn snapshot_now(
        &self,
        id: &str,
        name: Option<String>,
    ) -> Result<SnapshotRecord, SandboxError> {
        if let Some(name) = &name {
            validate_snapshot_name(name)?;
        }
        let shared = &self.shared;
        shared.check_open()?;
        let sandbox = shared.find(id)?;
        let _names = shared.snapshot_lock.lock().await;
        let existing = name.as_deref().and_then(|n| {
            lock(&shared.snapshots)
                .values()
                .find(|s| s.name.as_deref() == Some(n))
                .cloned()
        });
        let template_id = match &existing {
            Some(s) => s.template_id.clone(),
            None => {
                crate::ids::template_id().map_err(SandboxError::io("generate a template id"))?
            }
        };
        let staging = shared.dirs.snapshots().join(format!(
            ".tmp-{template_id}-{}",
            new_token()?.get(..8).unwrap_or("x")
        ));
        std::fs::create_dir_all(staging.join("fs"))
            .map_err(SandboxError::io("create the snapshot directory"))?;
        let result = async {
            let record = {
                let _ops = sandbox.ops.lock().await;
                shared.ensure_present(&sandbox)?;
                let sources: Vec<(PathBuf, PathBuf)> = sandbox
                    .paths
                    .writable()
                    .iter()
                    .map(|(n, from)| (from.to_path_buf(), staging.join("fs").join(n)))
                    .collect();
                shared
                    .with_frozen(&sandbox, copy_state(&staging, sources))
                    .await?;
                sandbox.record()
            };
            let snapshot = SnapshotRecord {
                template_id: template_id.clone(),
                name: name.clone(),
                source_sandbox_id: record.id.clone(),
                source_template_id: record.template_id.clone(),
                created_at: Utc::now(),
                env_vars: record.env_vars.clone(),
                code_interpreter: record.code_interpreter,
            };
            store::write_json_atomic(&staging.join("snapshot.json"), &snapshot)?;
            let target = shared.dirs.snapshot(&template_id);
            if existing.is_some() {
                shared.dirs.remove_dir(&target)?;
            }
            std::fs::rename(&staging, &target)
                .map_err(SandboxError::io("register the snapshot"))?;
            Ok(snapshot)
        }
        .await;
        match result {
            Ok(snapshot) => {
                lock(&shared.snapshots).insert(template_id, snapshot.clone());
                Ok(snapshot)
            }
            Err(e) => {
                let _ = shared.dirs.remove_dir(&staging);
                Err(e)
            }
        }
    }

    /// All snapshots, newest first.
    pub(crate) fn snapshots(&self) -> Vec<SnapshotRecord> {
        let mut all: Vec<SnapshotRecord> = lock(&self.shared.snapshots).values().cloned().collect();
        all.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.template_id.cmp(&b.template_id))
        });
        all
    }

    /// Delete a snapshot by reference; `Ok(false)` when there is none.
    pub(crate) async fn delete_snapshot(&self, reference: &str) -> Result<bool, SandboxError> {
        let shared = &self.shared;
        let _names = shared.snapshot_lock.lock().await;
        let found = lock(&shared.snapshots)
            .values()
            .find(|s| s.matches(reference))
            .map(|s| s.template_id.clone());
        let Some(template_id) = found else {
            return Ok(false);
        };
        shared
            .dirs
            .remove_dir(&shared.dirs.snapshot(&template_id))?;
        lock(&shared.snapshots).remove(&template_id);
        Ok(true)
    }

    /// [`fork_now`](Self::fork_now), to the end even if the caller goes away.
    pub(crate) async fn fork(
        &self,
        id: &str,
        count: u32,
        timeout_secs: u32,
    ) -> Result<Vec<ForkOutcome>, SandboxError> {
        let (this, id) = (self.clone(), id.to_owned());
        detached(async move { this.fork_now(&id, count, timeout_secs).await }).await
    }

    /// Fork a sandbox `count` times: copy its files (frozen meanwhile) and start each copy.
    async fn fork_now(
        &self,
        id: &str,
        count: u32,
        timeout_secs: u32,
    ) -> Result<Vec<ForkOutcome>, SandboxError> {
        let shared = &self.shared;
        shared.check_open()?;
        shared.validate_timeout(timeout_secs)?;
        let sandbox = shared.find(id)?;
        let mut prepared = Vec::new();
        let source = {
            let _ops = sandbox.ops.lock().await;
            shared.ensure_present(&sandbox)?;
            let mut copies = Vec::new();
            for _ in 0..count {
                let fork_id =
                    crate::ids::sandbox_id().map_err(SandboxError::io("generate a sandbox id"))?;
                copies.push((
                    fork_id.clone(),
                    SandboxPaths::new(shared.dirs.sandbox(&fork_id)),
                ));
            }
            let copy_all = async {
                let mut results = Vec::new();
                for (_, paths) in &copies {
                    let sources: Vec<(PathBuf, PathBuf)> = sandbox
                        .paths
                        .writable()
                        .into_iter()
                        .map(|(name, from)| (from.to_path_buf(), paths.root.join(name)))
                        .collect();
                    results.push(copy_state(&paths.root, sources).await);
                }
                Ok::<_, SandboxError>(results)
            };
            let results = shared.with_frozen(&sandbox, copy_all).await?;
            prepared.extend(copies.into_iter().zip(results));
            sandbox.record()
        };
        let now = Utc::now();
        let mut starts = Vec::new();
        for ((fork_id, paths), copied) in prepared {
            let record = SandboxRecord {
                id: fork_id,
                started_at: now,
                end_at: now + seconds(timeout_secs),
                timeout_secs,
                envd_access_token: match source.envd_access_token {
                    Some(_) => Some(new_token()?),
                    None => None,
                },
                traffic_access_token: match source.traffic_access_token {
                    Some(_) => Some(new_token()?),
                    None => None,
                },
                state: State::Running,
                paused_with_memory: false,
                ..source.clone()
            };
            let shared = Arc::clone(shared);
            starts.push(async move {
                match copied {
                    Ok(()) => shared.start_new(paths, record).await,
                    Err(e) => {
                        let _ = shared.dirs.remove_dir(&paths.root);
                        Err(e)
                    }
                }
            });
        }
        Ok(futures_util::future::join_all(starts).await)
    }

    /// Kill every sandbox and wait (bounded) for them to be gone.
    pub(crate) async fn shutdown(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
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

fn target(sandbox: &Sandbox, record: &SandboxRecord) -> TrafficTarget {
    TrafficTarget {
        socket: sandbox.paths.socket(),
        envd_access_token: record.envd_access_token.clone(),
        traffic_access_token: record.traffic_access_token.clone(),
        code_interpreter: record.code_interpreter,
    }
}

/// Bind the agent's listening socket at `path` (a directory only the server
/// sees), for the agent to inherit; a stale socket of an earlier run goes.
fn bind_agent_socket(path: &Path) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::unix::fs::PermissionsExt as _;
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener.into())
}

fn new_token() -> Result<String, SandboxError> {
    crate::ids::access_token().map_err(SandboxError::io("generate an access token"))
}

/// Whether a sandbox gets its own network namespace (no internet).
///
/// Only all-or-nothing egress can be enforced: `allow_internet_access: false`,
/// or a deny rule covering everything with nothing allowed. Finer rules are
/// recorded but not enforced.
pub(crate) fn isolate_network(
    allow_internet_access: Option<bool>,
    network: Option<&NetworkSettings>,
) -> bool {
    if allow_internet_access == Some(false) {
        return true;
    }
    network.is_some_and(|n| {
        n.allow_out.is_empty()
            && n.deny_out
                .iter()
                .any(|d| matches!(d.as_str(), "0.0.0.0/0" | "ALL_TRAFFIC" | "::/0"))
    })
}

fn validate_snapshot_name(name: &str) -> Result<(), SandboxError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(SandboxError::Invalid(format!(
            "invalid snapshot name '{name}': use letters, digits, '-', '_' and '.', at most 128 characters"
        )))
    }
}

/// Copy `(from, to)` directory pairs on a blocking thread (bounded). `root`
/// is created first so each `to` can be created inside it.
/// Where a running sandbox's disk is mounted, as the server reaches it: in
/// the mount namespace of its bubblewrap process, which the sandbox cannot
/// change.
fn disk_mount(instance: &Instance) -> PathBuf {
    PathBuf::from(format!(
        "/proc/{}/root{}/{}",
        instance.pid(),
        stage::LAUNCH_DIR,
        stage::DISK
    ))
}

/// Copy a sandbox's writable state (directories, or its disk image) into `root`.
async fn copy_state(root: &Path, pairs: Vec<(PathBuf, PathBuf)>) -> Result<(), SandboxError> {
    let root = root.to_path_buf();
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&root)?;
        let deadline = StdInstant::now() + COPY_TIMEOUT;
        for (from, to) in pairs {
            if from.is_dir() {
                fs_copy::copy_tree(&from, &to, deadline)?;
            } else {
                disk::copy_sparse(&from, &to, Some(deadline))?;
            }
        }
        Ok::<_, std::io::Error>(())
    })
    .await
    .map_err(|e| SandboxError::Io {
        context: "copy the sandbox's files".into(),
        source: std::io::Error::other(e),
    })?
    .map_err(SandboxError::io("copy the sandbox's files"))
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

    fn find(&self, id: &str) -> Result<Arc<Sandbox>, SandboxError> {
        lock(&self.sandboxes)
            .get(id)
            .cloned()
            .ok_or_else(|| SandboxError::NotFound(id.to_owned()))
    }

    /// After taking a sandbox's op lock: it may have been killed meanwhile.
    fn ensure_present(&self, sandbox: &Sandbox) -> Result<(), SandboxError> {
        if sandbox.live().removed {
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

    /// `(template id, alias, snapshot)` for a template reference.
    fn resolve_template(
        &self,
        reference: &str,
    ) -> Result<(String, Option<String>, Option<SnapshotRecord>), SandboxError> {
        let bare = reference.rsplit_once(':').map_or(reference, |(n, _)| n);
        let bare = bare.rsplit_once('/').map_or(bare, |(_, n)| n);
        if bare == BASE_TEMPLATE {
            return Ok((
                BASE_TEMPLATE.to_owned(),
                Some(BASE_TEMPLATE.to_owned()),
                None,
            ));
        }
        if bare == CODE_INTERPRETER_TEMPLATE {
            self.kernel_mounts()?;
            return Ok((
                CODE_INTERPRETER_TEMPLATE.to_owned(),
                Some(CODE_INTERPRETER_TEMPLATE.to_owned()),
                None,
            ));
        }
        let snapshots = lock(&self.snapshots);
        let snapshot = snapshots
            .values()
            .find(|s| s.matches(reference))
            .cloned()
            .ok_or_else(|| SandboxError::TemplateNotFound(reference.to_owned()))?;
        Ok((
            snapshot.template_id.clone(),
            snapshot.name.clone(),
            Some(snapshot),
        ))
    }

    /// The kernel environment's mounts, or why code-interpreter sandboxes cannot run.
    fn kernel_mounts(&self) -> Result<KernelMounts, SandboxError> {
        let unavailable = |reason: String| SandboxError::TemplateUnavailable {
            template: CODE_INTERPRETER_TEMPLATE.to_owned(),
            reason,
        };
        let env = self.config.kernel_env.as_ref().ok_or_else(|| {
            unavailable(format!(
                "no kernel environment is configured ({})",
                crate::kernel_env::KERNEL_ENV_HINT
            ))
        })?;
        if let Some(problem) = env.problem() {
            return Err(unavailable(format!(
                "{problem} ({})",
                crate::kernel_env::KERNEL_ENV_HINT
            )));
        }
        KernelMounts::of(env).ok_or_else(|| {
            unavailable(format!(
                "the kernel environment {} is unusable",
                env.root().display()
            ))
        })
    }

    fn spawner(&self) -> Result<Arc<Spawner>, SandboxError> {
        lock(&self.spawner)
            .clone()
            .ok_or(SandboxError::ShuttingDown)
    }

    /// Register a new sandbox (its files in place) and start it.
    async fn start_new(
        self: &Arc<Self>,
        paths: SandboxPaths,
        record: SandboxRecord,
    ) -> Result<SandboxRecord, SandboxError> {
        let id = record.id.clone();
        let prepared = (|| {
            layout::prepare(&paths, self.ownership(), self.config.disks.as_deref())
                .map_err(SandboxError::io("prepare the sandbox's directories"))?;
            store::write_json_atomic(&paths.record(), &record)?;
            Ok::<_, SandboxError>(())
        })();
        if let Err(e) = prepared {
            let _ = self.dirs.remove_dir(&paths.root);
            return Err(e);
        }
        let (deadline, rx) = lifecycle::deadline_channel();
        let sandbox = Arc::new(Sandbox {
            id: id.clone(),
            paths,
            ops: tokio::sync::Mutex::new(()),
            state: Mutex::new(Live {
                record,
                instance: None,
                disk: None,
                starting: true,
                cpu: CpuSample::start(),
                removed: false,
            }),
            deadline,
        });
        let ops = sandbox.ops.lock().await;
        lock(&self.sandboxes).insert(id.clone(), Arc::clone(&sandbox));
        self.spawn_timer(&sandbox, rx);
        if let Err(e) = self.boot(&sandbox).await {
            drop(ops);
            self.forget(&sandbox).await;
            return Err(e);
        }
        sandbox.live().starting = false;
        sandbox.arm();
        drop(ops);
        let record = sandbox.record();
        tracing::info!(sandbox = %id, template = %record.template_id, timeout_secs = record.timeout_secs, "sandbox started");
        Ok(record)
    }

    fn spawn_timer(
        self: &Arc<Self>,
        sandbox: &Arc<Sandbox>,
        rx: tokio::sync::watch::Receiver<Option<tokio::time::Instant>>,
    ) {
        let weak: Weak<Shared> = Arc::downgrade(self);
        let id = sandbox.id.clone();
        tokio::spawn(lifecycle::run_timer(rx, move || {
            let weak = weak.clone();
            let id = id.clone();
            async move {
                let Some(shared) = weak.upgrade() else {
                    return false;
                };
                shared.expire(&id).await;
                true
            }
        }));
    }

    /// Start the sandbox's processes (its files must be prepared).
    async fn boot(self: &Arc<Self>, sandbox: &Arc<Sandbox>) -> Result<(), SandboxError> {
        self.check_open()?;
        let record = sandbox.record();
        layout::prepare(
            &sandbox.paths,
            self.ownership(),
            self.config.disks.as_deref(),
        )
        .map_err(SandboxError::io("prepare the sandbox's directories"))?;
        let mut config = layout::agent_config(
            &record.id,
            &record.template_id,
            &record.env_vars,
            &self.config.envd_version,
        );
        let kernel = if record.code_interpreter {
            config.interpreter = Some(crate::agent::InterpreterConfig {
                kernel_env: layout::KERNEL_ENV_IN_SANDBOX.to_owned(),
                runtime_dir: layout::KERNEL_RUNTIME_IN_SANDBOX.to_owned(),
                listen_tcp: true,
            });
            Some(self.kernel_mounts()?)
        } else {
            None
        };
        let internet = !record.isolated_network;
        let network = match (&self.config.slirp4netns, internet) {
            (_, false) => None,
            (Ok(slirp), true) => Some(NetworkSpec {
                slirp: slirp.clone(),
                own_user_namespace: self.config.userns.is_none(),
            }),
            (Err(why), true) => {
                return Err(SandboxError::from(NetworkError::Unavailable(why.clone())));
            }
        };
        let cgroup = if self.cgroups.is_usable() {
            match self.cgroups.create(&record.id, self.config.limits) {
                Ok(cg) => Some(cg),
                Err(e) => {
                    tracing::warn!(sandbox = %record.id, error = %e, "running without a cgroup");
                    None
                }
            }
        } else {
            None
        };
        let io = |what: &str| SandboxError::io(format!("{what} of the sandbox"));
        let mut fds = ChildFds::new();
        let seccomp = vec![
            fds.add(file_with(&self.config.seccomp.deny).map_err(io("pass the seccomp filter"))?),
            fds.add(file_with(&self.config.seccomp.clone3).map_err(io("pass the seccomp filter"))?),
        ];
        let (info_rx, info_tx) = pipe().map_err(io("open the info pipe"))?;
        let info = fds.add(info_tx.into());
        let agent_listener = fds
            .add(bind_agent_socket(&sandbox.paths.socket()).map_err(io("bind the agent socket"))?);
        let config_bytes =
            layout::agent_config_bytes(&config).map_err(io("write the agent configuration"))?;
        let agent_config =
            fds.add(file_with(&config_bytes).map_err(io("pass the agent configuration"))?);
        let mut etc = Vec::new();
        for name in BwrapPlan::etc_files(&self.host_layout, internet) {
            let content = layout::etc_file(name);
            etc.push((
                fds.add(file_with(content.as_bytes()).map_err(io("pass the /etc files"))?),
                name,
            ));
        }
        let (pre_exec, sources) = self.mount_sources(sandbox, kernel.as_ref())?;
        let hide = [self.dirs.root().to_path_buf()];
        let plan = BwrapPlan {
            privilege: self.config.privilege,
            host: &self.host_layout,
            sources: &sources,
            internet,
            fds: LaunchFds {
                seccomp,
                info,
                agent_listener,
                agent_config,
                etc,
            },
            hide: &hide,
            kernel: kernel.as_ref(),
        };
        let (options, command) = plan.options_and_command();
        let args_fd = fds.add(
            file_with(&BwrapPlan::encode(&options)).map_err(io("pass the bubblewrap arguments"))?,
        );
        let mut args: Vec<OsString> = vec!["--args".into(), args_fd.to_string().into()];
        args.extend(command);
        let home = match self.config.privilege {
            Privilege::Root => "/root",
            Privilege::UserNamespace => layout::HOME_IN_SANDBOX,
        };
        let mut env = vec![
            (
                "PATH".to_owned(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
            ),
            ("HOME".to_owned(), home.to_owned()),
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
        ];
        if let Ok(filter) = std::env::var("RUST_LOG") {
            env.push(("RUST_LOG".to_owned(), filter));
        }
        let spec = LaunchSpec {
            bwrap: self.config.bwrap.clone(),
            args,
            env,
            cgroup,
            ready_timeout: if record.code_interpreter {
                self.config.ready_timeout + KERNEL_READY_ALLOWANCE
            } else {
                self.config.ready_timeout
            },
            fds,
            info: Some(info_rx.into()),
            pre_exec,
            network,
        };
        let instance = Arc::new(Instance::launch(&*self.spawner()?, spec).await?);
        {
            let mut live = sandbox.live();
            live.instance = Some(Arc::clone(&instance));
            live.cpu = CpuSample::start();
        }
        self.watch_exit(sandbox, &instance);
        Ok(())
    }

    /// Where bubblewrap finds the sandbox's mounts and, for a root server,
    /// the hook that stages them first.
    ///
    /// A root server's sandboxes set their mounts up as an unprivileged host
    /// id, and their mount table must name no host path: the child stages
    /// the sources (mounting the sandbox's disk, showing the agent from
    /// memory and the kernel environment through an overlay), then joins
    /// the server's user namespace.
    fn mount_sources(
        &self,
        sandbox: &Sandbox,
        kernel: Option<&KernelMounts>,
    ) -> Result<(Option<super::instance::PreExec>, MountSources), SandboxError> {
        let paths = &sandbox.paths;
        let Some(ns) = &self.config.userns else {
            if paths.has_disk() {
                return Err(SandboxError::Invalid(
                    "this sandbox keeps its files on a disk image, which only a root server can mount"
                        .to_owned(),
                ));
            }
            let sources = MountSources {
                home: paths.home.clone(),
                tmp: paths.tmp.clone(),
                agent: self.config.agent_binary.clone(),
                kernel_env: kernel.map(|k| k.env.clone()),
                interpreter_prefix: kernel.and_then(|k| k.interpreter_prefix.clone()),
            };
            return Ok((None, sources));
        };
        let has_disk = paths.has_disk();
        let mut plan = Vec::new();
        if has_disk {
            let device = self.disk_device(sandbox)?;
            plan.push(Source::Ext4(device.path().to_path_buf()));
        } else {
            plan.push(Source::Bind(paths.home.clone()));
            plan.push(Source::Bind(paths.tmp.clone()));
        }
        if let Some(kernel) = kernel {
            plan.push(Source::Hidden(kernel.env.clone()));
            plan.extend(kernel.interpreter_prefix.clone().map(Source::Bind));
        }
        let (stage, staged) = Stage::plan(Path::new(stage::LAUNCH_DIR), &plan)
            .map_err(SandboxError::io("stage the mount sources"))?;
        // One staged path per planned source, in order.
        let mut staged = staged.into_iter();
        let mut next = move || staged.next().unwrap_or_default();
        let (home, tmp) = if has_disk {
            let disk = next();
            (disk.join("home"), disk.join("tmp"))
        } else {
            (next(), next())
        };
        let agent = PathBuf::from(stage::AGENT);
        let kernel_env = kernel.map(|_| next());
        let interpreter_prefix = kernel
            .and_then(|k| k.interpreter_prefix.as_ref())
            .map(|_| next());
        let mut stage = stage.hook();
        let mut enter = ns.enter_hook();
        let hook: super::instance::PreExec = Box::new(move || {
            stage()?;
            enter()
        });
        let sources = MountSources {
            home,
            tmp,
            agent,
            kernel_env,
            interpreter_prefix,
        };
        Ok((Some(hook), sources))
    }

    /// The loop device of a sandbox's disk, set up at its first start.
    fn disk_device(&self, sandbox: &Sandbox) -> Result<Arc<LoopDevice>, SandboxError> {
        if let Some(device) = &sandbox.live().disk {
            return Ok(Arc::clone(device));
        }
        let device = Arc::new(
            LoopDevice::attach(&sandbox.paths.image)
                .map_err(SandboxError::io("attach the sandbox's disk"))?,
        );
        sandbox.live().disk = Some(Arc::clone(&device));
        Ok(device)
    }

    /// When the processes end on their own (agent crash, OOM kill), the sandbox is gone.
    fn watch_exit(self: &Arc<Self>, sandbox: &Arc<Sandbox>, instance: &Arc<Instance>) {
        let weak_shared = Arc::downgrade(self);
        let weak_sandbox = Arc::downgrade(sandbox);
        let weak_instance = Arc::downgrade(instance);
        let mut exited = instance.exited();
        tokio::spawn(async move {
            if exited.wait_for(|done| *done).await.is_err() {
                return;
            }
            let (Some(shared), Some(sandbox)) = (weak_shared.upgrade(), weak_sandbox.upgrade())
            else {
                return;
            };
            let _ops = sandbox.ops.lock().await;
            let current = {
                let live = sandbox.live();
                let same = match (&live.instance, weak_instance.upgrade()) {
                    (Some(current), Some(ended)) => Arc::ptr_eq(current, &ended),
                    _ => false,
                };
                same && !live.removed
            };
            if current {
                let stderr = sandbox
                    .live()
                    .instance
                    .as_ref()
                    .map(|i| i.stderr_tail())
                    .unwrap_or_default();
                tracing::warn!(sandbox = %sandbox.id, stderr = %stderr.trim(), "sandbox agent exited; removing the sandbox");
                shared.remove(&sandbox);
            }
        });
    }

    /// Drop a sandbox whose start failed.
    async fn forget(&self, sandbox: &Arc<Sandbox>) {
        let instance = {
            let mut live = sandbox.live();
            live.removed = true;
            live.disk = None;
            live.instance.take()
        };
        if let Some(instance) = instance {
            instance.kill().await;
        }
        lock(&self.sandboxes).remove(&sandbox.id);
        if let Err(e) = self.dirs.remove_dir(&sandbox.paths.root) {
            tracing::warn!(sandbox = %sandbox.id, error = %e, "could not delete a failed sandbox's files");
        }
    }

    /// Remove a sandbox from the registry and delete its files (processes already gone).
    fn remove(&self, sandbox: &Sandbox) {
        {
            let mut live = sandbox.live();
            live.removed = true;
            live.disk = None;
        }
        sandbox.deadline.send_replace(None);
        lock(&self.sandboxes).remove(&sandbox.id);
        if let Err(e) = self.dirs.remove_dir(&sandbox.paths.root) {
            tracing::warn!(sandbox = %sandbox.id, error = %e, "could not delete a sandbox's files");
        }
    }

    async fn kill(&self, sandbox: &Arc<Sandbox>) -> Result<(), SandboxError> {
        let _ops = sandbox.ops.lock().await;
        self.ensure_present(sandbox)?;
        let instance = {
            let mut live = sandbox.live();
            live.removed = true;
            live.instance.take()
        };
        if let Some(instance) = instance {
            instance.kill().await;
        }
        self.remove(sandbox);
        tracing::info!(sandbox = %sandbox.id, "sandbox killed");
        Ok(())
    }

    /// At shutdown: stop the processes; paused sandboxes keep their files and record.
    async fn end_with_server(&self, sandbox: &Arc<Sandbox>) {
        let _ops = sandbox.ops.lock().await;
        let (instance, paused) = {
            let mut live = sandbox.live();
            (
                live.instance.take(),
                live.record.state == State::Paused && !live.removed,
            )
        };
        if let Some(instance) = instance {
            instance.kill().await;
        }
        if paused {
            {
                let mut live = sandbox.live();
                live.record.paused_with_memory = false;
            }
            if let Err(e) = sandbox.save() {
                tracing::warn!(sandbox = %sandbox.id, error = %e, "could not record a paused sandbox at shutdown");
            }
            sandbox.deadline.send_replace(None);
            lock(&self.sandboxes).remove(&sandbox.id);
        } else if !sandbox.live().removed {
            self.remove(sandbox);
        }
    }

    async fn pause_locked(&self, sandbox: &Arc<Sandbox>, memory: bool) -> Result<(), SandboxError> {
        tracing::info!(sandbox = %sandbox.id, memory, "pausing sandbox");
        let instance = {
            let live = sandbox.live();
            if live.record.state == State::Paused {
                return Err(SandboxError::AlreadyPaused(sandbox.id.clone()));
            }
            live.instance.clone()
        };
        match (&instance, memory) {
            (Some(instance), true) => instance
                .freeze()
                .await
                .map_err(SandboxError::io("freeze the sandbox"))?,
            (Some(instance), false) => {
                sandbox.live().instance = None;
                instance.kill().await;
            }
            (None, _) => {}
        }
        {
            let mut live = sandbox.live();
            live.record.state = State::Paused;
            live.record.paused_with_memory = memory && live.instance.is_some();
        }
        sandbox.arm();
        sandbox.save()
    }

    async fn resume_locked(
        self: &Arc<Self>,
        sandbox: &Arc<Sandbox>,
        timeout_secs: u32,
    ) -> Result<(), SandboxError> {
        tracing::info!(sandbox = %sandbox.id, timeout_secs, "resuming sandbox");
        let instance = sandbox.live().instance.clone();
        match instance {
            Some(instance) => instance
                .thaw()
                .await
                .map_err(SandboxError::io("thaw the sandbox"))?,
            None => self.boot(sandbox).await?,
        }
        {
            let mut live = sandbox.live();
            live.record.state = State::Running;
            live.record.paused_with_memory = false;
            live.record.timeout_secs = timeout_secs;
            live.record.end_at = Utc::now() + seconds(timeout_secs);
        }
        sandbox.arm();
        sandbox.save()
    }

    /// Run `work` with the sandbox's processes frozen (if it runs), thawing afterwards.
    async fn with_frozen<T>(
        &self,
        sandbox: &Sandbox,
        work: impl std::future::Future<Output = Result<T, SandboxError>>,
    ) -> Result<T, SandboxError> {
        let running = {
            let live = sandbox.live();
            match (&live.instance, live.record.state) {
                (Some(instance), State::Running) => Some(Arc::clone(instance)),
                _ => None,
            }
        };
        if let Some(instance) = &running {
            instance
                .freeze()
                .await
                .map_err(SandboxError::io("freeze the sandbox"))?;
        }
        // A disk is copied as an image: its filesystem must be consistent
        // on the device, not only quiet.
        let mounted = sandbox.live().instance.clone();
        let frozen_disk = match (mounted, sandbox.paths.has_disk()) {
            (Some(instance), true) => Some(disk::freeze(&disk_mount(&instance))),
            _ => None,
        };
        let result = match frozen_disk {
            Some(Err(e)) => Err(SandboxError::io("freeze the sandbox's disk")(e)),
            Some(Ok(frozen)) => {
                let result = work.await;
                drop(frozen);
                result
            }
            None => work.await,
        };
        if let Some(instance) = &running {
            instance
                .thaw()
                .await
                .map_err(SandboxError::io("thaw the sandbox"))?;
        }
        result
    }

    /// The timeout of a sandbox passed: kill or pause it, per its lifecycle.
    async fn expire(self: &Arc<Self>, id: &str) {
        let Ok(sandbox) = self.find(id) else { return };
        let _ops = sandbox.ops.lock().await;
        let (due, on_timeout, keep_memory) = {
            let live = sandbox.live();
            let due = !live.removed
                && live.record.state == State::Running
                && live.record.end_at <= Utc::now();
            (
                due,
                live.record.lifecycle.on_timeout,
                live.record.lifecycle.pause_keeps_memory,
            )
        };
        if !due {
            sandbox.arm();
            return;
        }
        tracing::info!(sandbox = id, action = ?on_timeout, "sandbox timed out");
        let paused = match on_timeout {
            super::record::OnTimeout::Pause => match self.pause_locked(&sandbox, keep_memory).await
            {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(sandbox = id, error = %e, "pause at timeout failed; killing");
                    false
                }
            },
            super::record::OnTimeout::Kill => false,
        };
        if !paused {
            let instance = {
                let mut live = sandbox.live();
                live.removed = true;
                live.instance.take()
            };
            if let Some(instance) = instance {
                instance.kill().await;
            }
            self.remove(&sandbox);
        }
    }

    fn load_snapshots(&self) -> Result<(), SandboxError> {
        let root = self.dirs.snapshots();
        for entry in std::fs::read_dir(&root)
            .map_err(SandboxError::io("list snapshots"))?
            .flatten()
        {
            let dir = entry.path();
            let name = entry.file_name();
            if name.to_str().is_some_and(|n| n.starts_with(".tmp-")) {
                // An interrupted snapshot.
                self.dirs.remove_dir(&dir)?;
                continue;
            }
            match store::read_json::<SnapshotRecord>(&dir.join("snapshot.json")) {
                Ok(Some(record)) if record.template_id == name.to_string_lossy() => {
                    lock(&self.snapshots).insert(record.template_id.clone(), record);
                }
                Ok(_) => {
                    tracing::warn!(dir = %dir.display(), "ignoring a snapshot directory without a valid record")
                }
                Err(e) => tracing::warn!(error = %e, "ignoring an unreadable snapshot"),
            }
        }
        Ok(())
    }

    fn load_sandboxes(self: &Arc<Self>) -> Result<(), SandboxError> {
        let root = self.dirs.sandboxes();
        for entry in std::fs::read_dir(&root)
            .map_err(SandboxError::io("list sandboxes"))?
            .flatten()
        {
            let dir = entry.path();
            let paths = SandboxPaths::new(dir.clone());
            let record = match store::read_json::<SandboxRecord>(&paths.record()) {
                Ok(Some(record)) if record.id == entry.file_name().to_string_lossy() => record,
                Ok(_) | Err(_) => {
                    self.dirs.remove_dir(&dir)?;
                    continue;
                }
            };
            if record.state != State::Paused {
                // Running sandboxes end with the server that ran them.
                tracing::info!(sandbox = %record.id, "removing a sandbox that ended with the previous server run");
                self.dirs.remove_dir(&dir)?;
                continue;
            }
            let mut record = record;
            record.paused_with_memory = false;
            store::write_json_atomic(&paths.record(), &record)?;
            let (deadline, rx) = lifecycle::deadline_channel();
            let sandbox = Arc::new(Sandbox {
                id: record.id.clone(),
                paths,
                ops: tokio::sync::Mutex::new(()),
                state: Mutex::new(Live {
                    record,
                    instance: None,
                    disk: None,
                    starting: false,
                    cpu: CpuSample::start(),
                    removed: false,
                }),
                deadline,
            });
            self.spawn_timer(&sandbox, rx);
            lock(&self.sandboxes).insert(sandbox.id.clone(), sandbox);
        }
        Ok(())
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
