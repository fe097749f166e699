//! Create a sandbox, run a command while streaming its output, and kill the sandbox.
//!
//! ```text
//! cargo run -p e2b-examples --example quickstart
//! ```
//!
//! Uses the E2B cloud when `E2B_API_KEY` is set, else an e2b-local server in this process.

use std::time::Duration;

use e2b::Sandbox;
use futures_util::StreamExt as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let backend = e2b_examples::Backend::from_env().await?;

    let sandbox = Sandbox::builder()
        .timeout(Duration::from_secs(120))
        .metadata([("example", "quickstart")])
        .create(&backend.client)
        .await?;
    println!("created sandbox {}", sandbox.id());

    // A quick command, waited for.
    let result = sandbox.commands().run("uname -sr && whoami").await?;
    print!("{}", result.stdout);

    // A longer one, with its output streamed as it is produced.
    let handle = sandbox
        .commands()
        .spawn("for i in 1 2 3 4 5; do echo \"tick $i\"; sleep 0.3; done; echo done >&2")
        .await?;
    let mut output = handle.output();
    while let Some(chunk) = output.next().await {
        match chunk {
            e2b::CommandOutput::Stdout(text) => print!("stdout: {text}"),
            e2b::CommandOutput::Stderr(text) => print!("stderr: {text}"),
            _ => {}
        }
    }
    let result = handle.wait().await?;
    println!("exit code {}", result.exit_code);

    // A failing command is a typed error with its output.
    let failed = sandbox.commands().run("ls /nope").await;
    if let Some(exit) = failed.as_ref().err().and_then(|e| e.command_exit_result()) {
        println!(
            "`ls /nope` exited with {}: {}",
            exit.exit_code,
            exit.stderr.trim()
        );
    }

    sandbox.kill().await?;
    println!("killed sandbox {}", sandbox.id());
    backend.shutdown().await;
    Ok(())
}
