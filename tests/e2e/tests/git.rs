//! Git end to end against e2b-local: a bare repository served over smart HTTP with basic
//! auth inside the sandbox; clone, commit, push and pull with credentials that never stay
//! in `.git/config`; every other operation on the way.

use std::time::Duration;

use e2b_sandbox::{
    AddOptions, AuthenticateOptions, CloneOptions, CommandOptions, CommitOptions, ConfigOptions,
    GitCredentials, GitResetMode, GitStatusLabel, InitOptions, RemoteAddOptions, RemoteOptions,
    ResetOptions, RestoreOptions, Sandbox,
};
use e2b_test_support::sdk::Local;
use futures_util::StreamExt as _;

const SERVER: &str = include_str!("fixtures/git_http_server.py");
const PORT: u16 = 18_931;
const URL: &str = "http://127.0.0.1:18931/repo.git";
const USER: &str = "alice";
const PASSWORD: &str = "s3cret-pa55";

/// Start the HTTP server over a fresh bare repository; returns once it listens.
async fn serve_repo(sbx: &Sandbox) -> e2b_sandbox::CommandHandle {
    sbx.files()
        .write("/tmp/git_http_server.py", SERVER)
        .await
        .unwrap();
    let git = sbx.git();
    git.init_with(
        "/tmp/srv/repo.git",
        InitOptions::new().bare(true).initial_branch("main"),
    )
    .await
    .unwrap();
    git.set_config_with(
        "http.receivepack",
        "true",
        ConfigOptions::new().local("/tmp/srv/repo.git"),
    )
    .await
    .unwrap();
    let handle = sbx
        .commands()
        .spawn_with(
            &format!("python3 /tmp/git_http_server.py /tmp/srv {PORT} {USER} {PASSWORD}"),
            CommandOptions::new().timeout(Duration::ZERO),
        )
        .await
        .unwrap();
    let mut stdout = handle.stdout();
    let mut seen = String::new();
    while !seen.contains("ready") {
        let chunk = tokio::time::timeout(Duration::from_secs(30), stdout.next())
            .await
            .expect("the server starts within 30 s")
            .unwrap_or_else(|| panic!("the server exited: {}", handle.stderr_so_far()));
        seen.push_str(&chunk);
    }
    handle
}

fn creds() -> GitCredentials {
    GitCredentials::new(USER, PASSWORD)
}

