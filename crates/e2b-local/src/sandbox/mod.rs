//! Sandboxes: records, isolation, the agent process, lifecycle and snapshots.

pub(crate) mod agent_exec;
pub(crate) mod agent_link;
pub(crate) mod bwrap;
pub(crate) mod cgroup;
pub(crate) mod child_fds;
pub(crate) mod disk;
pub(crate) mod freeze;
pub(crate) mod fs_copy;
pub(crate) mod host_base;
pub(crate) mod idmap;
pub(crate) mod instance;
pub(crate) mod isolation;
pub(crate) mod layer_capture;
pub(crate) mod layout;
pub(crate) mod lifecycle;
pub(crate) mod manager;
pub(crate) mod metrics;
pub(crate) mod network;
pub(crate) mod procs;
pub(crate) mod record;
pub(crate) mod rootless;
pub(crate) mod seccomp;
pub(crate) mod spawner;
pub(crate) mod stage;
pub(crate) mod userns;

use std::io;

pub use manager::WarmPoolStatus;
pub(crate) use manager::{Manager, ManagerConfig, SandboxSpec, TrafficTarget};

/// What can go wrong with a sandbox operation.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SandboxError {
    /// No such sandbox (never existed, killed, or ended with a previous server run).
    #[error("sandbox {0} not found")]
    NotFound(String),
    /// No such template or snapshot.
    #[error("template '{0}' not found")]
    TemplateNotFound(String),
    /// A built-in template this server cannot run (what is missing, and how to fix it).
    #[error("template '{template}' is not available on this server: {reason}")]
    TemplateUnavailable {
        /// The template.
        template: String,
        /// Why, with the fix.
        reason: String,
    },
    /// Pausing a paused sandbox.
    #[error("sandbox {0} is already paused")]
    AlreadyPaused(String),
    /// Resuming a running sandbox.
    #[error("sandbox {0} is already running")]
    AlreadyRunning(String),
    /// The request is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The sandbox's processes could not be started.
    #[error("{0}")]
    Launch(#[from] instance::LaunchError),
    /// The sandbox's network cannot be provided.
    #[error(transparent)]
    Network(#[from] network::NetworkError),
    /// Persisting state failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A filesystem or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: io::Error,
    },
}

impl SandboxError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}
