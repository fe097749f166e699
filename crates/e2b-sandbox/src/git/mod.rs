//! Git in the sandbox: each operation runs `git` through [`Commands`](crate::Commands)
//! with every argument shell-quoted and `GIT_TERMINAL_PROMPT=0`.

mod options;
mod quote;
mod status;

use e2b_core::{Error, ExposeSecret as _, Result};
use tracing::Instrument as _;

use crate::{CommandOptions, CommandResult, Sandbox};

pub use options::{
    AddOptions, AuthenticateOptions, CloneOptions, CommitOptions, ConfigOptions,
    DeleteBranchOptions, GitConfigScope, GitCredentials, GitOptions, GitResetMode, InitOptions,
    RemoteAddOptions, RemoteOptions, ResetOptions, RestoreOptions,
};
pub use status::{GitBranches, GitFileStatus, GitStatus, GitStatusLabel};

use quote::{classify, shell_quote, with_credentials, without_credentials};

/// Git operations in one sandbox ([`Sandbox::git`]).
///
/// Failures are typed: [`Error::is_git_auth`] when the remote refused the credentials,
/// [`Error::is_git_upstream`] when a push or pull has no upstream (or no remote at all),
/// otherwise [`Error::is_command_exit`] with git's output.
///
/// ```no_run
/// # async fn f(sandbox: &e2b_sandbox::Sandbox) -> e2b_sandbox::Result<()> {
/// use e2b_sandbox::{CloneOptions, CommitOptions, GitCredentials, RemoteOptions};
/// let git = sandbox.git();
/// let creds = GitCredentials::new("me", "token");
/// git.clone_repo_with(
///     "https://example.com/r.git",
///     CloneOptions::new().path("/home/user/r").credentials(creds.clone()),
/// )
/// .await?;
/// git.configure_user("Me", "me@example.com").await?;
/// git.add("/home/user/r").await?;
/// git.commit_with("r", "change", CommitOptions::new().cwd("/home/user")).await?;
/// git.push_with("/home/user/r", RemoteOptions::new().credentials(creds)).await?;
/// # Ok(()) }
/// ```
/// Every operation has a short form taking only its required inputs and a `_with` form
/// taking its options too; every options type carries the [common git options](GitOptions)
/// (environment, working directory, timeout). Git runs as the sandbox handle's user
/// ([`Sandbox::with_user`]).
#[derive(Clone, Debug)]
pub struct Git<'a> {
    sandbox: &'a Sandbox,
    common: GitOptions,
}

impl<'a> Git<'a> {
    pub(crate) fn new(sandbox: &'a Sandbox) -> Self {
        Git {
            sandbox,
            common: GitOptions::default(),
        }
    }

