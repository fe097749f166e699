//! Process event streams: opening one (start or connect), the task that reads it, and the
//! state a handle shares with that task.

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use e2b_core::{Error, ErrorKind, Result, TimeoutKind};
use e2b_envd::connect::{self, StreamMessage, Streaming};
use e2b_envd::process::process_event::{Event, data_event::Output};
use e2b_envd::process::{ConnectResponse, StartResponse, process_event::EndEvent};
use futures_util::Stream;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use super::output::{CommandOutput, OutputLog, ReaderId};
use super::process::CommandResult;
use super::utf8::Utf8Decoder;
use crate::commands::options::TextCallback;
use crate::envd::{Envd, Operation};
use crate::sandbox::Sandbox;

/// How long to read the rest of a stream after its end event, so the connection can be
/// reused; the result is known already.
const DRAIN_AFTER_END: Duration = Duration::from_secs(1);

/// A callback receiving raw pseudo-terminal output.
pub type BytesCallback = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// A server-stream message carrying process events (`Start` and `Connect` responses).
pub(crate) trait EventMessage: StreamMessage + Send + 'static {
    fn into_event(self) -> Option<Event>;
}

impl EventMessage for StartResponse {
    fn into_event(self) -> Option<Event> {
        self.event.and_then(|e| e.event)
    }
}

impl EventMessage for ConnectResponse {
    fn into_event(self) -> Option<Event> {
        self.event.and_then(|e| e.event)
    }
}

/// Where a process's output goes besides the handle's buffer.
#[derive(Clone, Default)]
pub(crate) struct Sinks {
    pub(crate) on_stdout: Option<TextCallback>,
    pub(crate) on_stderr: Option<TextCallback>,
    pub(crate) on_pty: Option<BytesCallback>,
}

impl Sinks {
    /// A command's: text callbacks for stdout and stderr.
    pub(crate) fn text(on_stdout: Option<TextCallback>, on_stderr: Option<TextCallback>) -> Self {
        Sinks {
            on_stdout,
            on_stderr,
            on_pty: None,
        }
    }

    /// A terminal's: one callback for its raw output.
    pub(crate) fn pty(on_data: Option<BytesCallback>) -> Self {
        Sinks {
            on_pty: on_data,
            ..Sinks::default()
        }
    }
}

/// Wait for the start event of a freshly opened stream, under `request_timeout`.
///
/// `open` sends the request and returns the stream; the pid comes from the first message.
pub(crate) async fn open_stream<M, F>(
    envd: &Envd,
    op: Operation,
    request_timeout: Option<Duration>,
    open: F,
) -> Result<(u32, Streaming<M>)>
where
    M: EventMessage,
    F: Future<Output = std::result::Result<Streaming<M>, connect::Error>>,
{
    let started = async {
        let mut stream = open.await?;
        let first = stream.message().await?;
        Ok::<_, connect::Error>((first, stream))
    };
    let outcome = match request_timeout {
        None => started.await,
        Some(limit) => match tokio::time::timeout(limit, started).await {
            Ok(outcome) => outcome,
            Err(_) => {
                return Err(Error::timeout(
                    TimeoutKind::Request,
                    format!("envd did not confirm the process within {limit:?}"),
                ));
            }
        },
    };
    let (first, stream) = match outcome {
        Ok(ok) => ok,
        Err(e) => return Err(envd.map_error(e, op).await),
    };
    match first.and_then(EventMessage::into_event) {
        Some(Event::Start(start)) => Ok((start.pid, stream)),
        Some(_) => Err(Error::protocol(
            "envd's process stream did not open with a start event",
        )),
        None => Err(Error::protocol(
            "envd's process stream ended before the process started",
        )),
    }
}

/// How a process's stream ended.
enum Finished {
    /// The process exited (the end event arrived).
    Exited {
        exit_code: i32,
        error: Option<String>,
    },
    /// The stream failed or was disconnected before the end event. The original error goes
    /// to the first waiter; later waiters get one rebuilt from its kind.
    Failed {
        error: Option<Error>,
        kind: ErrorKind,
    },
}

