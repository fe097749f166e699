//! The commands of the `e2b-local` binary as a [`clap`] subcommand, so that another
//! program (the `e2b` command line's `e2b local …`) offers the same ones without a copy.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// A command of `e2b-local` (also `e2b local …`).
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum Command {
    /// Serve the control plane, envd and sandbox traffic on one listener.
    Serve {
        /// Address to listen on; port 0 picks a free one (the printed
        /// environment names it).
        #[arg(long, default_value = crate::cli::DEFAULT_LISTEN)]
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
        /// A Docker Hub mirror (`https://mirror.example`, `http://127.0.0.1:5000`)
        /// asked first for `docker.io` images.
        #[arg(long)]
        registry_mirror: Option<String>,
        /// Show sandboxes the host's system read-only (only /home/user and
        /// /tmp writable, no sudo) instead of a writable root per sandbox.
        #[arg(long)]
        read_only_root: bool,
        /// Keep N started sandboxes of TEMPLATE (an id, alias or name:tag)
        /// ready for create to hand out, their kernels started for
        /// code-interpreter-v1; repeatable. Each costs an idle sandbox's
        /// memory [default: code-interpreter-v1=1 when its kernel
        /// environment is usable; code-interpreter-v1=0 turns that off].
        #[arg(long = "warm", value_name = "TEMPLATE=N", value_parser = parse_warm)]
        warm: Vec<(String, usize)>,
    },
    /// OCI images from registries, kept in the data directory.
    Image {
        #[command(subcommand)]
        command: ImageCommand,
        /// The data directory [default: $XDG_DATA_HOME/e2b-local, else
        /// ~/.local/share/e2b-local].
        #[arg(long, global = true)]
        data_dir: Option<PathBuf>,
    },
    /// Templates made from OCI images, kept in the data directory.
    Template {
        #[command(subcommand)]
        command: TemplateCommand,
        /// The data directory [default: $XDG_DATA_HOME/e2b-local, else
        /// ~/.local/share/e2b-local].
        #[arg(long, global = true)]
        data_dir: Option<PathBuf>,
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

/// `kernel-env` commands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum KernelEnvCommand {
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

/// How to reach a registry.
#[derive(Debug, clap::Args)]
pub struct RegistryArgs {
    /// Registry username (with --password-stdin).
    #[arg(long, requires = "password_stdin")]
    username: Option<String>,
    /// Read the registry password from standard input (one line).
    #[arg(long, requires = "username")]
    password_stdin: bool,
    /// Allow plain HTTP for this registry (loopback registries always may).
    #[arg(long)]
    insecure: bool,
    /// A Docker Hub mirror asked first for `docker.io` images.
    #[arg(long)]
    registry_mirror: Option<String>,
}

impl RegistryArgs {
    fn access(self) -> anyhow::Result<(crate::image::RegistryAuth, crate::image::PullOptions)> {
        use crate::image::{PullOptions, RegistryAuth};
        use anyhow::Context as _;
        let auth = match self.username {
            Some(username) if self.password_stdin => {
                let mut password = String::new();
                std::io::stdin()
                    .read_line(&mut password)
                    .context("cannot read the password from standard input")?;
                let password = password.trim_end_matches(['\n', '\r']);
                anyhow::ensure!(!password.is_empty(), "empty password on standard input");
                RegistryAuth::basic(username, password)
            }
            _ => RegistryAuth::Anonymous,
        };
        let mut options = PullOptions::default().with_insecure(self.insecure);
        if let Some(mirror) = self.registry_mirror {
            options = options.with_registry_mirror(mirror);
        }
        Ok((auth, options))
    }
}

/// `template` commands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum TemplateCommand {
    /// Make (or replace) template NAME from an image: sandboxes created
    /// with it run on the image's root filesystem.
    Create {
        /// The template's name (`templateID` at create).
        name: String,
        /// The image reference.
        #[arg(long)]
        from_image: String,
        /// Started in the background when a sandbox starts.
        #[arg(long)]
        start_cmd: Option<String>,
        /// Create returns once this succeeds (run again until it does).
        #[arg(long)]
        ready_cmd: Option<String>,
        /// Seconds the ready command may take to succeed.
        #[arg(long, default_value_t = 60)]
        ready_timeout: u64,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// List templates made from images.
    #[command(alias = "list")]
    Ls,
    /// Remove templates (and the snapshots of their sandboxes), then the
    /// layers nothing uses.
    #[command(alias = "remove")]
    Rm {
        /// Template names or ids.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

/// `image` commands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum ImageCommand {
    /// Pull an image (`alpine:3`, `registry.example:5000/team/app:tag`).
    Pull {
        /// The image reference.
        reference: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// List pulled images.
    #[command(alias = "list")]
    Ls {
        /// `table` or `json`.
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
    },
    /// Remove images, then the layers no image uses.
    #[command(alias = "remove")]
    Rm {
        /// Image references.
        #[arg(required = true)]
        references: Vec<String>,
    },
}

fn image(command: ImageCommand, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let data_dir = data_dir_or_default(data_dir)?;
    match command {
        ImageCommand::Pull {
            reference,
            registry,
        } => {
            let (auth, options) = registry.access()?;
            crate::cli::image_pull(&data_dir, &reference, &auth, &options)
        }
        ImageCommand::Ls { format } => crate::cli::image_ls(&data_dir, format == "json"),
        ImageCommand::Rm { references } => crate::cli::image_rm(&data_dir, &references),
    }
}

fn data_dir_or_default(data_dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    use anyhow::Context as _;
    data_dir
        .or_else(crate::cli::default_data_dir)
        .context("no home directory for the data: pass --data-dir DIR")
}

fn template(command: TemplateCommand, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let data_dir = data_dir_or_default(data_dir)?;
    match command {
        TemplateCommand::Create {
            name,
            from_image,
            start_cmd,
            ready_cmd,
            ready_timeout,
            registry,
        } => {
            let (auth, options) = registry.access()?;
            let mut template = crate::templates::ImageTemplate::new(name, from_image)
                .with_ready_timeout(std::time::Duration::from_secs(ready_timeout));
            if let Some(start) = start_cmd {
                template = template.with_start_cmd(start, ready_cmd);
            } else if let Some(ready) = ready_cmd {
                template = template.with_ready_cmd(ready);
            }
            crate::cli::template_create(&data_dir, &template, &auth, &options)
        }
        TemplateCommand::Ls => crate::cli::template_ls(&data_dir),
        TemplateCommand::Rm { names } => crate::cli::template_rm(&data_dir, &names),
    }
}

/// Run `command`.
///
/// # Errors
///
/// What the command failed with, to be printed and turned into a non-zero exit.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve {
            listen,
            api_key,
            data_dir,
            ephemeral,
            kernel_env,
            registry_mirror,
            read_only_root,
            warm,
        } => {
            let data = crate::cli::DataLocation::choose(data_dir, ephemeral)?;
            crate::cli::serve(
                listen,
                api_key,
                data,
                kernel_env,
                registry_mirror,
                read_only_root,
                &warm,
            )
        }
        Command::Image { command, data_dir } => image(command, data_dir),
        Command::Template { command, data_dir } => template(command, data_dir),
        Command::Doctor => crate::cli::doctor(),
        Command::KernelEnv(KernelEnvCommand::Install {
            dir,
            python,
            without_node,
        }) => {
            let options = crate::kernel_env_install::InstallOptions::default()
                .with_python(python)
                .with_node(!without_node);
            crate::cli::kernel_env_install(dir, &options)
        }
        Command::Envd {
            socket,
            listen_fd,
            config,
            config_fd,
        } => {
            use crate::agent::Source;
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
            crate::agent::main(listen, config)
        }
        Command::InterpreterPort => crate::agent::interpreter_port_main(),
    }
}

/// The invocations a server makes of its own executable: the sandbox's agent
/// (`envd …`), its code-interpreter port relay (`interpreter-port`) and, when
/// run under the name `sudo`, the sandbox's `sudo`. `serve` uses the running
/// executable as the agent, so a program that offers `serve` (e.g. as
/// `e2b local serve`) must call this first thing in `main` with its
/// arguments (program name included).
///
/// Returns `None` for any other command line, else the exit status once the
/// invocation has finished.
pub fn embedded_entry(args: &[OsString]) -> Option<i32> {
    let arg0 = args.first()?;
    if std::path::Path::new(arg0).file_name() == Some("sudo".as_ref()) {
        let rest: Vec<String> = args[1..]
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        return Some(crate::agent::sudo_main(&rest));
    }
    let first = args.get(1)?;
    if first != "envd" && first != crate::agent::INTERPRETER_PORT_SUBCOMMAND {
        return None;
    }
    #[derive(Parser)]
    #[command(name = "e2b-local")]
    struct Embedded {
        #[command(subcommand)]
        command: Command,
    }
    let parsed = match Embedded::try_parse_from(args) {
        Ok(parsed) => parsed,
        Err(e) => e.exit(),
    };
    crate::logging::init();
    Some(match run(parsed.command) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e:?}");
            1
        }
    })
}

