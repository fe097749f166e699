//! [`CommandHandle`]: a command running in the background.

use std::fmt;
use std::sync::Arc;

use e2b_core::Result;

use super::output::CommandOutput;
use super::process::CommandResult;
use super::stream::{OutputStream, ProcessHandle};

/// A command started with [`Commands::spawn`](crate::Commands::spawn) or attached to with
/// [`Commands::connect`](crate::Commands::connect).
///
/// A background task reads the command's output as it arrives: it is kept for
/// [`wait`](Self::wait) (like the official SDKs, the whole stdout and stderr), passed to the
/// callbacks given in the options, and offered to any number of [`output`](Self::output),
/// [`stdout`](Self::stdout) and [`stderr`](Self::stderr) streams.
///
/// Cheap to clone. Dropping the last clone (and every stream) stops the background task;
/// it never kills the command, which keeps running in the sandbox until it exits or its
/// timeout passes. Use [`kill`](Self::kill) to stop it.
///
/// ```no_run
/// # async fn demo(sandbox: e2b_sandbox::Sandbox) -> e2b_sandbox::Result<()> {
/// use futures_util::StreamExt;
/// use e2b_sandbox::CommandOptions;
///
/// let handle = sandbox
///     .commands()
///     .spawn("for i in 1 2 3; do echo $i; sleep 1; done")
///     .await?;
/// let mut lines = handle.stdout();
/// while let Some(text) = lines.next().await {
///     print!("{text}");
/// }
/// let result = handle.wait().await?;
/// assert_eq!(result.exit_code, 0);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CommandHandle {
    inner: Arc<ProcessHandle>,
}

impl CommandHandle {
    pub(crate) fn new(inner: ProcessHandle) -> Self {
        CommandHandle {
            inner: Arc::new(inner),
        }
    }

    /// The command's process id.
    pub fn pid(&self) -> u32 {
        self.inner.pid
    }

    /// Standard output and standard error chunks, in the order they arrived.
    pub fn output(&self) -> OutputStream<CommandOutput> {
        OutputStream::new(Arc::clone(&self.inner), Some)
    }

    /// Standard output only.
    pub fn stdout(&self) -> OutputStream<String> {
        OutputStream::new(Arc::clone(&self.inner), |chunk| match chunk {
            CommandOutput::Stdout(text) => Some(text),
            _ => None,
        })
    }

    /// Standard error only.
    pub fn stderr(&self) -> OutputStream<String> {
        OutputStream::new(Arc::clone(&self.inner), |chunk| match chunk {
            CommandOutput::Stderr(text) => Some(text),
            _ => None,
        })
    }

    /// Everything the command wrote to standard output so far.
    pub fn stdout_so_far(&self) -> String {
        self.inner.core.stdout()
    }

    /// Everything the command wrote to standard error so far.
    pub fn stderr_so_far(&self) -> String {
        self.inner.core.stderr()
    }

    /// The exit code, once the command has exited; `None` while it runs.
    pub fn exit_code(&self) -> Option<i32> {
        self.inner.core.exit_code()
    }

    /// Wait for the command to exit.
    ///
    /// # Errors
    ///
    /// - a command-exit error ([`Error::is_command_exit`](crate::Error::is_command_exit)) with
    ///   stdout, stderr and exit code if it exited with a non-zero code;
    /// - a timeout of kind [`Execution`](crate::TimeoutKind::Execution) if it outlived its
    ///   timeout, [`StreamIdle`](crate::TimeoutKind::StreamIdle) if the stream went silent;
    /// - a sandbox-gone timeout ("the sandbox was killed or timed out") if the connection
    ///   dropped and the sandbox no longer answers;
    /// - a transport error after [`disconnect`](Self::disconnect).
    ///
    /// # Caveats
    ///
    /// While an [`output`](Self::output) stream is held but not read, waiting can stall once
    /// its buffer is full; read or drop it.
    pub async fn wait(&self) -> Result<CommandResult> {
        self.inner.core.wait().await
    }

    /// Kill the command (`SIGKILL`). Returns `false` if it was not running.
    ///
    /// # Errors
    ///
    /// The errors of [`Commands::kill`](crate::Commands::kill).
    pub async fn kill(&self) -> Result<bool> {
        self.inner.sandbox.commands().kill(self.inner.pid).await
    }

    /// Write to the command's stdin (it must have been started with
    /// [`CommandOptions::stdin(true)`](crate::CommandOptions::stdin)).
    ///
    /// # Errors
    ///
    /// The errors of [`Commands::send_stdin`](crate::Commands::send_stdin).
    pub async fn send_stdin(&self, data: impl AsRef<[u8]>) -> Result<()> {
        self.inner
            .sandbox
            .commands()
            .send_stdin(self.inner.pid, data)
            .await
    }

    /// Close the command's stdin (end of file).
    ///
    /// # Errors
    ///
    /// The errors of [`Commands::close_stdin`](crate::Commands::close_stdin).
    pub async fn close_stdin(&self) -> Result<()> {
        self.inner
            .sandbox
            .commands()
            .close_stdin(self.inner.pid)
            .await
    }

    /// Stop receiving the command's output. The command keeps running; attach again with
    /// [`Commands::connect`](crate::Commands::connect). Streams end and
    /// [`wait`](Self::wait) fails with a transport error unless the command had already
    /// exited.
    pub fn disconnect(&self) {
        self.inner.disconnect();
    }
}

impl fmt::Debug for CommandHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandHandle")
            .field("pid", &self.inner.pid)
            .field("sandbox_id", &self.inner.sandbox.id())
            .field("exit_code", &self.exit_code())
            .finish()
    }
}
