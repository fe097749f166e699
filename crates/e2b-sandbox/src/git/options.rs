//! Options of the git operations.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use e2b_core::SecretString;

/// What every git operation takes (upstream's `GitRequestOpts`): environment variables,
/// the working directory and a timeout. [`GitOptions`] carries only these, for operations
/// with nothing else to set; every other git options type has the same setters.
macro_rules! git_common_setters {
    ($($field:ident)?) => {
        /// Set one environment variable for this git command (added to
        /// `GIT_TERMINAL_PROMPT=0`, which it may override).
        #[must_use]
        pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
            self$(.$field)?.envs.insert(key.into(), value.into());
            self
        }

        /// Set environment variables for this git command.
        #[must_use]
        pub fn envs<I, K, V>(mut self, envs: I) -> Self
        where
            I: IntoIterator<Item = (K, V)>,
            K: Into<String>,
            V: Into<String>,
        {
            self$(.$field)?
                .envs
                .extend(envs.into_iter().map(|(k, v)| (k.into(), v.into())));
            self
        }

        /// Run git in `cwd` (default: the user's home). Relative repository paths are
        /// resolved against it.
        #[must_use]
        pub fn cwd(mut self, cwd: impl Into<String>) -> Self {
            self$(.$field)?.cwd = Some(cwd.into());
            self
        }

        /// Bound the git command by `timeout` (default: the commands' 60 s;
        /// `Duration::ZERO`: none).
        #[must_use]
        pub fn timeout(mut self, timeout: Duration) -> Self {
            self$(.$field)?.timeout = Some(timeout);
            self
        }
    };
}

/// The options every git operation takes: environment variables, working directory and
/// timeout. Used by the `_with` forms of operations that have no options of their own
/// (e.g. [`Git::status_with`](super::Git::status_with)).
///
/// ```
/// use std::time::Duration;
/// use e2b_sandbox::GitOptions;
/// let options = GitOptions::new()
///     .cwd("/home/user")
///     .envs([("GIT_SSH_COMMAND", "ssh -i key")])
///     .timeout(Duration::from_secs(120));
/// # let _ = options;
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct GitOptions {
    pub(crate) envs: HashMap<String, String>,
    pub(crate) cwd: Option<String>,
    pub(crate) timeout: Option<Duration>,
}

impl GitOptions {
    /// The defaults: no extra environment, the user's home, the commands' 60 s timeout.
    pub fn new() -> Self {
        Self::default()
    }

    git_common_setters!();
}

/// Environment variable names only: their values may be secrets.
impl fmt::Debug for GitOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitOptions")
            .field("envs", &self.envs.keys().collect::<Vec<_>>())
            .field("cwd", &self.cwd)
            .field("timeout", &self.timeout)
            .finish()
    }
}

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

/// Options of [`Git::clone_repo_with`](super::Git::clone_repo_with).
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
    /// Environment, working directory, timeout.
    pub(crate) common: GitOptions,
}

impl CloneOptions {
    git_common_setters!(common);

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

/// Options of [`Git::push_with`](super::Git::push_with) and [`Git::pull_with`](super::Git::pull_with).
///
/// With neither a remote nor a branch, git pushes or pulls the current branch's upstream.
/// With a branch alone, the remote is the default one: the branch's upstream remote
/// (`branch.<name>.remote`), else the repository's only remote, else `origin`.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct RemoteOptions {
    /// The remote (e.g. `origin`); see the type's documentation when `None`.
    pub remote: Option<String>,
    /// The branch.
    pub branch: Option<String>,
    /// Push with `--set-upstream` when a remote is pushed to (default on for push).
    pub set_upstream: Option<bool>,
    /// Credentials, used for this command only.
    pub credentials: Option<GitCredentials>,
    /// Environment, working directory, timeout.
    pub(crate) common: GitOptions,
}

impl RemoteOptions {
    git_common_setters!(common);

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

/// How [`Git::reset_with`](super::Git::reset_with) resets.
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

/// Where [`Git::set_config_with`](super::Git::set_config_with) writes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GitConfigScope {
    /// `--global` (the user's `~/.gitconfig`).
    #[default]
    Global,
    /// `--system`.
    System,
    /// `--local`: the repository at this path.
    Local(String),
}

/// Options of [`Git::init_with`](super::Git::init_with).
///
/// ```
/// use e2b_sandbox::InitOptions;
/// let options = InitOptions::new().bare(true).initial_branch("main");
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct InitOptions {
    /// Create a bare repository (`--bare`).
    pub bare: bool,
    /// The name of the first branch (`--initial-branch`); git's default when `None`.
    pub initial_branch: Option<String>,
    /// Environment, working directory, timeout.
    pub(crate) common: GitOptions,
}

impl InitOptions {
    git_common_setters!(common);

    /// The defaults: a repository with a working tree, git's default branch name.
    pub fn new() -> Self {
        Self::default()
    }
    /// Create a bare repository (or not).
    #[must_use]
    pub fn bare(mut self, on: bool) -> Self {
        self.bare = on;
        self
    }
    /// Name the first branch `branch`.
    #[must_use]
    pub fn initial_branch(mut self, branch: impl Into<String>) -> Self {
        self.initial_branch = Some(branch.into());
        self
    }
}

