//! Options of sandbox lifecycle operations.

use std::time::{Duration, SystemTime};

use super::builder::DEFAULT_SANDBOX_TIMEOUT;

/// Options of [`Sandbox::connect_with`](crate::Sandbox::connect_with) and
/// [`Sandbox::resume`](crate::Sandbox::resume).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct ConnectOptions {
    /// The sandbox's timeout from now (default 300 s). A running sandbox's timeout is only
    /// ever extended by connecting, never shortened.
    pub timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout: DEFAULT_SANDBOX_TIMEOUT,
        }
    }
}

impl ConnectOptions {
    /// A 300 s timeout.
    pub fn new() -> Self {
        ConnectOptions::default()
    }

    /// Set the timeout; `Duration::ZERO` means the default.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Options of [`Sandbox::pause`](crate::Sandbox::pause).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct PauseOptions {
    /// Keep the memory (`true`, the default): resuming continues every process. `false`
    /// keeps only the filesystem: resuming cold-boots the sandbox.
    pub keep_memory: bool,
}

impl Default for PauseOptions {
    fn default() -> Self {
        PauseOptions { keep_memory: true }
    }
}

impl PauseOptions {
    /// Keep memory.
    pub fn new() -> Self {
        PauseOptions::default()
    }

    /// Set whether memory is kept.
    pub fn keep_memory(mut self, keep: bool) -> Self {
        self.keep_memory = keep;
        self
    }
}

/// Options of [`Sandbox::fork`](crate::Sandbox::fork).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct ForkOptions {
    /// How many forks to start (at least 1; default 1).
    pub count: u32,
    /// The forks' timeout (default 300 s).
    pub timeout: Duration,
}

impl Default for ForkOptions {
    fn default() -> Self {
        ForkOptions {
            count: 1,
            timeout: DEFAULT_SANDBOX_TIMEOUT,
        }
    }
}

impl ForkOptions {
    /// One fork with a 300 s timeout.
    pub fn new() -> Self {
        ForkOptions::default()
    }

    /// Set the number of forks.
    pub fn count(mut self, count: u32) -> Self {
        self.count = count;
        self
    }

    /// Set the forks' timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Options of [`Sandbox::metrics`](crate::Sandbox::metrics): the time range (default: from
/// the sandbox's start until now).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct MetricsOptions {
    /// The earliest sample.
    pub start: Option<SystemTime>,
    /// The latest sample.
    pub end: Option<SystemTime>,
}

impl MetricsOptions {
    /// The whole life of the sandbox.
    pub fn new() -> Self {
        MetricsOptions::default()
    }

    /// Samples from `start`.
    pub fn start(mut self, start: SystemTime) -> Self {
        self.start = Some(start);
        self
    }

    /// Samples until `end`.
    pub fn end(mut self, end: SystemTime) -> Self {
        self.end = Some(end);
        self
    }
}

/// Options of [`Sandbox::create_snapshot`](crate::Sandbox::create_snapshot).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct SnapshotOptions {
    /// A name for the snapshot.
    pub name: Option<String>,
}

impl SnapshotOptions {
    /// An unnamed snapshot.
    pub fn new() -> Self {
        SnapshotOptions::default()
    }

    /// Name the snapshot.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}
