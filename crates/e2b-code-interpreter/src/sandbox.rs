//! [`CodeInterpreter`]: a sandbox with the code-interpreter server on port 49999.

use std::fmt;
use std::time::Duration;

use e2b_core::{CODE_INTERPRETER_PORT, Error, NotFoundKind, Result, TimeoutKind};
use e2b_sandbox::raw::{self, HttpClient, Target};
use e2b_sandbox::{Client, ConnectOptions, PortEndpoint, Sandbox, SandboxBuilder};
use futures_util::StreamExt as _;
use http::Method;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::models::{Execution, OutputEvent};
use crate::options::{ContextOptions, RunCodeOptions};
use crate::stream::{ExecutionStream, Limits};

/// The template of code-interpreter sandboxes.
pub const DEFAULT_TEMPLATE: &str = "code-interpreter-v1";

/// How long the `/health` probe after a broken connection may take.
const HEALTH_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// A code-interpreter sandbox: a [`Sandbox`] whose Jupyter-backed server runs code in
/// stateful contexts and returns rich results.
///
/// Commands, files, git and the lifecycle are the [`Sandbox`]'s, reached explicitly with
/// [`sandbox`](Self::sandbox) (`interpreter.sandbox().commands()`,
/// `interpreter.sandbox().kill()`). Cheap to clone; dropping it does not kill the sandbox.
#[derive(Clone)]
pub struct CodeInterpreter {
    sandbox: Sandbox,
    jupyter: PortEndpoint,
    http: HttpClient,
}

/// A code context: a kernel with its own state, language and working directory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Context {
    /// The context's id.
    pub id: String,
    /// Its language (`python`, `javascript`, …).
    pub language: String,
    /// Its working directory.
    pub cwd: String,
}

impl AsRef<str> for Context {
    /// The context's id.
    fn as_ref(&self) -> &str {
        &self.id
    }
}

impl CodeInterpreter {
    /// A builder for a new code-interpreter sandbox (template [`DEFAULT_TEMPLATE`]).
    pub fn builder() -> CodeInterpreterBuilder {
        CodeInterpreterBuilder {
            inner: SandboxBuilder::new().template(DEFAULT_TEMPLATE),
        }
    }

    /// Create a code-interpreter sandbox with the default options.
    ///
    /// # Errors
    ///
    /// The errors of [`SandboxBuilder::create`].
    pub async fn create(client: &Client) -> Result<CodeInterpreter> {
        CodeInterpreter::builder().create(client).await
    }

    /// Connect to a running (or paused) code-interpreter sandbox by id.
    ///
    /// # Errors
    ///
    /// The errors of [`Sandbox::connect`].
    pub async fn connect(client: &Client, sandbox_id: &str) -> Result<CodeInterpreter> {
        CodeInterpreter::from_sandbox(Sandbox::connect(client, sandbox_id).await?)
    }

    /// [`connect`](Self::connect) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`Sandbox::connect_with`].
    pub async fn connect_with(
        client: &Client,
        sandbox_id: &str,
        options: ConnectOptions,
    ) -> Result<CodeInterpreter> {
        CodeInterpreter::from_sandbox(Sandbox::connect_with(client, sandbox_id, options).await?)
    }

    /// Use a sandbox handle as a code interpreter (its template must run the
    /// code-interpreter server).
    ///
    /// # Errors
    ///
    /// An invalid-argument error if the sandbox's tokens cannot be sent as headers.
    pub fn from_sandbox(sandbox: Sandbox) -> Result<CodeInterpreter> {
        let jupyter = sandbox.port_endpoint(CODE_INTERPRETER_PORT)?;
        let http = raw::http(sandbox.client()).clone();
        Ok(CodeInterpreter {
            sandbox,
            jupyter,
            http,
        })
    }

    /// The underlying sandbox: commands, files, git, the lifecycle.
    ///
    /// ```no_run
    /// # async fn demo(interpreter: e2b_code_interpreter::CodeInterpreter) -> e2b_code_interpreter::Result<()> {
    /// interpreter.sandbox().files().write("data.csv", "a,b\n1,2\n").await?;
    /// interpreter.sandbox().kill().await?;
    /// # Ok(()) }
    /// ```
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The underlying sandbox, by value.
    pub fn into_sandbox(self) -> Sandbox {
        self.sandbox
    }

