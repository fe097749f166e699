//! Errors of starting and running the server.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API key does not have the form the SDKs accept.
    #[error("invalid API key: expected `e2b_` followed by lower-case hex digits")]
    InvalidApiKey,
    /// `bwrap` is not installed.
    #[error(
        "bubblewrap (`bwrap`) was not found in PATH; install it (Debian/Ubuntu: `apt-get install bubblewrap`, Fedora: `dnf install bubblewrap`) and see `e2b-local doctor`"
    )]
    BubblewrapNotFound,
    /// `bwrap` is installed but cannot create sandboxes on this host.
    #[error("bubblewrap cannot create sandboxes on this host: {0}; see `e2b-local doctor`")]
    BubblewrapUnusable(String),
    /// The sandboxes' isolation (user namespace, seccomp filter) cannot be set up.
    #[error("cannot isolate sandboxes on this host: {0}; see `e2b-local doctor`")]
    Isolation(String),
    /// The agent binary (`e2b-local` itself) was not found.
    #[error(
        "the sandbox agent binary `e2b-local` was not found (looked at: {searched}); build it with `cargo build -p e2b-local` or set E2B_LOCAL_BIN"
    )]
    AgentNotFound {
        /// The paths that were tried.
        searched: String,
    },
    /// The data directory could not be created or used.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The data directory's path is too long for the sandboxes' Unix sockets.
    #[error(
        "data directory path {0} is too long for Unix sockets (at most about 60 characters); choose a shorter one"
    )]
    DataDirTooLong(PathBuf),
    /// Reloading state from the data directory failed.
    #[error("cannot open the data directory: {0}")]
    State(String),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: io::Error,
    },
}
