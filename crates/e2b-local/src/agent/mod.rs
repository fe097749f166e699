//! The in-sandbox agent: envd for one sandbox.
//!
//! The server starts it inside the sandbox as
//! `e2b-local envd --listen-fd N --config-fd M`: it inherits a Unix socket the
//! server bound outside the sandbox, and reads its configuration once from a
//! descriptor, so that nothing the sandbox can write names either. The server
//! talks HTTP/1.1 to it over that socket. (`--socket PATH --config PATH` bind
//! and read paths instead, for running the agent on its own.) The agent serves exactly envd's
//! API — the Connect services `process.Process` and `filesystem.Filesystem`
//! (JSON and binary proto), `GET`/`POST /files`, `GET /health` (204),
//! `GET /metrics`, `GET /envs` — plus extra routes for the server:
//! `GET /.e2b/forward?port=N` with `Upgrade: e2b-tcp`, which turns the
//! connection into a raw TCP tunnel to `127.0.0.1:N` inside the sandbox;
//! `POST /.e2b/env`, which replaces the sandbox's environment variables
//! (a sandbox handed out from a warm pool gets its caller's); and
//! `GET /.e2b/kernels`, which answers once the code interpreter's kernels
//! are started and idle.
//!
//! Authentication (access tokens, signed URLs) is the server's job; the agent
//! trusts its socket. The agent prints `ready` on a line of its own to stdout
//! once it accepts connections, then nothing else on stdout.
//!
//! Layout: [`router()`] assembles the routes; `process` and `filesystem` are
//! the Connect services, `files` the `/files` routes, `forward` the tunnel,
//! `metrics` the `/metrics` sampler; `users`, `paths`, `metadata`,
//! `keepalive`, `fs_user` and `os_error` hold what they share (accounts and
//! Basic auth, path resolution, `user.e2b.*` xattrs, stream keepalives,
//! acting as a request's user on files, answers to failed file-system calls).

mod context;
mod fd_passing;
pub(crate) mod files;
mod filesystem;
mod forward;
mod fs_user;
mod http_error;
pub(crate) mod interpreter;
mod keepalive;
pub(crate) mod metadata;
mod metrics;
mod os_error;
pub(crate) mod paths;
mod process;
mod router;
mod rpc_error;
mod start_cmd;
mod sudo;
pub(crate) mod users;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

pub use interpreter::port::{
    RELAY_SUBCOMMAND as INTERPRETER_PORT_SUBCOMMAND, relay_main as interpreter_port_main,
};
pub use interpreter::{PORT as INTERPRETER_PORT, PREFIX as INTERPRETER_PREFIX};
pub use router::router;

/// Where sandboxes' agents serve `sudo`, and where the `sudo` client looks.
pub const SUDO_SOCKET: &str = "/run/e2b/sudo.sock";

/// `sudo` (the agent's executable run under that name): run the command
/// line after the program name through the sandbox's agent, returning the
/// exit status.
pub fn sudo_main(args: &[String]) -> i32 {
    sudo::client::main(SUDO_SOCKET, args)
}
pub use users::ConfigError;

/// One account inside the sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAccount {
    /// Login name (`user`, `root`).
    pub name: String,
    /// Numeric user id.
    pub uid: u32,
    /// Numeric group id.
    pub gid: u32,
    /// Home directory.
    pub home: String,
}

/// What the server tells the agent at start (`agent.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentConfig {
    /// The sandbox id.
    pub sandbox_id: String,
    /// Environment variables of every process (the sandbox's `envVars`).
    #[serde(default)]
    pub env_vars: BTreeMap<String, String>,
    /// User for requests that name none.
    pub default_user: String,
    /// Working directory for requests that name none; empty means the user's home.
    #[serde(default)]
    pub default_workdir: String,
    /// The accounts requests may act as.
    pub users: Vec<UserAccount>,
    /// The envd version reported in headers and metrics.
    pub envd_version: String,
    /// The code interpreter, for sandboxes that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<InterpreterConfig>,
    /// Serve `sudo` on a Unix socket at this path inside the sandbox (an
    /// agent running as root only; see the `sudo` module).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sudo_socket: Option<String>,
    /// The template's start command, started in the background when the
    /// agent starts (as the default user, in the default working directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_cmd: Option<String>,
    /// The template's ready command: the agent says it is ready only once
    /// this exits with 0 (it is run again until it does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_cmd: Option<String>,
    /// The sandbox's root filesystem is FUSE mounts of the server's own
    /// (an unprivileged server's writable root), so watches treat FUSE as
    /// a local filesystem, not a network one.
    #[serde(default)]
    pub local_fuse: bool,
}

/// The code interpreter of a sandbox (`code-interpreter-v1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterpreterConfig {
    /// The kernel environment, as seen inside the sandbox.
    pub kernel_env: String,
    /// Where kernels keep their connection files and sockets.
    pub runtime_dir: String,
    /// Also listen on `127.0.0.1:49999` inside the sandbox (only sensible
    /// with a network namespace of its own).
    #[serde(default)]
    pub listen_tcp: bool,
}

/// Where the agent's socket or configuration comes from.
#[derive(Debug)]
pub enum Source {
    /// A path (bound or read).
    Path(std::path::PathBuf),
    /// An inherited descriptor (a listening socket, or a file read to its end).
    Fd(i32),
}

