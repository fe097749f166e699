//! Running commands in a sandbox: [`Commands`], reached through
//! [`Sandbox::commands`](crate::Sandbox::commands).
//!
//! Commands run as `/bin/bash -l -c <cmd>` through envd's process service, like the official
//! SDKs. [`Commands::run`] waits for the command; [`Commands::spawn`] returns a
//! [`CommandHandle`] as soon as envd confirms the process.

mod handle;
mod options;
mod output;
mod process;
pub(crate) mod stream;
mod utf8;

use std::time::Duration;

use e2b_core::{EnvdFeature, Error, Result};
use e2b_envd::process::{
    self as pb, CloseStdinRequest, ConnectRequest, ListRequest, ProcessConfig, SendInputRequest,
    SendSignalRequest, StartRequest, process_input,
};
use tracing::Instrument as _;

pub use handle::CommandHandle;
pub(crate) use options::StreamDeadlines;
pub use options::{
    CommandConnectOptions, CommandOptions, DEFAULT_COMMAND_TIMEOUT, DEFAULT_STREAM_IDLE_TIMEOUT,
    TextCallback,
};
pub use output::{CommandOutput, OUTPUT_BUFFER_BYTES};
pub use process::{CommandResult, ProcessInfo, ProcessSelector};
pub use stream::{BytesCallback, OutputStream};

use crate::envd::Operation;
use crate::sandbox::Sandbox;
use stream::{ProcessHandle, Sinks, open_stream, spawn_reader};

/// Commands in one sandbox. Obtained from [`Sandbox::commands`](crate::Sandbox::commands).
///
/// Every method is bounded by the sandbox's request timeout (see
/// [`Sandbox::with_request_timeout`](crate::Sandbox::with_request_timeout)); long-running
/// commands have their own [timeout](CommandOptions#timeouts).
#[derive(Clone, Copy, Debug)]
pub struct Commands<'a> {
    sandbox: &'a Sandbox,
}

impl<'a> Commands<'a> {
    pub(crate) fn new(sandbox: &'a Sandbox) -> Self {
        Commands { sandbox }
    }

    /// Run a command and wait for it to exit.
    ///
    /// ```no_run
    /// # async fn demo(sandbox: e2b_sandbox::Sandbox) -> e2b_sandbox::Result<()> {
    /// use e2b_sandbox::CommandOptions;
    ///
    /// let result = sandbox.commands().run("echo hello").await?;
    /// assert_eq!(result.stdout, "hello\n");
    ///
    /// match sandbox.commands().run("exit 3").await {
    ///     Err(e) if e.is_command_exit() => {
    ///         assert_eq!(e.command_exit_result().unwrap().exit_code, 3);
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// Dropping the returned future stops waiting, not the command: it runs on until it
    /// exits or its [timeout](CommandOptions::timeout) passes.
    ///
    /// # Errors
    ///
    /// A command-exit error carrying stdout, stderr and the exit code for a non-zero exit
    /// code; the errors of [`spawn`](Self::spawn) and [`CommandHandle::wait`].
    pub async fn run(&self, cmd: impl Into<String>) -> Result<CommandResult> {
        self.run_with(cmd, CommandOptions::new()).await
    }

    /// [`run`](Self::run) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`run`](Self::run).
    pub async fn run_with(
        &self,
        cmd: impl Into<String>,
        options: CommandOptions,
    ) -> Result<CommandResult> {
        let handle = self.spawn_with(cmd, options).await?;
        handle.wait().await
    }

    /// Start a command and return a handle once envd has started it.
    ///
    /// # Errors
    ///
    /// - invalid argument: `stdin(false)` on envd older than 0.3.0, or a `cwd` that does not
    ///   exist (from envd);
    /// - authentication: an unknown user (see [`Sandbox::with_user`](crate::Sandbox::with_user));
    /// - a request timeout if envd does not confirm the start within the request timeout;
    /// - a sandbox-gone timeout if the sandbox no longer answers.
    pub async fn spawn(&self, cmd: impl Into<String>) -> Result<CommandHandle> {
        self.spawn_with(cmd, CommandOptions::new()).await
    }

