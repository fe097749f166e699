//! One execution: the request's code on a context's kernel, its iopub
//! messages turned into stream lines as they arrive.
//!
//! Lines go through a bounded channel to the response body. When the client
//! goes away (its timeout, a dropped connection) the channel closes: the
//! kernel is interrupted, the execution is drained to its end so the kernel
//! stays in step, and a kernel that ignores interrupts is replaced.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::contexts::{Context, Contexts};
use super::kernel::{Kernel, exited, stderr_suffix};
use super::language;
use super::output::{self, Progress};
use crate::interpreter::jupyter::client::{Channel, ClientError};
use crate::interpreter::jupyter::message::Message;

/// Silence after which a `keepalive` line is written.
pub(crate) const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// How long an interrupted execution may take to stop before its kernel is replaced.
const INTERRUPT_GRACE: Duration = Duration::from_secs(10);
/// How long bookkeeping executions (environment variables) may take.
const SILENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long outputs may stay quiet after the shell reply before the execution
/// is taken as over without its idle status.
const IDLE_AFTER_REPLY: Duration = Duration::from_secs(5);
/// How long the shell reply may lag behind the idle status.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an execution the kernel refused unrun is offered again, and how
/// often (tslab refuses requests for 200 ms after a failure).
const ABORTED_RETRY_PATIENCE: Duration = Duration::from_secs(5);
const ABORTED_RETRY_DELAY: Duration = Duration::from_millis(50);

/// What to run.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) code: String,
    pub(crate) env_vars: BTreeMap<String, String>,
}

/// The sending side of a response: lines, and whether the client still listens.
struct Lines {
    tx: mpsc::Sender<Bytes>,
    open: bool,
}

impl Lines {
    async fn send(&mut self, line: Option<Value>) {
        if let (true, Some(line)) = (self.open, line)
            && self.tx.send(output::encode(&line)).await.is_err()
        {
            self.open = false;
        }
    }
}

/// Run `job` on `context`, writing lines to `tx`; always ends with
/// `end_of_execution` (if the client still listens).
pub(crate) async fn run(
    contexts: Arc<Contexts>,
    context: Arc<Context>,
    job: Job,
    tx: mpsc::Sender<Bytes>,
) {
    let mut lines = Lines { tx, open: true };
    let mut progress = Progress::default();
    // Waiting for an earlier execution, or for a kernel to start, is silence
    // too: keepalives flow, and a client that leaves meanwhile is not served.
    let lock = context.kernel.lock();
    tokio::pin!(lock);
    let mut guard = loop {
        tokio::select! {
            guard = &mut lock => break guard,
            () = tokio::time::sleep(KEEPALIVE_INTERVAL) => {
                lines.send(Some(output::marker("keepalive"))).await;
            }
        }
    };
    if lines.tx.is_closed() || !lines.open {
        // The client gave up while an earlier execution held the context.
        return;
    }
    let generation = context.generation();
    let prepared = {
        let preparing = prepare(&contexts, &context, &mut guard, generation);
        tokio::pin!(preparing);
        loop {
            tokio::select! {
                prepared = &mut preparing => break prepared,
                () = tokio::time::sleep(KEEPALIVE_INTERVAL) => {
                    lines.send(Some(output::marker("keepalive"))).await;
                }
            }
        }
    };
    let outcome = match prepared {
        Err(outcome) => outcome,
        Ok(()) => match guard.as_mut() {
            Some(kernel) => {
                let sandbox_env = contexts.sandbox_env();
                execute(
                    kernel,
                    &context,
                    &sandbox_env,
                    &job,
                    &mut lines,
                    &mut progress,
                )
                .await
            }
            None => Outcome::KernelLost("the context has no kernel".to_owned()),
        },
    };
    if let Outcome::KernelLost(why) = outcome {
        let (name, value) = if context.removed.load(Ordering::SeqCst) {
            (
                "UnexpectedEndOfExecution",
                "the context was removed".to_owned(),
            )
        } else if context.generation() != generation {
            ("ContextRestarting", "Context was restarted".to_owned())
        } else {
            ("UnexpectedEndOfExecution", why)
        };
        lines
            .send(output::synthetic_error(name, &value, &mut progress))
            .await;
        contexts.forget_kernel(&context, &mut guard);
    }
    lines.send(Some(output::marker("end_of_execution"))).await;
}

