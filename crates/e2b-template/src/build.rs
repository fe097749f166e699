//! Building: request a build, upload the `copy` steps' files the server lacks, start the
//! build, follow its status and logs.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use e2b_api::control::types;
use e2b_core::raw::progenitor_client::{self, ClientInfo as _};
use e2b_core::raw::{Target, check_response, error_from_reqwest};
use e2b_core::{Error, Result, TimeoutKind};
use e2b_sandbox::Client;
use e2b_sandbox::raw;
use futures_util::Stream;
use tokio::sync::mpsc;
use tracing::Instrument as _;

use crate::context::FileContext;
use crate::error::{BuildError, BuildStep, build_error};
use crate::instruction::{InstructionType, WireTemplate};
use crate::logs::{LogCallback, LogEntry, LogEntryKind, LogLevel};
use crate::output::{ignore_patterns, wire_template};
use crate::template::{State, TemplateDefinition};

/// How often a build's status is polled by default (upstream's 200 ms).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(200);

/// How long one upload may take by default (upstream's one hour).
pub const DEFAULT_UPLOAD_TIMEOUT: Duration = Duration::from_secs(3600);

/// Options of a build ([`Template::build_with`](crate::Template::build_with) and friends).
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct BuildOptions {
    /// More tags for the build, besides one in the name (`name:tag`).
    pub tags: Vec<String>,
    /// vCPUs of the template's sandboxes (the server's default when unset).
    pub cpu_count: Option<u32>,
    /// Memory of the template's sandboxes, in MiB (the server's default when unset).
    pub memory_mb: Option<u32>,
    /// Rebuild every layer, ignoring the cache.
    pub skip_cache: bool,
    /// Receives every log entry as it arrives.
    pub on_build_logs: Option<LogCallback>,
    /// How often the status is polled (default [`DEFAULT_POLL_INTERVAL`]).
    pub poll_interval: Option<Duration>,
    /// A deadline for the whole build (default: none).
    pub timeout: Option<Duration>,
    /// A deadline for each upload (default [`DEFAULT_UPLOAD_TIMEOUT`]).
    pub upload_timeout: Option<Duration>,
}

impl fmt::Debug for BuildOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuildOptions")
            .field("tags", &self.tags)
            .field("cpu_count", &self.cpu_count)
            .field("memory_mb", &self.memory_mb)
            .field("skip_cache", &self.skip_cache)
            .field("on_build_logs", &self.on_build_logs.is_some())
            .field("poll_interval", &self.poll_interval)
            .field("timeout", &self.timeout)
            .field("upload_timeout", &self.upload_timeout)
            .finish()
    }
}

impl BuildOptions {
    /// The defaults.
    pub fn new() -> Self {
        BuildOptions::default()
    }

    /// Tag the build with `tags` too.
    #[must_use]
    pub fn tags(mut self, tags: impl crate::IntoStrings) -> Self {
        self.tags = tags.into_strings();
        self
    }

    /// vCPUs of the template's sandboxes.
    #[must_use]
    pub fn cpu_count(mut self, cpus: u32) -> Self {
        self.cpu_count = Some(cpus);
        self
    }

    /// Memory of the template's sandboxes, in MiB.
    #[must_use]
    pub fn memory_mb(mut self, mb: u32) -> Self {
        self.memory_mb = Some(mb);
        self
    }

    /// Ignore the cache.
    #[must_use]
    pub fn skip_cache(mut self, skip: bool) -> Self {
        self.skip_cache = skip;
        self
    }

    /// Call `callback` with every log entry (e.g.
    /// [`default_build_logger`](crate::default_build_logger)).
    #[must_use]
    pub fn on_build_logs(mut self, callback: impl Fn(&LogEntry) + Send + Sync + 'static) -> Self {
        self.on_build_logs = Some(Arc::new(callback));
        self
    }

    /// Poll the status this often.
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = Some(interval);
        self
    }

    /// Fail with a timeout if the whole build takes longer.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Fail an upload that takes longer.
    #[must_use]
    pub fn upload_timeout(mut self, timeout: Duration) -> Self {
        self.upload_timeout = Some(timeout);
        self
    }
}