/// What a handle shares with the task reading its stream.
pub(crate) struct Core {
    log: OutputLog,
    stdout: Mutex<String>,
    stderr: Mutex<String>,
    finished: Mutex<Option<Finished>>,
    done: watch::Sender<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update under these locks is a single step, so a poisoned lock is consistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Core {
    fn new() -> Self {
        Core {
            log: OutputLog::default(),
            stdout: Mutex::new(String::new()),
            stderr: Mutex::new(String::new()),
            finished: Mutex::new(None),
            done: watch::channel(false).0,
        }
    }

    /// Record how the stream ended (the first record wins), close the log, wake waiters.
    fn finish(&self, finished: Finished) {
        {
            let mut slot = lock(&self.finished);
            if slot.is_none() {
                *slot = Some(finished);
            }
        }
        self.log.close();
        self.done.send_replace(true);
    }

    async fn emit_text(&self, text: String, stderr: bool, sinks: &Sinks) {
        if text.is_empty() {
            return;
        }
        let (buffer, callback) = if stderr {
            (&self.stderr, &sinks.on_stderr)
        } else {
            (&self.stdout, &sinks.on_stdout)
        };
        lock(buffer).push_str(&text);
        if let Some(callback) = callback {
            callback(&text);
        }
        self.log
            .push(if stderr {
                CommandOutput::Stderr(text)
            } else {
                CommandOutput::Stdout(text)
            })
            .await;
    }

    async fn emit_pty(&self, data: Vec<u8>, sinks: &Sinks) {
        if data.is_empty() {
            return;
        }
        if let Some(callback) = &sinks.on_pty {
            callback(&data);
        }
        self.log.push(CommandOutput::Pty(Bytes::from(data))).await;
    }

    /// Whether the stream has ended (exit, failure or disconnect).
    pub(crate) fn is_finished(&self) -> bool {
        *self.done.borrow()
    }

    /// The exit code, once the process has exited.
    pub(crate) fn exit_code(&self) -> Option<i32> {
        match &*lock(&self.finished) {
            Some(Finished::Exited { exit_code, .. }) => Some(*exit_code),
            _ => None,
        }
    }

    /// Standard output so far.
    pub(crate) fn stdout(&self) -> String {
        lock(&self.stdout).clone()
    }

    /// Standard error so far.
    pub(crate) fn stderr(&self) -> String {
        lock(&self.stderr).clone()
    }

    /// Wait for the end of the stream; the result, a command-exit error for a non-zero exit
    /// code, or the stream's failure.
    pub(crate) async fn wait(&self) -> Result<CommandResult> {
        let mut done = self.done.subscribe();
        // The sender lives in `self`, so this only returns once `done` is true.
        let _ = done.wait_for(|finished| *finished).await;
        let mut finished = lock(&self.finished);
        match finished.as_mut() {
            Some(Finished::Exited { exit_code, error }) => {
                let result = CommandResult {
                    exit_code: *exit_code,
                    stdout: self.stdout(),
                    stderr: self.stderr(),
                    error: error.clone(),
                };
                if result.exit_code == 0 {
                    Ok(result)
                } else {
                    Err(Error::command_exit(result.into()))
                }
            }
            Some(Finished::Failed { error, kind }) => {
                Err(error.take().unwrap_or_else(|| Error::new(kind.clone())))
            }
            None => Err(Error::protocol("the process stream ended without a result")),
        }
    }
}

/// Records a disconnect if the reading task stops without a result (aborted by
/// `disconnect`, by dropping the last handle, or by a panicking callback).
struct FinishGuard(Arc<Core>);

impl Drop for FinishGuard {
    fn drop(&mut self) {
        self.0.finish(Finished::Failed {
            error: None,
            kind: disconnected(),
        });
    }
}

fn disconnected() -> ErrorKind {
    ErrorKind::Transport {
        message: "disconnected from the process, which keeps running; reconnect with \
                  commands().connect(pid)"
            .into(),
    }
}

/// Start the task reading `stream`; returns the shared state and the task's abort handle.
pub(crate) fn spawn_reader<M: EventMessage>(
    stream: Streaming<M>,
    envd: Envd,
    op: Operation,
    sinks: Sinks,
) -> (Arc<Core>, AbortHandle) {
    let core = Arc::new(Core::new());
    let task = tokio::spawn(read_events(stream, Arc::clone(&core), envd, op, sinks));
    (core, task.abort_handle())
}

async fn read_events<M: EventMessage>(
    mut stream: Streaming<M>,
    core: Arc<Core>,
    envd: Envd,
    op: Operation,
    sinks: Sinks,
) {
    let guard = FinishGuard(Arc::clone(&core));
    let mut stdout = Utf8Decoder::new();
    let mut stderr = Utf8Decoder::new();
    let mut end: Option<EndEvent> = None;
    let failure = loop {
        match stream.message().await {
            Ok(Some(message)) => match message.into_event() {
                Some(Event::Data(data)) => match data.output {
                    Some(Output::Stdout(bytes)) => {
                        core.emit_text(stdout.decode(&bytes), false, &sinks).await;
                    }
                    Some(Output::Stderr(bytes)) => {
                        core.emit_text(stderr.decode(&bytes), true, &sinks).await;
                    }
                    Some(Output::Pty(bytes)) => core.emit_pty(bytes, &sinks).await,
                    None => {}
                },
                Some(Event::End(event)) => {
                    end = Some(event);
                    break None;
                }
                // Repeated start events and keepalives carry nothing.
                Some(Event::Start(_) | Event::Keepalive(_)) | None => {}
            },
            Ok(None) => break None,
            Err(e) => break Some(envd.map_error(e, op).await),
        }
    };
    if end.is_some() {
        // Read the end-of-stream frame so the connection goes back to the pool.
        let _ = tokio::time::timeout(DRAIN_AFTER_END, async {
            while let Ok(Some(_)) = stream.message().await {}
        })
        .await;
    }
    core.emit_text(stdout.finish(), false, &sinks).await;
    core.emit_text(stderr.finish(), true, &sinks).await;
    let finished = match (end, failure) {
        (Some(end), _) => Finished::Exited {
            exit_code: end.exit_code,
            error: end.error.filter(|e| !e.is_empty()),
        },
        (None, Some(error)) => Finished::Failed {
            kind: error.kind().clone(),
            error: Some(error),
        },
        (None, None) => {
            let error = Error::protocol("the process stream ended without an end event");
            Finished::Failed {
                kind: error.kind().clone(),
                error: Some(error),
            }
        }
    };
    core.finish(finished);
    drop(guard);
}

/// What every handle on a process holds: the sandbox (for kill and input), the pid, the
/// shared state and the reading task, which is aborted when the last clone is dropped.
pub(crate) struct ProcessHandle {
    pub(crate) sandbox: Sandbox,
    pub(crate) pid: u32,
    pub(crate) core: Arc<Core>,
    reader: AbortHandle,
}

impl ProcessHandle {
    pub(crate) fn new(sandbox: Sandbox, pid: u32, core: Arc<Core>, reader: AbortHandle) -> Self {
        ProcessHandle {
            sandbox,
            pid,
            core,
            reader,
        }
    }