/// Options of [`Git::remote_add_with`](super::Git::remote_add_with).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct RemoteAddOptions {
    /// Fetch the remote once it is added.
    pub fetch: bool,
    /// Re-point a remote of that name that already exists instead of failing.
    pub overwrite: bool,
    /// Environment, working directory, timeout.
    pub(crate) common: GitOptions,
}

impl RemoteAddOptions {
    git_common_setters!(common);

    /// The defaults: no fetch, fail if the remote exists.
    pub fn new() -> Self {
        Self::default()
    }
    /// Fetch (or not) the remote once added.
    #[must_use]
    pub fn fetch(mut self, on: bool) -> Self {
        self.fetch = on;
        self
    }
    /// Re-point (or not) an existing remote of the same name.
    #[must_use]
    pub fn overwrite(mut self, on: bool) -> Self {
        self.overwrite = on;
        self
    }
}

/// Options of [`Git::delete_branch_with`](super::Git::delete_branch_with).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct DeleteBranchOptions {
    /// Delete even an unmerged branch (`-D` instead of `-d`).
    pub force: bool,
    /// Environment, working directory, timeout.
    pub(crate) common: GitOptions,
}

impl DeleteBranchOptions {
    git_common_setters!(common);

    /// The defaults: refuse to delete an unmerged branch.
    pub fn new() -> Self {
        Self::default()
    }
    /// Delete (or not) an unmerged branch too.
    #[must_use]
    pub fn force(mut self, on: bool) -> Self {
        self.force = on;
        self
    }
}

/// Options of [`Git::add_with`](super::Git::add_with).
///
/// ```
/// use e2b_sandbox::AddOptions;
/// let everything = AddOptions::new();
/// let two = AddOptions::new().files(["a.txt", "b.txt"]);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AddOptions {
    /// The files to stage; when empty, see [`all`](AddOptions::all).
    pub files: Vec<String>,
    /// Without files: stage every change of the repository (`git add -A`, the default) or
    /// only those under the current directory (`git add .`).
    pub all: bool,
    /// Environment, working directory, timeout.
    pub(crate) common: GitOptions,
}

impl Default for AddOptions {
    fn default() -> Self {
        AddOptions {
            files: Vec::new(),
            all: true,
            common: GitOptions::default(),
        }
    }
}

impl AddOptions {
    git_common_setters!(common);

    /// The defaults: stage every change (`git add -A`).
    pub fn new() -> Self {
        Self::default()
    }
    /// Stage these files only.
    #[must_use]
    pub fn files<I, S>(mut self, files: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.files = files.into_iter().map(Into::into).collect();
        self
    }
    /// Without files, stage every change (`true`) or those under the current directory.
    #[must_use]
    pub fn all(mut self, on: bool) -> Self {
        self.all = on;
        self
    }
}

/// Options of [`Git::commit_with`](super::Git::commit_with).
///
/// ```
/// use e2b_sandbox::CommitOptions;
/// let options = CommitOptions::new().author("Ann", "ann@example.com").allow_empty(true);
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct CommitOptions {
    /// The author's name (`-c user.name=…`); the configured one when `None`.
    pub author_name: Option<String>,
    /// The author's email (`-c user.email=…`); the configured one when `None`.
    pub author_email: Option<String>,
    /// Commit even with nothing staged (`--allow-empty`).
    pub allow_empty: bool,
    /// Environment, working directory, timeout.
    pub(crate) common: GitOptions,
}

impl CommitOptions {
    git_common_setters!(common);

    /// The defaults: the configured author, nothing-to-commit is an error.
    pub fn new() -> Self {
        Self::default()
    }
    /// Commit as `name` <`email`>.
    #[must_use]
    pub fn author(mut self, name: impl Into<String>, email: impl Into<String>) -> Self {
        self.author_name = Some(name.into());
        self.author_email = Some(email.into());
        self
    }
    /// Set the author's name only.
    #[must_use]
    pub fn author_name(mut self, name: impl Into<String>) -> Self {
        self.author_name = Some(name.into());
        self
    }
    /// Set the author's email only.
    #[must_use]
    pub fn author_email(mut self, email: impl Into<String>) -> Self {
        self.author_email = Some(email.into());
        self
    }
    /// Allow (or not) a commit without changes.
    #[must_use]
    pub fn allow_empty(mut self, on: bool) -> Self {
        self.allow_empty = on;
        self
    }
}

/// Options of [`Git::reset_with`](super::Git::reset_with).
///
/// ```
/// use e2b_sandbox::{GitResetMode, ResetOptions};
/// let options = ResetOptions::new().mode(GitResetMode::Hard).target("HEAD~1");
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ResetOptions {
    /// How to reset; git's default (`--mixed`) when `None`.
    pub mode: Option<GitResetMode>,
    /// The commit, branch or ref to reset to; `HEAD` when `None`.
    pub target: Option<String>,
    /// Reset only these paths.
    pub paths: Vec<String>,
    /// Environment, working directory, timeout.
    pub(crate) common: GitOptions,
}