/// Make sure the context has a live kernel, starting one if it died. A
/// restart or removal while it starts wins: the new kernel is dropped.
async fn prepare(
    contexts: &Contexts,
    context: &Context,
    guard: &mut Option<Kernel>,
    generation: u64,
) -> Result<(), Outcome> {
    if context.removed.load(Ordering::SeqCst) {
        return Err(Outcome::KernelLost("the context was removed".to_owned()));
    }
    if guard.as_ref().is_some_and(|k| k.exit_status().is_none()) {
        return Ok(());
    }
    contexts.forget_kernel(context, guard);
    match contexts.start_kernel(context).await {
        Ok(kernel) => {
            *guard = Some(kernel);
            if context.generation() == generation {
                Ok(())
            } else {
                Err(Outcome::KernelLost("the kernel was replaced".to_owned()))
            }
        }
        Err(e) => Err(Outcome::KernelLost(e.to_string())),
    }
}

/// How an execution ended.
enum Outcome {
    /// The kernel went idle; it is ready for the next one.
    Done,
    /// The kernel died, stopped answering or ignored interrupts; it must be replaced.
    KernelLost(String),
    /// The kernel refused the request unrun: tslab aborts what arrives in
    /// the moments after a failed execution.
    Aborted,
}

async fn execute(
    kernel: &mut Kernel,
    context: &Context,
    sandbox_env: &Arc<BTreeMap<String, String>>,
    job: &Job,
    lines: &mut Lines,
    progress: &mut Progress,
) -> Outcome {
    let language = kernel.language;
    // The sandbox's variables changed since the kernel started (a sandbox
    // handed out from a warm pool): the kernel takes them first, as one
    // started now would have them.
    if let Some(mut behind) = context.env_behind(sandbox_env) {
        // A name the language cannot hold is in the kernel's process
        // environment only, as in a kernel started with it.
        behind.retain(|name, _| language::check_env_name(language, name).is_ok());
        if !behind.is_empty() {
            let code = language::apply_env(language, &behind);
            match run_silent(kernel, &code).await {
                Ok(None) => {}
                Ok(Some(failure)) => {
                    let value =
                        format!("setting the sandbox's environment variables failed: {failure}");
                    lines
                        .send(output::synthetic_error("EnvVarsError", &value, progress))
                        .await;
                    return Outcome::Done;
                }
                Err(why) => return Outcome::KernelLost(why),
            }
        }
        context.env_applied(Arc::clone(sandbox_env));
    }
    if !job.env_vars.is_empty() {
        let code = language::set_env(language, &job.env_vars);
        match run_silent(kernel, &code).await {
            Ok(None) => {}
            Ok(Some(failure)) => {
                // The code does not run without its variables.
                let value = format!("setting the environment variables failed: {failure}");
                lines
                    .send(output::synthetic_error("EnvVarsError", &value, progress))
                    .await;
                return Outcome::Done;
            }
            Err(why) => return Outcome::KernelLost(why),
        }
    }
    let deadline = Instant::now() + ABORTED_RETRY_PATIENCE;
    let outcome = loop {
        match stream(kernel, context, &job.code, lines, progress).await {
            Outcome::Aborted if !lines.open => break Outcome::Done,
            Outcome::Aborted if Instant::now() < deadline => {
                tokio::time::sleep(ABORTED_RETRY_DELAY).await;
            }
            Outcome::Aborted => {
                break Outcome::KernelLost("the kernel kept refusing the execution".to_owned());
            }
            outcome => break outcome,
        }
    };
    if matches!(outcome, Outcome::Done) && !job.env_vars.is_empty() {
        let code = language::restore_env(language, &job.env_vars);
        match run_silent(kernel, &code).await {
            Ok(None) => {}
            Ok(Some(failure)) => {
                tracing::warn!(context = %context.id, "restoring environment variables failed: {failure}");
            }
            Err(why) => return Outcome::KernelLost(why),
        }
    }
    outcome
}

