//! E2B templates from Rust: describe a sandbox's image with a typed builder (or import a
//! Dockerfile), build it on E2B (or an E2B-compatible server) with the logs streamed, and
//! manage the result (tags, list, get, delete).
//!
//! ```no_run
//! use e2b_template::{BuildOptions, Client, LogLevel, Template, default_build_logger, wait_for_port};
//!
//! #[tokio::main]
//! async fn main() -> e2b_template::Result<()> {
//!     // E2B_API_KEY (and E2B_DOMAIN, E2B_API_URL, …) from the environment.
//!     let client = Client::from_env()?;
//!
//!     // Files for `copy` are relative to the context directory (default: the current one).
//!     let template = Template::with_context("./app")
//!         .from_python_image("3.12")
//!         .apt_install(["curl"])
//!         .copy("requirements.txt", "/app/")
//!         .pip_install(["-r", "/app/requirements.txt"])
//!         .copy(".", "/app/")
//!         .set_workdir("/app")
//!         .set_start_cmd("python -m http.server 8000", wait_for_port(8000));
//!
//!     let info = Template::build_with(
//!         &client,
//!         &template,
//!         "my-app:v1",
//!         BuildOptions::new()
//!             .cpu_count(2)
//!             .memory_mb(1024)
//!             .on_build_logs(default_build_logger(LogLevel::Info)),
//!     )
//!     .await?;
//!     println!("built {} ({})", info.name, info.template_id);
//!     Ok(())
//! }
//! ```
//!
//! # Overview
//!
//! - [`Template`]: choose the base — [`from_image`](Template::from_image) (with registry
//!   credentials: [`from_image_with_credentials`](Template::from_image_with_credentials),
//!   [`from_aws_registry`](Template::from_aws_registry),
//!   [`from_gcp_registry`](Template::from_gcp_registry)), the shorthands
//!   ([`from_debian_image`](Template::from_debian_image),
//!   [`from_python_image`](Template::from_python_image), …),
//!   [`from_template`](Template::from_template), [`from_base_image`](Template::from_base_image),
//!   [`from_dockerfile`](Template::from_dockerfile).
//! - [`TemplateBuilder`]: the steps — `copy`, `copy_items`, `remove`, `rename`, `make_dir`,
//!   `make_symlink`, `run_cmd`, `set_workdir`, `set_user`, `set_envs`, `pip_install`,
//!   `npm_install`, `bun_install`, `apt_install`, `git_clone`, `skip_cache`; then
//!   optionally [`set_start_cmd`](TemplateBuilder::set_start_cmd) or
//!   [`set_ready_cmd`](TemplateBuilder::set_ready_cmd), which return a
//!   [`TemplateFinal`] that takes no more steps. Ready commands: [`wait_for_port`],
//!   [`wait_for_url`], [`wait_for_process`], [`wait_for_file`], [`wait_for_timeout`].
//! - [`to_json`] and [`to_dockerfile`]: the same output as the official SDKs'.
//! - Builds: [`Template::build`] waits, [`Template::build_stream`] returns the logs as a
//!   `Stream` ([`BuildLogs`]), [`Template::build_in_background`] only starts the build
//!   ([`Template::get_build_status`], [`Template::wait_for_build`] follow it). A failed
//!   build is an [`Error`] of kind `Build` whose [`BuildError`] names the failing step.
//! - After the build: [`Template::exists`], [`Template::assign_tags`],
//!   [`Template::remove_tags`], [`Template::get_tags`], [`Template::list`],
//!   [`Template::get`], [`Template::delete`].
//!
//! # Files
//!
//! A `copy` selects files relative to the context directory, with globs (`**` for any
//! depth, dot files included); directories bring everything under them; the context's
//! `.dockerignore` and [`Template::file_ignore_patterns`] leave files out with Docker's
//! semantics. Each copy's files are hashed exactly as the official SDKs hash them, so a
//! server shared with them caches the same layers; the server is asked whether it has
//! the hash, and only if not is a tar archive (gzipped by default) spooled to a temporary
//! file and uploaded with its exact `Content-Length`. Symbolic links are archived as
//! links unless [`CopyOptions::resolve_symlinks`] says otherwise.
//!
//! A control plane without `POST /v3/templates` (an older self-hosted E2B) gets the build
//! request on `POST /v2/templates` instead, for names without a tag and builds without
//! tags, which that path cannot carry.
//!
//! # Timeouts
//!
//! Every request is bounded by the client's request timeout (60 s by default), an upload
//! by [`BuildOptions::upload_timeout`] (one hour), and a whole build by
//! [`BuildOptions::timeout`] (none by default). Status is polled every 200 ms
//! ([`BuildOptions::poll_interval`]).
//!
//! # Errors and tracing
//!
//! Every fallible call returns the SDK's [`Error`] (from `e2b-core`) with its predicates
//! (`is_build()`, `is_not_found()`, `is_invalid_argument()`, …). Invalid builder calls
//! do not break the chain: the first is reported before any request. Every operation
//! runs in a `tracing` span (`e2b.template.build`, `e2b.template.upload`, …); registry
//! credentials are never printed.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The crate README's Rust code, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

mod build;
mod context;
mod dockerfile;
mod error;
mod ignore;
mod instruction;
mod logs;
mod manage;
mod output;
mod paths;
mod quote;
mod ready;
mod shell;
mod template;

use std::time::Duration;

