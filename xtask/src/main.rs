//! `cargo xtask`: the maintenance commands of the workspace.
//!
//! * `sync-spec --tag e2b@X.Y.Z [--repo URL|PATH]` — copy upstream's spec files at a tag into `spec/`
//!   and record the pin in `spec/UPSTREAM.toml`. The only command that touches the network.
//! * `codegen [--check]` — regenerate `e2b-api` and `e2b-envd` from `spec/`, offline.
//! * `spec-diff <tagA> <tagB> [--repo URL|PATH]` — summarise what changed upstream between two tags.
//! * `check-tags [--from T] [--to T] [--repo URL|PATH]` — sync, regenerate and compile the SDK
//!   crates at every upstream tag of a range, in a scratch worktree; one line per tag.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod check_tags;
mod codegen;
mod git;
mod spec_diff;
mod sync_spec;

/// The upstream repository holding the spec.
pub(crate) const DEFAULT_REPO: &str = "https://github.com/e2b-dev/E2B.git";

/// The spec files the workspace pins, relative to upstream's `spec/` directory.
pub(crate) const SPEC_FILES: [&str; 5] = [
    "openapi.yml",
    "openapi-volumecontent.yml",
    "envd/envd.yaml",
    "envd/process/process.proto",
    "envd/filesystem/filesystem.proto",
];

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Maintenance tasks for the e2b-rs workspace"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Copy upstream's spec files at a tag into `spec/` and pin them in `spec/UPSTREAM.toml`.
    SyncSpec {
        /// Upstream tag, e.g. `e2b@2.45.0`.
        #[arg(long)]
        tag: String,
        /// Git remote to fetch from: a URL, a local repository or a git bundle.
        #[arg(long, default_value = DEFAULT_REPO)]
        repo: String,
    },
    /// Regenerate the generated crates from `spec/`.
    Codegen {
        /// Do not write; fail with a diff if anything checked in is stale.
        #[arg(long)]
        check: bool,
    },
    /// Summarise what changed in the spec between two upstream tags.
    SpecDiff {
        /// The older tag.
        from: String,
        /// The newer tag.
        to: String,
        /// Git remote to fetch from: a URL, a local repository or a git bundle.
        #[arg(long, default_value = DEFAULT_REPO)]
        repo: String,
    },
    /// Sync, regenerate and compile the SDK crates at each upstream tag, in a scratch worktree.
    CheckTags {
        /// The oldest tag to check (default: the oldest supported tag).
        #[arg(long)]
        from: Option<String>,
        /// The newest tag to check (default: the newest `e2b@2.*` tag of the remote).
        #[arg(long)]
        to: Option<String>,
        /// Check only the oldest and the newest tag of the range.
        #[arg(long)]
        ends_only: bool,
        /// The target directory every tag is compiled into (default: the workspace's own).
        #[arg(long)]
        target_dir: Option<PathBuf>,
        /// Git remote to fetch from: a URL, a local repository or a git bundle.
        #[arg(long, default_value = DEFAULT_REPO)]
        repo: String,
    },
}

/// The workspace root (the parent of this crate's directory).
pub(crate) fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

fn main() -> anyhow::Result<()> {
    let root = workspace_root();
    match Cli::parse().command {
        Command::SyncSpec { tag, repo } => sync_spec::run(&root, &tag, &repo),
        Command::Codegen { check } => codegen::run(
            &root,
            if check {
                codegen::Mode::Check
            } else {
                codegen::Mode::Write
            },
        ),
        Command::SpecDiff { from, to, repo } => spec_diff::run(&from, &to, &repo),
        Command::CheckTags {
            from,
            to,
            ends_only,
            target_dir,
            repo,
        } => check_tags::run(
            &root,
            &check_tags::Options {
                repo,
                from,
                to,
                ends_only,
                target_dir,
            },
        ),
    }
}