    /// [`spawn`](Self::spawn) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`spawn`](Self::spawn).
    pub async fn spawn_with(
        &self,
        cmd: impl Into<String>,
        options: CommandOptions,
    ) -> Result<CommandHandle> {
        let cmd = cmd.into();
        let span = tracing::info_span!(
            "e2b.commands.spawn",
            sandbox_id = %self.sandbox.id(),
            pid = tracing::field::Empty,
        );
        async {
            let envd = self.sandbox.envd();
            if options.stdin == Some(false) && !envd.version().supports(EnvdFeature::CommandsStdin)
            {
                return Err(Error::template(format!(
                    "envd {} always keeps stdin open; starting a command with stdin closed \
                     needs envd {} or newer (rebuild the template)",
                    envd.version().version(),
                    EnvdFeature::CommandsStdin.min_version()
                )));
            }
            let deadlines = options.deadlines;
            let request = StartRequest {
                process: Some(ProcessConfig {
                    cmd: "/bin/bash".into(),
                    args: vec!["-l".into(), "-c".into(), cmd],
                    envs: options.envs,
                    cwd: options.cwd,
                }),
                pty: None,
                tag: options.tag,
                stdin: Some(options.stdin.unwrap_or(false)),
            };
            let sinks = Sinks::text(options.on_stdout, options.on_stderr);
            let process = self.start_process(request, deadlines, sinks).await?;
            Ok(CommandHandle::new(process))
        }
        .instrument(span)
        .await
    }

    /// Attach to a running command (by pid or tag) to receive its output from now on and
    /// wait for it. Closing the connection never affects the command.
    ///
    /// # Errors
    ///
    /// Not found (of kind [`Process`](crate::NotFoundKind::Process)) if no such process
    /// runs; the errors of [`spawn`](Self::spawn).
    pub async fn connect(&self, process: impl Into<ProcessSelector>) -> Result<CommandHandle> {
        self.connect_with(process, CommandConnectOptions::new())
            .await
    }

    /// [`connect`](Self::connect) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`connect`](Self::connect).
    pub async fn connect_with(
        &self,
        process: impl Into<ProcessSelector>,
        options: CommandConnectOptions,
    ) -> Result<CommandHandle> {
        let process = process.into();
        let span = tracing::info_span!(
            "e2b.commands.connect",
            sandbox_id = %self.sandbox.id(),
            process = %process,
        );
        async {
            let sinks = Sinks::text(options.on_stdout, options.on_stderr);
            let process = self
                .connect_process(&process, options.deadlines, sinks)
                .await?;
            Ok(CommandHandle::new(process))
        }
        .instrument(span)
        .await
    }

    /// The processes running in the sandbox: commands, pseudo-terminals and the template's
    /// start command.
    ///
    /// # Errors
    ///
    /// A request timeout, a sandbox-gone timeout, or envd's error.
    pub async fn list(&self) -> Result<Vec<ProcessInfo>> {
        let span = tracing::info_span!("e2b.commands.list", sandbox_id = %self.sandbox.id());
        async {
            let envd = self.sandbox.envd();
            let call = envd.unary_options(self.sandbox.request_timeout(), None)?;
            match envd.process().list(ListRequest {}, call).await {
                Ok(list) => Ok(list.processes.into_iter().map(ProcessInfo::from).collect()),
                Err(e) => Err(envd.map_error(e, Operation::Other).await),
            }
        }
        .instrument(span)
        .await
    }