async fn git_config(sbx: &Sandbox, repo: &str) -> String {
    sbx.files()
        .read_text(&format!("{repo}/.git/config"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clone_commit_push_pull_with_credentials() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let server = serve_repo(&sbx).await;
    let git = sbx.git();
    git.configure_user("Test User", "test@example.com")
        .await
        .unwrap();
    assert_eq!(
        git.config("user.name").await.unwrap().as_deref(),
        Some("Test User")
    );

    // Wrong or missing credentials are typed auth errors.
    let err = git
        .clone_repo_with(
            URL,
            CloneOptions::new()
                .path("/tmp/denied")
                .credentials(GitCredentials::new(USER, "wrong")),
        )
        .await
        .unwrap_err();
    assert!(err.is_git_auth(), "{err}");
    assert!(!format!("{err:?}").contains(PASSWORD));
    let err = git
        .clone_repo_with(URL, CloneOptions::new().path("/tmp/anon"))
        .await
        .unwrap_err();
    assert!(err.is_git_auth(), "{err}");

    // Clone the empty repository, commit, push.
    git.clone_repo_with(URL, CloneOptions::new().path("/tmp/a").credentials(creds()))
        .await
        .unwrap();
    assert!(!git_config(&sbx, "/tmp/a").await.contains(PASSWORD));
    assert_eq!(
        git.remote_get("/tmp/a", "origin").await.unwrap().as_deref(),
        Some(URL)
    );
    assert_eq!(git.remote_get("/tmp/a", "nope").await.unwrap(), None);

    sbx.files()
        .write("/tmp/a/readme.md", "hello\n")
        .await
        .unwrap();
    let status = git.status("/tmp/a").await.unwrap();
    assert_eq!(status.untracked_count(), 1, "{status:?}");
    assert!(status.has_untracked() && !status.has_staged());
    git.add("/tmp/a").await.unwrap();
    let status = git.status("/tmp/a").await.unwrap();
    assert_eq!(status.file_status[0].status, GitStatusLabel::Added);
    assert!(status.has_staged());
    git.commit_with(
        "/tmp/a",
        "first 'quoted' $(commit)",
        CommitOptions::new().author("Ann Author", "ann@example.com"),
    )
    .await
    .unwrap();
    let log = sbx
        .commands()
        .run("git -C /tmp/a log -1 --format='%an|%s'")
        .await
        .unwrap();
    assert_eq!(log.stdout.trim(), "Ann Author|first 'quoted' $(commit)");

    let err = git.push("/tmp/a").await.unwrap_err();
    assert!(err.is_git_auth(), "push without credentials: {err}");
    git.push_with(
        "/tmp/a",
        RemoteOptions::new().branch("main").credentials(creds()),
    )
    .await
    .unwrap();
    assert!(!git_config(&sbx, "/tmp/a").await.contains(PASSWORD));
    let status = git.status("/tmp/a").await.unwrap();
    assert!(status.is_clean());
    assert_eq!(status.current_branch.as_deref(), Some("main"));
    assert_eq!(status.upstream.as_deref(), Some("origin/main"));

    // A second clone (one branch, shallow) pushes a change; the first pulls it.
    git.clone_repo_with(
        URL,
        CloneOptions::new()
            .path("/tmp/b")
            .branch("main")
            .depth(1)
            .credentials(creds()),
    )
    .await
    .unwrap();
    assert!(!git_config(&sbx, "/tmp/b").await.contains(PASSWORD));
    assert_eq!(
        sbx.files().read_text("/tmp/b/readme.md").await.unwrap(),
        "hello\n"
    );
    sbx.files().write("/tmp/b/second.txt", "2").await.unwrap();
    git.add_with("/tmp/b", AddOptions::new().files(["second.txt"]))
        .await
        .unwrap();
    git.commit("/tmp/b", "second").await.unwrap();
    git.push_with("/tmp/b", RemoteOptions::new().credentials(creds()))
        .await
        .unwrap();

    let err = git.pull("/tmp/a").await.unwrap_err();
    assert!(err.is_git_auth(), "pull without credentials: {err}");
    git.pull_with("/tmp/a", RemoteOptions::new().credentials(creds()))
        .await
        .unwrap();
    assert_eq!(
        sbx.files().read_text("/tmp/a/second.txt").await.unwrap(),
        "2"
    );
    assert!(!git_config(&sbx, "/tmp/a").await.contains(PASSWORD));

    // Kept on request.
    git.clone_repo_with(
        URL,
        CloneOptions::new()
            .path("/tmp/kept")
            .credentials(creds())
            .dangerously_store_credentials(true),
    )
    .await
    .unwrap();
    assert!(git_config(&sbx, "/tmp/kept").await.contains(PASSWORD));

    // Stored credentials serve later commands without any given.
    git.dangerously_authenticate_with(
        &creds(),
        AuthenticateOptions::new()
            .host("127.0.0.1:18931")
            .protocol("http"),
    )
    .await
    .unwrap();
    git.clone_repo_with(URL, CloneOptions::new().path("/tmp/c"))
        .await
        .unwrap();
    assert!(sbx.files().exists("/tmp/c/second.txt").await.unwrap());

    server.kill().await.unwrap();
    local.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_operations() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let git = sbx.git();
    let repo = "/tmp/my repo";
    git.init_with(repo, InitOptions::new().initial_branch("main"))
        .await
        .unwrap();
    git.configure_user("T", "t@example.com").await.unwrap();
    git.set_config_with("core.note", "it's local", ConfigOptions::new().local(repo))
        .await
        .unwrap();
    assert_eq!(
        git.config_with("core.note", ConfigOptions::new().local(repo))
            .await
            .unwrap()
            .as_deref(),
        Some("it's local")
    );
    assert_eq!(git.config("core.unset").await.unwrap(), None);

    let status = git.status(repo).await.unwrap();
    assert_eq!(status.current_branch.as_deref(), Some("main"));
    assert!(status.is_clean());

    sbx.files()
        .write("/tmp/my repo/a.txt", "one\n")
        .await
        .unwrap();
    git.add_with(repo, AddOptions::new().files(["a.txt"]))
        .await
        .unwrap();
    git.commit(repo, "one").await.unwrap();
    let err = git.commit(repo, "nothing").await.unwrap_err();
    assert!(err.is_command_exit(), "{err}");
    git.commit_with(repo, "empty", CommitOptions::new().allow_empty(true))
        .await
        .unwrap();

    // Pull without an upstream is a typed error.
    let err = git.pull(repo).await.unwrap_err();
    assert!(err.is_git_upstream(), "{err}");

    git.create_branch(repo, "feature").await.unwrap();
    let branches = git.branches(repo).await.unwrap();
    assert_eq!(branches.branches, ["feature", "main"]);
    assert_eq!(branches.current_branch.as_deref(), Some("feature"));
    git.checkout_branch(repo, "main").await.unwrap();
    assert_eq!(
        git.branches(repo).await.unwrap().current_branch.as_deref(),
        Some("main")
    );
    git.delete_branch(repo, "feature").await.unwrap();
    assert_eq!(git.branches(repo).await.unwrap().branches, ["main"]);

    // Restore the working tree, unstage, reset.
    sbx.files()
        .write("/tmp/my repo/a.txt", "changed\n")
        .await
        .unwrap();
    let status = git.status(repo).await.unwrap();
    assert_eq!(status.file_status[0].status, GitStatusLabel::Modified);
    assert_eq!(status.unstaged_count(), 1);
    git.restore(repo, &["a.txt"]).await.unwrap();
    assert_eq!(
        sbx.files().read_text("/tmp/my repo/a.txt").await.unwrap(),
        "one\n"
    );
    sbx.files()
        .write("/tmp/my repo/a.txt", "staged\n")
        .await
        .unwrap();
    git.add(repo).await.unwrap();
    git.restore_with(repo, &["a.txt"], RestoreOptions::new().staged(true))
        .await
        .unwrap();
    let status = git.status(repo).await.unwrap();
    assert!(
        !status.has_staged() && status.unstaged_count() == 1,
        "{status:?}"
    );
    git.add(repo).await.unwrap();
    git.reset_with(repo, ResetOptions::new().paths(["a.txt"]))
        .await
        .unwrap();
    assert!(!git.status(repo).await.unwrap().has_staged());
    git.reset_with(
        repo,
        ResetOptions::new().mode(GitResetMode::Hard).target("HEAD"),
    )
    .await
    .unwrap();
    assert!(git.status(repo).await.unwrap().is_clean());
    // Back one commit, keeping the changes staged.
    git.reset_with(
        repo,
        ResetOptions::new()
            .mode(GitResetMode::Soft)
            .target("HEAD~1"),
    )
    .await
    .unwrap();
    let log = sbx
        .commands()
        .run("git -C '/tmp/my repo' log -1 --format=%s")
        .await
        .unwrap();
    assert_eq!(log.stdout.trim(), "one");
    // Restore the working tree from another commit's content.
    sbx.files()
        .write("/tmp/my repo/a.txt", "scribble\n")
        .await
        .unwrap();
    git.restore_with(
        repo,
        &["a.txt"],
        RestoreOptions::new().worktree(true).source("HEAD"),
    )
    .await
    .unwrap();
    assert_eq!(
        sbx.files().read_text("/tmp/my repo/a.txt").await.unwrap(),
        "one\n"
    );
    assert!(
        git.restore(repo, &[])
            .await
            .unwrap_err()
            .is_invalid_argument()
    );
    assert!(
        git.restore_with(
            repo,
            &["a.txt"],
            RestoreOptions::new().staged(false).worktree(false)
        )
        .await
        .unwrap_err()
        .is_invalid_argument()
    );

    git.remote_add(repo, "origin", "https://example.com/x.git")
        .await
        .unwrap();
    assert!(
        git.remote_add(repo, "origin", "https://example.com/y.git",)
            .await
            .unwrap_err()
            .is_command_exit()
    );
    git.remote_add_with(
        repo,
        "origin",
        "https://example.com/y.git",
        RemoteAddOptions::new().overwrite(true),
    )
    .await
    .unwrap();
    assert_eq!(
        git.remote_get(repo, "origin").await.unwrap().as_deref(),
        Some("https://example.com/y.git")
    );
    let err = git
        .clone_repo_with(
            "git@example.com:x.git",
            CloneOptions::new().credentials(creds()),
        )
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    local.stop().await;
}

/// The commit `rev` names in the repository at `repo`, `None` if it names none.
async fn rev(sbx: &Sandbox, repo: &str, rev: &str) -> Option<String> {
    let out = sbx
        .commands()
        .run(&format!(
            "git -C {repo} rev-parse --verify -q {rev} || true"
        ))
        .await
        .unwrap();
    let hash = out.stdout.trim();
    (!hash.is_empty()).then(|| hash.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_and_pull_with_only_a_branch_use_the_default_remote() {
    let local = Local::start().await;
    let sbx = local.sandbox().await;
    let git = sbx.git();
    git.configure_user("T", "t@example.com").await.unwrap();
    for bare in ["/tmp/origin.git", "/tmp/backup.git"] {
        git.init_with(bare, InitOptions::new().bare(true).initial_branch("main"))
            .await
            .unwrap();
    }
    let work = "/tmp/work";
    git.init_with(work, InitOptions::new().initial_branch("main"))
        .await
        .unwrap();
    sbx.files().write("/tmp/work/a.txt", "a\n").await.unwrap();
    git.add(work).await.unwrap();
    git.commit(work, "a").await.unwrap();

    // No remote at all: nowhere to push a branch to, nothing to pull.
    let err = git
        .push_with(work, RemoteOptions::new().branch("main"))
        .await
        .unwrap_err();
    assert!(
        err.is_git_upstream(),
        "push of a branch without remotes: {err}"
    );
    let err = git
        .pull_with(work, RemoteOptions::new().branch("main"))
        .await
        .unwrap_err();
    assert!(
        err.is_git_upstream(),
        "pull of a branch without remotes: {err}"
    );

    git.remote_add(work, "origin", "/tmp/origin.git")
        .await
        .unwrap();
    // A remote but no upstream: push and pull of the current branch are typed errors.
    let err = git.push(work).await.unwrap_err();
    assert!(err.is_git_upstream(), "push without an upstream: {err}");
    let err = git.pull(work).await.unwrap_err();
    assert!(err.is_git_upstream(), "pull without an upstream: {err}");

    // The branch alone goes to the only remote and becomes its upstream.
    git.push_with(work, RemoteOptions::new().branch("main"))
        .await
        .unwrap();
    let head = rev(&sbx, work, "HEAD").await;
    assert!(head.is_some());
    assert_eq!(rev(&sbx, "/tmp/origin.git", "main").await, head);
    assert_eq!(
        git.status(work).await.unwrap().upstream.as_deref(),
        Some("origin/main")
    );

    // With two remotes, a branch without an upstream goes to origin.
    git.remote_add(work, "backup", "/tmp/backup.git")
        .await
        .unwrap();
    git.create_branch(work, "feature").await.unwrap();
    sbx.files().write("/tmp/work/f.txt", "f\n").await.unwrap();
    git.add(work).await.unwrap();
    git.commit(work, "f").await.unwrap();
    git.push_with(work, RemoteOptions::new().branch("feature"))
        .await
        .unwrap();
    let feature = rev(&sbx, work, "feature").await;
    assert_eq!(rev(&sbx, "/tmp/origin.git", "feature").await, feature);
    assert_eq!(rev(&sbx, "/tmp/backup.git", "feature").await, None);

    // A branch whose upstream is on another remote goes there.
    git.checkout_branch(work, "main").await.unwrap();
    git.push_with(work, RemoteOptions::new().remote("backup").branch("main"))
        .await
        .unwrap();
    sbx.files().write("/tmp/work/b.txt", "b\n").await.unwrap();
    git.add(work).await.unwrap();
    git.commit(work, "b").await.unwrap();
    git.push_with(work, RemoteOptions::new().branch("main"))
        .await
        .unwrap();
    let main = rev(&sbx, work, "main").await;
    assert_eq!(rev(&sbx, "/tmp/backup.git", "main").await, main);
    assert_eq!(rev(&sbx, "/tmp/origin.git", "main").await, head);

    // Pull of a branch alone in a fresh repository: from its only remote.
    let fresh = "/tmp/fresh";
    git.init_with(fresh, InitOptions::new().initial_branch("main"))
        .await
        .unwrap();
    git.remote_add(fresh, "origin", "/tmp/origin.git")
        .await
        .unwrap();
    git.pull_with(fresh, RemoteOptions::new().branch("feature"))
        .await
        .unwrap();
    assert_eq!(rev(&sbx, fresh, "HEAD").await, feature);
    assert_eq!(
        sbx.files().read_text("/tmp/fresh/f.txt").await.unwrap(),
        "f\n"
    );

    // Several remotes, none of them origin nor the branch's upstream: name one.
    git.remote_add(fresh, "second", "/tmp/backup.git")
        .await
        .unwrap();
    sbx.commands()
        .run("git -C /tmp/fresh remote rename origin first")
        .await
        .unwrap();
    let err = git
        .pull_with(fresh, RemoteOptions::new().branch("main"))
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    local.stop().await;
}