/// Largest warm pool `--warm` accepts.
const MAX_WARM: usize = 64;

/// `TEMPLATE=N` of `--warm`.
fn parse_warm(value: &str) -> Result<(String, usize), String> {
    let (template, size) = value
        .rsplit_once('=')
        .ok_or_else(|| format!("expected TEMPLATE=N, got {value:?}"))?;
    let template = template.trim();
    if template.is_empty() {
        return Err(format!(
            "expected TEMPLATE=N, got {value:?}: the template is empty"
        ));
    }
    let size: usize = size
        .trim()
        .parse()
        .map_err(|_| format!("expected TEMPLATE=N, got {value:?}: N is not a number"))?;
    if size > MAX_WARM {
        return Err(format!(
            "at most {MAX_WARM} warm sandboxes per template, got {size}"
        ));
    }
    Ok((template.to_owned(), size))
}

#[cfg(test)]
mod tests {
    use super::parse_warm;

    #[test]
    fn warm_flags_are_template_equals_count() {
        assert_eq!(
            parse_warm("code-interpreter-v1=2"),
            Ok(("code-interpreter-v1".to_owned(), 2))
        );
        assert_eq!(
            parse_warm("team/tpl:v1=0"),
            Ok(("team/tpl:v1".to_owned(), 0))
        );
        assert!(parse_warm("code-interpreter-v1").is_err());
        assert!(parse_warm("=1").is_err());
        assert!(parse_warm("base=x").is_err());
        assert!(parse_warm("base=-1").is_err());
        assert!(parse_warm("base=1000").is_err());
    }
}