impl ResetOptions {
    git_common_setters!(common);

    /// The defaults: `git reset`.
    pub fn new() -> Self {
        Self::default()
    }
    /// Reset with `mode`.
    #[must_use]
    pub fn mode(mut self, mode: GitResetMode) -> Self {
        self.mode = Some(mode);
        self
    }
    /// Reset to `target`.
    #[must_use]
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }
    /// Reset only `paths`.
    #[must_use]
    pub fn paths<I, S>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.paths = paths.into_iter().map(Into::into).collect();
        self
    }
}

/// Options of [`Git::restore_with`](super::Git::restore_with).
///
/// Neither `staged` nor `worktree` set restores the working tree; `staged` alone only the
/// index (unstaging); `worktree` alone only the working tree.
///
/// ```
/// use e2b_sandbox::RestoreOptions;
/// let unstage = RestoreOptions::new().staged(true);
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct RestoreOptions {
    /// Restore the index (`--staged`).
    pub staged: Option<bool>,
    /// Restore the working tree (`--worktree`).
    pub worktree: Option<bool>,
    /// Restore from this commit, branch or ref (`--source`).
    pub source: Option<String>,
    /// Environment, working directory, timeout.
    pub(crate) common: GitOptions,
}

impl RestoreOptions {
    git_common_setters!(common);

    /// The defaults: restore the working tree from the index.
    pub fn new() -> Self {
        Self::default()
    }
    /// Restore (or not) the index.
    #[must_use]
    pub fn staged(mut self, on: bool) -> Self {
        self.staged = Some(on);
        self
    }
    /// Restore (or not) the working tree.
    #[must_use]
    pub fn worktree(mut self, on: bool) -> Self {
        self.worktree = Some(on);
        self
    }
    /// Restore from `source`.
    #[must_use]
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// `(staged, worktree)` as upstream resolves them; `None` when both are off.
    pub(crate) fn resolve(&self) -> Option<(bool, bool)> {
        let (staged, worktree) = match (self.staged, self.worktree) {
            (None, None) => (false, true),
            (Some(true), None) => (true, false),
            (Some(false), None) => (false, true),
            (None, Some(worktree)) => (false, worktree),
            (Some(staged), Some(worktree)) => (staged, worktree),
        };
        (staged || worktree).then_some((staged, worktree))
    }
}

/// Options of [`Git::set_config_with`](super::Git::set_config_with),
/// [`Git::config_with`](super::Git::config_with) and
/// [`Git::configure_user_with`](super::Git::configure_user_with).
///
/// ```
/// use e2b_sandbox::ConfigOptions;
/// let global = ConfigOptions::new();
/// let repo = ConfigOptions::new().local("/home/user/repo");
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ConfigOptions {
    /// Which configuration file (default [`GitConfigScope::Global`]).
    pub scope: GitConfigScope,
    /// Environment, working directory, timeout.
    pub(crate) common: GitOptions,
}

impl ConfigOptions {
    git_common_setters!(common);

    /// The defaults: the user's global configuration.
    pub fn new() -> Self {
        Self::default()
    }
    /// Use `scope`.
    #[must_use]
    pub fn scope(mut self, scope: GitConfigScope) -> Self {
        self.scope = scope;
        self
    }
    /// The repository at `path` (`--local`).
    #[must_use]
    pub fn local(self, path: impl Into<String>) -> Self {
        self.scope(GitConfigScope::Local(path.into()))
    }
    /// The system's configuration (`--system`).
    #[must_use]
    pub fn system(self) -> Self {
        self.scope(GitConfigScope::System)
    }
}

/// Options of [`Git::dangerously_authenticate_with`](super::Git::dangerously_authenticate_with).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AuthenticateOptions {
    /// The host the credentials are for (default `github.com`; with a port if not the
    /// protocol's default).
    pub host: String,
    /// The protocol they are for (default `https`).
    pub protocol: String,
    /// Environment, working directory, timeout.
    pub(crate) common: GitOptions,
}

impl Default for AuthenticateOptions {
    fn default() -> Self {
        AuthenticateOptions {
            host: "github.com".to_owned(),
            protocol: "https".to_owned(),
            common: GitOptions::default(),
        }
    }
}

impl AuthenticateOptions {
    git_common_setters!(common);

    /// The defaults: `https://github.com`.
    pub fn new() -> Self {
        Self::default()
    }
    /// For `host`.
    #[must_use]
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }
    /// For `protocol`.
    #[must_use]
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = protocol.into();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_targets_follow_upstream() {
        let r = |staged, worktree| RestoreOptions {
            staged,
            worktree,
            source: None,
            common: GitOptions::default(),
        };
        assert_eq!(r(None, None).resolve(), Some((false, true)));
        assert_eq!(r(Some(true), None).resolve(), Some((true, false)));
        assert_eq!(r(None, Some(true)).resolve(), Some((false, true)));
        assert_eq!(r(Some(true), Some(true)).resolve(), Some((true, true)));
        assert_eq!(r(Some(false), Some(false)).resolve(), None);
        assert_eq!(r(None, Some(false)).resolve(), None);
    }
}
