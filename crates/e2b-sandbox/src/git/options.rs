//! Options of the git operations.

use e2b_core::SecretString;

/// A user name and password (or token) for an http(s) remote.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GitCredentials {
    /// The user name.
    pub username: String,
    /// The password or token; never printed.
    pub password: SecretString,
}

impl GitCredentials {
    /// Credentials from a user name and a password or token.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        GitCredentials {
            username: username.into(),
            password: SecretString::from(password.into()),
        }
    }
}

/// Options of [`Git::clone_repo`](super::Git::clone_repo).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct CloneOptions {
    /// Where to clone; git's default (the repository's name) when `None`.
    pub path: Option<String>,
    /// Check out only this branch.
    pub branch: Option<String>,
    /// Shallow clone of this many commits.
    pub depth: Option<u32>,
    /// Credentials for an http(s) URL.
    pub credentials: Option<GitCredentials>,
    /// Leave the credentials in the clone's remote URL (off by default).
    pub dangerously_store_credentials: bool,
}

impl CloneOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Clone into `path`.
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }
    /// Check out only `branch`.
    #[must_use]
    pub fn branch(mut self, branch: impl Into<String>) -> Self {
        self.branch = Some(branch.into());
        self
    }
    /// Fetch only `depth` commits.
    #[must_use]
    pub fn depth(mut self, depth: u32) -> Self {
        self.depth = Some(depth);
        self
    }
    /// Authenticate with `credentials`.
    #[must_use]
    pub fn credentials(mut self, credentials: GitCredentials) -> Self {
        self.credentials = Some(credentials);
        self
    }
    /// Keep the credentials in the remote URL in `.git/config`.
    #[must_use]
    pub fn dangerously_store_credentials(mut self, on: bool) -> Self {
        self.dangerously_store_credentials = on;
        self
    }
}

/// Options of [`Git::push`](super::Git::push) and [`Git::pull`](super::Git::pull).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct RemoteOptions {
    /// The remote; the only one when `None`.
    pub remote: Option<String>,
    /// The branch.
    pub branch: Option<String>,
    /// Push with `--set-upstream` (default on for push).
    pub set_upstream: Option<bool>,
    /// Credentials, used for this command only.
    pub credentials: Option<GitCredentials>,
}

impl RemoteOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Use `remote`.
    #[must_use]
    pub fn remote(mut self, remote: impl Into<String>) -> Self {
        self.remote = Some(remote.into());
        self
    }
    /// Use `branch`.
    #[must_use]
    pub fn branch(mut self, branch: impl Into<String>) -> Self {
        self.branch = Some(branch.into());
        self
    }
    /// Set (or not) the upstream when pushing.
    #[must_use]
    pub fn set_upstream(mut self, on: bool) -> Self {
        self.set_upstream = Some(on);
        self
    }
    /// Authenticate with `credentials` for this command only.
    #[must_use]
    pub fn credentials(mut self, credentials: GitCredentials) -> Self {
        self.credentials = Some(credentials);
        self
    }
}

/// How [`Git::reset`](super::Git::reset) resets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GitResetMode {
    /// `--soft`.
    Soft,
    /// `--mixed`.
    Mixed,
    /// `--hard`.
    Hard,
    /// `--merge`.
    Merge,
    /// `--keep`.
    Keep,
}

impl GitResetMode {
    pub(crate) fn flag(self) -> &'static str {
        match self {
            GitResetMode::Soft => "--soft",
            GitResetMode::Mixed => "--mixed",
            GitResetMode::Hard => "--hard",
            GitResetMode::Merge => "--merge",
            GitResetMode::Keep => "--keep",
        }
    }
}

/// Where [`Git::set_config`](super::Git::set_config) writes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GitConfigScope {
    /// `--global` (the user's `~/.gitconfig`).
    Global,
    /// `--system`.
    System,
    /// `--local`: the repository at this path.
    Local(String),
}