    /// Kill a process (`SIGKILL`). Returns `false` if no such process runs.
    ///
    /// # Errors
    ///
    /// A request timeout, a sandbox-gone timeout, or envd's error.
    pub async fn kill(&self, process: impl Into<ProcessSelector>) -> Result<bool> {
        let process = process.into();
        let span = tracing::info_span!(
            "e2b.commands.kill",
            sandbox_id = %self.sandbox.id(),
            process = %process,
        );
        async {
            let envd = self.sandbox.envd();
            let call = envd.unary_options(self.sandbox.request_timeout(), None)?;
            let request = SendSignalRequest {
                process: Some(process.to_wire()),
                signal: pb::Signal::Sigkill as i32,
            };
            match envd.process().send_signal(request, call).await {
                Ok(_) => Ok(true),
                Err(e) => {
                    let e = envd.map_error(e, Operation::Process).await;
                    if e.is_not_found() { Ok(false) } else { Err(e) }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Write to a process's stdin (the command must have been started with
    /// [`CommandOptions::stdin(true)`](CommandOptions::stdin)).
    ///
    /// # Errors
    ///
    /// Not found if no such process runs; envd's error (`internal`) if its stdin is closed
    /// or it is a pseudo-terminal; a request timeout; a sandbox-gone timeout.
    pub async fn send_stdin(
        &self,
        process: impl Into<ProcessSelector>,
        data: impl AsRef<[u8]>,
    ) -> Result<()> {
        let process = process.into();
        let input = process_input::Input::Stdin(data.as_ref().to_vec());
        self.send_input(process, input, "e2b.commands.send_stdin")
            .await
    }

    /// Close a process's stdin (end of file). Needs envd 0.5.2 or newer.
    ///
    /// # Errors
    ///
    /// A template error on older envd; not found if no such process runs; a request timeout;
    /// a sandbox-gone timeout.
    pub async fn close_stdin(&self, process: impl Into<ProcessSelector>) -> Result<()> {
        let process = process.into();
        let span = tracing::info_span!(
            "e2b.commands.close_stdin",
            sandbox_id = %self.sandbox.id(),
            process = %process,
        );
        async {
            let envd = self.sandbox.envd();
            envd.version().require(EnvdFeature::CloseStdin)?;
            let call = envd.unary_options(self.sandbox.request_timeout(), None)?;
            let request = CloseStdinRequest {
                process: Some(process.to_wire()),
            };
            match envd.process().close_stdin(request, call).await {
                Ok(_) => Ok(()),
                Err(e) => Err(envd.map_error(e, Operation::Process).await),
            }
        }
        .instrument(span)
        .await
    }

    pub(crate) async fn send_input(
        &self,
        process: ProcessSelector,
        input: process_input::Input,
        span_name: &'static str,
    ) -> Result<()> {
        let span = tracing::info_span!(
            "e2b.process.send_input",
            operation = span_name,
            sandbox_id = %self.sandbox.id(),
            process = %process,
        );
        async {
            let envd = self.sandbox.envd();
            let call = envd.unary_options(self.sandbox.request_timeout(), None)?;
            let request = SendInputRequest {
                process: Some(process.to_wire()),
                input: Some(pb::ProcessInput { input: Some(input) }),
            };
            match envd.process().send_input(request, call).await {
                Ok(_) => Ok(()),
                Err(e) => Err(envd.map_error(e, Operation::Process).await),
            }
        }
        .instrument(span)
        .await
    }

    /// Start a process (a command or a terminal) and the task reading its output; records
    /// the pid in the current span.
    pub(crate) async fn start_process(
        &self,
        request: StartRequest,
        deadlines: StreamDeadlines,
        sinks: Sinks,
    ) -> Result<ProcessHandle> {
        let envd = self.sandbox.envd();
        let call = envd.stream_options(
            deadlines.timeout,
            deadlines.idle_timeout,
            self.sandbox.user(),
        )?;
        let op = Operation::CommandStream {
            timeout: deadlines.timeout,
        };
        let (pid, stream) = open_stream(
            envd,
            op,
            self.start_timeout(deadlines.request_timeout),
            envd.process().start(request, call),
        )
        .await?;
        tracing::Span::current().record("pid", pid);
        let (core, reader) = spawn_reader(stream, envd.clone(), op, sinks);
        Ok(ProcessHandle::new(self.sandbox.clone(), pid, core, reader))
    }

    /// Attach to a running process (a command or a terminal) and start the task reading its
    /// output.
    pub(crate) async fn connect_process(
        &self,
        process: &ProcessSelector,
        deadlines: StreamDeadlines,
        sinks: Sinks,
    ) -> Result<ProcessHandle> {
        let envd = self.sandbox.envd();
        let call = envd.stream_options(deadlines.timeout, deadlines.idle_timeout, None)?;
        let request = ConnectRequest {
            process: Some(process.to_wire()),
        };
        let (pid, stream) = open_stream(
            envd,
            Operation::Process,
            self.start_timeout(deadlines.request_timeout),
            envd.process().connect(request, call),
        )
        .await?;
        let (core, reader) = spawn_reader(stream, envd.clone(), Operation::Process, sinks);
        Ok(ProcessHandle::new(self.sandbox.clone(), pid, core, reader))
    }

    /// The deadline for a stream's start: the given one (zero: none), else the sandbox's.
    pub(crate) fn start_timeout(&self, given: Option<Duration>) -> Option<Duration> {
        match given {
            Some(d) if d.is_zero() => None,
            Some(d) => Some(d),
            None => self.sandbox.request_timeout(),
        }
    }
}
