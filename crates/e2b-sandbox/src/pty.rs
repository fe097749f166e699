//! Pseudo-terminals: [`Pty`], reached through [`Sandbox::pty`](crate::Sandbox::pty).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use e2b_core::Result;
use e2b_envd::process::{self as pb, ProcessConfig, StartRequest, UpdateRequest, process_input};
use tracing::Instrument as _;

use crate::commands::stream::{BytesCallback, ProcessHandle, Sinks};
use crate::commands::{
    CommandOutput, CommandResult, OutputStream, ProcessSelector, StreamDeadlines,
};
use crate::envd::Operation;
use crate::sandbox::Sandbox;

/// The size of a terminal in character cells, built with named setters (rows first, as the
/// official SDKs' `PtySize(rows, cols)`):
///
/// ```
/// use e2b_sandbox::PtySize;
///
/// let size = PtySize::new().rows(40).cols(120);
/// assert_eq!((size.rows, size.cols), (40, 120));
/// assert_eq!(PtySize::default(), PtySize::new().rows(24).cols(80));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PtySize {
    /// Rows (lines).
    pub rows: u32,
    /// Columns (characters per line).
    pub cols: u32,
}

impl PtySize {
    /// The default size, 24 rows × 80 columns; change it with [`rows`](Self::rows) and
    /// [`cols`](Self::cols).
    pub fn new() -> Self {
        PtySize { rows: 24, cols: 80 }
    }

    /// Set the number of rows.
    #[must_use]
    pub fn rows(mut self, rows: u32) -> Self {
        self.rows = rows;
        self
    }

    /// Set the number of columns.
    #[must_use]
    pub fn cols(mut self, cols: u32) -> Self {
        self.cols = cols;
        self
    }

    fn to_wire(self) -> pb::Pty {
        pb::Pty {
            size: Some(pb::pty::Size {
                cols: self.cols,
                rows: self.rows,
            }),
        }
    }
}

impl Default for PtySize {
    /// 24 rows × 80 columns.
    fn default() -> Self {
        PtySize::new()
    }
}

/// The environment every pseudo-terminal gets unless overridden.
pub const PTY_DEFAULT_ENVS: [(&str, &str); 3] = [
    ("TERM", "xterm-256color"),
    ("LANG", "C.UTF-8"),
    ("LC_ALL", "C.UTF-8"),
];

/// Options of [`Pty::create_with`]. The user to run as is chosen on the sandbox handle:
/// [`Sandbox::with_user`](crate::Sandbox::with_user).
///
/// The terminal runs `/bin/bash -i -l`. Like commands, it has a 60 s [timeout](Self::timeout)
/// by default: interactive sessions usually want [`no_timeout`](Self::no_timeout).
#[derive(Clone, Default)]
#[non_exhaustive]
#[must_use]
pub struct PtyOptions {
    /// The terminal size (default 24 rows × 80 columns).
    pub size: PtySize,
    /// Environment variables; `TERM`, `LANG` and `LC_ALL` default to
    /// [`PTY_DEFAULT_ENVS`].
    pub envs: HashMap<String, String>,
    /// The working directory; `None` is the user's home.
    pub cwd: Option<String>,
    deadlines: StreamDeadlines,
    on_data: Option<BytesCallback>,
}

impl PtyOptions {
    /// 24 rows × 80 columns, the default directory, a 60 s timeout.
    pub fn new() -> Self {
        PtyOptions::default()
    }

    /// Set the terminal size.
    pub fn size(mut self, size: PtySize) -> Self {
        self.size = size;
        self
    }

    crate::setters::process_setters!(cwd = "Start in `cwd`.");

    crate::setters::deadline_setters!(
        timeout = "Bound the terminal's life; `Duration::ZERO` means no limit.",
        no_timeout = "Let the terminal run until its shell exits.",
        request_timeout =
            "Bound the start (until envd confirms the pid); `Duration::ZERO` means no limit.",
    );

    crate::setters::terminal_data_setter!();
}

impl fmt::Debug for PtyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PtyOptions")
            .field("size", &self.size)
            .field("envs", &self.envs.keys().collect::<Vec<_>>())
            .field("cwd", &self.cwd)
            .field("deadlines", &self.deadlines)
            .field("on_data", &self.on_data.is_some())
            .finish()
    }
}

/// Options of [`Pty::connect_with`].
#[derive(Clone, Default)]
#[non_exhaustive]
#[must_use]
pub struct PtyConnectOptions {
    deadlines: StreamDeadlines,
    on_data: Option<BytesCallback>,
}

impl PtyConnectOptions {
    /// A 60 s timeout on the connection, the client's request timeout for attaching.
    pub fn new() -> Self {
        PtyConnectOptions::default()
    }

    crate::setters::deadline_setters!(
        timeout = "Bound how long to stay connected; `Duration::ZERO` means no limit.",
        no_timeout = "Stay connected until the terminal's shell exits.",
        request_timeout = "Bound attaching; `Duration::ZERO` means no limit.",
    );