    /// The base URL of the code-interpreter server.
    pub fn jupyter_url(&self) -> &str {
        self.jupyter.base_url()
    }

    /// Run code and wait for it to finish; output goes to the callbacks of `options` as it
    /// arrives. State (variables, imports, functions) persists between calls in the same
    /// context.
    ///
    /// An error raised by the code is [`Execution::error`], not an `Err`.
    ///
    /// # Errors
    ///
    /// - invalid argument: both a language and a context (before any request);
    /// - not found (of kind [`Context`](NotFoundKind::Context)): no such context;
    /// - timeout: the execution ([`TimeoutKind::Execution`]; the kernel is interrupted and
    ///   stays usable), the request ([`TimeoutKind::Request`]), the stream's silence
    ///   ([`TimeoutKind::StreamIdle`]), or the sandbox was killed or timed out
    ///   ([`TimeoutKind::SandboxGone`], also for the edge's 502);
    /// - any other error status, as an error carrying it ([`Error::status`]);
    /// - transport and protocol errors.
    pub async fn run_code(&self, code: &str) -> Result<Execution> {
        self.run_code_with(code, RunCodeOptions::new()).await
    }

    /// [`run_code`](Self::run_code) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`run_code`](Self::run_code).
    pub async fn run_code_with(&self, code: &str, options: RunCodeOptions) -> Result<Execution> {
        let span = self.span(false, &options);
        async {
            let callbacks = options.clone();
            let mut stream = self.start(code, options).await?;
            let mut execution = Execution::default();
            while let Some(event) = stream.next().await {
                let event = event?;
                match &event {
                    OutputEvent::Stdout(m) => call(&callbacks.on_stdout, m),
                    OutputEvent::Stderr(m) => call(&callbacks.on_stderr, m),
                    OutputEvent::Result(r) => call(&callbacks.on_result, r),
                    OutputEvent::Error(e) => call(&callbacks.on_error, e),
                    OutputEvent::ExecutionCount(_) => {}
                }
                execution.apply(event);
            }
            Ok(execution)
        }
        .instrument(span)
        .await
    }

    /// Start running code and return its output as a stream of [`OutputEvent`]s (the
    /// callbacks of `options` are not called). See [`run_code`](Self::run_code).
    ///
    /// # Errors
    ///
    /// The errors of [`run_code`](Self::run_code) that happen before the output starts;
    /// later ones are the stream's last item.
    pub async fn run_code_stream(&self, code: &str) -> Result<ExecutionStream> {
        self.run_code_stream_with(code, RunCodeOptions::new()).await
    }

    /// [`run_code_stream`](Self::run_code_stream) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`run_code_stream`](Self::run_code_stream).
    pub async fn run_code_stream_with(
        &self,
        code: &str,
        options: RunCodeOptions,
    ) -> Result<ExecutionStream> {
        let span = self.span(true, &options);
        self.start(code, options).instrument(span).await
    }

    /// The span of one execution (`streamed` for [`run_code_stream`](Self::run_code_stream)).
    fn span(&self, streamed: bool, options: &RunCodeOptions) -> tracing::Span {
        tracing::info_span!(
            "e2b.code_interpreter.run_code",
            sandbox_id = %self.sandbox.id(),
            language = options.language.as_deref(),
            context_id = options.context_id.as_deref(),
            streamed,
        )
    }