/// A build the server accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BuildInfo {
    /// The template's id.
    pub template_id: String,
    /// The build's id.
    pub build_id: String,
    /// The name it was built as (`name` or `name:tag`).
    pub name: String,
    /// The tags the build got.
    pub tags: Vec<String>,
}

impl BuildInfo {
    /// A build known by its ids (e.g. to follow a build started elsewhere).
    pub fn new(template_id: impl Into<String>, build_id: impl Into<String>) -> Self {
        BuildInfo {
            template_id: template_id.into(),
            build_id: build_id.into(),
            name: String::new(),
            tags: Vec::new(),
        }
    }
}

/// Where a build is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BuildStatus {
    /// Running.
    Building,
    /// Queued.
    Waiting,
    /// Done: sandboxes can start from it.
    Ready,
    /// Failed.
    Error,
    /// A status this SDK does not know.
    Unknown(String),
}

impl BuildStatus {
    /// Whether the build will not change any more.
    pub fn is_terminal(&self) -> bool {
        matches!(self, BuildStatus::Ready | BuildStatus::Error)
    }
}

impl From<types::TemplateBuildStatus> for BuildStatus {
    fn from(status: types::TemplateBuildStatus) -> Self {
        match status {
            types::TemplateBuildStatus::Building => BuildStatus::Building,
            types::TemplateBuildStatus::Waiting => BuildStatus::Waiting,
            types::TemplateBuildStatus::Ready => BuildStatus::Ready,
            types::TemplateBuildStatus::Error => BuildStatus::Error,
            types::TemplateBuildStatus::UnknownValue(s) => BuildStatus::Unknown(s),
            other => BuildStatus::Unknown(format!("{other:?}")),
        }
    }
}

/// Why a build is in its status (set for failures).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BuildStatusReason {
    /// The reason.
    pub message: String,
    /// The step it concerns: `base`, `finalize`, or a 1-based step number.
    pub step: Option<String>,
    /// Log entries attached to it.
    pub log_entries: Vec<LogEntry>,
}

/// One answer of [`Template::get_build_status`](crate::Template::get_build_status).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BuildStatusResponse {
    /// The build.
    pub build_id: String,
    /// The template.
    pub template_id: String,
    /// Where it is.
    pub status: BuildStatus,
    /// Log entries from the requested offset on (the service sends at most 100 at once).
    pub log_entries: Vec<LogEntry>,
    /// Why, for a failure.
    pub reason: Option<BuildStatusReason>,
}

impl From<types::TemplateBuildInfo> for BuildStatusResponse {
    fn from(info: types::TemplateBuildInfo) -> Self {
        BuildStatusResponse {
            build_id: info.build_id,
            template_id: info.template_id,
            status: info.status.into(),
            log_entries: info
                .log_entries
                .into_iter()
                .map(LogEntry::from_wire)
                .collect(),
            reason: info.reason.map(|r| BuildStatusReason {
                message: r.message,
                step: r.step,
                log_entries: r.log_entries.into_iter().map(LogEntry::from_wire).collect(),
            }),
        }
    }
}

/// Where log entries go during a build: the caller's callback and, for
/// [`BuildLogs`], a bounded channel.
#[derive(Clone)]
struct Sink {
    callback: Option<LogCallback>,
    channel: Option<mpsc::Sender<LogEntry>>,
}

impl Sink {
    async fn emit(&self, entry: LogEntry) {
        if let Some(callback) = &self.callback {
            callback(&entry);
        }
        if let Some(channel) = &self.channel {
            // A receiver that went away only stops the stream, not the build.
            let _ = channel.send(entry).await;
        }
    }

    async fn info(&self, message: impl Into<String>) {
        if self.callback.is_some() || self.channel.is_some() {
            self.emit(LogEntry::new(LogLevel::Info, message)).await;
        }
    }
}

