//! `e2b-local`: an E2B-compatible sandbox server on one machine.
//!
//! * `e2b-local serve [--listen 127.0.0.1:49982] [--api-key e2b_<hex>] [--data-dir DIR | --ephemeral] [--kernel-env DIR]`
//! * `e2b-local doctor` — what is present or missing, and how to install it.
//! * `e2b-local kernel-env install [DIR]` — create the kernel environment of
//!   `code-interpreter-v1` sandboxes (where `serve` finds it by default).
//! * `e2b-local envd --listen-fd N --config-fd M` (or `--socket PATH --config PATH`) — the
//!   in-sandbox agent (started by the server).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "e2b-local",
    version,
    about = "An E2B-compatible sandbox server on one machine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the control plane, envd and sandbox traffic on one listener.
    Serve {
        /// Address to listen on; port 0 picks a free one (the printed
        /// environment names it).
        #[arg(long, default_value = e2b_local::cli::DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// API key clients must send (`e2b_<hex>`) [default: a new random
        /// one, printed].
        #[arg(long)]
        api_key: Option<String>,
        /// Where sandbox metadata, homes and snapshots live, kept across
        /// restarts [default: $XDG_DATA_HOME/e2b-local, else
        /// ~/.local/share/e2b-local].
        #[arg(long, conflicts_with = "ephemeral")]
        data_dir: Option<PathBuf>,
        /// Keep the data in a fresh temporary directory, removed when the
        /// server stops.
        #[arg(long)]
        ephemeral: bool,
        /// The kernel environment of `code-interpreter-v1` sandboxes (`e2b-local
        /// kernel-env install` builds one) [default: $E2B_LOCAL_KERNEL_ENV, else
        /// $XDG_DATA_HOME/e2b-local/kernel (else ~/.local/share/e2b-local/kernel)
        /// when it exists; without one, that template is refused].
        #[arg(long)]
        kernel_env: Option<PathBuf>,
    },
    /// Report which prerequisites are present and how to install missing ones.
    Doctor,
    /// The kernel environment of `code-interpreter-v1` sandboxes.
    #[command(name = "kernel-env", subcommand)]
    KernelEnv(KernelEnvCommand),
    /// Run the in-sandbox agent (envd). Started by the server inside each sandbox.
    Envd {
        /// Unix socket to bind and serve envd on.
        #[arg(
            long,
            required_unless_present = "listen_fd",
            conflicts_with = "listen_fd"
        )]
        socket: Option<PathBuf>,
        /// An inherited descriptor of a listening Unix socket to serve envd on.
        #[arg(long)]
        listen_fd: Option<i32>,
        /// Agent configuration (JSON) file.
        #[arg(
            long,
            required_unless_present = "config_fd",
            conflicts_with = "config_fd"
        )]
        config: Option<PathBuf>,
        /// An inherited descriptor to read the agent configuration (JSON) from.
        #[arg(long)]
        config_fd: Option<i32>,
    },
    /// Hold the code interpreter's port inside a sandbox for the agent
    /// (started by the agent, with the channel to it as standard input).
    #[command(name = "interpreter-port", hide = true)]
    InterpreterPort,
}

#[derive(Subcommand)]
enum KernelEnvCommand {
    /// Create the kernel environment, or bring an earlier one up to date: a
    /// Python venv with ipykernel, pandas, matplotlib, e2b-charts, bash_kernel
    /// and jjava, the IPython startup scripts of E2B's rich results, and tslab
    /// (JavaScript, TypeScript) when npm is installed. Needs network access to
    /// PyPI (and npm).
    Install {
        /// Where to create it [default: $XDG_DATA_HOME/e2b-local/kernel, else
        /// ~/.local/share/e2b-local/kernel, where `serve` looks].
        dir: Option<PathBuf>,
        /// The Python 3 to make the venv with (a path, or a name looked up on
        /// PATH); sandboxes see its installation read-only.
        #[arg(long, default_value = "python3")]
        python: PathBuf,
        /// Leave out the JavaScript and TypeScript kernels (tslab, from npm).
        #[arg(long)]
        without_node: bool,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    e2b_local::logging::init();
    match cli.command {
        Command::Serve {
            listen,
            api_key,
            data_dir,
            ephemeral,
            kernel_env,
        } => {
            let data = e2b_local::cli::DataLocation::choose(data_dir, ephemeral)?;
            e2b_local::cli::serve(listen, api_key, data, kernel_env)
        }
        Command::Doctor => e2b_local::cli::doctor(),
        Command::KernelEnv(KernelEnvCommand::Install {
            dir,
            python,
            without_node,
        }) => {
            let options = e2b_local::kernel_env_install::InstallOptions::default()
                .with_python(python)
                .with_node(!without_node);
            e2b_local::cli::kernel_env_install(dir, &options)
        }
        Command::Envd {
            socket,
            listen_fd,
            config,
            config_fd,
        } => {
            use e2b_local::agent::Source;
            let listen = match (socket, listen_fd) {
                (Some(path), _) => Source::Path(path),
                (None, Some(fd)) => Source::Fd(fd),
                (None, None) => anyhow::bail!("--socket or --listen-fd is required"),
            };
            let config = match (config, config_fd) {
                (Some(path), _) => Source::Path(path),
                (None, Some(fd)) => Source::Fd(fd),
                (None, None) => anyhow::bail!("--config or --config-fd is required"),
            };
            e2b_local::agent::main(listen, config)
        }
        Command::InterpreterPort => e2b_local::agent::interpreter_port_main(),
    }
}