    /// Send `/execute` and check the answer's status; the stream is the output.
    async fn start(&self, code: &str, options: RunCodeOptions) -> Result<ExecutionStream> {
        if options.language.is_some() && options.context_id.is_some() {
            return Err(Error::invalid_argument(
                "pass a language or a context to run_code, not both",
            ));
        }
        {
            let started = Instant::now();
            let deadline = options
                .execution_timeout()
                .map(|limit| (started + limit, limit));
            let body = ExecuteRequest {
                code,
                context_id: options.context_id.as_deref(),
                language: options.language.as_deref(),
                env_vars: (!options.envs.is_empty()).then(|| {
                    options
                        .envs
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect()
                }),
            };
            let request = self.request(Method::POST, "/execute").json(&body);
            let request_timeout = self.request_timeout(options.request_timeout);
            // The answer must begin within the request timeout, and within the execution's.
            let wait = match (request_timeout, deadline) {
                (Some(r), Some((at, limit))) if started + r > at => {
                    Some((at, Wait::Execution(limit)))
                }
                (Some(r), _) => Some((started + r, Wait::Request(r))),
                (None, Some((at, limit))) => Some((at, Wait::Execution(limit))),
                (None, None) => None,
            };
            let send = self.send(request, "code_interpreter.execute");
            let sent = match wait {
                None => send.await,
                Some((at, what)) => match tokio::time::timeout_at(at, send).await {
                    Ok(sent) => sent,
                    Err(_) => return Err(what.error()),
                },
            };
            let response = match sent {
                Ok(response) => response,
                Err(e) => return Err(self.prober().explain(e).await),
            };
            let response = check(response, NotFoundKind::Context).await?;
            tracing::debug!(elapsed = ?started.elapsed(), "execution started");
            Ok(ExecutionStream::new(
                Box::pin(response.bytes_stream()),
                Limits {
                    deadline,
                    idle: options.stream_idle_timeout,
                },
                self.prober(),
            ))
        }
    }

    /// Create a context: a new kernel with its own state.
    ///
    /// # Errors
    ///
    /// A request timeout; the server's error (e.g. for a language it has no kernel for);
    /// sandbox-gone, transport and protocol errors.
    pub async fn create_code_context(&self) -> Result<Context> {
        self.create_code_context_with(ContextOptions::new()).await
    }

    /// [`create_code_context`](Self::create_code_context) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`create_code_context`](Self::create_code_context).
    pub async fn create_code_context_with(&self, options: ContextOptions) -> Result<Context> {
        let span = tracing::info_span!(
            "e2b.code_interpreter.create_code_context",
            sandbox_id = %self.sandbox.id(),
            language = options.language.as_deref(),
        );
        let body = CreateContextRequest {
            language: options.language.as_deref(),
            cwd: options.cwd.as_deref(),
        };
        let request = self.request(Method::POST, "/contexts").json(&body);
        self.unary(
            request,
            "code_interpreter.create_context",
            options.request_timeout,
            NotFoundKind::Other,
        )
        .instrument(span)
        .await
    }

    /// The contexts created with [`create_code_context`](Self::create_code_context) (and
    /// the per-language default contexts the server made).
    ///
    /// # Errors
    ///
    /// The errors of [`create_code_context`](Self::create_code_context).
    pub async fn list_code_contexts(&self) -> Result<Vec<Context>> {
        let span = tracing::info_span!(
            "e2b.code_interpreter.list_code_contexts",
            sandbox_id = %self.sandbox.id(),
        );
        let request = self.request(Method::GET, "/contexts");
        self.unary(
            request,
            "code_interpreter.list_contexts",
            None,
            NotFoundKind::Other,
        )
        .instrument(span)
        .await
    }

    /// Restart a context (a [`Context`] or its id): its kernel restarts and its state is
    /// lost; its language and working directory stay.
    ///
    /// # Errors
    ///
    /// Not found (of kind [`Context`](NotFoundKind::Context)) for an unknown id; the errors
    /// of [`create_code_context`](Self::create_code_context).
    pub async fn restart_code_context(&self, context: impl AsRef<str>) -> Result<()> {
        let id = context.as_ref();
        let span = tracing::info_span!(
            "e2b.code_interpreter.restart_code_context",
            sandbox_id = %self.sandbox.id(),
            context_id = id,
        );
        let request = self.request(
            Method::POST,
            &format!("/contexts/{}/restart", path_segment(id)?),
        );
        self.unary::<serde_json::Value>(
            request,
            "code_interpreter.restart_context",
            None,
            NotFoundKind::Context,
        )
        .instrument(span)
        .await
        .map(drop)
    }

