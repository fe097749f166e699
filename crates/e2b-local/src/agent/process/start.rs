//! `Start`: resolve who and where, spawn, register, and supervise the
//! process until its end event is out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use e2b_envd::connect::Code;
use e2b_envd::connect::server::RequestContext;
use e2b_envd::process::StartRequest;
use rustix::process::Signal;
use tokio::process::{Child, ChildStderr, ChildStdout};
use tokio::task::JoinHandle;

use super::exit;
use super::handle::{Attachment, Input, ProcessHandle};
use super::output::{Pipe, pump_pipe, pump_pty};
use super::pty;
use super::registry::Registry;
use super::spawn::{ChildIo, IoMode, Spec, environment, spawn};
use crate::agent::context::Sandbox;
use crate::agent::rpc_error::RpcError;

/// Terminal size used when a request leaves a dimension at zero.
const DEFAULT_SIZE: pty::Size = pty::Size { cols: 80, rows: 24 };

/// Start ordering, so tag lookups can prefer the newest process.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A started process, already attached to the caller's stream.
#[derive(Debug)]
pub(crate) struct Started {
    pub(crate) pid: u32,
    pub(crate) attachment: Attachment,
}

/// Run `request` as the requesting user. The process lives at most
/// `ctx.timeout` (the call's `Connect-Timeout-Ms`), after which its group is
/// killed.
pub(crate) fn start(
    sandbox: &Sandbox,
    registry: &Arc<Registry>,
    ctx: &RequestContext,
    request: StartRequest,
) -> Result<Started, RpcError> {
    let user = sandbox.users.requester(&ctx.headers)?;
    let credentials = sandbox
        .users
        .credentials_for(user)
        .map_err(|e| RpcError::new(Code::PermissionDenied, e.to_string()))?;
    let config = request.process.unwrap_or_default();
    let cwd = sandbox.resolve(config.cwd.as_deref().unwrap_or_default(), user)?;
    if !cwd.exists() {
        return Err(RpcError::new(
            Code::InvalidArgument,
            format!("cwd '{}' does not exist", cwd.display()),
        ));
    }
    let io = match request.pty.map(|p| p.size.unwrap_or_default()) {
        Some(size) => IoMode::Pty(pty::Size {
            cols: dimension(size.cols, DEFAULT_SIZE.cols),
            rows: dimension(size.rows, DEFAULT_SIZE.rows),
        }),
        None => IoMode::Pipes {
            stdin: request.stdin.unwrap_or(true),
        },
    };
    let spec = Spec {
        cmd: config.cmd.clone(),
        args: config.args.clone(),
        env: environment(
            user,
            &sandbox.env_vars(),
            &config.envs,
            matches!(io, IoMode::Pty(_)),
        ),
        cwd: cwd.clone(),
        credentials,
        io,
    };
    let (child, child_io) = spawn(&spec).map_err(|e| {
        let command = std::iter::once(&config.cmd)
            .chain(&config.args)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        RpcError::new(
            Code::InvalidArgument,
            format!(
                "error starting process '{command}' in '{}': {e}",
                cwd.display()
            ),
        )
    })?;
    let pid = child.id().ok_or_else(|| {
        RpcError::new(
            Code::Internal,
            "the process exited before its pid was known",
        )
    })?;

    let (input, sources) = split_io(child_io);
    let handle = Arc::new(ProcessHandle::new(
        pid,
        config,
        request.tag,
        SEQUENCE.fetch_add(1, Ordering::Relaxed),
        input,
    ));
    // Attach the caller before any output is read, so none is missed.
    let attachment = handle.attach();
    registry.insert(handle.clone());
    let readers = sources.spawn_readers(&handle);
    tokio::spawn(supervise(handle.clone(), child, readers, registry.clone()));
    // A zero timeout means none, as in envd.
    if let Some(limit) = ctx.timeout.filter(|t| !t.is_zero()) {
        tokio::spawn(enforce_timeout(handle, limit));
    }
    Ok(Started { pid, attachment })
}

/// Where a process's output is read from.
enum OutputSources {
    Pipes(ChildStdout, ChildStderr),
    Pty(Arc<pty::Master>),
}

impl OutputSources {
    fn spawn_readers(self, handle: &Arc<ProcessHandle>) -> Vec<JoinHandle<()>> {
        match self {
            OutputSources::Pipes(stdout, stderr) => vec![
                tokio::spawn(pump_pipe(stdout, Pipe::Stdout, handle.clone())),
                tokio::spawn(pump_pipe(stderr, Pipe::Stderr, handle.clone())),
            ],
            OutputSources::Pty(master) => vec![tokio::spawn(pump_pty(master, handle.clone()))],
        }
    }
}

/// Separate the input side (kept by the handle) from the output side.
fn split_io(io: ChildIo) -> (Input, OutputSources) {
    match io {
        ChildIo::Pipes {
            stdin,
            stdout,
            stderr,
        } => (
            Input::Pipe(tokio::sync::Mutex::new(stdin)),
            OutputSources::Pipes(stdout, stderr),
        ),
        ChildIo::Pty(master) => {
            let master = Arc::new(master);
            (Input::Pty(master.clone()), OutputSources::Pty(master))
        }
    }
}

fn dimension(requested: u32, default: u16) -> u16 {
    match u16::try_from(requested) {
        Ok(0) => default,
        Ok(n) => n,
        Err(_) => u16::MAX,
    }
}

/// Wait for the process and its output, then publish its end.
async fn supervise(
    handle: Arc<ProcessHandle>,
    mut child: Child,
    readers: Vec<JoinHandle<()>>,
    registry: Arc<Registry>,
) {
    let status = child.wait().await;
    handle.mark_exited();
    for reader in readers {
        // A reader only fails by panicking; its output is lost either way.
        let _ = reader.await;
    }
    let end = match &status {
        Ok(status) => exit::end_event(status),
        Err(e) => exit::wait_failed(e),
    };
    handle.finish(end).await;
    registry.retire(&handle);
}

/// Kill the process group once `limit` has passed, unless it ended first.
async fn enforce_timeout(handle: Arc<ProcessHandle>, limit: Duration) {
    tokio::select! {
        () = tokio::time::sleep(limit) => {
            if let Err(e) = handle.signal(Signal::KILL) {
                tracing::warn!(pid = handle.pid, "killing a timed-out process failed: {e}");
            }
        }
        () = handle.finished.cancelled() => {}
    }
}
