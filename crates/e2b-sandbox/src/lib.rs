//! E2B sandboxes from Rust: create and manage sandboxes, run commands, drive
//! pseudo-terminals.
//!
//! ```no_run
//! use e2b_sandbox::{Client, CommandOptions, Sandbox};
//!
//! #[tokio::main]
//! async fn main() -> e2b_sandbox::Result<()> {
//!     // E2B_API_KEY (and E2B_DOMAIN, E2B_API_URL, E2B_SANDBOX_URL, …) from the environment.
//!     let client = Client::from_env()?;
//!     let sandbox = Sandbox::builder().template("base").create(&client).await?;
//!
//!     // Run a command and wait for it.
//!     let result = sandbox.commands().run("echo hello from $(hostname)").await?;
//!     assert_eq!(result.exit_code, 0);
//!
//!     // The same with options: output streams to the callback as it arrives.
//!     sandbox
//!         .commands()
//!         .run_with("ls /", CommandOptions::new().cwd("/tmp").on_stdout(|s| print!("{s}")))
//!         .await?;
//!
//!     // As another user: a handle on the same sandbox.
//!     sandbox.with_user("root").commands().run("apt-get update").await?;
//!
//!     sandbox.kill().await?;
//!     Ok(())
//! }
//! ```
//!
//! # Overview
//!
//! - [`Client`]: the connection (API key, domain, URLs, request timeout) and its pools;
//!   by-id operations such as [`Client::list_sandboxes`] and [`Client::kill_sandbox`].
//! - [`Sandbox`]: one sandbox. Create with [`Sandbox::builder`] (every option of the official
//!   SDKs: template, timeout, metadata, environment, secure access, internet access,
//!   [network rules](NetworkConfig), [lifecycle](Lifecycle), [MCP servers](McpServers),
//!   volume mounts, workload identity), reach with [`Sandbox::connect`]; then
//!   [`info`](Sandbox::info), [`set_timeout`](Sandbox::set_timeout),
//!   [`is_running`](Sandbox::is_running), [`pause`](Sandbox::pause),
//!   [`fork`](Sandbox::fork), [snapshots](Sandbox::create_snapshot),
//!   [`metrics`](Sandbox::metrics), [`logs`](Sandbox::logs),
//!   [`update_network`](Sandbox::update_network),
//!   [`host`](Sandbox::host), [`mcp_url`](Sandbox::mcp_url), [`kill`](Sandbox::kill).
//! - [`Commands`] ([`Sandbox::commands`]): [`run`](Commands::run) waits,
//!   [`spawn`](Commands::spawn) returns a [`CommandHandle`] with the output as streams or
//!   callbacks, [`wait`](CommandHandle::wait), [`kill`](CommandHandle::kill) and stdin.
//! - [`Pty`] ([`Sandbox::pty`]): interactive terminals with raw byte output.
//! - [`Files`] ([`Sandbox::files`]): read and write (whole or streamed in constant memory,
//!   [`ByteStream`] is both a `Stream` and an `AsyncRead`), list, stat, make_dir, rename,
//!   remove, [`watch_dir`](Files::watch_dir); signed URLs with
//!   [`Sandbox::download_url`] / [`Sandbox::upload_url`] and [`file_signature`].
//! - [`Secret`]: the project's write-only secrets (create, update, get_info, list,
//!   exists, destroy) and [`Secret::fill`] placeholders the runtime resolves at egress.
//! - [`Git`] ([`Sandbox::git`]): clone, commit, push, pull and every other upstream
//!   operation, credentials never left in `.git/config` unless asked.
//!
//! - [`raw`]: the escape hatch, following the spec rather than semver: the authenticated
//!   generated clients and the SDK's HTTP seam.
//!
//! Handles ([`Client`], [`Sandbox`], [`CommandHandle`], [`PtyHandle`]) are cheap clones of
//! shared state. Dropping one never kills a sandbox or a process.
//!
//! # Call shapes
//!
//! One pattern everywhere: required inputs are arguments, and every operation with options
//! has a short form taking only the required inputs and a `_with` form that also takes a
//! `#[non_exhaustive]` options value with `Default`, `new()` and chainable setters:
//!
//! | Short form | With options |
//! |---|---|
//! | `commands().run(cmd)` | `commands().run_with(cmd, CommandOptions::new().cwd("/tmp"))` |
//! | `files().list(path)` (depth 1) | `files().list_with(path, ListDirOptions::new().depth(3))` |
//! | `pty().create()` | `pty().create_with(PtyOptions::new().size(PtySize::new().rows(40).cols(120)))` |
//! | `git().status(repo)` | `git().status_with(repo, GitOptions::new().cwd("/home/user"))` |
//! | `sandbox.pause()` | `sandbox.pause_with(PauseOptions::new().keep_memory(true))` |
//!
//! Options values are plain data: build one once and reuse it (they are `Clone`). The user
//! that commands, terminals, git and file operations act as is chosen one way only, on the
//! handle: [`Sandbox::with_user`] returns a handle on the same sandbox acting as that user
//! (like [`Sandbox::with_request_timeout`] for the request deadline).
//!
//! # Timeouts
//!
//! Three kinds of deadline, never confused:
//!
//! | Deadline | Default | Bounds | Set with | Error ([`TimeoutKind`]) |
//! |---|---|---|---|---|
//! | request | 60 s | one request to the control plane or envd; for a command or terminal, only the wait for its start | [`Client::with_request_timeout`], [`Sandbox::with_request_timeout`], [`CommandOptions::request_timeout`] | [`Request`](TimeoutKind::Request) |
//! | operation | 60 s | a whole command or terminal: envd kills the process when it passes | [`CommandOptions::timeout`] (`Duration::ZERO`: none), [`PtyOptions::timeout`] | [`Execution`](TimeoutKind::Execution) |
//! | stream idle | 60 s | the silence of an open output stream (envd sends keepalives every 50 s) | [`CommandOptions::stream_idle_timeout`] | [`StreamIdle`](TimeoutKind::StreamIdle) |
//!
//! The sandbox's own lifetime (default 300 s, [`SandboxBuilder::timeout`],
//! [`Sandbox::set_timeout`]) is separate: when it passes the sandbox is killed (or paused).
//! When a stream's connection breaks, envd's `/health` is probed: if the sandbox no longer
//! answers, the error says the sandbox was killed or timed out
//! ([`TimeoutKind::SandboxGone`], [`Error::is_sandbox_gone`]). Any operation can also be
//! cancelled by dropping its future (e.g. with `tokio::time::timeout`).
//!
//! # Errors
//!
//! Every fallible call returns [`Error`] (from `e2b-core`): inspect it with predicates such
//! as [`Error::is_not_found`], [`Error::is_timeout`], [`Error::is_command_exit`] and
//! accessors such as [`Error::command_exit_result`]. Invalid option combinations are
//! rejected before any request, as the official SDKs do.
//!
//! # Routing and debug mode
//!
//! Every routing mode of [`ConnectionConfig`] works: E2B's shared sandbox host, per-sandbox
//! hosts, OpenKruise path prefixes, a sandbox URL override (e.g. a local E2B-compatible
//! server) and debug mode (`E2B_DEBUG=true`: no control plane calls for create and connect,
//! envd at `localhost:49983`). A self-hosted E2B whose certificate comes from a private CA,
//! or a network that reaches E2B through a TLS-inspecting proxy, needs that CA trusted with
//! [`ConnectionConfigBuilder::root_certificates_pem`] (and the proxy set with
//! [`ConnectionConfigBuilder::proxy`]).
//!
//! # Tracing
//!
//! Every operation runs in a `tracing` span (`e2b.sandbox.create`, `e2b.commands.spawn`, …)
//! with the sandbox id; nothing secret is recorded. Every HTTP request inside one, to the
//! control plane or to a sandbox, goes through the SDK's one HTTP seam and has an
//! `e2b.http` span of its own: operation id, method, host, path, status, the request id
//! of the response, retries and duration.
//!
//! # Connections
//!
//! The pools and connection retries follow the official Python SDK's variables (read by
//! [`ConnectionConfig::from_env`]): `E2B_CONNECTION_RETRIES` (default 3) retries a
//! connection that could not be established, and a `GET` whose connection broke before
//! the answer, never a request the server may have acted on; `E2B_KEEPALIVE_EXPIRY`
//! (300 s) and `E2B_MAX_KEEPALIVE_CONNECTIONS` (20 per host) tune the pools. See
//! [`ConnectionConfigBuilder::connection_retries`].

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The crate README's Rust code, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