    /// Remove a context (a [`Context`] or its id) and shut its kernel down.
    ///
    /// # Errors
    ///
    /// Not found (of kind [`Context`](NotFoundKind::Context)) for an unknown id; the errors
    /// of [`create_code_context`](Self::create_code_context).
    pub async fn remove_code_context(&self, context: impl AsRef<str>) -> Result<()> {
        let id = context.as_ref();
        let span = tracing::info_span!(
            "e2b.code_interpreter.remove_code_context",
            sandbox_id = %self.sandbox.id(),
            context_id = id,
        );
        let request = self.request(Method::DELETE, &format!("/contexts/{}", path_segment(id)?));
        self.unary::<serde_json::Value>(
            request,
            "code_interpreter.remove_context",
            None,
            NotFoundKind::Context,
        )
        .instrument(span)
        .await
        .map(drop)
    }

    /// A request to the code-interpreter server, with its routing headers and tokens.
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        raw::port_request(&self.jupyter, method, path).1
    }

    /// Send a request through the SDK's HTTP seam (tracing, connection retries); the
    /// response whatever its status.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        operation: &'static str,
    ) -> Result<reqwest::Response> {
        let request = request.build().map_err(raw::error_from_reqwest)?;
        self.http
            .send(Target::Sandbox, request, operation, None)
            .await
    }

    /// A request whose whole answer is JSON, under the request timeout.
    async fn unary<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        operation: &'static str,
        timeout: Option<Duration>,
        not_found: NotFoundKind,
    ) -> Result<T> {
        let call = async {
            let response = match self.send(request, operation).await {
                Ok(response) => response,
                Err(e) => return Err(self.prober().explain(e).await),
            };
            let response = check(response, not_found).await?;
            let body = match response.bytes().await {
                Ok(body) => body,
                Err(e) => return Err(self.prober().explain(body_error(e)).await),
            };
            // `null` bodies (restart, remove) decode into `Value::Null`.
            serde_json::from_slice(&body).map_err(|e| {
                Error::with_source(
                    e2b_core::ErrorKind::Protocol {
                        message: "the code interpreter's answer is not the expected JSON"
                            .to_owned(),
                    },
                    e,
                )
            })
        };
        match self.request_timeout(timeout) {
            None => call.await,
            Some(limit) => tokio::time::timeout(limit, call)
                .await
                .unwrap_or_else(|_| Err(Wait::Request(limit).error())),
        }
    }

    /// The request timeout: the given one (`ZERO`: none), else the sandbox's.
    fn request_timeout(&self, given: Option<Duration>) -> Option<Duration> {
        match given {
            Some(t) if t.is_zero() => None,
            Some(t) => Some(t),
            None => self.sandbox.request_timeout(),
        }
    }

    fn prober(&self) -> Prober {
        Prober {
            sandbox: Some(self.sandbox.clone()),
        }
    }
}

impl fmt::Debug for CodeInterpreter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeInterpreter")
            .field("sandbox", &self.sandbox)
            .field("jupyter_url", &self.jupyter.base_url())
            .finish()
    }
}

fn call<T>(callback: &Option<crate::options::Callback<T>>, value: &T) {
    if let Some(f) = callback {
        f(value);
    }
}

/// Map an error status like the official SDKs: 404 → not found (of `not_found`), 502 →
/// sandbox gone, others → an error with the status and the server's text.
async fn check(response: reqwest::Response, not_found: NotFoundKind) -> Result<reqwest::Response> {
    raw::check_response(response)
        .await
        .map_err(|e| e.with_not_found_kind(not_found))
}

/// The error for a response body that could not be read: the connection broke (reqwest
/// reports a truncated chunked body as a decode error, which is not a protocol problem).
pub(crate) fn body_error(error: reqwest::Error) -> Error {
    if error.is_timeout() {
        return raw::error_from_reqwest(error);
    }
    Error::with_source(
        e2b_core::ErrorKind::Transport {
            message: "the connection to the code interpreter broke".to_owned(),
        },
        error,
    )
}

fn path_segment(id: &str) -> Result<&str> {
    if id.is_empty() || id.contains(['/', '?', '#', '%']) {
        return Err(Error::invalid_argument(format!(
            "`{}` is not a valid context id",
            id.escape_debug()
        )));
    }
    Ok(id)
}

enum Wait {
    Request(Duration),
    Execution(Duration),
}