/// Entry point of `e2b-local envd`: read the configuration, bind (or take)
/// the socket, print `ready`, then serve until the process is killed.
pub fn main(listen: Source, config: Source) -> anyhow::Result<()> {
    restore_default_signals();
    let keep: Vec<i32> = [&listen, &config]
        .into_iter()
        .filter_map(|s| match s {
            Source::Fd(fd) => Some(*fd),
            Source::Path(_) => None,
        })
        .collect();
    close_inherited_fds(&keep);
    let config = match config {
        Source::Path(path) => read_config(&path)?,
        Source::Fd(fd) => read_config_from(take_fd(fd)?)?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match listen {
            Source::Path(path) => serve_unix(&path, config).await,
            Source::Fd(fd) => {
                let listener = std::os::unix::net::UnixListener::from(take_fd(fd)?);
                listener
                    .set_nonblocking(true)
                    .context("preparing the inherited socket")?;
                let listener = tokio::net::UnixListener::from_std(listener)
                    .context("the inherited descriptor is not a listening Unix socket")?;
                serve_listener(listener, config).await
            }
        }
    })
}

/// Take ownership of inherited descriptor `fd` (checked to be open).
#[allow(unsafe_code)]
fn take_fd(fd: i32) -> anyhow::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd as _;
    // SAFETY: F_GETFD only inspects the descriptor.
    let open = fd > 2 && unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0;
    anyhow::ensure!(open, "descriptor {fd} is not open");
    // SAFETY: the descriptor is open, was inherited for this purpose and
    // nothing else in this process uses it.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Close every descriptor above the standard streams but `keep`.
///
/// The server hands bubblewrap descriptors of host files and directories to
/// mount; none of them may reach the sandbox's processes (a directory
/// descriptor is a way out of the sandbox's mounts). Runs before any thread
/// or runtime of the agent exists.
#[allow(unsafe_code)]
fn close_inherited_fds(keep: &[i32]) {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter_map(|&fd| u32::try_from(fd).ok())
        .collect();
    keep.sort_unstable();
    let mut first = 3u32;
    for fd in keep.into_iter().filter(|&fd| fd >= 3) {
        if fd > first {
            // SAFETY: closes descriptors nothing in this process uses yet.
            unsafe { libc::syscall(libc::SYS_close_range, first, fd - 1, 0u32) };
        }
        first = fd + 1;
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0u32) };
}

/// Parse the configuration from `fd` (read to its end, then closed).
fn read_config_from(fd: std::os::fd::OwnedFd) -> anyhow::Result<AgentConfig> {
    use std::io::Read as _;
    let mut text = Vec::new();
    std::fs::File::from(fd)
        .read_to_end(&mut text)
        .context("reading the agent configuration")?;
    serde_json::from_slice(&text).context("parsing the agent configuration")
}

/// Give SIGINT and SIGQUIT their default dispositions. A process started in
/// the background of a non-interactive shell inherits them ignored, and ignored
/// dispositions survive `exec`: every command and terminal of the sandbox would
/// then ignore Ctrl-C. envd's processes start with defaults; so do ours.
#[allow(unsafe_code)]
fn restore_default_signals() {
    for signal in [libc::SIGINT, libc::SIGQUIT] {
        // SAFETY: `signal` with SIG_DFL installs no handler and touches no
        // memory; it runs before any thread of the agent is started.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
        }
    }
}

/// Parse `agent.json`.
pub fn read_config(path: &Path) -> anyhow::Result<AgentConfig> {
    let text = std::fs::read(path)
        .with_context(|| format!("reading the agent configuration {}", path.display()))?;
    serde_json::from_slice(&text)
        .with_context(|| format!("parsing the agent configuration {}", path.display()))
}

/// Serve the agent on a Unix socket at `socket` (a stale socket file there is
/// replaced), announcing `ready` on stdout once it accepts connections and,
/// for a sandbox with a code interpreter, once its warm Python kernel answers.
pub async fn serve_unix(socket: &Path, config: AgentConfig) -> anyhow::Result<()> {
    match std::fs::remove_file(socket) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e)
                .with_context(|| format!("removing the stale socket {}", socket.display()));
        }
    }
    let listener = tokio::net::UnixListener::bind(socket)
        .with_context(|| format!("binding {}", socket.display()))?;
    serve_listener(listener, config).await
}

/// Serve the agent on `listener`, announcing `ready` as [`serve_unix`] does.
pub async fn serve_listener(
    listener: tokio::net::UnixListener,
    config: AgentConfig,
) -> anyhow::Result<()> {
    let listen_tcp = config.interpreter.as_ref().is_some_and(|c| c.listen_tcp);
    if let Some(path) = &config.sudo_socket
        && let Err(e) = sudo::server::start(std::path::Path::new(path))
    {
        tracing::warn!("sudo is not served at {path}: {e}");
    }
    let config_copy = config.clone();
    let (app, interpreter) = router::build(config)?;
    // Downloads cross the link from this end.
    let listener = axum::serve::ListenerExt::tap_io(listener, |io| {
        crate::sandbox::agent_link::widen_send_buffer(&*io);
    });
    let serving = tokio::spawn(async move { axum::serve(listener, app).await });
    if let Some(interpreter) = interpreter {
        if let Err(e) = interpreter.warm_up().await {
            tracing::error!("the code interpreter's Python kernel did not start: {e}");
        }
        if listen_tcp {
            match interpreter::port::RelayListener::start().await {
                Ok(listener) => {
                    let app = interpreter.router();
                    tokio::spawn(async move { axum::serve(listener, app).await });
                }
                Err(e) => {
                    tracing::warn!("the code interpreter is not on port {INTERPRETER_PORT}: {e}")
                }
            }
        }
    }
    start_cmd::run(&config_copy).await?;
    {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(b"ready\n")
            .context("announcing readiness")?;
        stdout.flush().context("announcing readiness")?;
    }
    serving
        .await
        .context("the agent's server task failed")?
        .context("serving the agent")
}