mod client;
pub mod commands;
mod convert;
mod envd;
pub mod files;
pub mod git;
mod iam;
mod info;
mod lifecycle;
mod list;
mod logs;
mod mcp;
mod network;
mod port;
mod pty;
pub mod raw;
mod sandbox;
#[cfg(e2b_spec = "secrets")]
mod secrets;
mod setters;

pub use client::Client;
pub use commands::{
    CommandConnectOptions, CommandHandle, CommandOptions, CommandOutput, CommandResult, Commands,
    OutputStream, ProcessInfo, ProcessSelector,
};
pub use e2b_core::routing::Scheme;
pub use e2b_core::{
    CommandExit, ConfigError, ConnectionConfig, ConnectionConfigBuilder, EnvdFeature, EnvdVersion,
    Error, ErrorKind, ExposeSecret, NotFoundKind, Result, RoutingMode, SecretString, TimeoutKind,
};
pub use files::{
    ByteStream, DEFAULT_WATCH_TIMEOUT, EntryInfo, FileOperation, FileType, FileUrlOptions, Files,
    FilesystemEvent, FilesystemEventType, ListDirOptions, ReadOptions, WatchExitCallback,
    WatchHandle, WatchOptions, WriteEntry, WriteInfo, WriteOptions, file_signature,
};
pub use git::{
    AddOptions, AuthenticateOptions, CloneOptions, CommitOptions, ConfigOptions,
    DeleteBranchOptions, Git, GitBranches, GitConfigScope, GitCredentials, GitFileStatus,
    GitOptions, GitResetMode, GitStatus, GitStatusLabel, InitOptions, RemoteAddOptions,
    RemoteOptions, ResetOptions, RestoreOptions,
};
pub use iam::{IamToken, JWT_SVID, iam_token_placeholder};
pub use info::{
    LifecycleInfo, SandboxInfo, SandboxMetrics, SandboxState, SnapshotInfo, VolumeMount,
};
pub use lifecycle::{Lifecycle, OnTimeoutAction};
pub use list::{ListOptions, ListOrder, Pager, SandboxList, SnapshotList, SnapshotListOptions};
pub use logs::{LogLevel, LogsOptions, MAX_LOG_ENTRIES, SandboxLogEntry};
pub use mcp::{DEFAULT_MCP_TEMPLATE, McpServers};
pub use network::{
    ALL_TRAFFIC, EgressProxy, EgressProxyInfo, NetworkConfig, NetworkInfo, NetworkRule,
    NetworkTransform, NetworkUpdate,
};
pub use port::PortEndpoint;
pub use pty::{PTY_DEFAULT_ENVS, Pty, PtyConnectOptions, PtyHandle, PtyOptions, PtySize};
pub use sandbox::{
    ConnectOptions, DEBUG_SANDBOX_ID, DEFAULT_SANDBOX_TIMEOUT, DEFAULT_TEMPLATE, ForkOptions,
    MetricsOptions, PauseOptions, Sandbox, SandboxBuilder, SnapshotOptions,
};
#[cfg(e2b_spec = "secrets")]
pub use secrets::{Secret, SecretInfo, SecretList, SecretListOptions, SecretOptions, SecretValue};