impl Wait {
    fn error(self) -> Error {
        match self {
            Wait::Request(limit) => Error::timeout(
                TimeoutKind::Request,
                format!(
                    "the code interpreter did not answer within the request timeout of \
                     {limit:?}; raise it with the request_timeout option"
                ),
            ),
            Wait::Execution(limit) => Error::timeout(
                TimeoutKind::Execution,
                format!(
                    "the execution did not start within its timeout of {limit:?}; raise \
                     RunCodeOptions::timeout, or use Duration::ZERO for none"
                ),
            ),
        }
    }
}

/// Tells a dead sandbox from a broken connection, like the official SDKs: after a
/// transport failure, ask envd's `/health`.
#[derive(Clone)]
pub(crate) struct Prober {
    /// `None` when there is no sandbox to ask (decoding a recorded stream).
    sandbox: Option<Sandbox>,
}

impl Prober {
    /// A prober without a sandbox: errors are returned unchanged.
    pub(crate) fn detached() -> Prober {
        Prober { sandbox: None }
    }

    /// Turn a transport failure into a sandbox-gone timeout if the sandbox no longer
    /// answers; other errors (and a sandbox that still runs) are returned unchanged.
    pub(crate) async fn explain(&self, error: Error) -> Error {
        let Some(sandbox) = self.sandbox.as_ref().filter(|_| error.is_transport()) else {
            return error;
        };
        let sandbox = sandbox.with_request_timeout(HEALTH_PROBE_TIMEOUT);
        match sandbox.is_running().await {
            Ok(false) => Error::timeout(
                TimeoutKind::SandboxGone,
                "the sandbox was killed or timed out while the code was running; extend its \
                 life with set_timeout or the timeout option at creation",
            ),
            _ => error,
        }
    }
}

#[derive(Serialize)]
struct ExecuteRequest<'a> {
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    context_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    env_vars: Option<std::collections::BTreeMap<&'a str, &'a str>>,
}

#[derive(Serialize)]
struct CreateContextRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cwd: Option<&'a str>,
}

/// Builds a code-interpreter sandbox; [`CodeInterpreter::builder`].
///
/// The common options are here; every other option of [`SandboxBuilder`] is reached with
/// [`configure`](Self::configure).
#[derive(Clone, Debug)]
#[must_use]
pub struct CodeInterpreterBuilder {
    inner: SandboxBuilder,
}

impl CodeInterpreterBuilder {
    /// Use another template (one that runs the code-interpreter server).
    pub fn template(self, template: impl Into<String>) -> Self {
        self.configure(|b| b.template(template))
    }

    /// The sandbox's life from creation (default 300 s).
    pub fn timeout(self, timeout: Duration) -> Self {
        self.configure(|b| b.timeout(timeout))
    }

    /// Metadata attached to the sandbox.
    pub fn metadata<I, K, V>(self, metadata: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.configure(|b| b.metadata(metadata))
    }

    /// Environment variables of the whole sandbox (the kernels see them too).
    pub fn envs<I, K, V>(self, envs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.configure(|b| b.envs(envs))
    }

    /// Secure access (default on): requests to the sandbox need its access token.
    pub fn secure(self, secure: bool) -> Self {
        self.configure(|b| b.secure(secure))
    }

    /// Whether the sandbox may reach the internet (default yes).
    pub fn allow_internet_access(self, allow: bool) -> Self {
        self.configure(|b| b.allow_internet_access(allow))
    }

    /// Set any other option of the underlying [`SandboxBuilder`].
    pub fn configure(self, f: impl FnOnce(SandboxBuilder) -> SandboxBuilder) -> Self {
        CodeInterpreterBuilder {
            inner: f(self.inner),
        }
    }

    /// The underlying sandbox builder.
    pub fn into_sandbox_builder(self) -> SandboxBuilder {
        self.inner
    }

    /// Create the sandbox.
    ///
    /// # Errors
    ///
    /// The errors of [`SandboxBuilder::create`].
    pub async fn create(self, client: &Client) -> Result<CodeInterpreter> {
        CodeInterpreter::from_sandbox(self.inner.create(client).await?)
    }
}

impl From<SandboxBuilder> for CodeInterpreterBuilder {
    /// Wrap a sandbox builder as it is (its template is kept).
    fn from(inner: SandboxBuilder) -> Self {
        CodeInterpreterBuilder { inner }
    }
}
