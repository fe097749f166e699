//! One module per command group; [`run`] dispatches and turns failures into exit codes.

mod files;
mod run_code;
mod sandbox;
mod template;
mod volume;

use clap::CommandFactory as _;

use crate::cli::{Cli, Command};
use crate::config;
use crate::error::CliError;
use crate::output::Out;

/// Run the command line; returns the exit code.
pub(crate) fn run(cli: Cli) -> u8 {
    let out = Out::new(cli.global.format);
    let result = match cli.command {
        Command::Completions { shell } => completions(shell),
        // Parsed on its own by main; reached only from `help`.
        #[cfg(feature = "local")]
        Command::Local(command) => return local(command),
        command => remote(command, &cli.global, &out),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            out.error(&e);
            e.code()
        }
    }
}

/// The commands that talk to E2B, on a runtime of their own.
fn remote(command: Command, global: &crate::cli::Global, out: &Out) -> Result<u8, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::io("cannot start the async runtime", e))?;
    let result = runtime.block_on(async {
        let client = config::client(global)?;
        match command {
            Command::Sandbox(command) => sandbox::run(command, &client, out).await,
            Command::Files(command) => files::run(command, &client, out).await,
            Command::RunCode(args) => run_code::run(args, &client, out).await,
            Command::Template(command) => template::run(command, &client, out).await,
            Command::Volume(command) => volume::run(command, &client, out).await,
            Command::Completions { .. } => unreachable!("handled without a runtime"),
            #[cfg(feature = "local")]
            Command::Local(_) => unreachable!("handled without a runtime"),
        }
    });
    // Standard input may still be read by a blocked thread: do not wait for it.
    runtime.shutdown_background();
    result
}

fn completions(shell: clap_complete::Shell) -> Result<u8, CliError> {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "e2b", &mut std::io::stdout());
    Ok(0)
}

/// `e2b local …`: e2b-local's own commands, which start their own runtime; returns the
/// exit code.
#[cfg(feature = "local")]
pub(crate) fn local(command: e2b_local::cli::Command) -> u8 {
    e2b_local::logging::init();
    match e2b_local::cli::run(command) {
        Ok(()) => 0,
        Err(e) => {
            Out::new(crate::cli::Format::Table).error(&CliError::failed(format!("{e:#}")));
            1
        }
    }
}
