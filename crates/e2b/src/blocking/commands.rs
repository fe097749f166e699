//! Blocking [`Commands`] and [`CommandHandle`].

use super::client::{Iter, iter};
use super::runtime::Runtime;
use super::sandbox::Sandbox;
use crate::{
    CommandConnectOptions, CommandOptions, CommandOutput, CommandResult, ProcessInfo,
    ProcessSelector, Result,
};

/// Commands in one sandbox ([`Sandbox::commands`]); the blocking counterpart of
/// [`crate::Commands`].
///
/// ```no_run
/// # fn demo(sandbox: e2b::blocking::Sandbox) -> e2b::Result<()> {
/// use e2b::CommandOptions;
///
/// let result = sandbox.commands().run("echo hello")?;
/// assert_eq!(result.stdout, "hello\n");
///
/// // Callbacks see the output as it arrives (on the client's runtime thread).
/// sandbox
///     .commands()
///     .run_with("for i in 1 2 3; do echo $i; done", CommandOptions::new().on_stdout(|s| print!("{s}")))?;
///
/// // In the background: a handle to wait for or kill.
/// let handle = sandbox.commands().spawn("sleep 30")?;
/// assert!(handle.kill()?);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Commands<'a> {
    pub(crate) sandbox: &'a Sandbox,
}

impl Commands<'_> {
    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.sandbox.rt.block_on(future)
    }

    fn handle(&self, inner: crate::CommandHandle) -> CommandHandle {
        CommandHandle {
            inner,
            rt: self.sandbox.rt.clone(),
        }
    }

    /// Run a command and wait for it to exit.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Commands::run`]: a command-exit error for a non-zero exit
    /// code, …
    pub fn run(&self, cmd: impl Into<String>) -> Result<CommandResult> {
        self.run_with(cmd, CommandOptions::new())
    }

    /// [`run`](Self::run) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`run`](Self::run).
    pub fn run_with(
        &self,
        cmd: impl Into<String>,
        options: CommandOptions,
    ) -> Result<CommandResult> {
        self.block_on(self.sandbox.inner.commands().run_with(cmd, options))
    }

    /// Start a command in the background and return its handle.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Commands::spawn`].
    pub fn spawn(&self, cmd: impl Into<String>) -> Result<CommandHandle> {
        self.spawn_with(cmd, CommandOptions::new())
    }

    /// [`spawn`](Self::spawn) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`spawn`](Self::spawn).
    pub fn spawn_with(
        &self,
        cmd: impl Into<String>,
        options: CommandOptions,
    ) -> Result<CommandHandle> {
        let inner = self.block_on(self.sandbox.inner.commands().spawn_with(cmd, options))?;
        Ok(self.handle(inner))
    }

    /// Attach to a running command by pid or tag.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Commands::connect`].
    pub fn connect(&self, process: impl Into<ProcessSelector>) -> Result<CommandHandle> {
        self.connect_with(process, CommandConnectOptions::new())
    }

    /// [`connect`](Self::connect) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`connect`](Self::connect).
    pub fn connect_with(
        &self,
        process: impl Into<ProcessSelector>,
        options: CommandConnectOptions,
    ) -> Result<CommandHandle> {
        let inner = self.block_on(self.sandbox.inner.commands().connect_with(process, options))?;
        Ok(self.handle(inner))
    }

    /// The processes running in the sandbox.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Commands::list`].
    pub fn list(&self) -> Result<Vec<ProcessInfo>> {
        self.block_on(self.sandbox.inner.commands().list())
    }

    /// Kill a process (`SIGKILL`); `false` if no such process runs.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Commands::kill`].
    pub fn kill(&self, process: impl Into<ProcessSelector>) -> Result<bool> {
        self.block_on(self.sandbox.inner.commands().kill(process))
    }
}

/// A started command; the blocking counterpart of [`crate::CommandHandle`]. `Send + Sync`
/// and cheap to clone. Dropping it does not kill the command.
#[derive(Clone, Debug)]
pub struct CommandHandle {
    inner: crate::CommandHandle,
    rt: Runtime,
}

impl CommandHandle {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.inner.pid()
    }

    /// Wait for the command to exit.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::CommandHandle::wait`]: a command-exit error for a non-zero
    /// exit code, …
    pub fn wait(&self) -> Result<CommandResult> {
        self.rt.block_on(self.inner.wait())
    }

    /// Kill the command (`SIGKILL`); `false` if it had already exited.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::CommandHandle::kill`].
    pub fn kill(&self) -> Result<bool> {
        self.rt.block_on(self.inner.kill())
    }

    /// Write to the command's stdin (started with `CommandOptions::stdin(true)`).
    ///
    /// # Errors
    ///
    /// The errors of [`crate::CommandHandle::send_stdin`].
    pub fn send_stdin(&self, data: impl AsRef<[u8]>) -> Result<()> {
        self.rt.block_on(self.inner.send_stdin(data))
    }

    /// Close the command's stdin.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::CommandHandle::close_stdin`].
    pub fn close_stdin(&self) -> Result<()> {
        self.rt.block_on(self.inner.close_stdin())
    }

    /// The exit code, once the command has exited.
    pub fn exit_code(&self) -> Option<i32> {
        self.inner.exit_code()
    }

    /// The standard output received so far.
    pub fn stdout_so_far(&self) -> String {
        self.inner.stdout_so_far()
    }

    /// The standard error received so far.
    pub fn stderr_so_far(&self) -> String {
        self.inner.stderr_so_far()
    }

    /// The output (stdout and stderr, in order) from now on, as a blocking iterator that
    /// ends when the command exits.
    pub fn output(&self) -> Iter<CommandOutput> {
        iter(self.rt.clone(), self.inner.output())
    }

    /// The standard output from now on, as a blocking iterator.
    pub fn stdout(&self) -> Iter<String> {
        iter(self.rt.clone(), self.inner.stdout())
    }

    /// Stop receiving the command's output; the command runs on.
    pub fn disconnect(&self) {
        self.inner.disconnect();
    }

    /// The async handle underneath.
    pub fn as_async(&self) -> &crate::CommandHandle {
        &self.inner
    }
}