    /// This handle, running its git commands with `common`'s environment, directory and
    /// timeout.
    fn scoped(&self, common: &GitOptions) -> Git<'a> {
        Git {
            sandbox: self.sandbox,
            common: common.clone(),
        }
    }

    async fn run_line(&self, op: &'static str, line: String) -> Result<CommandResult> {
        let mut options = CommandOptions::new()
            .env("GIT_TERMINAL_PROMPT", "0")
            .envs(self.common.envs.clone());
        if let Some(cwd) = &self.common.cwd {
            options = options.cwd(cwd.clone());
        }
        if let Some(timeout) = self.common.timeout {
            options = options.timeout(timeout);
        }
        let span = tracing::info_span!("e2b.git", op, sandbox_id = %self.sandbox.id());
        self.sandbox
            .commands()
            .run_with(&line, options)
            .instrument(span)
            .await
            .map_err(classify)
    }

    /// `git [-C repo] args…`, every argument quoted.
    async fn git(
        &self,
        op: &'static str,
        repo: Option<&str>,
        args: &[&str],
    ) -> Result<CommandResult> {
        self.run_line(op, git_line(repo, args)).await
    }

    /// Clone `url`. With credentials and without
    /// [`dangerously_store_credentials`](CloneOptions::dangerously_store_credentials), the
    /// remote URL is reset to the bare URL afterwards so nothing secret stays in
    /// `.git/config`.
    ///
    /// # Errors
    ///
    /// Invalid argument for credentials on a non-http(s) URL; a git auth error when the
    /// remote refuses them; a command exit error otherwise.
    pub async fn clone_repo(&self, url: &str) -> Result<CommandResult> {
        self.clone_repo_with(url, CloneOptions::new()).await
    }

    /// [`clone_repo`](Self::clone_repo) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`clone_repo`](Self::clone_repo).
    pub async fn clone_repo_with(&self, url: &str, options: CloneOptions) -> Result<CommandResult> {
        let git = self.scoped(&options.common);
        let clone_url = match &options.credentials {
            Some(c) => with_credentials(url, &c.username, c.password.expose_secret())?,
            None => url.to_owned(),
        };
        let path = match (&options.path, &options.credentials) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(_)) => Some(repo_dir_from_url(url)?),
            (None, None) => None,
        };
        let depth = options.depth.map(|d| d.to_string());
        let mut args = vec!["clone", clone_url.as_str()];
        if let Some(branch) = &options.branch {
            args.extend(["--branch", branch, "--single-branch"]);
        }
        if let Some(depth) = &depth {
            args.extend(["--depth", depth]);
        }
        if let Some(path) = &path {
            args.push(path);
        }
        let result = git.git("clone", None, &args).await?;
        if options.credentials.is_some()
            && !options.dangerously_store_credentials
            && let Some(path) = &path
        {
            let bare = without_credentials(url);
            git.git("clone", Some(path), &["remote", "set-url", "origin", &bare])
                .await?;
        }
        Ok(result)
    }

    /// `git init [--initial-branch B] [--bare] path`.
    ///
    /// # Errors
    ///
    /// A command exit error.
    pub async fn init(&self, path: &str) -> Result<CommandResult> {
        self.init_with(path, InitOptions::new()).await
    }

    /// [`init`](Self::init) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`init`](Self::init).
    pub async fn init_with(&self, path: &str, options: InitOptions) -> Result<CommandResult> {
        let git = self.scoped(&options.common);
        let mut args = vec!["init"];
        if let Some(branch) = &options.initial_branch {
            args.extend(["--initial-branch", branch]);
        }
        if options.bare {
            args.push("--bare");
        }
        args.push(path);
        git.git("init", None, &args).await
    }

    /// Add remote `name` at `url`; with [`overwrite`](RemoteAddOptions::overwrite) an
    /// existing one is re-pointed; with [`fetch`](RemoteAddOptions::fetch) it is fetched.
    ///
    /// # Errors
    ///
    /// Invalid argument for an empty name or URL; a command exit error.
    pub async fn remote_add(&self, path: &str, name: &str, url: &str) -> Result<CommandResult> {
        self.remote_add_with(path, name, url, RemoteAddOptions::new())
            .await
    }

    /// [`remote_add`](Self::remote_add) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`remote_add`](Self::remote_add).
    pub async fn remote_add_with(
        &self,
        path: &str,
        name: &str,
        url: &str,
        options: RemoteAddOptions,
    ) -> Result<CommandResult> {
        let git = self.scoped(&options.common);
        if name.is_empty() || url.is_empty() {
            return Err(Error::invalid_argument(
                "both the remote's name and URL are required",
            ));
        }
        let RemoteAddOptions {
            fetch, overwrite, ..
        } = options;
        let add = git_line(Some(path), &["remote", "add", name, url]);
        let mut line = if overwrite {
            format!(
                "{add} || {}",
                git_line(Some(path), &["remote", "set-url", name, url])
            )
        } else {
            add
        };
        if fetch {
            line = format!("({line}) && {}", git_line(Some(path), &["fetch", name]));
        }
        git.run_line("remote_add", line).await
    }

    /// The URL of remote `name`, `None` if there is none.
    ///
    /// # Errors
    ///
    /// A command error.
    pub async fn remote_get(&self, path: &str, name: &str) -> Result<Option<String>> {
        self.remote_get_with(path, name, GitOptions::new()).await
    }

    /// [`remote_get`](Self::remote_get) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`remote_get`](Self::remote_get).
    pub async fn remote_get_with(
        &self,
        path: &str,
        name: &str,
        options: GitOptions,
    ) -> Result<Option<String>> {
        let git = self.scoped(&options);
        git.remote_url(path, name).await
    }

    async fn remote_url(&self, path: &str, name: &str) -> Result<Option<String>> {
        let line = format!(
            "{} || true",
            git_line(Some(path), &["remote", "get-url", name])
        );
        let out = self.run_line("remote_get", line).await?;
        Ok(non_empty(&out.stdout))
    }

    /// The parsed `git status`.
    ///
    /// # Errors
    ///
    /// A command exit error (e.g. not a repository).
    pub async fn status(&self, path: &str) -> Result<GitStatus> {
        self.status_with(path, GitOptions::new()).await
    }

    /// [`status`](Self::status) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`status`](Self::status).
    pub async fn status_with(&self, path: &str, options: GitOptions) -> Result<GitStatus> {
        let git = self.scoped(&options);
        let out = git
            .git("status", Some(path), &["status", "--porcelain=1", "-b"])
            .await?;
        Ok(status::parse_status(&out.stdout))
    }

    /// The local branches and the current one.
    ///
    /// # Errors
    ///
    /// A command exit error.
    pub async fn branches(&self, path: &str) -> Result<GitBranches> {
        self.branches_with(path, GitOptions::new()).await
    }

    /// [`branches`](Self::branches) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`branches`](Self::branches).
    pub async fn branches_with(&self, path: &str, options: GitOptions) -> Result<GitBranches> {
        let git = self.scoped(&options);
        let out = git
            .git(
                "branches",
                Some(path),
                &["branch", "--format=%(refname:short)\t%(HEAD)"],
            )
            .await?;
        Ok(status::parse_branches(&out.stdout))
    }

    /// `git checkout -b branch`.
    ///
    /// # Errors
    ///
    /// A command exit error.
    pub async fn create_branch(&self, path: &str, branch: &str) -> Result<CommandResult> {
        self.create_branch_with(path, branch, GitOptions::new())
            .await
    }

    /// [`create_branch`](Self::create_branch) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`create_branch`](Self::create_branch).
    pub async fn create_branch_with(
        &self,
        path: &str,
        branch: &str,
        options: GitOptions,
    ) -> Result<CommandResult> {
        let git = self.scoped(&options);
        git.git("create_branch", Some(path), &["checkout", "-b", branch])
            .await
    }

    /// `git checkout branch`.
    ///
    /// # Errors
    ///
    /// A command exit error.
    pub async fn checkout_branch(&self, path: &str, branch: &str) -> Result<CommandResult> {
        self.checkout_branch_with(path, branch, GitOptions::new())
            .await
    }

    /// [`checkout_branch`](Self::checkout_branch) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`checkout_branch`](Self::checkout_branch).
    pub async fn checkout_branch_with(
        &self,
        path: &str,
        branch: &str,
        options: GitOptions,
    ) -> Result<CommandResult> {
        let git = self.scoped(&options);
        git.git("checkout_branch", Some(path), &["checkout", branch])
            .await
    }

    /// `git branch -d branch` (`-D` with [`force`](DeleteBranchOptions::force)).
    ///
    /// # Errors
    ///
    /// A command exit error.
    pub async fn delete_branch(&self, path: &str, branch: &str) -> Result<CommandResult> {
        self.delete_branch_with(path, branch, DeleteBranchOptions::new())
            .await
    }

    /// [`delete_branch`](Self::delete_branch) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`delete_branch`](Self::delete_branch).
    pub async fn delete_branch_with(
        &self,
        path: &str,
        branch: &str,
        options: DeleteBranchOptions,
    ) -> Result<CommandResult> {
        let git = self.scoped(&options.common);
        let flag = if options.force { "-D" } else { "-d" };
        git.git("delete_branch", Some(path), &["branch", flag, branch])
            .await
    }

    /// Stage [`files`](AddOptions::files), or every change (`git add -A`; `git add .`
    /// without [`all`](AddOptions::all)) when there are none.
    ///
    /// # Errors
    ///
    /// A command exit error.
    pub async fn add(&self, path: &str) -> Result<CommandResult> {
        self.add_with(path, AddOptions::new()).await
    }

    /// [`add`](Self::add) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`add`](Self::add).
    pub async fn add_with(&self, path: &str, options: AddOptions) -> Result<CommandResult> {
        let git = self.scoped(&options.common);
        let mut args = vec!["add"];
        if options.files.is_empty() {
            args.push(if options.all { "-A" } else { "." });
        } else {
            args.push("--");
            args.extend(options.files.iter().map(String::as_str));
        }
        git.git("add", Some(path), &args).await
    }

    /// Commit the staged changes with `message`.
    ///
    /// # Errors
    ///
    /// A command exit error (e.g. nothing to commit without
    /// [`allow_empty`](CommitOptions::allow_empty)).
    pub async fn commit(&self, path: &str, message: &str) -> Result<CommandResult> {
        self.commit_with(path, message, CommitOptions::new()).await
    }

    /// [`commit`](Self::commit) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`commit`](Self::commit).
    pub async fn commit_with(
        &self,
        path: &str,
        message: &str,
        options: CommitOptions,
    ) -> Result<CommandResult> {
        let git = self.scoped(&options.common);
        let name = options.author_name.map(|n| format!("user.name={n}"));
        let email = options.author_email.map(|e| format!("user.email={e}"));
        let mut args = Vec::new();
        for setting in [&name, &email].into_iter().flatten() {
            args.extend(["-c", setting.as_str()]);
        }
        args.extend(["commit", "-m", message]);
        if options.allow_empty {
            args.push("--allow-empty");
        }
        git.git("commit", Some(path), &args).await
    }

    /// `git reset [--mode] [target] [-- paths]`.
    ///
    /// # Errors
    ///
    /// A command exit error.
    pub async fn reset(&self, path: &str) -> Result<CommandResult> {
        self.reset_with(path, ResetOptions::new()).await
    }

    /// [`reset`](Self::reset) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`reset`](Self::reset).
    pub async fn reset_with(&self, path: &str, options: ResetOptions) -> Result<CommandResult> {
        let git = self.scoped(&options.common);
        let mut args = vec!["reset"];
        if let Some(mode) = options.mode {
            args.push(mode.flag());
        }
        if let Some(target) = &options.target {
            args.push(target);
        }
        if !options.paths.is_empty() {
            args.push("--");
            args.extend(options.paths.iter().map(String::as_str));
        }
        git.git("reset", Some(path), &args).await
    }

    /// `git restore` of `paths` (at least one; `"."` for all) in the working tree and/or
    /// the index, as [`RestoreOptions`] says.
    ///
    /// # Errors
    ///
    /// Invalid argument without paths or with both targets off; a command exit error.
    pub async fn restore(&self, path: &str, paths: &[&str]) -> Result<CommandResult> {
        self.restore_with(path, paths, RestoreOptions::new()).await
    }

    /// [`restore`](Self::restore) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`restore`](Self::restore).
    pub async fn restore_with(
        &self,
        path: &str,
        paths: &[&str],
        options: RestoreOptions,
    ) -> Result<CommandResult> {
        let git = self.scoped(&options.common);
        if paths.is_empty() {
            return Err(Error::invalid_argument("restore needs at least one path"));
        }
        let Some((staged, worktree)) = options.resolve() else {
            return Err(Error::invalid_argument(
                "restore needs staged or worktree (or both) on",
            ));
        };
        let mut args = vec!["restore"];
        if worktree {
            args.push("--worktree");
        }
        if staged {
            args.push("--staged");
        }
        if let Some(source) = &options.source {
            args.extend(["--source", source]);
        }
        args.push("--");
        args.extend_from_slice(paths);
        git.git("restore", Some(path), &args).await
    }

    /// `git push [--set-upstream] [remote] [branch]`. Credentials are put in the remote
    /// URL for this push only and removed afterwards, even when the push fails. A branch
    /// without a remote goes to the default remote ([`RemoteOptions`]); neither pushes the
    /// current branch to its upstream.
    ///
    /// # Errors
    ///
    /// A git upstream error when there is nowhere to push (no upstream, no remote); a git
    /// auth error when the remote refuses; invalid argument when credentials or a branch
    /// leave the remote ambiguous; a command exit error otherwise.
    pub async fn push(&self, path: &str) -> Result<CommandResult> {
        self.push_with(path, RemoteOptions::new()).await
    }

    /// [`push`](Self::push) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`push`](Self::push).
    pub async fn push_with(&self, path: &str, options: RemoteOptions) -> Result<CommandResult> {
        let git = self.scoped(&options.common);
        let remote = git.resolve_remote(path, &options).await?;
        let mut args = vec!["push"];
        if remote.is_some() && options.set_upstream.unwrap_or(true) {
            args.push("--set-upstream");
        }
        if let Some(r) = &remote {
            args.push(r);
        }
        if let Some(b) = &options.branch {
            args.push(b);
        }
        git.with_remote_credentials(path, remote.as_deref(), &options, "push", &args)
            .await
    }

    /// `git pull [remote] [branch]`. Without a remote and branch the current branch must
    /// have an upstream; a branch without a remote comes from the default remote
    /// ([`RemoteOptions`]).
    ///
    /// # Errors
    ///
    /// A git upstream error when there is none; a git auth error when the remote refuses;
    /// invalid argument when credentials or a branch leave the remote ambiguous.
    pub async fn pull(&self, path: &str) -> Result<CommandResult> {
        self.pull_with(path, RemoteOptions::new()).await
    }

    /// [`pull`](Self::pull) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`pull`](Self::pull).
    pub async fn pull_with(&self, path: &str, options: RemoteOptions) -> Result<CommandResult> {
        let git = self.scoped(&options.common);
        if options.remote.is_none() && options.branch.is_none() {
            let line = git_line(
                Some(path),
                &["rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{u}"],
            );
            if let Err(e) = git.run_line("pull", line).await {
                return Err(if e.is_command_exit() {
                    no_upstream(
                        "the current branch has no upstream branch; name a remote and branch, or push with set_upstream",
                    )
                } else {
                    e
                });
            }
        }
        let remote = git.resolve_remote(path, &options).await?;
        let mut args = vec!["pull"];
        if let Some(r) = &remote {
            args.push(r);
        }
        if let Some(b) = &options.branch {
            args.push(b);
        }
        git.with_remote_credentials(path, remote.as_deref(), &options, "pull", &args)
            .await
    }

    /// The remote to name on the command line: the given one; else, when a branch or
    /// credentials need one, the default remote; else none (git uses the upstream).
    async fn resolve_remote(&self, path: &str, options: &RemoteOptions) -> Result<Option<String>> {
        if let Some(r) = &options.remote {
            return Ok(Some(r.clone()));
        }
        if options.credentials.is_none() && options.branch.is_none() {
            return Ok(None);
        }
        // The upstream remote of the branch (the given one, else the current one), else
        // the list of remotes.
        let branch_remote = match &options.branch {
            Some(branch) => git_line(
                Some(path),
                &["config", "--get", &format!("branch.{branch}.remote")],
            ),
            None => format!(
                "{} --get \"branch.$({} symbolic-ref --short -q HEAD).remote\"",
                git_line(Some(path), &["config"]),
                git_line(Some(path), &[]),
            ),
        };
        let line = format!("{branch_remote} || {}", git_line(Some(path), &["remote"]));
        let out = self.run_line("remote", line).await?;
        let remotes: Vec<&str> = out
            .stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        match remotes.as_slice() {
            [] => Err(no_upstream(
                "the repository has no remote; add one (remote_add) or name a remote",
            )),
            [only] => Ok(Some((*only).to_owned())),
            several if several.contains(&"origin") => Ok(Some("origin".to_owned())),
            _ => Err(Error::invalid_argument(
                "the repository has several remotes and none is the branch's upstream or origin; name one",
            )),
        }
    }

    async fn with_remote_credentials(
        &self,
        path: &str,
        remote: Option<&str>,
        options: &RemoteOptions,
        op: &'static str,
        args: &[&str],
    ) -> Result<CommandResult> {
        let (Some(creds), Some(remote)) = (&options.credentials, remote) else {
            return self.git(op, Some(path), args).await;
        };
        let original = self.remote_url(path, remote).await?.ok_or_else(|| {
            Error::invalid_argument(format!("the repository has no remote {remote:?}"))
        })?;
        let authed = with_credentials(&original, &creds.username, creds.password.expose_secret())?;
        self.git(op, Some(path), &["remote", "set-url", remote, &authed])
            .await?;
        let result = self.git(op, Some(path), args).await;
        let restored = self
            .git(op, Some(path), &["remote", "set-url", remote, &original])
            .await;
        let result = result?;
        restored?;
        Ok(result)
    }

    /// `git config --<scope> key value` ([`ConfigOptions::scope`], global by default).
    ///
    /// # Errors
    ///
    /// Invalid argument for an empty key; a command exit error.
    pub async fn set_config(&self, key: &str, value: &str) -> Result<CommandResult> {
        self.set_config_with(key, value, ConfigOptions::new()).await
    }

    /// [`set_config`](Self::set_config) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`set_config`](Self::set_config).
    pub async fn set_config_with(
        &self,
        key: &str,
        value: &str,
        options: ConfigOptions,
    ) -> Result<CommandResult> {
        let git = self.scoped(&options.common);
        if key.is_empty() {
            return Err(Error::invalid_argument("a git config key is required"));
        }
        let (repo, flag) = scope_args(&options.scope);
        git.git("set_config", repo, &["config", flag, key, value])
            .await
    }

    /// `git config --<scope> --get key`; `None` when unset.
    ///
    /// # Errors
    ///
    /// Invalid argument for an empty key; a command error.
    pub async fn config(&self, key: &str) -> Result<Option<String>> {
        self.config_with(key, ConfigOptions::new()).await
    }

    /// [`config`](Self::config) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`config`](Self::config).
    pub async fn config_with(&self, key: &str, options: ConfigOptions) -> Result<Option<String>> {
        let git = self.scoped(&options.common);
        if key.is_empty() {
            return Err(Error::invalid_argument("a git config key is required"));
        }
        let (repo, flag) = scope_args(&options.scope);
        let line = format!(
            "{} || true",
            git_line(repo, &["config", flag, "--get", key])
        );
        let out = git.run_line("config", line).await?;
        Ok(non_empty(&out.stdout))
    }

    /// Set `user.name` and `user.email` (globally by default).
    ///
    /// # Errors
    ///
    /// Invalid argument for an empty name or email; a command exit error.
    pub async fn configure_user(&self, name: &str, email: &str) -> Result<()> {
        self.configure_user_with(name, email, ConfigOptions::new())
            .await
    }

    /// [`configure_user`](Self::configure_user) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`configure_user`](Self::configure_user).
    pub async fn configure_user_with(
        &self,
        name: &str,
        email: &str,
        options: ConfigOptions,
    ) -> Result<()> {
        let git = self.scoped(&options.common);
        if name.is_empty() || email.is_empty() {
            return Err(Error::invalid_argument("both name and email are required"));
        }
        git.set_config_with("user.name", name, options.clone())
            .await?;
        git.set_config_with("user.email", email, options).await?;
        Ok(())
    }

    /// Store `credentials` for `protocol://host` ([`AuthenticateOptions`], default
    /// `https://github.com`) in git's global credential store (`~/.git-credentials`, in
    /// plain text) so every later command uses them.
    ///
    /// # Errors
    ///
    /// Invalid argument for an empty user name or password; a command exit error.
    pub async fn dangerously_authenticate(
        &self,
        credentials: &GitCredentials,
    ) -> Result<CommandResult> {
        self.dangerously_authenticate_with(credentials, AuthenticateOptions::new())
            .await
    }

    /// [`dangerously_authenticate`](Self::dangerously_authenticate) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`dangerously_authenticate`](Self::dangerously_authenticate).
    pub async fn dangerously_authenticate_with(
        &self,
        credentials: &GitCredentials,
        options: AuthenticateOptions,
    ) -> Result<CommandResult> {
        let git = self.scoped(&options.common);
        if credentials.username.is_empty() || credentials.password.expose_secret().is_empty() {
            return Err(Error::invalid_argument(
                "both a user name and a password are required to authenticate git",
            ));
        }
        let store = ConfigOptions {
            common: options.common.clone(),
            ..ConfigOptions::new()
        };
        git.set_config_with("credential.helper", "store", store)
            .await?;
        let input = format!(
            "protocol={}\nhost={}\nusername={}\npassword={}\n\n",
            options.protocol.trim(),
            options.host.trim(),
            credentials.username,
            credentials.password.expose_secret()
        );
        let line = format!("printf %s {} | git credential approve", shell_quote(&input));
        git.run_line("dangerously_authenticate", line).await
    }
}

