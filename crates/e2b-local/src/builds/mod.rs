//! Template builds: the template API of E2B's control plane, served by
//! e2b-local.
//!
//! A build is requested (`POST /v3/templates`: a template id and a build
//! id), its `COPY` files are uploaded (see [`files`]), then it is started
//! with its base and steps (`POST /v2/templates/{id}/builds/{buildID}`).
//! Every step that changes files runs in a sandbox of its own, started on
//! the layers so far (see [`runner`]); when the step's command succeeds
//! the sandbox is stopped and its changes are copied out as a new
//! read-only layer. Layers are cached by a key of the layer below, the
//! step's type, arguments and files hash (as E2B keys them), so an
//! unchanged rebuild reuses every layer; `force` (per build or per step)
//! rebuilds from that point. At the end the template is recorded with its
//! layers, environment, working directory, user, start and ready commands,
//! and its sandboxes start from them.
//!
//! Builds run on a root server with writable root filesystems; their state
//! (status, logs) lives in memory, the templates and layers they make on
//! disk.

pub(crate) mod files;
mod runner;
pub(crate) mod spec;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::sandbox::Manager;

/// How many builds run at once; others wait.
const CONCURRENT_BUILDS: usize = 2;
/// How many log entries a status call returns at most.
pub(crate) const MAX_LOG_PAGE: usize = 100;

/// A build's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Requested, not started.
    Waiting,
    /// Running its steps.
    Building,
    /// Done: the template is ready.
    Ready,
    /// Failed (see its reason).
    Error,
}

/// How important a log entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    /// The level of a wire name.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name {
            "debug" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warn" => Some(Level::Warn),
            "error" => Some(Level::Error),
            _ => None,
        }
    }
}

/// One line of a build's log.
#[derive(Clone, Debug)]
pub(crate) struct LogEntry {
    pub(crate) timestamp: DateTime<Utc>,
    pub(crate) level: Level,
    pub(crate) message: String,
    /// The step it belongs to: `base`, `1`…, `finalize`.
    pub(crate) step: Option<String>,
}

/// Why a build failed.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    pub(crate) message: String,
    /// The failing step: `base`, `1`…, `finalize`.
    pub(crate) step: Option<String>,
}

/// A build as its status shows it.
#[derive(Clone, Debug)]
pub(crate) struct BuildView {
    pub(crate) template_id: String,
    pub(crate) build_id: String,
    pub(crate) status: Status,
    pub(crate) logs: Vec<LogEntry>,
    pub(crate) reason: Option<Failure>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) finished_at: Option<DateTime<Utc>>,
    pub(crate) cpu_count: Option<u32>,
    pub(crate) memory_mb: Option<u32>,
}

/// Why a build request was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BuildError {
    /// Bad input (400).
    #[error("{0}")]
    Invalid(String),
    /// No such template or build (404).
    #[error("{0}")]
    NotFound(String),
    /// The build is not in a state that allows it (409 would be
    /// natural; E2B answers 400).
    #[error("{0}")]
    Conflict(String),
    /// This server cannot build (no writable roots).
    #[error("{0}")]
    Unavailable(String),
}

struct Build {
    template_id: String,
    name: String,
    tags: Vec<String>,
    cpu_count: Option<u32>,
    memory_mb: Option<u32>,
    status: Status,
    logs: Vec<LogEntry>,
    reason: Option<Failure>,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    cancel: CancellationToken,
}

/// The build service of a server.
#[derive(Clone)]
pub(crate) struct Builds {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Builds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builds").finish_non_exhaustive()
    }
}

struct Inner {
    data_dir: PathBuf,
    manager: Manager,
    files: files::FileStore,
    /// Why this server cannot build, if it cannot.
    unavailable: Option<String>,
    permits: tokio::sync::Semaphore,
    builds: Mutex<HashMap<String, Build>>,
    /// Serialises the registration of finished templates.
    register: tokio::sync::Mutex<()>,
    registry_options: crate::image::PullOptions,
}

impl Builds {
    /// The build service of the server whose data directory is `data_dir`.
    /// `unavailable` says why builds cannot run here (they are refused
    /// with it).
    pub(crate) fn open(
        data_dir: &Path,
        manager: Manager,
        unavailable: Option<String>,
        registry_options: crate::image::PullOptions,
    ) -> std::io::Result<Self> {
        Ok(Self {
            inner: Arc::new(Inner {
                data_dir: data_dir.to_path_buf(),
                manager,
                files: files::FileStore::open(data_dir)?,
                unavailable,
                permits: tokio::sync::Semaphore::new(CONCURRENT_BUILDS),
                builds: Mutex::new(HashMap::new()),
                register: tokio::sync::Mutex::new(()),
                registry_options,
            }),
        })
    }

