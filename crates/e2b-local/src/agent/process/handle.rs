//! One started process: its input, its attached streams and its lifecycle.

use std::io;
use std::sync::{Mutex, MutexGuard};

use e2b_envd::process::ProcessConfig;
use e2b_envd::process::process_event::EndEvent;
use rustix::process::{Pid, Signal};
use tokio::io::AsyncWriteExt;
use tokio::process::ChildStdin;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::fanout::{Fanout, Output};
use super::pty;

/// Where input of a process goes.
#[derive(Debug)]
pub(crate) enum Input {
    /// A pipe to stdin; `None` when stdin is disabled or was closed.
    Pipe(tokio::sync::Mutex<Option<ChildStdin>>),
    /// The terminal.
    Pty(std::sync::Arc<pty::Master>),
}

/// Input that could not be delivered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InputError {
    #[error("tty assigned to process — input should be written to the pty, not the stdin")]
    NotAPipe,
    #[error("tty not assigned to process — input should be written to the stdin, not the tty")]
    NotATerminal,
    #[error("stdin not enabled or closed")]
    StdinClosed,
    #[error("cannot close stdin for PTY process — send Ctrl+D (0x04) instead")]
    CloseTerminal,
    #[error("error writing to process '{pid}': {source}")]
    Write {
        pid: u32,
        #[source]
        source: io::Error,
    },
}

#[derive(Debug, Default)]
struct Lifecycle {
    /// The process itself has been reaped.
    exited: bool,
    /// A SIGKILL or SIGTERM was sent (by a client or the timeout).
    kill_requested: bool,
    /// Set once the process has exited and its output is drained.
    end: Option<EndEvent>,
}

/// How a new stream attaches to a process.
#[derive(Debug)]
pub(crate) enum Attachment {
    /// The process runs: its output and end arrive on this queue.
    Live(mpsc::Receiver<Output>),
    /// The process has ended already.
    Ended(EndEvent),
}

/// A started process.
#[derive(Debug)]
pub(crate) struct ProcessHandle {
    pub(crate) pid: u32,
    pub(crate) config: ProcessConfig,
    pub(crate) tag: Option<String>,
    /// Order of starts, to prefer the newest of processes sharing a tag.
    pub(crate) sequence: u64,
    input: Input,
    fanout: Fanout,
    lifecycle: Mutex<Lifecycle>,
    /// Cancelled to stop reading output: the process was killed and has
    /// exited, but descendants outside its group may still hold its pipes.
    pub(crate) stop_output: CancellationToken,
    /// Cancelled once the end is known.
    pub(crate) finished: CancellationToken,
}

impl ProcessHandle {
    pub(crate) fn new(
        pid: u32,
        config: ProcessConfig,
        tag: Option<String>,
        sequence: u64,
        input: Input,
    ) -> Self {
        ProcessHandle {
            pid,
            config,
            tag,
            sequence,
            input,
            fanout: Fanout::default(),
            lifecycle: Mutex::new(Lifecycle::default()),
            stop_output: CancellationToken::new(),
            finished: CancellationToken::new(),
        }
    }

    fn lifecycle(&self) -> MutexGuard<'_, Lifecycle> {
        // Plain flag updates: a panic elsewhere cannot leave them torn.
        self.lifecycle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Attach a stream: the live output, or the end if it is known already.
    pub(crate) fn attach(&self) -> Attachment {
        let lifecycle = self.lifecycle();
        match &lifecycle.end {
            Some(end) => Attachment::Ended(end.clone()),
            None => Attachment::Live(self.fanout.subscribe()),
        }
    }

    /// Whether the process has not ended yet.
    pub(crate) fn is_running(&self) -> bool {
        self.lifecycle().end.is_none()
    }

    /// Send output to the attached streams.
    pub(crate) async fn publish(&self, output: Output) {
        self.fanout.publish(output).await;
    }

    /// Record that the process itself was reaped.
    pub(crate) fn mark_exited(&self) {
        let mut lifecycle = self.lifecycle();
        lifecycle.exited = true;
        if lifecycle.kill_requested {
            self.stop_output.cancel();
        }
    }

    /// Record the end, deliver it to the attached streams and detach them.
    pub(crate) async fn finish(&self, end: EndEvent) {
        self.lifecycle().end = Some(end.clone());
        self.fanout.publish(Output::End(end)).await;
        self.fanout.close();
        self.finished.cancel();
    }

    /// Signal the process group. A group that is already gone counts as
    /// signalled.
    pub(crate) fn signal(&self, signal: Signal) -> io::Result<()> {
        {
            let mut lifecycle = self.lifecycle();
            if lifecycle.end.is_some() {
                return Ok(());
            }
            if signal == Signal::KILL || signal == Signal::TERM {
                lifecycle.kill_requested = true;
                if lifecycle.exited {
                    self.stop_output.cancel();
                }
            }
        }
        let Some(group) = i32::try_from(self.pid).ok().and_then(Pid::from_raw) else {
            return Ok(());
        };
        match rustix::process::kill_process_group(group, signal) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::SRCH) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Write to the process's stdin.
    pub(crate) async fn write_stdin(&self, data: &[u8]) -> Result<(), InputError> {
        let Input::Pipe(stdin) = &self.input else {
            return Err(InputError::NotAPipe);
        };
        let mut stdin = stdin.lock().await;
        let pipe = stdin.as_mut().ok_or(InputError::StdinClosed)?;
        let result = async {
            pipe.write_all(data).await?;
            pipe.flush().await
        }
        .await;
        result.map_err(|source| InputError::Write {
            pid: self.pid,
            source,
        })
    }

    /// Write to the process's terminal.
    pub(crate) async fn write_pty(&self, data: &[u8]) -> Result<(), InputError> {
        let Input::Pty(master) = &self.input else {
            return Err(InputError::NotATerminal);
        };
        master
            .write_all(data)
            .await
            .map_err(|source| InputError::Write {
                pid: self.pid,
                source,
            })
    }

    /// Close stdin so the process reads end-of-file. Closing twice is fine.
    pub(crate) async fn close_stdin(&self) -> Result<(), InputError> {
        match &self.input {
            Input::Pty(_) => Err(InputError::CloseTerminal),
            Input::Pipe(stdin) => {
                stdin.lock().await.take();
                Ok(())
            }
        }
    }

    /// Resize the process's terminal.
    pub(crate) fn resize(&self, size: pty::Size) -> Result<(), InputError> {
        match &self.input {
            Input::Pipe(_) => Err(InputError::NotATerminal),
            Input::Pty(master) => master.resize(size).map_err(|source| InputError::Write {
                pid: self.pid,
                source,
            }),
        }
    }
}
