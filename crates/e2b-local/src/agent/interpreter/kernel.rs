//! One kernel process and the ZMQ client that drives it.
//!
//! A kernel runs as the sandbox's default user in its own process group, with
//! a connection file and `ipc` sockets in a private directory of its own (no
//! TCP port is taken, so kernels of sandboxes that share the host network
//! never collide). The agent waits for the shell and iopub sockets to appear
//! (inotify, no polling), then for the kernel to answer.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use inotify::{Inotify, WatchMask};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;

use super::language::{self, Transport};
use crate::agent::process::spawn::{self, ChildIo, IoMode, Spec};
use crate::interpreter::jupyter::client::{ClientError, KernelClient};
use crate::interpreter::jupyter::connection::ConnectionInfo;
use crate::interpreter::kernel_env::{KernelEnv, Language};
use crate::tail::Tail;

/// How long a kernel may take to answer after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How much of a kernel's stderr is kept for error messages.
const STDERR_TAIL: usize = 8 * 1024;

/// What a kernel is started with.
#[derive(Debug, Clone)]
pub(crate) struct KernelSpec {
    pub(crate) language: Language,
    /// The kernel environment, as seen inside the sandbox.
    pub(crate) env: KernelEnv,
    /// The kernel's private directory (connection file and sockets).
    pub(crate) dir: PathBuf,
    /// Its working directory.
    pub(crate) cwd: PathBuf,
    /// `(uid, gid)` to run as; `None` keeps the agent's identity.
    pub(crate) credentials: Option<(u32, u32)>,
    /// Its environment.
    pub(crate) environment: BTreeMap<String, String>,
}

/// Why a kernel could not be started or driven.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KernelError {
    /// Preparing its directory or starting the process failed.
    #[error("starting the {language} kernel: {source}")]
    Spawn {
        language: Language,
        #[source]
        source: io::Error,
    },
    /// It exited before answering.
    #[error("the {language} kernel exited while starting ({status}){}", stderr_suffix(.stderr))]
    Exited {
        language: Language,
        status: String,
        stderr: String,
    },
    /// It did not answer in time.
    #[error("the {language} kernel did not answer within {timeout:?}{}", stderr_suffix(.stderr))]
    Timeout {
        language: Language,
        timeout: Duration,
        stderr: String,
    },
    /// The ZMQ conversation failed.
    #[error("talking to the {language} kernel: {source}")]
    Client {
        language: Language,
        #[source]
        source: ClientError,
    },
}