    /// The uploads of `COPY` files.
    pub(crate) fn files(&self) -> &files::FileStore {
        &self.inner.files
    }

    /// Request a build of the template `name` (`name:tag` adds the tag):
    /// `(template id, build id, name, tags)`. A template of that name keeps
    /// its id.
    pub(crate) fn request(
        &self,
        name: &str,
        tags: Vec<String>,
        cpu_count: Option<u32>,
        memory_mb: Option<u32>,
    ) -> Result<(String, String, String, Vec<String>), BuildError> {
        if let Some(why) = &self.inner.unavailable {
            return Err(BuildError::Unavailable(why.clone()));
        }
        let (name, tag) = match name.split_once(':') {
            Some((name, tag)) => (name, Some(tag)),
            None => (name, None),
        };
        if !crate::templates::is_valid_name(name) {
            return Err(BuildError::Invalid(format!(
                "invalid template name {name:?}: use letters, digits, `-` and `_` (at most 63)"
            )));
        }
        let mut tags: Vec<String> = tags.into_iter().chain(tag.map(str::to_owned)).collect();
        if tags.is_empty() {
            tags.push("default".to_owned());
        }
        if let Some(bad) = tags.iter().find(|t| !crate::templates::is_valid_name(t)) {
            return Err(BuildError::Invalid(format!("invalid tag {bad:?}")));
        }
        tags.sort();
        tags.dedup();
        let existing = crate::templates::list(&self.inner.data_dir)
            .into_iter()
            .find(|t| t.name == name)
            .map(|t| t.template_id);
        let pending = lock(&self.inner.builds)
            .values()
            .find(|b| b.name == name)
            .map(|b| b.template_id.clone());
        let template_id = match existing.or(pending) {
            Some(id) => id,
            None => crate::ids::template_id()
                .map_err(|e| BuildError::Unavailable(format!("cannot make an id: {e}")))?,
        };
        let build_id = crate::ids::uuid_v4()
            .map_err(|e| BuildError::Unavailable(format!("cannot make an id: {e}")))?;
        lock(&self.inner.builds).insert(
            build_id.clone(),
            Build {
                template_id: template_id.clone(),
                name: name.to_owned(),
                tags: tags.clone(),
                cpu_count,
                memory_mb,
                status: Status::Waiting,
                logs: Vec::new(),
                reason: None,
                created_at: Utc::now(),
                finished_at: None,
                cancel: CancellationToken::new(),
            },
        );
        Ok((template_id, build_id, name.to_owned(), tags))
    }

    /// Whether `template_id` is a template this server has or is building.
    pub(crate) fn knows_template(&self, template_id: &str) -> bool {
        lock(&self.inner.builds)
            .values()
            .any(|b| b.template_id == template_id)
            || crate::templates::load(&self.inner.data_dir, template_id).is_some_and(|t| !t.hidden)
    }