    /// Stop reading the stream; the process keeps running.
    pub(crate) fn disconnect(&self) {
        self.reader.abort();
    }
}

impl Drop for ProcessHandle {
    fn drop(&mut self) {
        // Stops local work only: the remote process is never killed here.
        self.reader.abort();
    }
}

impl fmt::Debug for ProcessHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessHandle")
            .field("sandbox_id", &self.sandbox.id())
            .field("pid", &self.pid)
            .field("finished", &self.core.is_finished())
            .finish()
    }
}

/// A stream of a process's output, in order, from the oldest output still buffered (see
/// [`OUTPUT_BUFFER_BYTES`](crate::commands::OUTPUT_BUFFER_BYTES)); it ends when the process's
/// stream ends.
///
/// Each stream reads independently; a stream that is not read holds back the process's
/// output once a full buffer is waiting for it, so drop streams you stop reading. A stream
/// keeps its process handle alive.
#[must_use = "streams do nothing unless polled"]
pub struct OutputStream<T = CommandOutput> {
    handle: Arc<ProcessHandle>,
    reader: ReaderId,
    select: fn(CommandOutput) -> Option<T>,
    _item: PhantomData<fn() -> T>,
}

impl<T> OutputStream<T> {
    pub(crate) fn new(handle: Arc<ProcessHandle>, select: fn(CommandOutput) -> Option<T>) -> Self {
        let reader = handle.core.log.subscribe();
        OutputStream {
            handle,
            reader,
            select,
            _item: PhantomData,
        }
    }
}

impl<T> Stream for OutputStream<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        loop {
            match this.handle.core.log.poll_read(this.reader, cx) {
                Poll::Ready(Some(chunk)) => {
                    if let Some(item) = (this.select)(chunk) {
                        return Poll::Ready(Some(item));
                    }
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<T> Drop for OutputStream<T> {
    fn drop(&mut self) {
        self.handle.core.log.unsubscribe(self.reader);
    }
}

impl<T> fmt::Debug for OutputStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutputStream")
            .field("pid", &self.handle.pid)
            .finish_non_exhaustive()
    }
}