pub use build::{
    BuildInfo, BuildLogs, BuildOptions, BuildStatus, BuildStatusReason, BuildStatusResponse,
    DEFAULT_POLL_INTERVAL, DEFAULT_UPLOAD_TIMEOUT,
};
pub use e2b_core::{ConnectionConfig, Error, ErrorKind, NotFoundKind, Result};
pub use e2b_sandbox::Client;
pub use error::{BuildError, BuildStep};
pub use instruction::{Instruction, InstructionType, RegistryConfig};
pub use logs::{LogCallback, LogEntry, LogEntryKind, LogLevel, default_build_logger};
pub use manage::{
    TemplateBuildSummary, TemplateDetails, TemplateInfo, TemplateTag, TemplateTagInfo,
};
pub use output::{to_dockerfile, to_json};
pub use paths::IntoStrings;
pub use ready::{
    ReadyCmd, wait_for_file, wait_for_port, wait_for_process, wait_for_timeout, wait_for_url,
    wait_for_url_status,
};
pub use template::{
    CopyItem, CopyOptions, DEFAULT_BASE_IMAGE, FileOptions, GitCloneOptions, InstallOptions,
    Template, TemplateBuilder, TemplateDefinition, TemplateFinal,
};

/// Builds and management: the counterparts of upstream's static `Template` methods.
impl Template {
    /// Build `template` as `name` (`name` or `name:tag`) and wait until it is ready.
    ///
    /// # Errors
    ///
    /// The first invalid builder call or unreadable `copy` source (before any request);
    /// control-plane errors; a failed upload; a failed build ([`BuildError::of`] names
    /// the step).
    pub async fn build(
        client: &Client,
        template: &impl TemplateDefinition,
        name: &str,
    ) -> Result<BuildInfo> {
        build::build(client, template, name, BuildOptions::default()).await
    }

    /// [`build`](Self::build) with options: tags, resources, cache, logs, deadlines.
    pub async fn build_with(
        client: &Client,
        template: &impl TemplateDefinition,
        name: &str,
        options: BuildOptions,
    ) -> Result<BuildInfo> {
        build::build(client, template, name, options).await
    }

    /// Start building in a task of its own; the log entries arrive as a
    /// [`Stream`](futures_util::Stream), and [`BuildLogs::finish`] returns the outcome.
    /// Needs a tokio runtime.
    pub fn build_stream(
        client: &Client,
        template: &impl TemplateDefinition,
        name: &str,
        options: BuildOptions,
    ) -> BuildLogs {
        BuildLogs::spawn(client, template, name, options)
    }

    /// Request the build, upload the files and start it, without waiting for it.
    pub async fn build_in_background(
        client: &Client,
        template: &impl TemplateDefinition,
        name: &str,
        options: BuildOptions,
    ) -> Result<BuildInfo> {
        build::build_in_background(client, template, name, options).await
    }

    /// A build's status, and its log entries from `logs_offset` on.
    ///
    /// # Errors
    ///
    /// Not found ([`NotFoundKind::Template`]) for an unknown template or build.
    pub async fn get_build_status(
        client: &Client,
        build: &BuildInfo,
        logs_offset: u32,
    ) -> Result<BuildStatusResponse> {
        let span = tracing::info_span!("e2b.template.get_build_status", template_id = %build.template_id, build_id = %build.build_id);
        tracing::Instrument::instrument(
            build::get_build_status(client, &build.template_id, &build.build_id, logs_offset),
            span,
        )
        .await
    }

    /// Wait for a build started elsewhere (e.g. [`build_in_background`](Self::build_in_background))
    /// to finish, passing its log entries to [`BuildOptions::on_build_logs`].
    pub async fn wait_for_build(
        client: &Client,
        build: &BuildInfo,
        options: BuildOptions,
    ) -> Result<()> {
        build::wait_for_build(client, build, options).await
    }

    /// Whether a template named `name` exists (also when another team owns it).
    pub async fn exists(client: &Client, name: &str) -> Result<bool> {
        manage::exists(client, name).await
    }

    /// Point `tags` at the build `target` (`name:tag`) names.
    pub async fn assign_tags(
        client: &Client,
        target: &str,
        tags: impl IntoStrings,
    ) -> Result<TemplateTagInfo> {
        manage::assign_tags(client, target, tags.into_strings()).await
    }

    /// Remove `tags` from the template `name`.
    pub async fn remove_tags(client: &Client, name: &str, tags: impl IntoStrings) -> Result<()> {
        manage::remove_tags(client, name, tags.into_strings()).await
    }

    /// The tags of a template (by id or name).
    pub async fn get_tags(client: &Client, template: &str) -> Result<Vec<TemplateTag>> {
        manage::get_tags(client, template).await
    }

    /// The team's templates.
    pub async fn list(client: &Client) -> Result<Vec<TemplateInfo>> {
        manage::list(client).await
    }

    /// A template (by id or name) with its builds.
    ///
    /// # Errors
    ///
    /// Not found ([`NotFoundKind::Template`]) when there is no such template.
    pub async fn get(client: &Client, template: &str) -> Result<TemplateDetails> {
        manage::get(client, template).await
    }

    /// Delete a template (by id or name): `false` when there was none.
    pub async fn delete(client: &Client, template: &str) -> Result<bool> {
        manage::delete(client, template).await
    }

    /// [`to_json`] as an associated function, like upstream's `Template.to_json`.
    pub fn to_json(template: &impl TemplateDefinition) -> Result<String> {
        to_json(template)
    }

    /// [`to_dockerfile`] as an associated function.
    pub fn to_dockerfile(template: &impl TemplateDefinition) -> Result<String> {
        to_dockerfile(template)
    }
}

/// The ready command of an imported Dockerfile's start command: 20 seconds.
pub const DOCKERFILE_READY_DELAY: Duration = Duration::from_secs(20);