/// Run the code and forward what it produces until the kernel is idle again.
async fn stream(
    kernel: &mut Kernel,
    context: &Context,
    code: &str,
    lines: &mut Lines,
    progress: &mut Progress,
) -> Outcome {
    let id = match kernel.client.send_execute(code, false).await {
        Ok(id) => id,
        Err(e) => return Outcome::KernelLost(lost(kernel, &e)),
    };
    let mut exit = kernel.exit_watch();
    let mut keepalive = Instant::now() + KEEPALIVE_INTERVAL;
    let mut give_up: Option<Instant> = None;
    // The execution ends with the kernel's idle status. Should that message
    // be lost (a kernel drops iopub messages past its high-water mark), the
    // shell reply ends it once the outputs have gone quiet.
    let mut reply: Option<Message> = None;
    let mut quiet_after_reply: Option<Instant> = None;
    loop {
        let closed = lines.tx.clone();
        tokio::select! {
            msg = kernel.client.recv_either() => {
                let msg = match msg {
                    Ok(Channel::Iopub(msg)) => msg,
                    Ok(Channel::Shell(msg)) => {
                        if msg.parent_id() == Some(id.as_str()) {
                            reply = Some(msg);
                            quiet_after_reply = Some(Instant::now() + IDLE_AFTER_REPLY);
                        }
                        continue;
                    }
                    Err(ClientError::Wire(e)) => {
                        tracing::warn!(context = %context.id, "skipping a kernel message: {e}");
                        continue;
                    }
                    Err(e) => return Outcome::KernelLost(lost(kernel, &e)),
                };
                if msg.parent_id() != Some(id.as_str()) {
                    continue;
                }
                if msg.header.msg_type == "status" && msg.content["execution_state"] == "idle" {
                    break;
                }
                if reply.is_some() {
                    quiet_after_reply = Some(Instant::now() + IDLE_AFTER_REPLY);
                }
                if let Some(line) = output::iopub_lines(&msg, progress) {
                    lines.send(Some(line)).await;
                    keepalive = Instant::now() + KEEPALIVE_INTERVAL;
                }
            }
            () = sleep_until_some(quiet_after_reply) => {
                tracing::warn!(context = %context.id, "no idle status after the reply; the execution is over");
                break;
            }
            () = tokio::time::sleep_until(keepalive), if lines.open => {
                lines.send(Some(output::marker("keepalive"))).await;
                keepalive = Instant::now() + KEEPALIVE_INTERVAL;
            }
            () = closed.closed(), if lines.open => {
                lines.open = false;
            }
            status = exited(&mut exit) => {
                return Outcome::KernelLost(format!(
                    "the kernel exited during the execution ({status}){}",
                    stderr_suffix(&kernel.stderr_tail())
                ));
            }
            () = sleep_until_some(give_up) => {
                return Outcome::KernelLost(
                    "the kernel did not stop after an interrupt".to_owned(),
                );
            }
        }
        if !lines.open && give_up.is_none() {
            tracing::debug!(context = %context.id, "client left; interrupting the execution");
            kernel.interrupt().await;
            give_up = Some(Instant::now() + INTERRUPT_GRACE);
        }
    }
    let reply = match reply {
        Some(reply) => reply,
        None => match tokio::time::timeout(REPLY_TIMEOUT, kernel.client.recv_reply(&id)).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => return Outcome::KernelLost(lost(kernel, &e)),
            Err(_) => {
                return Outcome::KernelLost("the kernel sent no execute_reply".to_owned());
            }
        },
    };
    if reply.content["status"] == "abort" {
        return Outcome::Aborted;
    }
    for line in output::reply_lines(&reply, progress) {
        lines.send(Some(line)).await;
    }
    Outcome::Done
}

/// Run bookkeeping code whose output nobody sees: `Ok(None)` when it ran,
/// `Ok(Some(error))` when it failed, `Err` when the kernel is lost. Kernels
/// that abort what arrives shortly after a failed execution (tslab) get it
/// again until they run it.
pub(crate) async fn run_silent(kernel: &mut Kernel, code: &str) -> Result<Option<String>, String> {
    let mut exit = kernel.exit_watch();
    let client = &mut kernel.client;
    let work = async {
        loop {
            let id = client.send_execute(code, true).await?;
            loop {
                let msg = match client.recv_iopub().await {
                    Ok(msg) => msg,
                    Err(ClientError::Wire(_)) => continue,
                    Err(e) => return Err(e),
                };
                if msg.parent_id() == Some(id.as_str())
                    && msg.header.msg_type == "status"
                    && msg.content["execution_state"] == "idle"
                {
                    break;
                }
            }
            let reply = client.recv_reply(&id).await?;
            match reply.content["status"].as_str() {
                Some("abort") => continue,
                Some("error") => {
                    let name = reply.content["ename"].as_str().unwrap_or("Error");
                    let value = reply.content["evalue"].as_str().unwrap_or_default();
                    return Ok::<_, ClientError>(Some(format!("{name}: {value}")));
                }
                _ => return Ok(None),
            }
        }
    };
    let outcome = tokio::select! {
        outcome = tokio::time::timeout(SILENT_TIMEOUT, work) => outcome,
        status = exited(&mut exit) => {
            return Err(format!(
                "the kernel exited ({status}){}",
                stderr_suffix(&kernel.stderr_tail())
            ));
        }
    };
    match outcome {
        Ok(Ok(failure)) => Ok(failure),
        Ok(Err(e)) => Err(lost(kernel, &e)),
        Err(_) => Err(format!(
            "the kernel did not answer within {SILENT_TIMEOUT:?}"
        )),
    }
}

fn lost(kernel: &Kernel, error: &ClientError) -> String {
    format!(
        "lost the kernel: {error}{}",
        stderr_suffix(&kernel.stderr_tail())
    )
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