fn op_error(what: &str) -> impl Fn(Error) -> Error + '_ {
    move |e: Error| {
        if e.is_build() || e.is_timeout() || e.is_authentication() || e.is_rate_limited() {
            e
        } else {
            let message = format!("{what}: {e}");
            Error::with_source(e2b_core::ErrorKind::Build { message }, e)
        }
    }
}

/// Ask for a build: `POST /v3/templates`.
async fn request_build(client: &Client, name: &str, options: &BuildOptions) -> Result<BuildInfo> {
    let body = types::TemplateBuildRequestV3 {
        alias: None,
        cpu_count: match options.cpu_count {
            None => None,
            Some(n) => Some(types::CpuCount(std::num::NonZeroU32::new(n).ok_or_else(
                || Error::invalid_argument("cpu_count must be at least 1"),
            )?)),
        },
        memory_mb: match options.memory_mb {
            None => None,
            Some(mb) => {
                Some(types::MemoryMb(i32::try_from(mb).map_err(|_| {
                    Error::invalid_argument("memory_mb is too large")
                })?))
            }
        },
        name: Some(
            types::TemplateBuildRequestV3Name::try_from(name)
                .map_err(|e| Error::invalid_argument(format!("template name {name:?}: {e}")))?,
        ),
        tags: options.tags.clone(),
        team_id: None,
    };
    let api = raw::control(client);
    let (cpu_count, memory_mb) = (body.cpu_count.clone(), body.memory_mb.clone());
    let v3 = raw::http(client)
        .call(
            "post_v3_templates",
            client.request_timeout(),
            api.post_v3_templates().body(body).send(),
        )
        .await;
    let error = match v3 {
        Ok(response) => {
            let response = response.into_inner();
            return Ok(BuildInfo {
                template_id: response.template_id,
                build_id: response.build_id,
                name: name.to_owned(),
                tags: response.tags,
            });
        }
        Err(e) => e,
    };
    // An older self-hosted control plane without the v3 path: its v2 path takes a name
    // (as an alias) but no tags.
    let older = matches!(error.status(), Some(404 | 405));
    if !older || name.contains(':') || !options.tags.is_empty() {
        return Err(op_error("requesting the build")(error));
    }
    tracing::debug!("POST /v3/templates is missing; using POST /v2/templates");
    let body = types::TemplateBuildRequestV2 {
        alias: name.to_owned(),
        cpu_count,
        memory_mb,
        team_id: None,
    };
    let response = raw::http(client)
        .call(
            "post_v2_templates",
            client.request_timeout(),
            api.post_v2_templates().body(body).send(),
        )
        .await
        // The v3 error is the one that says what this server lacks.
        .map_err(|_| op_error("requesting the build")(error))?
        .into_inner();
    Ok(BuildInfo {
        template_id: response.template_id,
        build_id: response.build_id,
        name: name.to_owned(),
        tags: Vec::new(),
    })
}

/// Whether the server has the files of `hash`, and where to upload them if not.
async fn file_upload_link(
    client: &Client,
    template_id: &str,
    hash: &str,
) -> Result<types::TemplateBuildFileUpload> {
    let api = raw::control(client);
    let call = api
        .get_templates_template_id_files_hash()
        .template_id(template_id)
        .hash(hash)
        .send();
    Ok(raw::http(client)
        .call(
            "get_templates_template_id_files_hash",
            client.request_timeout(),
            call,
        )
        .await
        .map_err(op_error("asking for the files' upload link"))?
        .into_inner())
}