    crate::setters::terminal_data_setter!();
}

impl fmt::Debug for PtyConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PtyConnectOptions")
            .field("deadlines", &self.deadlines)
            .field("on_data", &self.on_data.is_some())
            .finish()
    }
}

/// Pseudo-terminals in one sandbox. Obtained from [`Sandbox::pty`](crate::Sandbox::pty).
#[derive(Clone, Copy, Debug)]
pub struct Pty<'a> {
    sandbox: &'a Sandbox,
}

impl<'a> Pty<'a> {
    pub(crate) fn new(sandbox: &'a Sandbox) -> Self {
        Pty { sandbox }
    }

    /// Start an interactive login shell (`/bin/bash -i -l`) on a new pseudo-terminal.
    ///
    /// ```no_run
    /// # async fn demo(sandbox: e2b_sandbox::Sandbox) -> e2b_sandbox::Result<()> {
    /// use futures_util::StreamExt;
    /// use e2b_sandbox::{PtyOptions, PtySize};
    ///
    /// let terminal = sandbox
    ///     .pty()
    ///     .create_with(PtyOptions::new().size(PtySize::new().rows(40).cols(120)).no_timeout())
    ///     .await?;
    /// terminal.send_input(b"echo hi; exit\n").await?;
    /// let mut output = terminal.output();
    /// while let Some(bytes) = output.next().await {
    ///     print!("{}", String::from_utf8_lossy(&bytes));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The errors of [`Commands::spawn`](crate::Commands::spawn).
    pub async fn create(&self) -> Result<PtyHandle> {
        self.create_with(PtyOptions::new()).await
    }

    /// [`create`](Self::create) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`create`](Self::create).
    pub async fn create_with(&self, options: PtyOptions) -> Result<PtyHandle> {
        let span = tracing::info_span!(
            "e2b.pty.create",
            sandbox_id = %self.sandbox.id(),
            pid = tracing::field::Empty,
        );
        async {
            let mut envs = options.envs;
            for (key, value) in PTY_DEFAULT_ENVS {
                envs.entry(key.to_owned())
                    .or_insert_with(|| value.to_owned());
            }
            let deadlines = options.deadlines;
            let request = StartRequest {
                process: Some(ProcessConfig {
                    cmd: "/bin/bash".into(),
                    args: vec!["-i".into(), "-l".into()],
                    envs,
                    cwd: options.cwd,
                }),
                pty: Some(options.size.to_wire()),
                tag: None,
                stdin: None,
            };
            let sinks = Sinks::pty(options.on_data);
            let process = self
                .sandbox
                .commands()
                .start_process(request, deadlines, sinks)
                .await?;
            Ok(PtyHandle::new(process))
        }
        .instrument(span)
        .await
    }

    /// Attach to a running pseudo-terminal.
    ///
    /// # Errors
    ///
    /// The errors of [`Commands::connect`](crate::Commands::connect).
    pub async fn connect(&self, pid: u32) -> Result<PtyHandle> {
        self.connect_with(pid, PtyConnectOptions::new()).await
    }

    /// [`connect`](Self::connect) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`connect`](Self::connect).
    pub async fn connect_with(&self, pid: u32, options: PtyConnectOptions) -> Result<PtyHandle> {
        let span = tracing::info_span!("e2b.pty.connect", sandbox_id = %self.sandbox.id(), pid);
        async {
            let sinks = Sinks::pty(options.on_data);
            let process = self
                .sandbox
                .commands()
                .connect_process(&ProcessSelector::Pid(pid), options.deadlines, sinks)
                .await?;
            Ok(PtyHandle::new(process))
        }
        .instrument(span)
        .await
    }

    /// Type into a pseudo-terminal (raw bytes, e.g. `b"ls\n"` or `[0x03]` for Ctrl-C).
    ///
    /// # Errors
    ///
    /// Not found if no such process runs; a request timeout; a sandbox-gone timeout.
    pub async fn send_input(&self, pid: u32, data: impl AsRef<[u8]>) -> Result<()> {
        let input = process_input::Input::Pty(data.as_ref().to_vec());
        self.sandbox
            .commands()
            .send_input(ProcessSelector::Pid(pid), input, "e2b.pty.send_input")
            .await
    }

    /// Resize a pseudo-terminal.
    ///
    /// # Errors
    ///
    /// Not found if no such process runs; a request timeout; a sandbox-gone timeout.
    pub async fn resize(&self, pid: u32, size: PtySize) -> Result<()> {
        let span = tracing::info_span!("e2b.pty.resize", sandbox_id = %self.sandbox.id(), pid);
        async {
            let envd = self.sandbox.envd();
            let call = envd.unary_options(self.sandbox.request_timeout(), None)?;
            let request = UpdateRequest {
                process: Some(ProcessSelector::Pid(pid).to_wire()),
                pty: Some(size.to_wire()),
            };
            match envd.process().update(request, call).await {
                Ok(_) => Ok(()),
                Err(e) => Err(envd.map_error(e, Operation::Process).await),
            }
        }
        .instrument(span)
        .await
    }

