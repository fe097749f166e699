//! `e2b`: E2B sandboxes from a terminal, against E2B's cloud, a self-hosted E2B or the
//! local E2B-compatible server it also runs (`e2b local serve`).
//!
//! ```text
//! $ cargo install --path crates/e2b-cli
//! $ export E2B_API_KEY=e2b_…                      # plus E2B_DOMAIN / E2B_API_URL / E2B_SANDBOX_URL
//! $ id=$(e2b sandbox create --detach)            # prints the new sandbox's id
//! $ e2b sandbox exec "$id" -- uname -a            # the remote exit code is e2b's
//! $ e2b files cp ./data.csv "$id":/home/user/     # files and directories, both ways
//! $ e2b sandbox connect "$id"                     # an interactive terminal
//! $ e2b sandbox list --format json | jq '.[].sandboxId'
//! $ e2b sandbox kill "$id"
//! ```
//!
//! # Commands
//!
//! - `e2b sandbox` (`sbx`): `create [TEMPLATE]`, `connect ID`, `exec ID -- CMD…`, `list`,
//!   `info ID`, `kill ID…|--all`, `pause ID`, `resume ID`, `set-timeout ID SECONDS`,
//!   `metrics ID [--follow]`, `logs ID [--follow]`, `snapshot create|list|delete`.
//! - `e2b files`: `cp SRC DST` (one side written `ID:/path`, `-` for standard input or
//!   output), `ls ID:/path`, `rm ID:/path…`, `mkdir ID:/path…`, `watch ID:/path`.
//! - `e2b run-code ID|--template T [--language L] FILE|-`.
//! - `e2b template` (`tpl`): `build --name NAME[:TAG] [--dockerfile PATH] [--path DIR]`
//!   (live build logs), `list`, `delete NAME|ID…`, `tags NAME|ID`, `tags add NAME:TAG TAG…`,
//!   `tags rm NAME TAG…`, `init [DIR]`.
//! - `e2b volume` (`vol`): `create NAME`, `list`, `rm NAME|ID…`, `ls VOLUME[:PATH]`,
//!   `cp SRC DST` (one side written `VOLUME:/path`).
//! - `e2b local …`: e2b-local's commands (`serve`, `doctor`, `kernel-env`, `image`,
//!   `template`) with their own options, with the `local` feature (on by default). `local`
//!   comes first: the global options below do not apply to it.
//! - `e2b completions bash|zsh|fish`.
//!
//! # Configuration
//!
//! As the SDK: `E2B_API_KEY`, `E2B_ACCESS_TOKEN`, `E2B_DOMAIN`, `E2B_API_URL`,
//! `E2B_SANDBOX_URL`, `E2B_DEBUG`, …; the global flags `--api-key`, `--domain`,
//! `--api-url`, `--sandbox-url` and `--request-timeout` override them.
//!
//! # Output
//!
//! Tables and messages for people, sized to the terminal and coloured only when the output
//! is a terminal (and `NO_COLOR` is unset); `--format json` for scripts: one JSON document
//! on standard output (JSON lines for the streaming `--follow` and `watch`). Errors are one
//! line on standard error, saying what to do.
//!
//! # Exit codes
//!
//! | Code | Meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the operation failed (the server refused it, the connection broke, …); `run-code`: the code raised an error |
//! | 2 | invalid command line |
//! | 3 | configuration: no API key, a malformed URL or domain |
//! | 4 | not found: the sandbox, file, snapshot, template or volume does not exist |
//! | 5 | authentication: the key or token was refused |
//! | 6 | timeout, or the sandbox is gone |
//! | 130 | interrupted (Ctrl-C) |
//!
//! `sandbox exec`, `sandbox connect` and `sandbox create` (with its terminal) exit with the
//! remote command's code instead (128 + N when a signal N ended it), and with 255 when
//! `e2b` itself fails, as `ssh` does: any other code is the remote command's.

mod cli;
mod commands;
mod config;
mod error;
mod output;
mod shell;
mod target;
mod terminal;
mod transfer;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // `e2b local serve` runs this executable inside each sandbox as its agent.
    #[cfg(feature = "local")]
    if let Some(code) = e2b_local::cli::embedded_entry(&args) {
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    #[cfg(feature = "local")]
    match cli::is_local(&args) {
        Ok(true) => {
            let local = cli::LocalCli::parse_from(
                std::iter::once(std::ffi::OsString::from("e2b local"))
                    .chain(args.into_iter().skip(2)),
            );
            return ExitCode::from(commands::local(local.command));
        }
        Ok(false) => {}
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    }
    let cli = cli::Cli::parse_from(args);
    let code = commands::run(cli);
    ExitCode::from(code)
}
