//! A fake `process.Process`. What a started process does is chosen by its
//! command, so each test scripts the server from the client side:
//!
//! | `cmd` | behaviour of `Start` |
//! |---|---|
//! | `cat` | stays running; `SendInput`/`StreamInput` data comes back as stdout; `CloseStdin` ends it with exit 0, `SendSignal` with the signal's name. Listed by `List`. |
//! | `seq N CODE` | `N` data events (even on stdout, odd on stderr), each preceded by a keepalive, then a keepalive and an end event with exit code `CODE`; trailer `x-lines: N`. |
//! | `big N` | one stdout event of `N` bytes, then end. |
//! | `fail-before` | the handler fails with `invalid_argument`; no stream. |
//! | `fail-first` | the stream's first item is a `failed_precondition` error. |
//! | `fail-during N` | start, `N` stdout events, then an `aborted` error with trailers. |
//! | `silent` | start, then silence forever. |
//! | `ticker N MS` | start, `N` keepalives `MS` apart, one stdout event, end. |
//! | `hang` | the handler never returns. |
//! | anything else | start, end. |
//!
//! Every stream carries the response header `x-pid`. `Update` on the tag
//! `hang` never returns.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use connectrpc::{
    ConnectError, ErrorDetail, InboundStream, RequestContext, Response, ServiceRequest,
    ServiceResult, ServiceStream,
};
use futures_util::{StreamExt, stream};
use http::{HeaderMap, HeaderValue};
use tokio::sync::mpsc;

use crate::proto::process as pb;
use crate::proto::process::__buffa::oneof::process_event::Event;
use crate::proto::process::__buffa::oneof::process_event::data_event::Output;
use crate::proto::process::__buffa::oneof::process_input::Input;
use crate::proto::process::__buffa::oneof::process_selector::Selector;
use crate::proto::process::__buffa::oneof::stream_input_request::Event as InputEvent;

type Output_ = mpsc::UnboundedSender<Result<pb::StartResponse, ConnectError>>;

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Call {
    /// The method name (`List`, `Start`, …).
    pub method: &'static str,
    /// The request headers.
    pub headers: HeaderMap,
    /// The unary request body exactly as received (before decoding), when
    /// this is a unary call.
    pub wire_body: Option<Bytes>,
    /// What was left of the request deadline when the handler started.
    pub time_remaining: Option<Duration>,
}

/// What one `StreamInput` call delivered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamInputStats {
    /// The process named by the start event.
    pub pid: Option<u32>,
    /// Every message, keepalives included.
    pub messages: usize,
    /// Data messages.
    pub data_messages: usize,
    /// Keepalive messages.
    pub keepalives: usize,
    /// The data, concatenated.
    pub data: Vec<u8>,
}

/// Everything the fake recorded so far.
#[derive(Clone, Debug, Default)]
pub struct ProcessSnapshot {
    /// Every call, in arrival order.
    pub calls: Vec<Call>,
    /// Decoded `Start` requests.
    pub starts: Vec<pb::StartRequest>,
    /// Decoded `SendInput` requests.
    pub inputs: Vec<pb::SendInputRequest>,
    /// Decoded `SendSignal` requests.
    pub signals: Vec<pb::SendSignalRequest>,
    /// Decoded `Update` requests.
    pub updates: Vec<pb::UpdateRequest>,
    /// Finished `StreamInput` calls.
    pub stream_inputs: Vec<StreamInputStats>,
}

struct Proc {
    info: pb::ProcessInfo,
    output: Output_,
}

#[derive(Default)]
struct State {
    next_pid: u32,
    procs: BTreeMap<u32, Proc>,
    seen: ProcessSnapshot,
    /// Unary bodies as received, by procedure path, waiting for their handler.
    wire: Vec<(String, Bytes)>,
}

/// The fake service. Clones share state.
#[derive(Clone, Default)]
pub struct FakeProcess {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for FakeProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeProcess").finish_non_exhaustive()
    }
}