    /// Start a requested build.
    pub(crate) fn start(
        &self,
        template_id: &str,
        build_id: &str,
        request: spec::StartRequest,
    ) -> Result<(), BuildError> {
        let steps = spec::plan(&request.steps).map_err(BuildError::Invalid)?;
        for (i, step) in steps.iter().enumerate() {
            let spec::Step::Copy {
                hash, src, dest, ..
            } = &step.step
            else {
                continue;
            };
            let Some(archive) = self.inner.files.get(hash) else {
                return Err(BuildError::Invalid(format!(
                    "step {}: the files with hash {hash} were never uploaded",
                    i + 1
                )));
            };
            // What current SDKs hash can be recomputed from the archive.
            match files::archive_hash(src, dest, &archive) {
                Ok(files::ArchiveHash::Hash {
                    hash: got,
                    has_dirs: false,
                }) if got != *hash => {
                    return Err(BuildError::Invalid(format!(
                        "step {}: the files uploaded for COPY {src} {dest} do not match their hash {hash}",
                        i + 1
                    )));
                }
                Err(e) => {
                    return Err(BuildError::Invalid(format!(
                        "step {}: the files uploaded with hash {hash} are not a readable tar archive: {e}",
                        i + 1
                    )));
                }
                _ => {}
            }
        }
        if let Some(registry) = &request.from_image_registry
            && registry.kind != "registry"
        {
            return Err(BuildError::Invalid(format!(
                "{} registries are not supported by e2b-local; use a registry with a username and password",
                registry.kind.to_ascii_uppercase()
            )));
        }
        let (job, cancel) = {
            let mut builds = lock(&self.inner.builds);
            let build = builds
                .get_mut(build_id)
                .filter(|b| b.template_id == template_id)
                .ok_or_else(|| {
                    BuildError::NotFound(format!(
                        "build {build_id} of template {template_id} not found"
                    ))
                })?;
            if build.status != Status::Waiting {
                return Err(BuildError::Conflict(format!(
                    "build {build_id} was already started"
                )));
            }
            build.status = Status::Building;
            (
                runner::Job {
                    template_id: template_id.to_owned(),
                    build_id: build_id.to_owned(),
                    name: build.name.clone(),
                    tags: build.tags.clone(),
                    cpu_count: build.cpu_count,
                    memory_mb: build.memory_mb,
                    request,
                    steps,
                },
                build.cancel.clone(),
            )
        };
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            let build_id = job.build_id.clone();
            let outcome = {
                let _permit = tokio::select! {
                    permit = inner.permits.acquire() => permit.ok(),
                    () = cancel.cancelled() => None,
                };
                if cancel.is_cancelled() {
                    Err(Failure {
                        message: "the build was cancelled".to_owned(),
                        step: None,
                    })
                } else {
                    runner::run(&inner, job, &cancel).await
                }
            };
            let mut builds = lock(&inner.builds);
            if let Some(build) = builds.get_mut(&build_id) {
                build.finished_at = Some(Utc::now());
                match outcome {
                    Ok(()) => build.status = Status::Ready,
                    Err(failure) => {
                        build.logs.push(LogEntry {
                            timestamp: Utc::now(),
                            level: Level::Error,
                            message: format!("Build failed: {}", failure.message),
                            step: failure.step.clone(),
                        });
                        build.status = Status::Error;
                        build.reason = Some(failure);
                    }
                }
            }
        });
        Ok(())
    }

    /// A build's state, with its log entries from `offset` (at most
    /// `limit`, at `level` or above).
    pub(crate) fn view(
        &self,
        template_id: &str,
        build_id: &str,
        offset: usize,
        limit: usize,
        level: Option<Level>,
    ) -> Result<BuildView, BuildError> {
        let builds = lock(&self.inner.builds);
        let build = builds
            .get(build_id)
            .filter(|b| b.template_id == template_id)
            .ok_or_else(|| {
                BuildError::NotFound(format!(
                    "build {build_id} of template {template_id} not found"
                ))
            })?;
        let logs = build
            .logs
            .iter()
            .filter(|e| level.is_none_or(|l| e.level >= l))
            .skip(offset)
            .take(limit.min(MAX_LOG_PAGE))
            .cloned()
            .collect();
        Ok(BuildView {
            template_id: build.template_id.clone(),
            build_id: build_id.to_owned(),
            status: build.status,
            logs,
            reason: build.reason.clone(),
            created_at: build.created_at,
            finished_at: build.finished_at,
            cpu_count: build.cpu_count,
            memory_mb: build.memory_mb,
        })
    }

    /// The builds of a template this server knows of, newest first.
    pub(crate) fn builds_of(&self, template_id: &str) -> Vec<BuildView> {
        let ids: Vec<String> = lock(&self.inner.builds)
            .iter()
            .filter(|(_, b)| b.template_id == template_id)
            .map(|(id, _)| id.clone())
            .collect();
        let mut views: Vec<BuildView> = ids
            .iter()
            .filter_map(|id| self.view(template_id, id, 0, 0, None).ok())
            .collect();
        views.sort_by_key(|v| std::cmp::Reverse(v.created_at));
        views
    }

    /// Cancel the builds of the template a reference (its id or name)
    /// names, which is being deleted; whether there were any.
    pub(crate) fn cancel_template(&self, reference: &str) -> bool {
        let bare = reference.split(':').next().unwrap_or(reference);
        let mut builds = lock(&self.inner.builds);
        let mut found = false;
        for build in builds
            .values_mut()
            .filter(|b| b.template_id == bare || b.name == bare)
        {
            build.cancel.cancel();
            found = true;
        }
        builds.retain(|_, b| {
            (b.template_id != bare && b.name != bare) || b.status == Status::Building
        });
        found
    }
}

impl Inner {
    /// Append to a build's log.
    fn log(&self, build_id: &str, level: Level, step: Option<&str>, message: impl Into<String>) {
        let message = message.into();
        tracing::debug!(build = %build_id, step = ?step, "{message}");
        if let Some(build) = lock(&self.builds).get_mut(build_id) {
            build.logs.push(LogEntry {
                timestamp: Utc::now(),
                level,
                message,
                step: step.map(str::to_owned),
            });
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
