//! `e2b-local`: an E2B-compatible sandbox server on one machine.
//!
//! * `e2b-local serve [--listen 127.0.0.1:49982] [--api-key e2b_<hex>] [--data-dir DIR | --ephemeral] [--kernel-env DIR] [--registry-mirror URL]`
//! * `e2b-local doctor` — what is present or missing, and how to install it.
//! * `e2b-local kernel-env install [DIR]` — create the kernel environment of
//!   `code-interpreter-v1` sandboxes (where `serve` finds it by default).
//! * `e2b-local image pull REF [--username U --password-stdin] [--insecure] [--registry-mirror URL]`,
//!   `image ls [--format json]`, `image rm REF…` — OCI images in the data directory.
//! * `e2b-local envd --listen-fd N --config-fd M` (or `--socket PATH --config PATH`) — the
//!   in-sandbox agent (started by the server).

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "e2b-local",
    version,
    about = "An E2B-compatible sandbox server on one machine"
)]
struct Cli {
    #[command(subcommand)]
    command: e2b_local::cli::Command,
}

fn main() -> anyhow::Result<()> {
    // Inside sandboxes this executable is also `/usr/bin/sudo`.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(code) = e2b_local::cli::embedded_entry(&args) {
        std::process::exit(code);
    }
    let cli = Cli::parse_from(args);
    e2b_local::logging::init();
    e2b_local::cli::run(cli.command)
}
