//! The command line, as clap definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::target::Remote;

const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    the operation failed; run-code: the code raised an error
  2    invalid command line
  3    configuration (no API key, a malformed URL or domain)
  4    not found (sandbox, file, snapshot, template, volume)
  5    authentication refused
  6    timeout, or the sandbox is gone
  130  interrupted
  sandbox exec/connect/create exit with the remote command's code (128+N for signal N),
  and 255 when e2b itself fails.";

const CONNECTION: &str = "Connection (flags beat the E2B_* variables)";

/// E2B sandboxes from a terminal: E2B's cloud, a self-hosted E2B, or `e2b local serve`.
#[derive(Debug, Parser)]
#[command(name = "e2b", version, after_help = EXIT_CODES, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Connection settings and output, for every command. Flags beat the environment.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// API key [default: $E2B_API_KEY]. Prefer the variable: arguments are visible to
    /// other users of the machine.
    #[arg(long, global = true, value_name = "KEY", help_heading = CONNECTION)]
    pub(crate) api_key: Option<String>,
    /// Access token [default: $E2B_ACCESS_TOKEN].
    #[arg(long, global = true, value_name = "TOKEN", help_heading = CONNECTION)]
    pub(crate) access_token: Option<String>,
    /// Domain of the E2B deployment [default: $E2B_DOMAIN, else e2b.app].
    #[arg(long, global = true, value_name = "DOMAIN", help_heading = CONNECTION)]
    pub(crate) domain: Option<String>,
    /// Control-plane URL [default: $E2B_API_URL, else https://api.<domain>].
    #[arg(long, global = true, value_name = "URL", help_heading = CONNECTION)]
    pub(crate) api_url: Option<String>,
    /// URL every sandbox is reached through (a local server) [default: $E2B_SANDBOX_URL].
    #[arg(long, global = true, value_name = "URL", help_heading = CONNECTION)]
    pub(crate) sandbox_url: Option<String>,
    /// Deadline of one request, in seconds (0: none) [default: 60].
    #[arg(long, global = true, value_name = "SECONDS", help_heading = CONNECTION)]
    pub(crate) request_timeout: Option<u64>,
    /// Output for people (`table`) or scripts (`json`).
    #[arg(long, global = true, value_enum, default_value_t = Format::Table, help_heading = "Output")]
    pub(crate) format: Format,
}

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Tables and messages, sized to the terminal.
    #[value(alias = "pretty")]
    Table,
    /// One JSON document (JSON lines for streams).
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create, reach and manage sandboxes.
    #[command(subcommand, visible_alias = "sbx")]
    Sandbox(SandboxCommand),
    /// Files in a sandbox: copy to and from it, list, remove, make directories, watch.
    #[command(subcommand)]
    Files(FilesCommand),
    /// Run code in a code-interpreter sandbox, streaming its output.
    RunCode(RunCodeArgs),
    /// Build templates from Dockerfiles, list, delete and tag them, scaffold new ones.
    #[command(subcommand, visible_alias = "tpl")]
    Template(TemplateCommand),
    /// Persistent volumes: create, list, remove, list and copy their files.
    #[command(subcommand, visible_alias = "vol")]
    Volume(VolumeCommand),
    /// The E2B-compatible local server (e2b-local) from this binary.
    #[cfg(feature = "local")]
    #[command(subcommand)]
    Local(e2b_local::cli::Command),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TemplateCommand {
    /// Build a template from a Dockerfile, printing the build's logs as it runs.
    #[command(visible_alias = "bd")]
    Build(TemplateBuildArgs),
    /// List the team's templates.
    #[command(visible_alias = "ls")]
    List,
    /// Delete templates.
    #[command(visible_alias = "dl")]
    Delete {
        /// Template names or ids.
        #[arg(required = true, value_name = "NAME|ID")]
        templates: Vec<String>,
    },
    /// List a template's tags, or add and remove tags.
    Tags(TagsArgs),
    /// Scaffold a template directory: an `e2b.Dockerfile` from E2B's base image and a
    /// README.
    Init {
        /// The directory (created if missing) [default: the current one].
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
}

/// `e2b template build`.
#[derive(Debug, Args)]
pub(crate) struct TemplateBuildArgs {
    /// The template's name, with an optional tag (`name:tag`).
    #[arg(short, long, value_name = "NAME[:TAG]")]
    pub(crate) name: String,
    /// The Dockerfile [default: e2b.Dockerfile in the context directory, else Dockerfile].
    #[arg(short, long, value_name = "PATH")]
    pub(crate) dockerfile: Option<PathBuf>,
    /// The context directory `COPY` sources are relative to.
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub(crate) path: PathBuf,
    /// vCPUs of the template's sandboxes [default: the server's].
    #[arg(long, value_name = "N")]
    pub(crate) cpu_count: Option<u32>,
    /// Memory of the template's sandboxes, in MiB [default: the server's].
    #[arg(long, value_name = "N")]
    pub(crate) memory_mb: Option<u32>,
    /// Rebuild every layer, ignoring the cache.
    #[arg(long)]
    pub(crate) skip_cache: bool,
    /// The command sandboxes start with (overrides the Dockerfile's CMD/ENTRYPOINT).
    #[arg(long, value_name = "CMD")]
    pub(crate) start_cmd: Option<String>,
    /// A shell command that succeeds once the start command is ready [default with
    /// --start-cmd: wait 20 seconds].
    #[arg(long, value_name = "CMD")]
    pub(crate) ready_cmd: Option<String>,
    /// Fail if the build takes longer, in seconds [default: no limit].
    #[arg(long, value_name = "SECONDS")]
    pub(crate) timeout: Option<u64>,
}

/// `e2b template tags`: a listing without a subcommand.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct TagsArgs {
    /// The template (name or id) whose tags are listed.
    #[arg(required = true, value_name = "NAME|ID")]
    pub(crate) template: Option<String>,
    #[command(subcommand)]
    pub(crate) command: Option<TagsCommand>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TagsCommand {
    /// Point tags at the build TARGET (`name:tag`, or `name` for its latest build) names.
    Add {
        /// The build: `name:tag` or `name`.
        #[arg(value_name = "TARGET")]
        target: String,
        /// The tags to assign.
        #[arg(required = true)]
        tags: Vec<String>,
    },
    /// Remove tags from a template.
    Rm {
        /// The template's name.
        name: String,
        /// The tags to remove.
        #[arg(required = true)]
        tags: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum VolumeCommand {
    /// Create a volume; prints its id.
    #[command(visible_alias = "cr")]
    Create {
        /// Its name (letters, digits, `_` and `-`; unique in the team).
        name: String,
    },
    /// List the team's volumes.
    List,
    /// Delete volumes and everything in them.
    Rm {
        /// Volume names or ids.
        #[arg(required = true, value_name = "NAME|ID")]
        volumes: Vec<String>,
    },
    /// List a directory of a volume.
    Ls {
        /// The volume (name or id), with an optional path [default: /].
        #[arg(value_name = "VOLUME[:PATH]")]
        target: String,
        /// How many levels to list (1 to 10).
        #[arg(short, long, default_value_t = 1)]
        depth: u32,
    },
    /// Copy files or directories between this machine and a volume (`VOLUME:/path` is in
    /// the volume, `-` standard input or output), streamed.
    Cp {
        /// What to copy.
        source: String,
        /// Where to: into an existing directory, or at that path.
        destination: String,
    },
}

/// Options of an interactive terminal in a sandbox.
#[derive(Debug, Args)]
pub(crate) struct TerminalArgs {
    /// The user the terminal runs as [default: the template's].
    #[arg(short, long)]
    pub(crate) user: Option<String>,
    /// The terminal's working directory [default: the user's home].
    #[arg(short, long)]
    pub(crate) cwd: Option<String>,
    /// An environment variable of the terminal (repeatable).
    #[arg(short, long = "env", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub(crate) envs: Vec<(String, String)>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SandboxCommand {
    /// Create a sandbox and open a terminal in it (it is killed when the terminal closes,
    /// unless --timeout was given), or print its id with --detach.
    #[command(visible_alias = "cr")]
    Create {
        /// The template (name or id).
        #[arg(default_value = e2b_sandbox::DEFAULT_TEMPLATE)]
        template: String,
        /// Seconds the sandbox lives without activity (the server's default: 300).
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<u64>,
        /// Metadata to attach (repeatable).
        #[arg(short, long, value_name = "KEY=VALUE", value_parser = parse_pair)]
        metadata: Vec<(String, String)>,
        /// Environment variable of every command in the sandbox (repeatable).
        #[arg(short, long = "env", value_name = "KEY=VALUE", value_parser = parse_pair)]
        envs: Vec<(String, String)>,
        /// Print the new sandbox's id (its info with --format json) instead of opening a
        /// terminal.
        #[arg(short, long)]
        detach: bool,
        /// The user the terminal runs as.
        #[arg(short, long, conflicts_with = "detach")]
        user: Option<String>,
        /// The terminal's working directory.
        #[arg(short, long, conflicts_with = "detach")]
        cwd: Option<String>,
    },
    /// Open an interactive terminal in a running sandbox; exits with the shell's code.
    #[command(visible_alias = "cn")]
    Connect {
        /// The sandbox id.
        sandbox_id: String,
        #[command(flatten)]
        terminal: TerminalArgs,
    },
    /// Run a command in a sandbox, with standard input, output and error piped; exits with
    /// its code.
    #[command(visible_alias = "ex")]
    Exec {
        /// The sandbox id.
        sandbox_id: String,
        /// The command: one argument is a shell command line, several are quoted for
        /// the shell word by word.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
        /// Start it and print its pid, without waiting.
        #[arg(short, long)]
        background: bool,
        /// Working directory.
        #[arg(short, long)]
        cwd: Option<String>,
        /// The user to run as.
        #[arg(short, long)]
        user: Option<String>,
        /// Environment variable (repeatable).
        #[arg(short, long = "env", value_name = "KEY=VALUE", value_parser = parse_pair)]
        envs: Vec<(String, String)>,
    },
    /// List sandboxes (running ones unless --state says otherwise).
    #[command(visible_alias = "ls")]
    List {
        /// Only sandboxes in these states (`running`, `paused`; comma-separated).
        #[arg(short, long, value_delimiter = ',', value_parser = parse_state)]
        state: Vec<e2b_sandbox::SandboxState>,
        /// Only sandboxes with this metadata (repeatable).
        #[arg(short, long, value_name = "KEY=VALUE", value_parser = parse_pair)]
        metadata: Vec<(String, String)>,
        /// At most this many sandboxes (0: all).
        #[arg(short, long, default_value_t = 1000)]
        limit: usize,
        /// Continue a listing from this token (printed when more remain).
        #[arg(long, value_name = "TOKEN")]
        next_token: Option<String>,
    },
    /// Show a sandbox's details.
    #[command(visible_alias = "in")]
    Info {
        /// The sandbox id.
        sandbox_id: String,
    },
    /// Kill sandboxes.
    #[command(visible_alias = "kl")]
    Kill {
        /// The sandbox ids.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        sandbox_ids: Vec<String>,
        /// Kill every sandbox (that matches --state and --metadata).
        #[arg(short, long)]
        all: bool,
        /// With --all: only sandboxes in these states [default: running].
        #[arg(short, long, value_delimiter = ',', value_parser = parse_state, requires = "all")]
        state: Vec<e2b_sandbox::SandboxState>,
        /// With --all: only sandboxes with this metadata (repeatable).
        #[arg(short, long, value_name = "KEY=VALUE", value_parser = parse_pair, requires = "all")]
        metadata: Vec<(String, String)>,
    },
    /// Pause a sandbox (resume it with `resume` or `connect`).
    #[command(visible_alias = "ps")]
    Pause {
        /// The sandbox id.
        sandbox_id: String,
    },
    /// Resume a paused sandbox.
    #[command(visible_alias = "rs")]
    Resume {
        /// The sandbox id.
        sandbox_id: String,
        /// Seconds it lives from now on.
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<u64>,
    },
    /// Set how long a sandbox lives from now on.
    SetTimeout {
        /// The sandbox id.
        sandbox_id: String,
        /// Seconds from now.
        seconds: u64,
    },
    /// Show a sandbox's resource usage.
    #[command(visible_alias = "mt")]
    Metrics {
        /// The sandbox id.
        sandbox_id: String,
        /// Keep printing new samples until the sandbox stops.
        #[arg(short, long)]
        follow: bool,
    },
    /// Show a sandbox's logs.
    #[command(visible_alias = "lg")]
    Logs {
        /// The sandbox id.
        sandbox_id: String,
        /// Keep printing new entries until the sandbox stops.
        #[arg(short, long)]
        follow: bool,
        /// Only entries of this level or above (`debug`, `info`, `warn`, `error`).
        #[arg(long, value_parser = parse_level)]
        level: Option<e2b_sandbox::LogLevel>,
    },
    /// Snapshots of sandboxes: templates to create sandboxes from.
    #[command(subcommand, visible_alias = "snap")]
    Snapshot(SnapshotCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum SnapshotCommand {
    /// Snapshot a sandbox.
    #[command(visible_alias = "cr")]
    Create {
        /// The sandbox id.
        sandbox_id: String,
        /// A name for the snapshot.
        #[arg(short, long)]
        name: Option<String>,
    },
    /// List snapshots.
    #[command(visible_alias = "ls")]
    List {
        /// Only snapshots of this sandbox.
        sandbox_id: Option<String>,
        /// Only snapshots with this name.
        #[arg(short, long)]
        name: Option<String>,
        /// At most this many snapshots (0: all).
        #[arg(short, long, default_value_t = 1000)]
        limit: usize,
    },
    /// Delete snapshots.
    #[command(visible_alias = "dl")]
    Delete {
        /// The snapshot ids.
        #[arg(required = true)]
        snapshot_ids: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum FilesCommand {
    /// Copy files or directories between this machine and a sandbox (`ID:/path` is in the
    /// sandbox; `-` is standard input or output).
    Cp {
        /// What to copy.
        source: String,
        /// Where to: an existing directory receives the source under its own name.
        destination: String,
        /// The user the sandbox side is read or written as.
        #[arg(short, long)]
        user: Option<String>,
    },
    /// List a directory in a sandbox.
    Ls {
        /// `ID:/path`.
        #[arg(value_parser = parse_remote)]
        target: Remote,
        /// How many levels deep.
        #[arg(short, long, default_value_t = 1)]
        depth: u32,
    },
    /// Remove files or directory trees in a sandbox.
    Rm {
        /// `ID:/path` (repeatable).
        #[arg(required = true, value_parser = parse_remote)]
        targets: Vec<Remote>,
    },
    /// Make directories (and their parents) in a sandbox.
    Mkdir {
        /// `ID:/path` (repeatable).
        #[arg(required = true, value_parser = parse_remote)]
        targets: Vec<Remote>,
    },
    /// Print changes under a directory in a sandbox until interrupted.
    Watch {
        /// `ID:/path`.
        #[arg(value_parser = parse_remote)]
        target: Remote,
        /// Watch subdirectories too.
        #[arg(short, long)]
        recursive: bool,
        /// Stop after this many seconds [default: never].
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<u64>,
    },
}

/// `run-code ID FILE`, or `run-code --template T FILE` in a new sandbox killed afterwards.
#[derive(Debug, Args)]
pub(crate) struct RunCodeArgs {
    /// `ID FILE`, or `FILE` with --template; `-` reads the code from standard input.
    #[arg(required = true, num_args = 1..=2, value_name = "ID|FILE")]
    pub(crate) args: Vec<String>,
    /// Run in a new sandbox of this template (e.g. code-interpreter-v1), killed afterwards.
    #[arg(short, long)]
    pub(crate) template: Option<String>,
    /// The language (`python`, `javascript`, `typescript`, `r`, `java`, `bash`)
    /// [default: python].
    #[arg(short, long)]
    pub(crate) language: Option<String>,
    /// Where images and charts of results are saved.
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub(crate) output_dir: PathBuf,
    /// Seconds the code may run (0: no limit) [default: 300].
    #[arg(long, value_name = "SECONDS")]
    pub(crate) timeout: Option<u64>,
}

// `e2b local …`, parsed on its own: e2b-local's options (its own `--format` and
// `--api-key`) never meet the global ones.
#[cfg(feature = "local")]
#[derive(Debug, Parser)]
#[command(
    name = "e2b local",
    version,
    max_term_width = 100,
    about = "The E2B-compatible local server (e2b-local) from this binary"
)]
pub(crate) struct LocalCli {
    #[command(subcommand)]
    pub(crate) command: e2b_local::cli::Command,
}

/// Whether the command line is `e2b local …`: `Ok(true)` when `local` is the first
/// argument, an error when options precede it (they would not apply).
#[cfg(feature = "local")]
pub(crate) fn is_local(args: &[std::ffi::OsString]) -> Result<bool, String> {
    use clap::CommandFactory as _;
    if args.get(1).is_some_and(|a| a == "local") {
        return Ok(true);
    }
    // The first positional argument, skipping the options and their values.
    let command = Cli::command();
    let takes_value: Vec<String> = command
        .get_arguments()
        .filter(|a| a.get_action().takes_values())
        .filter_map(|a| a.get_long())
        .map(|long| format!("--{long}"))
        .collect();
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        let text = arg.to_string_lossy();
        if text == "--" {
            return Ok(false);
        }
        if text.starts_with('-') {
            if takes_value.iter().any(|t| *t == text) {
                rest.next();
            }
            continue;
        }
        return if text == "local" {
            Err("options before `local` do not apply to it: write `e2b local …`".to_owned())
        } else {
            Ok(false)
        };
    }
    Ok(false)
}

/// `KEY=VALUE`.
fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got `{s}`")),
    }
}

fn parse_remote(s: &str) -> Result<Remote, String> {
    Remote::parse(s).map_err(|e| e.to_string())
}

fn parse_state(s: &str) -> Result<e2b_sandbox::SandboxState, String> {
    s.parse().map_err(|e: e2b_sandbox::Error| e.to_string())
}

fn parse_level(s: &str) -> Result<e2b_sandbox::LogLevel, String> {
    s.parse().map_err(|e: e2b_sandbox::Error| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[cfg(feature = "local")]
    #[test]
    fn local_is_recognised_only_as_the_command() {
        let args = |s: &[&str]| s.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(is_local(&args(&["e2b", "local", "serve"])), Ok(true));
        assert_eq!(
            is_local(&args(&["e2b", "sandbox", "exec", "local"])),
            Ok(false)
        );
        assert_eq!(
            is_local(&args(&["e2b", "--domain", "local", "sandbox", "list"])),
            Ok(false)
        );
        assert!(is_local(&args(&["e2b", "--format", "json", "local", "doctor"])).is_err());
        LocalCli::command().debug_assert();
    }

    #[test]
    fn pairs_need_a_key_and_an_equals_sign() {
        assert_eq!(parse_pair("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(parse_pair("a=").unwrap(), ("a".into(), String::new()));
        assert!(parse_pair("=b").is_err());
        assert!(parse_pair("ab").is_err());
    }
}