impl FakeProcess {
    /// A copy of what the fake recorded.
    pub fn snapshot(&self) -> ProcessSnapshot {
        self.lock().seen.clone()
    }

    /// The calls of `method` recorded so far.
    pub fn calls(&self, method: &str) -> Vec<Call> {
        self.lock()
            .seen
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called by the server's interceptor with a unary body before decoding.
    pub(crate) fn record_wire(&self, path: &str, body: Bytes) {
        self.lock().wire.push((path.to_owned(), body));
    }

    fn record(&self, method: &'static str, ctx: &RequestContext) {
        let mut state = self.lock();
        let path = ctx.path().unwrap_or_default();
        let wire_body = state
            .wire
            .iter()
            .position(|(p, _)| p == path)
            .map(|i| state.wire.remove(i).1);
        state.seen.calls.push(Call {
            method,
            headers: ctx.headers().clone(),
            wire_body,
            time_remaining: ctx.time_remaining(),
        });
    }

    /// The pid `selector` names, or the error envd would send.
    fn find(
        &self,
        selector: &buffa::MessageField<pb::ProcessSelector, buffa::Inline<pb::ProcessSelector>>,
    ) -> Result<u32, ConnectError> {
        let state = self.lock();
        let not_found = |what: String| {
            let detail = selector.as_option().cloned().unwrap_or_default();
            ConnectError::not_found(format!("process with {what} not found"))
                .with_detail(ErrorDetail::from_message(
                    "process.ProcessSelector",
                    &detail,
                ))
                .with_headers(header("x-fake-lookup", &what))
        };
        match selector.as_option().and_then(|s| s.selector.as_ref()) {
            Some(Selector::Pid(pid)) if state.procs.contains_key(pid) => Ok(*pid),
            Some(Selector::Pid(pid)) => Err(not_found(format!("pid {pid}"))),
            Some(Selector::Tag(tag)) => state
                .procs
                .iter()
                .find(|(_, p)| p.info.tag.as_deref() == Some(tag.as_str()))
                .map(|(pid, _)| *pid)
                .ok_or_else(|| not_found(format!("tag {tag}"))),
            None => Err(ConnectError::invalid_argument(
                "a process selector is required",
            )),
        }
    }

    fn output(&self, pid: u32) -> Option<Output_> {
        self.lock().procs.get(&pid).map(|p| p.output.clone())
    }

    /// End `pid`: an end event, then the end of its stream.
    fn finish(&self, pid: u32, end: pb::process_event::EndEvent) {
        if let Some(p) = self.lock().procs.remove(&pid) {
            let _ = p.output.send(Ok(event(end)));
        }
    }
}

fn header(name: &'static str, value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
    h
}

fn event(e: impl Into<Event>) -> pb::StartResponse {
    pb::StartResponse {
        event: buffa::MessageField::some(pb::ProcessEvent {
            event: Some(e.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn start(pid: u32) -> pb::StartResponse {
    event(pb::process_event::StartEvent {
        pid,
        ..Default::default()
    })
}

fn data(output: Output) -> pb::StartResponse {
    event(pb::process_event::DataEvent {
        output: Some(output),
        ..Default::default()
    })
}

fn keepalive() -> pb::StartResponse {
    event(pb::process_event::KeepAlive::default())
}

fn end(
    exit_code: i32,
    exited: bool,
    status: &str,
    error: Option<String>,
) -> pb::process_event::EndEvent {
    pb::process_event::EndEvent {
        exit_code,
        exited,
        status: status.to_owned(),
        error,
        ..Default::default()
    }
}

/// `n` bytes of a pattern that catches reordering and truncation.
pub(crate) fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn input_bytes(
    input: &buffa::MessageField<pb::ProcessInput, buffa::Inline<pb::ProcessInput>>,
) -> Output {
    match input.as_option().and_then(|i| i.input.as_ref()) {
        Some(Input::Stdin(b)) => Output::Stdout(b.clone()),
        Some(Input::Pty(b)) => Output::Pty(b.clone()),
        None => Output::Stdout(Vec::new()),
    }
}

// Handlers return concrete types where the trait allows any `Encodable`.
#[allow(refining_impl_trait)]
impl pb::Process for FakeProcess {
    async fn list(
        &self,
        ctx: RequestContext,
        _request: ServiceRequest<'_, pb::ListRequest>,
    ) -> ServiceResult<pb::ListResponse> {
        self.record("List", &ctx);
        let processes = self.lock().procs.values().map(|p| p.info.clone()).collect();
        Response::ok(pb::ListResponse {
            processes,
            ..Default::default()
        })
    }

    async fn connect(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, pb::ConnectRequest>,
    ) -> ServiceResult<ServiceStream<pb::ConnectResponse>> {
        self.record("Connect", &ctx);
        let pid = self.find(&request.to_owned_message().process)?;
        let response = pb::ConnectResponse {
            event: start(pid).event,
            ..Default::default()
        };
        Response::stream_ok(stream::iter([Ok(response)]))
    }

    async fn start(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, pb::StartRequest>,
    ) -> ServiceResult<ServiceStream<pb::StartResponse>> {
        self.record("Start", &ctx);
        let req = request.to_owned_message();
        self.lock().seen.starts.push(req.clone());
        let config = req.process.as_option().cloned().unwrap_or_default();
        let arg =
            |i: usize| -> i64 { config.args.get(i).and_then(|a| a.parse().ok()).unwrap_or(0) };

        match config.cmd.as_str() {
            "fail-before" => {
                return Err(ConnectError::invalid_argument(format!(
                    "cwd '{}' does not exist",
                    config.cwd.as_deref().unwrap_or_default()
                )));
            }
            "hang" => std::future::pending::<()>().await,
            _ => {}
        }

        let pid = {
            let mut state = self.lock();
            state.next_pid += 1;
            state.next_pid
        };
        let events: ServiceStream<pb::StartResponse> = match config.cmd.as_str() {
            "cat" => {
                let (tx, rx) = mpsc::unbounded_channel();
                let info = pb::ProcessInfo {
                    config: req.process.clone(),
                    pid,
                    tag: req.tag.clone(),
                    ..Default::default()
                };
                self.lock().procs.insert(pid, Proc { info, output: tx });
                let rest =
                    stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
                stream::iter([Ok(start(pid))]).chain(rest).boxed()
            }
            "seq" => {
                let mut events = vec![start(pid)];
                for i in 0..arg(0) {
                    events.push(keepalive());
                    let line = format!("line {i}\n").into_bytes();
                    events.push(data(if i % 2 == 0 {
                        Output::Stdout(line)
                    } else {
                        Output::Stderr(line)
                    }));
                }
                events.push(keepalive());
                let code = arg(1) as i32;
                events.push(event(end(code, true, &format!("exit status {code}"), None)));
                stream::iter(events.into_iter().map(Ok)).boxed()
            }
            "big" => stream::iter([
                Ok(start(pid)),
                Ok(data(Output::Stdout(pattern(arg(0) as usize)))),
                Ok(event(end(0, true, "exit status 0", None))),
            ])
            .boxed(),
            "fail-first" => {
                stream::iter([Err(ConnectError::failed_precondition("no such user"))]).boxed()
            }
            "fail-during" => {
                let mut events = vec![Ok(start(pid))];
                for i in 0..arg(0) {
                    events.push(Ok(data(Output::Stdout(format!("chunk {i}").into_bytes()))));
                }
                events.push(Err(ConnectError::aborted("process crashed")
                    .with_trailers(header("x-crash-reason", "oom"))));
                stream::iter(events).boxed()
            }
            "silent" => stream::iter([Ok(start(pid))])
                .chain(stream::pending())
                .boxed(),
            "ticker" => {
                let (count, gap) = (arg(0), Duration::from_millis(arg(1) as u64));
                let ticks = stream::unfold(0, move |i| async move {
                    if i >= count {
                        return None;
                    }
                    tokio::time::sleep(gap).await;
                    Some((Ok(keepalive()), i + 1))
                });
                stream::iter([Ok(start(pid))])
                    .chain(ticks)
                    .chain(stream::iter([
                        Ok(data(Output::Stdout(b"done".to_vec()))),
                        Ok(event(end(0, true, "exit status 0", None))),
                    ]))
                    .boxed()
            }
            _ => stream::iter([
                Ok(start(pid)),
                Ok(event(end(0, true, "exit status 0", None))),
            ])
            .boxed(),
        };
        // Response metadata: a header on every stream, a trailer on `seq`.
        let mut response = Response::stream(events).with_header("x-pid", pid.to_string());
        if config.cmd == "seq" {
            response = response.with_trailer("x-lines", arg(0).to_string());
        }
        Ok(response)
    }

    async fn update(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, pb::UpdateRequest>,
    ) -> ServiceResult<pb::UpdateResponse> {
        self.record("Update", &ctx);
        let req = request.to_owned_message();
        if let Some(Selector::Tag(tag)) = req.process.as_option().and_then(|s| s.selector.as_ref())
            && tag == "hang"
        {
            std::future::pending::<()>().await;
        }
        self.find(&req.process)?;
        self.lock().seen.updates.push(req);
        Response::ok(pb::UpdateResponse::default())
    }

    async fn stream_input(
        &self,
        ctx: RequestContext,
        mut requests: InboundStream<pb::StreamInputRequest>,
    ) -> ServiceResult<pb::StreamInputResponse> {
        self.record("StreamInput", &ctx);
        let mut stats = StreamInputStats::default();
        while let Some(message) = requests.next().await {
            let message = message?.to_owned_message();
            stats.messages += 1;
            match message.event {
                Some(InputEvent::Start(s)) => stats.pid = Some(self.find(&s.process)?),
                Some(InputEvent::Data(d)) => {
                    let pid = stats.pid.ok_or_else(|| {
                        ConnectError::failed_precondition("the first message must be a start event")
                    })?;
                    let output = input_bytes(&d.input);
                    let (Output::Stdout(b) | Output::Pty(b) | Output::Stderr(b)) = &output;
                    stats.data.extend_from_slice(b);
                    stats.data_messages += 1;
                    if let Some(out) = self.output(pid) {
                        let _ = out.send(Ok(data(output)));
                    }
                }
                Some(InputEvent::Keepalive(_)) => stats.keepalives += 1,
                None => {}
            }
        }
        self.lock().seen.stream_inputs.push(stats);
        Response::ok(pb::StreamInputResponse::default())
    }

    async fn send_input(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, pb::SendInputRequest>,
    ) -> ServiceResult<pb::SendInputResponse> {
        self.record("SendInput", &ctx);
        let req = request.to_owned_message();
        let pid = self.find(&req.process)?;
        if let Some(out) = self.output(pid) {
            let _ = out.send(Ok(data(input_bytes(&req.input))));
        }
        self.lock().seen.inputs.push(req);
        Response::ok(pb::SendInputResponse::default())
    }

    async fn send_signal(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, pb::SendSignalRequest>,
    ) -> ServiceResult<pb::SendSignalResponse> {
        self.record("SendSignal", &ctx);
        let req = request.to_owned_message();
        let pid = self.find(&req.process)?;
        let name = match req.signal.as_known() {
            Some(s) => buffa::Enumeration::proto_name(&s).to_owned(),
            None => format!("unknown signal {}", req.signal.to_i32()),
        };
        self.lock().seen.signals.push(req);
        self.finish(
            pid,
            end(
                -1,
                false,
                &format!("signal: {name}"),
                Some(format!("killed by {name}")),
            ),
        );
        Response::ok(pb::SendSignalResponse::default())
    }

    async fn close_stdin(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, pb::CloseStdinRequest>,
    ) -> ServiceResult<pb::CloseStdinResponse> {
        self.record("CloseStdin", &ctx);
        let pid = self.find(&request.to_owned_message().process)?;
        self.finish(pid, end(0, true, "exit status 0", None));
        Response::ok(pb::CloseStdinResponse::default())
    }
}