/// A git upstream error: there is nowhere to push to or pull from.
fn no_upstream(message: &str) -> Error {
    Error::new(e2b_core::ErrorKind::GitUpstream {
        message: message.to_owned(),
    })
}

fn git_line(repo: Option<&str>, args: &[&str]) -> String {
    let mut line = String::from("git");
    if let Some(repo) = repo {
        line.push_str(" -C ");
        line.push_str(&shell_quote(repo));
    }
    for a in args {
        line.push(' ');
        line.push_str(&shell_quote(a));
    }
    line
}

fn scope_args(scope: &GitConfigScope) -> (Option<&str>, &'static str) {
    match scope {
        GitConfigScope::Global => (None, "--global"),
        GitConfigScope::System => (None, "--system"),
        GitConfigScope::Local(path) => (Some(path.as_str()), "--local"),
    }
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// The directory `git clone` would create for `url`.
fn repo_dir_from_url(url: &str) -> Result<String> {
    let trimmed = url.trim_end_matches('/');
    let last = trimmed.rsplit(['/', ':']).next().unwrap_or("");
    let name = last.strip_suffix(".git").unwrap_or(last);
    if name.is_empty() {
        return Err(Error::invalid_argument(
            "cannot tell the clone's directory from the URL; give a path",
        ));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_quoted() {
        assert_eq!(
            git_line(Some("/r p"), &["commit", "-m", "it's done"]),
            r#"git -C '/r p' commit -m 'it'"'"'s done'"#
        );
        assert_eq!(repo_dir_from_url("https://h/a/b.git/").unwrap(), "b");
        assert!(repo_dir_from_url("https://h/.git").is_err());
    }
}
