//! One running sandbox process tree: `bwrap` with the agent inside.
//!
//! Started through the [`Spawner`](super::spawner::Spawner); ready when the
//! agent prints `ready` on stdout (bounded by a deadline, with the agent's
//! stderr in the error otherwise). A monitor task owns the child process,
//! reaps it and removes its cgroups; killing goes through that task, so a pid
//! is never signalled after it was reaped.

use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{
    AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWriteExt as _, BufReader,
};
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, watch};

use super::cgroup::SandboxCgroup;
use super::child_fds::ChildFds;
use super::network::{NetworkError, UserNet};
use super::spawner::Spawner;
use super::{freeze, procs};
use crate::tail::Tail;

/// How much of the agent's stderr is kept for error messages.
const STDERR_TAIL_BYTES: usize = 4096;
/// Longest line of the agent's stdout kept; the rest of a longer line is dropped.
const MAX_STDOUT_LINE: usize = 4096;
/// How long a kill may take before it is reported as stuck.
const KILL_TIMEOUT: Duration = Duration::from_secs(15);
/// How long freezing or thawing may take.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the user-mode network may take to come up.
const NETWORK_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest `--info-fd` document read from bubblewrap.
const MAX_INFO_BYTES: usize = 4096;

/// A hook run in the child between fork and exec.
pub(crate) type PreExec = Box<dyn FnMut() -> io::Result<()> + Send + Sync>;

/// How to start a sandbox.
pub(crate) struct LaunchSpec {
    /// The `bwrap` binary.
    pub(crate) bwrap: PathBuf,
    /// Its arguments.
    pub(crate) args: Vec<OsString>,
    /// Its environment (passed on to the agent).
    pub(crate) env: Vec<(String, String)>,
    /// The sandbox's cgroups, if any.
    pub(crate) cgroup: Option<SandboxCgroup>,
    /// How long the agent may take to print `ready`.
    pub(crate) ready_timeout: Duration,
    /// Descriptors the process inherits at fixed numbers.
    pub(crate) fds: ChildFds,
    /// The read end of bubblewrap's `--info-fd`, which names the sandbox's
    /// first process; `None` when the command is not bubblewrap.
    pub(crate) info: Option<OwnedFd>,
    /// Run in the child before exec (joining the server's user namespace).
    pub(crate) pre_exec: Option<PreExec>,
    /// Connect the sandbox to the internet before it starts.
    pub(crate) network: Option<NetworkSpec>,
}

/// How a sandbox with internet access gets its network.
#[derive(Debug)]
pub(crate) struct NetworkSpec {
    /// The `slirp4netns` binary.
    pub(crate) slirp: PathBuf,
    /// The sandbox's namespaces belong to a user namespace of its own.
    pub(crate) own_user_namespace: bool,
}

impl std::fmt::Debug for LaunchSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LaunchSpec")
            .field("bwrap", &self.bwrap)
            .field("args", &self.args)
            .field("cgroup", &self.cgroup)
            .field("ready_timeout", &self.ready_timeout)
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

