//! Create a bare repository inside a sandbox, clone it, commit, push, and read the log
//! back from a second clone.
//!
//! ```text
//! cargo run -p e2b-examples --example git
//! ```
//!
//! Uses the E2B cloud when `E2B_API_KEY` is set, else an e2b-local server in this process.

use std::time::Duration;

use e2b::{CloneOptions, CommitOptions, InitOptions, RemoteOptions, Sandbox};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let backend = e2b_examples::Backend::from_env().await?;
    let sandbox = Sandbox::builder()
        .timeout(Duration::from_secs(120))
        .create(&backend.client)
        .await?;
    let git = sandbox.git();
    git.configure_user("Example", "example@example.com").await?;

    git.init_with(
        "/home/user/origin.git",
        InitOptions::new().bare(true).initial_branch("main"),
    )
    .await?;
    git.clone_repo_with(
        "/home/user/origin.git",
        CloneOptions::new().path("/home/user/work"),
    )
    .await?;
    sandbox
        .files()
        .write("/home/user/work/hello.txt", "hello from e2b-rs\n")
        .await?;
    git.add("/home/user/work").await?;
    let status = git.status("/home/user/work").await?;
    println!("staged: {} file(s)", status.staged_count());
    git.commit_with(
        "/home/user/work",
        "Add hello.txt",
        CommitOptions::new().author("Example Author", "author@example.com"),
    )
    .await?;
    // A branch alone goes to the default remote (here the only one, origin).
    git.push_with("/home/user/work", RemoteOptions::new().branch("main"))
        .await?;
    println!(
        "pushed: {:?}",
        git.status("/home/user/work").await?.upstream
    );

    git.clone_repo_with(
        "/home/user/origin.git",
        CloneOptions::new().path("/home/user/second"),
    )
    .await?;
    let log = sandbox
        .commands()
        .run("git -C /home/user/second log --oneline")
        .await?;
    print!("second clone's log:\n{}", log.stdout);

    sandbox.kill().await?;
    backend.shutdown().await;
    Ok(())
}