/// Upload the archive of `src` to `url` with its exact length (presigned URLs refuse
/// chunked bodies).
async fn upload(
    client: &Client,
    context: Arc<FileContext>,
    src: String,
    resolve_symlinks: bool,
    gzip: bool,
    url: &str,
    timeout: Duration,
) -> Result<u64> {
    let archive_src = src.clone();
    let file =
        tokio::task::spawn_blocking(move || context.archive(&archive_src, resolve_symlinks, gzip))
            .await
            .map_err(|e| build_error(format!("archiving {src} failed: {e}")))??;
    let file = tokio::fs::File::from_std(file);
    let size = file
        .metadata()
        .await
        .map_err(|e| build_error(format!("file upload failed: {e}")))?
        .len();
    let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
    let http = raw::http(client);
    let request = http
        .client(Target::Sandbox)
        .put(url)
        .header(reqwest::header::CONTENT_LENGTH, size)
        .body(body)
        .build()
        .map_err(error_from_reqwest)?;
    let response = http
        .send(Target::Sandbox, request, "template.upload", Some(timeout))
        .await
        .map_err(|e| build_error(format!("file upload of {src} failed: {e}")))?;
    check_response(response)
        .await
        .map_err(|e| build_error(format!("file upload of {src} failed: {e}")))?;
    Ok(size)
}

/// Start the build: `POST /v2/templates/{templateID}/builds/{buildID}` with the
/// template's JSON. Sent through the seam by hand: the generated `TemplateStep` has no
/// `forceUpload` and drops an empty `steps`, and the body must be the official SDKs'.
async fn trigger_build(client: &Client, info: &BuildInfo, template: &WireTemplate) -> Result<()> {
    let api = raw::control(client);
    let url = format!(
        "{}/v2/templates/{}/builds/{}",
        api.baseurl(),
        progenitor_client::encode_path(&info.template_id),
        progenitor_client::encode_path(&info.build_id),
    );
    let body = serde_json::to_vec(template)
        .map_err(|e| Error::protocol(format!("cannot serialize the template: {e}")))?;
    let http = raw::http(client);
    let request = http
        .client(Target::ControlPlane)
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .build()
        .map_err(error_from_reqwest)?;
    let response = http
        .send(
            Target::ControlPlane,
            request,
            "post_v2_templates_template_id_builds_build_id",
            client.request_timeout(),
        )
        .await
        .map_err(op_error("starting the build"))?;
    check_response(response)
        .await
        .map_err(op_error("starting the build"))?;
    Ok(())
}

/// `GET /templates/{templateID}/builds/{buildID}/status?logsOffset=`.
pub(crate) async fn get_build_status(
    client: &Client,
    template_id: &str,
    build_id: &str,
    logs_offset: u32,
) -> Result<BuildStatusResponse> {
    let offset = i32::try_from(logs_offset)
        .map_err(|_| Error::invalid_argument("logs_offset is too large"))?;
    let api = raw::control(client);
    let call = api
        .get_templates_template_id_builds_build_id_status()
        .template_id(template_id)
        .build_id(build_id)
        .logs_offset(offset)
        .send();
    let info = raw::http(client)
        .call(
            "get_templates_template_id_builds_build_id_status",
            client.request_timeout(),
            call,
        )
        .await
        .map_err(|e| e.with_not_found_kind(e2b_core::NotFoundKind::Template))?
        .into_inner();
    Ok(info.into())
}

/// Steps 1–4 of a build: request, uploads, start.
async fn start(
    client: &Client,
    state: &State,
    name: &str,
    options: &BuildOptions,
    sink: &Sink,
) -> Result<BuildInfo> {
    if name.is_empty() {
        return Err(Error::invalid_argument("a template name is required"));
    }
    let mut wire = wire_template(state)?;
    if options.skip_cache {
        wire.force = true;
    }
    let tags = if options.tags.is_empty() {
        String::new()
    } else {
        format!(" with tags: {}", options.tags.join(", "))
    };
    sink.info(format!("Requesting build for template: {name}{tags}"))
        .await;
    let info = request_build(client, name, options).await?;
    sink.info(format!(
        "Template created with ID: {}, Build ID: {}",
        info.template_id, info.build_id
    ))
    .await;

    let copies = state
        .instructions
        .iter()
        .zip(&wire.steps)
        .filter(|(i, _)| i.kind == InstructionType::Copy);
    let mut context: Option<Arc<FileContext>> = None;
    for (instruction, step) in copies {
        let src = instruction.args[0].clone();
        let hash = step.files_hash.clone().unwrap_or_default();
        let link = file_upload_link(client, &info.template_id, &hash).await?;
        let force = instruction.force_upload == Some(true);
        match link.url {
            Some(url) if force || !link.present => {
                let context = match &context {
                    Some(c) => Arc::clone(c),
                    None => {
                        let c =
                            Arc::new(FileContext::new(&state.context, &ignore_patterns(state)?)?);
                        context = Some(Arc::clone(&c));
                        c
                    }
                };
                let size = upload(
                    client,
                    context,
                    src.clone(),
                    instruction.resolve_symlinks.unwrap_or(false),
                    instruction.gzip.unwrap_or(true),
                    &url,
                    options.upload_timeout.unwrap_or(DEFAULT_UPLOAD_TIMEOUT),
                )
                .instrument(tracing::debug_span!("e2b.template.upload", src = %src, hash = %hash))
                .await?;
                tracing::debug!(src = %src, bytes = size, "uploaded");
                sink.info(format!("Uploaded '{src}'")).await;
            }
            _ => {
                sink.info(format!("Skipping upload of '{src}', already cached"))
                    .await;
            }
        }
    }
    sink.info("All file uploads completed").await;
    sink.info("Starting building...").await;
    trigger_build(client, &info, &wire).await?;
    Ok(info)
}