/// Why a sandbox did not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LaunchError {
    /// `bwrap` could not be executed.
    #[error("could not run bubblewrap ({bwrap}): {source}")]
    Spawn {
        /// The binary.
        bwrap: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The process could not be put into its cgroups.
    #[error("could not move the sandbox into its cgroup: {0}")]
    Cgroup(io::Error),
    /// bubblewrap did not say which process the sandbox is.
    #[error("bubblewrap did not report the sandbox's process: {0}")]
    Info(String),
    /// The sandbox's network could not be set up.
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// The sandbox could not be told to start.
    #[error("could not start the sandbox: {0}")]
    Unblock(io::Error),
    /// The agent (or bwrap) exited before printing `ready`.
    #[error("the sandbox agent exited before it was ready ({status}){}", stderr_suffix(.stderr))]
    Exited {
        /// Exit status.
        status: String,
        /// The end of its stderr.
        stderr: String,
    },
    /// The agent did not print `ready` in time.
    #[error("the sandbox agent was not ready within {timeout:?}{}", stderr_suffix(.stderr))]
    NotReady {
        /// The deadline.
        timeout: Duration,
        /// The end of its stderr.
        stderr: String,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.trim().is_empty() {
        String::new()
    } else {
        format!("; agent stderr: {}", stderr.trim())
    }
}

/// The lines of the agent's stdout, each cut at [`MAX_STDOUT_LINE`] bytes:
/// whatever the agent (or anything inside the sandbox able to write to its
/// stdout) prints, the server holds at most one short line of it.
struct Lines<R> {
    reader: BufReader<R>,
    line: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Lines<R> {
    fn new(reader: R) -> Self {
        Self {
            reader: BufReader::new(reader),
            line: Vec::new(),
        }
    }

    /// The next line without its newline (lossily decoded); `None` at the end.
    async fn next_line(&mut self) -> io::Result<Option<String>> {
        self.line.clear();
        let mut started = false;
        loop {
            let buf = self.reader.fill_buf().await?;
            if buf.is_empty() {
                return Ok(started.then(|| String::from_utf8_lossy(&self.line).into_owned()));
            }
            started = true;
            let newline = buf.iter().position(|&b| b == b'\n');
            let content = &buf[..newline.unwrap_or(buf.len())];
            let room = MAX_STDOUT_LINE.saturating_sub(self.line.len());
            self.line
                .extend_from_slice(&content[..content.len().min(room)]);
            let used = newline.map_or(buf.len(), |i| i + 1);
            self.reader.consume(used);
            if newline.is_some() {
                return Ok(Some(String::from_utf8_lossy(&self.line).into_owned()));
            }
        }
    }
}

/// A running sandbox.
#[derive(Debug)]
pub(crate) struct Instance {
    pid: u32,
    cgroup: Option<Arc<SandboxCgroup>>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
    exited: watch::Receiver<bool>,
    stderr: Arc<Mutex<Tail>>,
}

impl Instance {
    /// Start a sandbox and wait until its agent is ready.
    #[allow(unsafe_code)]
    pub(crate) async fn launch(spawner: &Spawner, spec: LaunchSpec) -> Result<Self, LaunchError> {
        let cgroup = spec.cgroup.map(Arc::new);
        let mut cmd = Command::new(&spec.bwrap);
        cmd.args(&spec.args)
            .env_clear()
            .envs(spec.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut install = spec.fds.install_hook();
        let mut pre_exec = spec.pre_exec;
        // SAFETY: both hooks only make async-signal-safe system calls.
        unsafe {
            cmd.pre_exec(move || {
                if let Some(hook) = pre_exec.as_mut() {
                    hook()?;
                }
                install()
            });
        }
        let spawned = spawner.spawn(cmd).await;
        // The parent's copies of the child's descriptors are not needed any more.
        drop(spec.fds);
        let mut child = match spawned {
            Ok(child) => child,
            Err(source) => {
                remove_cgroup(cgroup).await;
                return Err(LaunchError::Spawn {
                    bwrap: spec.bwrap,
                    source,
                });
            }
        };
        let stderr = Arc::new(Mutex::new(Tail::new(STDERR_TAIL_BYTES)));
        let stderr_done = collect_stderr(child.stderr.take(), Arc::clone(&stderr));

        let mut network = None;
        let ready = async {
            let Some(pid) = child.id() else {
                return Err(exited(&mut child, &stderr, stderr_done).await);
            };
            if let Some(cg) = &cgroup
                && let Err(e) = enter_cgroup(cg, pid).await
            {
                return Err(LaunchError::Cgroup(e));
            }
            let first = match spec.info {
                Some(info) => read_child_pid(info, spec.ready_timeout).await?,
                None => pid,
            };
            match unblock(child.stdin.take()).await {
                Ok(()) => {}
                // The child is gone before it was let go: report how it ended.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                    return Err(exited(&mut child, &stderr, stderr_done).await);
                }
                Err(e) => return Err(LaunchError::Unblock(e)),
            }
            let Some(stdout) = child.stdout.take() else {
                return Err(exited(&mut child, &stderr, stderr_done).await);
            };
            let mut lines = Lines::new(stdout);
            let waited = tokio::time::timeout(spec.ready_timeout, async {
                loop {
                    match lines.next_line().await {
                        Ok(Some(line)) if line.trim() == "ready" => return true,
                        Ok(Some(line)) => tracing::debug!(%line, "agent stdout"),
                        Ok(None) | Err(_) => return false,
                    }
                }
            })
            .await;
            match waited {
                Ok(true) => {
                    // The network is connected once bubblewrap has finished
                    // setting the namespace up (its loopback included), which
                    // it has when the agent runs: configuring both at once
                    // makes bubblewrap's netlink setup fail now and then.
                    if let Some(net) = &spec.network {
                        network = Some(
                            UserNet::start(
                                spawner,
                                &net.slirp,
                                first,
                                net.own_user_namespace,
                                NETWORK_TIMEOUT,
                            )
                            .await?,
                        );
                    }
                    tokio::spawn(async move {
                        while let Ok(Some(line)) = lines.next_line().await {
                            tracing::debug!(%line, "agent stdout");
                        }
                    });
                    Ok(pid)
                }
                Ok(false) => Err(exited(&mut child, &stderr, stderr_done).await),
                Err(_) => Err(LaunchError::NotReady {
                    timeout: spec.ready_timeout,
                    stderr: stderr.lock().map(|t| t.text()).unwrap_or_default(),
                }),
            }
        }
        .await;

        let pid = match ready {
            Ok(pid) => pid,
            Err(e) => {
                let _ = child.start_kill();
                if let Some(cg) = &cgroup {
                    cg.kill_all();
                    let cg = Arc::clone(cg);
                    let _ = tokio::task::spawn_blocking(move || cg.thaw(FREEZE_TIMEOUT)).await;
                }
                let _ = tokio::time::timeout(KILL_TIMEOUT, child.wait()).await;
                if let Some(net) = network.take() {
                    net.stop().await;
                }
                remove_cgroup(cgroup).await;
                return Err(e);
            }
        };

        let (kill_tx, kill_rx) = oneshot::channel();
        let (exited_tx, exited_rx) = watch::channel(false);
        tokio::spawn(monitor(child, kill_rx, cgroup.clone(), network, exited_tx));
        Ok(Self {
            pid,
            cgroup,
            kill: Mutex::new(Some(kill_tx)),
            exited: exited_rx,
            stderr,
        })
    }

    /// The host pid of the `bwrap` process.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// The sandbox's cgroups, if any.
    pub(crate) fn cgroup(&self) -> Option<&SandboxCgroup> {
        self.cgroup.as_deref()
    }

    /// Resolves to true once the process tree is gone (killed or exited by itself).
    pub(crate) fn exited(&self) -> watch::Receiver<bool> {
        self.exited.clone()
    }

    /// The end of the agent's stderr.
    pub(crate) fn stderr_tail(&self) -> String {
        self.stderr.lock().map(|t| t.text()).unwrap_or_default()
    }

    /// Kill every process of the sandbox and wait (bounded) until they are reaped.
    pub(crate) async fn kill(&self) {
        if let Some(tx) = self.kill.lock().ok().and_then(|mut k| k.take()) {
            let _ = tx.send(());
        }
        let mut exited = self.exited.clone();
        if tokio::time::timeout(KILL_TIMEOUT, exited.wait_for(|done| *done))
            .await
            .is_err()
        {
            tracing::error!(
                pid = self.pid,
                "sandbox processes did not exit after SIGKILL"
            );
        }
    }

    /// Freeze every process of the sandbox (cgroup freezer, else `SIGSTOP`).
    pub(crate) async fn freeze(&self) -> io::Result<()> {
        let pid = self.pid;
        let cgroup = self.cgroup.clone();
        blocking(move || match cgroup.as_deref() {
            Some(cg) if cg.can_freeze() => cg.freeze(FREEZE_TIMEOUT).inspect_err(|_| {
                let _ = cg.thaw(FREEZE_TIMEOUT);
            }),
            _ => freeze::stop_tree(pid).inspect_err(|_| {
                let _ = freeze::continue_tree(pid);
            }),
        })
        .await
    }

    /// Undo [`Instance::freeze`].
    pub(crate) async fn thaw(&self) -> io::Result<()> {
        let pid = self.pid;
        let cgroup = self.cgroup.clone();
        blocking(move || match cgroup.as_deref() {
            Some(cg) if cg.can_freeze() => cg.thaw(FREEZE_TIMEOUT),
            _ => freeze::continue_tree(pid),
        })
        .await
    }

    /// The sandbox's processes (excluding the outer `bwrap` monitor).
    pub(crate) fn processes(&self) -> Vec<procs::ProcStat> {
        procs::descendants(self.pid)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // Dropping the sender makes the monitor kill the tree.
        if let Ok(mut kill) = self.kill.lock() {
            kill.take();
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}

/// Put `pid` and everything it has forked so far into the cgroup.
async fn enter_cgroup(cg: &Arc<SandboxCgroup>, pid: u32) -> io::Result<()> {
    let cg2 = Arc::clone(cg);
    blocking(move || {
        // The parent first: anything it forks from now on inherits the cgroup;
        // then whatever it forked before.
        cg2.add_process(pid)?;
        for p in procs::descendants(pid) {
            cg2.add_process(p.pid)?;
        }
        Ok(())
    })
    .await
}

/// Let bubblewrap go on (`--block-fd 0`) and start the agent.
async fn unblock(stdin: Option<tokio::process::ChildStdin>) -> io::Result<()> {
    let mut stdin = stdin.ok_or_else(|| io::Error::other("bwrap's stdin is not a pipe"))?;
    stdin.write_all(b"x").await?;
    stdin.flush().await
}

/// The host pid of the sandbox's first process, from bubblewrap's
/// `--info-fd` document (`{"child-pid": N, …}`).
async fn read_child_pid(info: OwnedFd, timeout: Duration) -> Result<u32, LaunchError> {
    let mut file = tokio::fs::File::from_std(std::fs::File::from(info));
    let read = async {
        let mut doc = Vec::new();
        let mut buf = [0u8; 512];
        loop {
            let n = file
                .read(&mut buf)
                .await
                .map_err(|e| LaunchError::Info(e.to_string()))?;
            if n == 0 {
                return Err(LaunchError::Info("bubblewrap exited first".to_owned()));
            }
            doc.extend_from_slice(&buf[..n]);
            if let Some(pid) = child_pid_of(&doc) {
                return Ok(pid);
            }
            if doc.len() > MAX_INFO_BYTES {
                return Err(LaunchError::Info("document too long".to_owned()));
            }
        }
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| LaunchError::Info(format!("nothing within {timeout:?}")))?
}

/// `child-pid` of a complete info document, if `doc` is one.
fn child_pid_of(doc: &[u8]) -> Option<u32> {
    let value: serde_json::Value = serde_json::from_slice(doc).ok()?;
    value.get("child-pid")?.as_u64()?.try_into().ok()
}

fn collect_stderr(
    stderr: Option<tokio::process::ChildStderr>,
    tail: Arc<Mutex<Tail>>,
) -> oneshot::Receiver<()> {
    let (done_tx, done_rx) = oneshot::channel();
    tokio::spawn(async move {
        if let Some(mut stderr) = stderr {
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                tracing::debug!(output = %String::from_utf8_lossy(&buf[..n]).trim_end(), "agent stderr");
                if let Ok(mut t) = tail.lock() {
                    t.push(&buf[..n]);
                }
            }
        }
        let _ = done_tx.send(());
    });
    done_rx
}

/// The error for a process that ended before `ready`, with its status and stderr.
async fn exited(
    child: &mut Child,
    stderr: &Arc<Mutex<Tail>>,
    stderr_done: oneshot::Receiver<()>,
) -> LaunchError {
    let status = match tokio::time::timeout(Duration::from_secs(2), child.wait()).await {
        Ok(Ok(status)) => status.to_string(),
        Ok(Err(e)) => format!("wait failed: {e}"),
        Err(_) => "still running, stdout closed".to_owned(),
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), stderr_done).await;
    LaunchError::Exited {
        status,
        stderr: stderr.lock().map(|t| t.text()).unwrap_or_default(),
    }
}

async fn remove_cgroup(cgroup: Option<Arc<SandboxCgroup>>) {
    if let Some(cg) = cgroup {
        let _ = tokio::task::spawn_blocking(move || cg.remove()).await;
    }
}

/// Owns the child: reaps it, kills it on request (or when the instance is dropped).
async fn monitor(
    mut child: Child,
    kill: oneshot::Receiver<()>,
    cgroup: Option<Arc<SandboxCgroup>>,
    network: Option<UserNet>,
    exited: watch::Sender<bool>,
) {
    tokio::select! {
        status = child.wait() => {
            tracing::debug!(?status, "sandbox process exited");
        }
        _ = kill => {
            let _ = child.start_kill();
            if let Some(cg) = &cgroup {
                // v2 kills the whole cgroup at once; frozen (v1) tasks only die once thawed.
                cg.kill_all();
                let cg = Arc::clone(cg);
                let _ = tokio::task::spawn_blocking(move || cg.thaw(FREEZE_TIMEOUT)).await;
            }
            if tokio::time::timeout(KILL_TIMEOUT, child.wait()).await.is_err() {
                tracing::error!("sandbox did not exit within {KILL_TIMEOUT:?} of SIGKILL");
            }
        }
    }
    if let Some(net) = network {
        net.stop().await;
    }
    remove_cgroup(cgroup).await;
    let _ = exited.send(true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stdout_lines_are_cut_at_the_limit() {
        let mut input = vec![b'x'; 3 * MAX_STDOUT_LINE + 7];
        input.extend_from_slice(b"\nready\r\n\nlast");
        let mut lines = Lines::new(&input[..]);
        let long = lines.next_line().await.unwrap().unwrap();
        assert_eq!(long.len(), MAX_STDOUT_LINE);
        assert!(lines.line.capacity() <= 2 * MAX_STDOUT_LINE);
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("ready\r"));
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some(""));
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("last"));
        assert_eq!(lines.next_line().await.unwrap(), None);
    }

    fn sh_spec(script: &str, timeout: Duration) -> LaunchSpec {
        LaunchSpec {
            bwrap: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![],
            cgroup: None,
            ready_timeout: timeout,
            fds: ChildFds::new(),
            info: None,
            pre_exec: None,
            network: None,
        }
    }

    #[test]
    fn info_documents_name_the_first_process() {
        assert_eq!(child_pid_of(b"{\n    \"child-pid\": 42\n}\n"), Some(42));
        assert_eq!(child_pid_of(b"{\n    \"child-pid\": 4"), None);
        assert_eq!(child_pid_of(b"{\"child-pid\": -1}"), None);
        assert_eq!(child_pid_of(b"[]"), None);
    }

    #[tokio::test]
    async fn launch_waits_for_ready_and_kill_reaps() {
        let spawner = Spawner::start(tokio::runtime::Handle::current()).unwrap();
        let inst = Instance::launch(
            &spawner,
            sh_spec(
                "echo starting; echo ready; exec sleep 60",
                Duration::from_secs(5),
            ),
        )
        .await
        .unwrap();
        let mut exited = inst.exited();
        assert!(!*exited.borrow());
        inst.kill().await;
        assert!(*exited.wait_for(|d| *d).await.unwrap());
        assert!(
            procs::stat_of(inst.pid()).is_none(),
            "process was not reaped"
        );
    }

    #[tokio::test]
    async fn a_long_line_before_ready_is_skipped() {
        let spawner = Spawner::start(tokio::runtime::Handle::current()).unwrap();
        let inst = Instance::launch(
            &spawner,
            sh_spec(
                "head -c 10000000 /dev/zero | tr '\\0' x; echo; echo ready; exec sleep 60",
                Duration::from_secs(10),
            ),
        )
        .await
        .unwrap();
        inst.kill().await;
    }

    #[tokio::test]
    async fn launch_reports_early_exit_with_stderr() {
        let spawner = Spawner::start(tokio::runtime::Handle::current()).unwrap();
        let err = Instance::launch(
            &spawner,
            sh_spec("echo boom >&2; exit 7", Duration::from_secs(5)),
        )
        .await
        .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, LaunchError::Exited { .. }), "{msg}");
        assert!(msg.contains("boom") && msg.contains('7'), "{msg}");
    }

    #[tokio::test]
    async fn launch_times_out_and_kills() {
        let spawner = Spawner::start(tokio::runtime::Handle::current()).unwrap();
        let err = Instance::launch(
            &spawner,
            sh_spec(
                "echo waiting >&2; exec sleep 60",
                Duration::from_millis(300),
            ),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, LaunchError::NotReady { .. }), "{err}");
        assert!(err.to_string().contains("waiting"), "{err}");
    }

    #[tokio::test]
    async fn freeze_and_thaw_with_signals() {
        let spawner = Spawner::start(tokio::runtime::Handle::current()).unwrap();
        let inst = Instance::launch(
            &spawner,
            sh_spec("sleep 60 & echo ready; wait", Duration::from_secs(5)),
        )
        .await
        .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while inst.processes().is_empty() {
            assert!(std::time::Instant::now() < deadline);
            tokio::task::yield_now().await;
        }
        inst.freeze().await.unwrap();
        inst.thaw().await.unwrap();
        inst.kill().await;
    }
}
