//! The `process.Process` Connect service.

mod events;
mod exit;
mod fanout;
mod handle;
mod output;
mod pty;
mod registry;
pub(crate) mod spawn;
mod start;

use std::sync::Arc;

use e2b_envd::connect::server::{RequestContext, RequestStream, ResponseStream};
use e2b_envd::connect::{Code, ConnectError};
use e2b_envd::process::process_server::Process;
use e2b_envd::process::*;
use futures_util::StreamExt;
use rustix::process::Signal as UnixSignal;

use super::context::Sandbox;
use super::keepalive::{self, Keepalive};
use super::rpc_error::RpcError;
use handle::{InputError, ProcessHandle};
use registry::Registry;

/// How long a SIGKILL waits for its process to be reaped before answering.
const KILL_REAP_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The service: processes started in this sandbox.
#[derive(Debug)]
pub(crate) struct ProcessService {
    sandbox: Arc<Sandbox>,
    registry: Arc<Registry>,
}

impl ProcessService {
    pub(crate) fn new(sandbox: Arc<Sandbox>) -> Self {
        ProcessService {
            sandbox,
            registry: Arc::new(Registry::default()),
        }
    }
}

fn input_error(context: &str, e: InputError) -> RpcError {
    RpcError::new(Code::Internal, format!("{context}: {e}"))
}

/// Deliver one `ProcessInput` (stdin bytes or terminal bytes).
async fn deliver(process: &ProcessHandle, input: Option<ProcessInput>) -> Result<(), RpcError> {
    match input.and_then(|i| i.input) {
        Some(process_input::Input::Stdin(data)) => process
            .write_stdin(&data)
            .await
            .map_err(|e| input_error("error writing to stdin", e)),
        Some(process_input::Input::Pty(data)) => process
            .write_pty(&data)
            .await
            .map_err(|e| input_error("error writing to tty", e)),
        None => Err(RpcError::new(
            Code::Unimplemented,
            "invalid input type: the input carries neither stdin nor pty data",
        )),
    }
}

impl Process for ProcessService {
    async fn list(
        &self,
        _ctx: RequestContext,
        _request: ListRequest,
    ) -> Result<ListResponse, ConnectError> {
        Ok(ListResponse {
            processes: self.registry.list(),
        })
    }

    async fn connect(
        &self,
        ctx: RequestContext,
        request: ConnectRequest,
    ) -> Result<ResponseStream<ConnectResponse>, ConnectError> {
        let process = self.registry.attachable(request.process.as_ref())?;
        let keepalive = Keepalive::new(keepalive::interval(&ctx.headers));
        Ok(Box::pin(events::process_events(
            process.pid,
            process.attach(),
            keepalive,
            |event| ConnectResponse { event: Some(event) },
        )))
    }

    async fn start(
        &self,
        ctx: RequestContext,
        request: StartRequest,
    ) -> Result<ResponseStream<StartResponse>, ConnectError> {
        let keepalive = Keepalive::new(keepalive::interval(&ctx.headers));
        let started = start::start(&self.sandbox, &self.registry, &ctx, request)?;
        Ok(Box::pin(events::process_events(
            started.pid,
            started.attachment,
            keepalive,
            |event| StartResponse { event: Some(event) },
        )))
    }

    async fn update(
        &self,
        _ctx: RequestContext,
        request: UpdateRequest,
    ) -> Result<UpdateResponse, ConnectError> {
        let process = self.registry.running(request.process.as_ref())?;
        if let Some(size) = request.pty.and_then(|p| p.size) {
            let size = pty::Size {
                cols: u16::try_from(size.cols).unwrap_or(u16::MAX),
                rows: u16::try_from(size.rows).unwrap_or(u16::MAX),
            };
            process
                .resize(size)
                .map_err(|e| input_error("error resizing tty", e))?;
        }
        Ok(UpdateResponse {})
    }

    async fn stream_input(
        &self,
        _ctx: RequestContext,
        mut requests: RequestStream<StreamInputRequest>,
    ) -> Result<StreamInputResponse, ConnectError> {
        let mut process: Option<Arc<ProcessHandle>> = None;
        while let Some(message) = requests.next().await {
            match message?.event {
                Some(stream_input_request::Event::Start(start)) => {
                    process = Some(self.registry.running(start.process.as_ref())?);
                }
                Some(stream_input_request::Event::Data(data)) => {
                    let target = process.as_deref().ok_or_else(|| {
                        ConnectError::new(
                            Code::FailedPrecondition,
                            "input arrived before the start event naming the process",
                        )
                    })?;
                    deliver(target, data.input).await?;
                }
                Some(stream_input_request::Event::Keepalive(_)) => {}
                None => {
                    return Err(ConnectError::new(
                        Code::Unimplemented,
                        "invalid event type: the message carries no event",
                    ));
                }
            }
        }
        Ok(StreamInputResponse {})
    }

    async fn send_input(
        &self,
        _ctx: RequestContext,
        request: SendInputRequest,
    ) -> Result<SendInputResponse, ConnectError> {
        let process = self.registry.running(request.process.as_ref())?;
        deliver(&process, request.input).await?;
        Ok(SendInputResponse {})
    }

    async fn send_signal(
        &self,
        _ctx: RequestContext,
        request: SendSignalRequest,
    ) -> Result<SendSignalResponse, ConnectError> {
        let process = self.registry.running(request.process.as_ref())?;
        let signal = match Signal::try_from(request.signal) {
            Ok(Signal::Sigkill) => UnixSignal::KILL,
            Ok(Signal::Sigterm) => UnixSignal::TERM,
            Ok(other) => {
                return Err(ConnectError::new(
                    Code::Unimplemented,
                    format!("invalid signal: {}", other.as_str_name()),
                ));
            }
            Err(_) => {
                return Err(ConnectError::new(
                    Code::Unimplemented,
                    format!("invalid signal: {}", request.signal),
                ));
            }
        };
        process
            .signal(signal)
            .map_err(|e| ConnectError::new(Code::Internal, format!("error sending signal: {e}")))?;
        if signal == UnixSignal::KILL {
            // Answer once the process is gone (reaped, so `kill -0` fails and
            // it is no longer listed), as a caller of kill expects; a process
            // stuck in the kernel does not hold the answer back for long.
            let _ = tokio::time::timeout(KILL_REAP_WAIT, process.finished.cancelled()).await;
        }
        Ok(SendSignalResponse {})
    }

    async fn close_stdin(
        &self,
        _ctx: RequestContext,
        request: CloseStdinRequest,
    ) -> Result<CloseStdinResponse, ConnectError> {
        let process = self.registry.running(request.process.as_ref())?;
        process
            .close_stdin()
            .await
            .map_err(|e| ConnectError::new(Code::Unknown, format!("error closing stdin: {e}")))?;
        Ok(CloseStdinResponse {})
    }
}