/// Poll until the build is ready or failed, passing on every log entry.
async fn wait(
    client: &Client,
    info: &BuildInfo,
    descriptions: &[String],
    interval: Duration,
    sink: &Sink,
) -> Result<()> {
    let mut offset: u32 = 0;
    loop {
        let status = poll(client, info, &mut offset, sink).await?;
        if status.status.is_terminal() {
            // The service sends at most 100 entries at once: drain the rest.
            let mut tail = status.log_entries.len();
            while tail > 0 {
                tail = poll(client, info, &mut offset, sink)
                    .await?
                    .log_entries
                    .len();
            }
            if status.status == BuildStatus::Ready {
                return Ok(());
            }
            let reason = status.reason;
            return Err(BuildError {
                message: reason
                    .as_ref()
                    .map_or_else(|| "build failed".to_owned(), |r| r.message.clone()),
                step: reason
                    .as_ref()
                    .and_then(|r| r.step.as_deref())
                    .map(|s| BuildStep::from_service(s, descriptions)),
                template_id: info.template_id.clone(),
                build_id: info.build_id.clone(),
                log_entries: reason.map(|r| r.log_entries).unwrap_or_default(),
            }
            .into_error());
        }
        if let BuildStatus::Unknown(s) = &status.status {
            tracing::debug!(status = %s, "unknown build status, still waiting");
        }
        tokio::time::sleep(interval).await;
    }
}

async fn poll(
    client: &Client,
    info: &BuildInfo,
    offset: &mut u32,
    sink: &Sink,
) -> Result<BuildStatusResponse> {
    let status = get_build_status(client, &info.template_id, &info.build_id, *offset).await?;
    *offset += u32::try_from(status.log_entries.len()).unwrap_or(u32::MAX);
    for entry in &status.log_entries {
        sink.emit(entry.clone()).await;
    }
    Ok(status)
}

/// A whole build: start, then wait.
async fn run(
    client: Client,
    state: State,
    name: String,
    options: BuildOptions,
    sink: Sink,
) -> Result<BuildInfo> {
    sink.emit(LogEntry::marker(LogEntryKind::Start, "Build started"))
        .await;
    let descriptions: Vec<String> = state.instructions.iter().map(|i| i.describe()).collect();
    let interval = options.poll_interval.unwrap_or(DEFAULT_POLL_INTERVAL);
    let work = async {
        let info = start(&client, &state, &name, &options, &sink).await?;
        sink.info("Waiting for logs...").await;
        wait(&client, &info, &descriptions, interval, &sink).await?;
        Ok(info)
    };
    let result = match options.timeout {
        None => work.await,
        Some(limit) => tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
            Err(Error::timeout(
                TimeoutKind::Execution,
                format!("the template build did not finish within {limit:?}"),
            ))
        }),
    };
    let end = match &result {
        Ok(_) => "Build finished",
        Err(_) => "Build failed",
    };
    sink.emit(LogEntry::marker(LogEntryKind::End, end)).await;
    result
}

