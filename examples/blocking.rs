//! The blocking API (`e2b::blocking`, feature `blocking`): a sandbox, a command with
//! streamed output, files, and a background command, without async code.
//!
//! ```text
//! cargo run -p e2b-examples --example blocking
//! ```
//!
//! Uses the E2B cloud when `E2B_API_KEY` is set, else an e2b-local server run on a
//! runtime of its own in this process.

use std::time::Duration;

use e2b::CommandOptions;
use e2b::blocking::{Client, Sandbox};

fn main() -> anyhow::Result<()> {
    // Only the local server needs a runtime; the blocking client brings its own.
    let server_runtime = tokio::runtime::Runtime::new()?;
    let backend = server_runtime.block_on(e2b_examples::Backend::from_env())?;
    let client = Client::from_async(backend.client.clone())?;

    let sandbox = Sandbox::create_with(
        &client,
        e2b::Sandbox::builder()
            .timeout(Duration::from_secs(120))
            .metadata([("example", "blocking")]),
    )?;
    println!("created sandbox {}", sandbox.id());

    let result = sandbox.commands().run("uname -sr")?;
    print!("{}", result.stdout);

    sandbox.commands().run_with(
        "for i in 1 2 3; do echo \"tick $i\"; sleep 0.2; done",
        CommandOptions::new().on_stdout(|text| print!("stdout: {text}")),
    )?;

    let files = sandbox.files();
    files.write("/tmp/hello.txt", "hello from a blocking program\n")?;
    print!("{}", files.read_text("/tmp/hello.txt")?);
    for entry in files.list("/tmp")? {
        println!("  {}", entry.path);
    }

    let sleeper = sandbox.commands().spawn("sleep 60")?;
    println!(
        "killed background pid {}: {}",
        sleeper.pid(),
        sleeper.kill()?
    );

    sandbox.kill()?;
    println!("killed sandbox {}", sandbox.id());
    drop(client);
    server_runtime.block_on(backend.shutdown());
    Ok(())
}