    /// Kill a pseudo-terminal's shell (`SIGKILL`). Returns `false` if it was not running.
    ///
    /// # Errors
    ///
    /// The errors of [`Commands::kill`](crate::Commands::kill).
    pub async fn kill(&self, pid: u32) -> Result<bool> {
        self.sandbox.commands().kill(pid).await
    }
}

/// A pseudo-terminal started with [`Pty::create`] or attached to with [`Pty::connect`].
///
/// Cheap to clone. Dropping the last clone (and every stream) stops receiving output; it
/// never kills the terminal's shell (use [`kill`](Self::kill)).
#[derive(Clone)]
pub struct PtyHandle {
    inner: Arc<ProcessHandle>,
}

impl PtyHandle {
    fn new(inner: ProcessHandle) -> Self {
        PtyHandle {
            inner: Arc::new(inner),
        }
    }

    /// The shell's process id.
    pub fn pid(&self) -> u32 {
        self.inner.pid
    }

    /// The terminal's output, raw bytes in order (see [`OutputStream`]).
    pub fn output(&self) -> OutputStream<Bytes> {
        OutputStream::new(Arc::clone(&self.inner), |chunk| match chunk {
            CommandOutput::Pty(bytes) => Some(bytes),
            _ => None,
        })
    }

    /// Type into the terminal.
    ///
    /// # Errors
    ///
    /// The errors of [`Pty::send_input`].
    pub async fn send_input(&self, data: impl AsRef<[u8]>) -> Result<()> {
        self.inner
            .sandbox
            .pty()
            .send_input(self.inner.pid, data)
            .await
    }

    /// Resize the terminal.
    ///
    /// # Errors
    ///
    /// The errors of [`Pty::resize`].
    pub async fn resize(&self, size: PtySize) -> Result<()> {
        self.inner.sandbox.pty().resize(self.inner.pid, size).await
    }

    /// Kill the terminal's shell. Returns `false` if it was not running.
    ///
    /// # Errors
    ///
    /// The errors of [`Commands::kill`](crate::Commands::kill).
    pub async fn kill(&self) -> Result<bool> {
        self.inner.sandbox.pty().kill(self.inner.pid).await
    }

    /// The exit code, once the shell has exited.
    pub fn exit_code(&self) -> Option<i32> {
        self.inner.core.exit_code()
    }

    /// Wait for the shell to exit. The result's stdout and stderr are empty: a terminal's
    /// output is only available through [`output`](Self::output) and the `on_data` callback.
    ///
    /// # Errors
    ///
    /// The errors of [`CommandHandle::wait`](crate::CommandHandle::wait), including a
    /// command-exit error when the shell exits with a non-zero code.
    pub async fn wait(&self) -> Result<CommandResult> {
        self.inner.core.wait().await
    }

    /// Stop receiving output; the shell keeps running (attach again with [`Pty::connect`]).
    pub fn disconnect(&self) {
        self.inner.disconnect();
    }
}

impl fmt::Debug for PtyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PtyHandle")
            .field("pid", &self.inner.pid)
            .field("sandbox_id", &self.inner.sandbox.id())
            .field("exit_code", &self.exit_code())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::commands::CommandOptions;

    #[test]
    fn terminal_and_command_options_share_their_setters() {
        // The same calls on both types (they are different types, hence a macro).
        macro_rules! configure {
            ($options:expr) => {
                $options
                    .env("A", "1")
                    .envs([("B", "2"), ("A", "3")])
                    .cwd("/tmp")
                    .timeout(Duration::ZERO)
                    .request_timeout(Duration::ZERO)
                    .stream_idle_timeout(Duration::from_secs(5))
            };
        }
        let pty = configure!(PtyOptions::new());
        let cmd = configure!(CommandOptions::new());
        assert_eq!(pty.envs, cmd.envs);
        assert_eq!(pty.envs["A"], "3");
        assert_eq!(pty.cwd.as_deref(), Some("/tmp"));
        assert_eq!(pty.cwd, cmd.cwd);
        assert_eq!(pty.deadlines, cmd.deadlines);
        assert_eq!(
            pty.deadlines,
            StreamDeadlines {
                timeout: None,
                request_timeout: Some(Duration::ZERO),
                idle_timeout: Some(Duration::from_secs(5)),
            }
        );
        let connect = PtyConnectOptions::new()
            .timeout(Duration::from_secs(9))
            .no_timeout()
            .stream_idle_timeout(Duration::ZERO);
        assert_eq!(connect.deadlines.timeout, None);
        assert_eq!(connect.deadlines.idle_timeout, None);
        assert_eq!(connect.deadlines.request_timeout, None);
        let defaults = PtyOptions::new();
        assert_eq!(defaults.deadlines, StreamDeadlines::default());
        assert_eq!(defaults.size, PtySize::new().rows(24).cols(80));
    }
}