pub(crate) async fn build(
    client: &Client,
    template: &impl TemplateDefinition,
    name: &str,
    options: BuildOptions,
) -> Result<BuildInfo> {
    let span = tracing::info_span!("e2b.template.build", name);
    let sink = Sink {
        callback: options.on_build_logs.clone(),
        channel: None,
    };
    run(
        client.clone(),
        template.state().clone(),
        name.to_owned(),
        options,
        sink,
    )
    .instrument(span)
    .await
}

pub(crate) async fn build_in_background(
    client: &Client,
    template: &impl TemplateDefinition,
    name: &str,
    options: BuildOptions,
) -> Result<BuildInfo> {
    let span = tracing::info_span!("e2b.template.build_in_background", name);
    let sink = Sink {
        callback: options.on_build_logs.clone(),
        channel: None,
    };
    start(client, template.state(), name, &options, &sink)
        .instrument(span)
        .await
}

pub(crate) async fn wait_for_build(
    client: &Client,
    info: &BuildInfo,
    options: BuildOptions,
) -> Result<()> {
    let span = tracing::info_span!("e2b.template.wait", template_id = %info.template_id, build_id = %info.build_id);
    let sink = Sink {
        callback: options.on_build_logs.clone(),
        channel: None,
    };
    let interval = options.poll_interval.unwrap_or(DEFAULT_POLL_INTERVAL);
    let work = wait(client, info, &[], interval, &sink);
    match options.timeout {
        None => work.instrument(span).await,
        Some(limit) => tokio::time::timeout(limit, work.instrument(span))
            .await
            .unwrap_or_else(|_| {
                Err(Error::timeout(
                    TimeoutKind::Execution,
                    format!("the template build did not finish within {limit:?}"),
                ))
            }),
    }
}

/// A build running in a task of its own, its log entries as a [`Stream`].
///
/// The stream ends when the build does; then [`finish`](Self::finish) returns its
/// outcome. Entries also go to [`BuildOptions::on_build_logs`] if set. The channel is
/// bounded: a consumer that stops reading holds the local work back (call `finish` to let
/// it run on without the stream). Dropping the handle stops the local work (polling,
/// uploads) but not a build the server has started.
pub struct BuildLogs {
    receiver: mpsc::Receiver<LogEntry>,
    task: Option<tokio::task::JoinHandle<Result<BuildInfo>>>,
}

impl Drop for BuildLogs {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl fmt::Debug for BuildLogs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuildLogs").finish_non_exhaustive()
    }
}

impl BuildLogs {
    pub(crate) fn spawn(
        client: &Client,
        template: &impl TemplateDefinition,
        name: &str,
        options: BuildOptions,
    ) -> Self {
        let (sender, receiver) = mpsc::channel(256);
        let sink = Sink {
            callback: options.on_build_logs.clone(),
            channel: Some(sender),
        };
        let span = tracing::info_span!("e2b.template.build", name);
        let task = tokio::spawn(
            run(
                client.clone(),
                template.state().clone(),
                name.to_owned(),
                options,
                sink,
            )
            .instrument(span),
        );
        BuildLogs {
            receiver,
            task: Some(task),
        }
    }

    /// Wait for the build (without reading further entries) and return its outcome.
    ///
    /// # Errors
    ///
    /// The build's error ([`BuildError::of`] for a failed build).
    pub async fn finish(mut self) -> Result<BuildInfo> {
        let task = self.task.take();
        // Close the channel so the build never waits for this reader again.
        self.receiver.close();
        while self.receiver.try_recv().is_ok() {}
        let Some(task) = task else {
            return Err(build_error("the build was already finished"));
        };
        task.await
            .map_err(|e| build_error(format!("the build task stopped: {e}")))?
    }
}

impl Stream for BuildLogs {
    type Item = LogEntry;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<LogEntry>> {
        self.receiver.poll_recv(cx)
    }
}