/// `: <stderr>` for an error message, or nothing when stderr is empty.
pub(crate) fn stderr_suffix(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

/// A running kernel. Dropping it kills the kernel's process group and removes
/// its directory.
pub(crate) struct Kernel {
    pub(crate) language: Language,
    pid: i32,
    pub(crate) client: KernelClient,
    exit: watch::Receiver<Option<String>>,
    stderr: Arc<Mutex<Tail>>,
    dir: PathBuf,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("language", &self.language)
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

impl Kernel {
    /// Start a kernel and wait until it answers.
    pub(crate) async fn start(spec: &KernelSpec) -> Result<Kernel, KernelError> {
        let language = spec.language;
        let spawn_error = |source| KernelError::Spawn { language, source };
        prepare_dir(&spec.dir, spec.credentials).map_err(spawn_error)?;
        // Until the kernel is running, failing removes the directory (it
        // holds the signing key).
        let dir_guard = DirGuard(Some(spec.dir.clone()));
        let info = match language::transport(language) {
            Transport::Ipc(separator) => {
                let mut info =
                    ConnectionInfo::ipc(&spec.dir.join("kernel")).map_err(spawn_error)?;
                info.ipc_separator = separator;
                info
            }
            Transport::Tcp => ConnectionInfo::allocate().map_err(spawn_error)?,
        };
        let file = spec.dir.join("connection.json");
        info.write(&file).map_err(spawn_error)?;
        if let Some((uid, gid)) = spec.credentials {
            std::os::unix::fs::chown(&file, Some(uid), Some(gid)).map_err(spawn_error)?;
        }
        // Watch for the sockets before the kernel can create them (none to
        // watch for over TCP: ZMQ retries refused connections).
        let wanted: Vec<PathBuf> = info.socket_files().into_iter().take(2).collect();
        let mut appeared = SocketWatch::new(&spec.dir).map_err(spawn_error)?;

        let (program, args) = language::command(language, &spec.env, &file);
        let process = Spec {
            cmd: program.to_string_lossy().into_owned(),
            args,
            env: spec.environment.clone(),
            cwd: spec.cwd.clone(),
            credentials: spec.credentials,
            io: IoMode::Pipes { stdin: false },
        };
        let (mut child, io) = spawn::spawn(&process).map_err(spawn_error)?;
        let pid = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .ok_or_else(|| spawn_error(io::Error::other("the kernel has no pid")))?;
        let stderr = Arc::new(Mutex::new(Tail::new(STDERR_TAIL)));
        if let ChildIo::Pipes {
            stdout,
            stderr: err,
            ..
        } = io
        {
            tokio::spawn(drain(stdout, None));
            tokio::spawn(drain(err, Some(stderr.clone())));
        }
        let (exit_tx, exit) = watch::channel(None);
        tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(status) => status.to_string(),
                Err(e) => format!("unknown status: {e}"),
            };
            let _ = exit_tx.send(Some(status));
        });
        dir_guard.disarm();
        let mut kernel = PendingKernel {
            language,
            pid,
            exit,
            stderr,
            dir: Some(spec.dir.clone()),
        };
        let client = kernel.connect(&info, &wanted, &mut appeared).await?;
        Ok(kernel.into_kernel(client))
    }

    /// Interrupt what the kernel is running, as Jupyter does: an
    /// `interrupt_request` on the control channel for kernels whose interrupt
    /// mode is `message` (Java), else SIGINT to its process group.
    pub(crate) async fn interrupt(&mut self) {
        if language::interrupts_by_message(self.language) {
            if let Err(e) = self.client.interrupt().await {
                tracing::warn!(pid = self.pid, "interrupt request failed: {e}");
            }
        } else {
            signal_group(self.pid, rustix::process::Signal::INT);
        }
    }

    /// The process id (for interrupts from outside the execution lock).
    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// Why the kernel exited, once it has.
    pub(crate) fn exit_status(&self) -> Option<String> {
        self.exit.borrow().clone()
    }

    /// A receiver that holds the exit status once the kernel has exited.
    pub(crate) fn exit_watch(&self) -> watch::Receiver<Option<String>> {
        self.exit.clone()
    }

    /// The end of its stderr (for error messages).
    pub(crate) fn stderr_tail(&self) -> String {
        stderr_text(&self.stderr)
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        signal_group(self.pid, rustix::process::Signal::KILL);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The exit status, once the kernel has exited.
pub(crate) async fn exited(exit: &mut tokio::sync::watch::Receiver<Option<String>>) -> String {
    match exit.wait_for(Option::is_some).await {
        Ok(status) => status.clone().unwrap_or_default(),
        Err(_) => "unknown status".to_owned(),
    }
}

/// Send `signal` to the process group led by `pid`.
pub(crate) fn signal_group(pid: i32, signal: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

/// A kernel between spawn and its first answer: killed if dropped.
struct PendingKernel {
    language: Language,
    pid: i32,
    exit: watch::Receiver<Option<String>>,
    stderr: Arc<Mutex<Tail>>,
    dir: Option<PathBuf>,
}

impl PendingKernel {
    async fn connect(
        &mut self,
        info: &ConnectionInfo,
        wanted: &[PathBuf],
        appeared: &mut SocketWatch,
    ) -> Result<KernelClient, KernelError> {
        let language = self.language;
        let mut exit = self.exit.clone();
        let ready = async {
            appeared
                .wait_for(wanted)
                .await
                .map_err(|source| KernelError::Spawn { language, source })?;
            KernelClient::connect(info, START_TIMEOUT)
                .await
                .map_err(|source| KernelError::Client { language, source })
        };
        let outcome = tokio::time::timeout(START_TIMEOUT, async {
            tokio::select! {
                client = ready => client,
                status = exited(&mut exit) => {
                    // Let the stderr reader catch the last words.
                    tokio::task::yield_now().await;
                    Err(KernelError::Exited { language, status, stderr: stderr_text(&self.stderr) })
                }
            }
        })
        .await;
        match outcome {
            Ok(result) => result,
            Err(_) => Err(KernelError::Timeout {
                language,
                timeout: START_TIMEOUT,
                stderr: stderr_text(&self.stderr),
            }),
        }
    }

    fn into_kernel(mut self, client: KernelClient) -> Kernel {
        let dir = self.dir.take().unwrap_or_default();
        Kernel {
            language: self.language,
            pid: self.pid,
            client,
            exit: self.exit.clone(),
            stderr: self.stderr.clone(),
            dir,
        }
    }
}

impl Drop for PendingKernel {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            signal_group(self.pid, rustix::process::Signal::KILL);
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Removes a directory when dropped, unless disarmed.
struct DirGuard(Option<PathBuf>);

impl DirGuard {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for DirGuard {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// inotify on a kernel's directory: resolves once given files exist.
struct SocketWatch {
    dir: PathBuf,
    events: inotify::EventStream<Vec<u8>>,
}

impl SocketWatch {
    fn new(dir: &Path) -> io::Result<Self> {
        let inotify = Inotify::init()?;
        inotify.watches().add(dir, WatchMask::CREATE)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            events: inotify.into_event_stream(vec![0; 4096])?,
        })
    }

    async fn wait_for(&mut self, files: &[PathBuf]) -> io::Result<()> {
        loop {
            if files.iter().all(|f| f.exists()) {
                return Ok(());
            }
            match self.events.next().await {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => {
                    return Err(io::Error::other(format!(
                        "watching {} ended",
                        self.dir.display()
                    )));
                }
            }
        }
    }
}

/// Create the kernel's directory, private to the user it runs as.
fn prepare_dir(dir: &Path, credentials: Option<(u32, u32)>) -> io::Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    if let Some((uid, gid)) = credentials {
        std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
    }
    Ok(())
}

/// Read a pipe to its end, keeping the last [`STDERR_TAIL`] bytes if asked.
async fn drain(mut pipe: impl AsyncRead + Unpin, keep: Option<Arc<Mutex<Tail>>>) {
    let mut buf = vec![0u8; 4096];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if let Some(keep) = &keep {
                    keep.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(&buf[..n]);
                }
            }
        }
    }
}

fn stderr_text(kept: &Mutex<Tail>) -> String {
    kept.lock().unwrap_or_else(|e| e.into_inner()).text()
}
