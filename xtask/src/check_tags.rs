//! `cargo xtask check-tags [--from T] [--to T] [--repo R]`: does the workspace still regenerate
//! and compile at each upstream release?
//!
//! For every `e2b@2.X.Y` tag of the remote between `--from` and `--to` (both inclusive, oldest
//! first), in one scratch git worktree of this repository:
//!
//! 1. `sync-spec` copies upstream's spec files at the tag into the scratch `spec/`;
//! 2. `codegen` regenerates `e2b-api` and `e2b-envd` (and the spec features) from them;
//! 3. `cargo check` compiles the SDK crates ([`SDK_CRATES`], all features) against the result.
//!
//! and prints one line per tag: `ok`, or the step that failed and its first error. Every tag is
//! compiled into the same target directory, so after the first tag only the crates the spec
//! reaches are compiled again. The scratch worktree holds the current commit plus any
//! uncommitted changes to tracked files (`git stash create`), and is removed at the end; the
//! checkout itself is never touched.
//!
//! The SDK crates are the published library crates that compile against generated code. The
//! local server (`e2b-local`) and its test support implement the spec's server side at the
//! pinned tag only, so they are not part of the check.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::codegen;
use crate::codegen::spec_features::BelowMinimum;
use crate::git::{self, SpecSnapshot, TagVersion};
use crate::sync_spec;

/// The crates `cargo check` compiles at each tag.
pub(crate) const SDK_CRATES: [&str; 7] = [
    "e2b-api",
    "e2b-envd",
    "e2b-core",
    "e2b-sandbox",
    "e2b-code-interpreter",
    "e2b-template",
    "e2b",
];

/// What `check-tags` was asked to do.
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) repo: String,
    /// The oldest tag to check; the oldest supported tag when `None`.
    pub(crate) from: Option<String>,
    /// The newest tag to check; the newest tag of the remote when `None`.
    pub(crate) to: Option<String>,
    /// Check only the oldest and the newest tag of the range.
    pub(crate) ends_only: bool,
    /// The shared target directory; the workspace's own when `None`.
    pub(crate) target_dir: Option<PathBuf>,
}

/// The outcome at one tag.
#[derive(Debug)]
enum Outcome {
    Ok,
    Failed { step: &'static str, error: String },
}

impl Outcome {
    fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }
}

pub(crate) fn run(root: &Path, options: &Options) -> anyhow::Result<()> {
    let tags = select_tags(&git::list_tags(&options.repo)?, options)?;
    let target_dir = options
        .target_dir
        .clone()
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))
        .unwrap_or_else(|| root.join("target"));
    let target_dir = absolute(&target_dir)?;
    eprintln!(
        "checking {} tag(s) from {}: sync-spec, codegen, cargo check --all-features -p {}\n\
         shared target directory: {}",
        tags.len(),
        options.repo,
        SDK_CRATES.join(" -p "),
        target_dir.display()
    );

    let names: Vec<&str> = tags.iter().map(|t| t.tag.as_str()).collect();
    let snapshots = git::read_specs_at(&options.repo, &names)?;
    let scratch = ScratchWorktree::create(root)?;
    eprintln!("scratch worktree: {}", scratch.dir.display());

    let minimum = minimum()?;
    let (mut ok, mut unsupported, mut failed) = (0, 0, Vec::new());
    for snapshot in &snapshots {
        let started = Instant::now();
        let outcome = check_one(&scratch.dir, snapshot, &options.repo, &target_dir);
        let below = TagVersion::parse(&snapshot.tag).is_some_and(|t| t < minimum);
        let line = match (&outcome, below) {
            (Outcome::Ok, false) => "ok".to_owned(),
            (Outcome::Ok, true) => format!(
                "ok, although older than the minimum {}: the minimum can be lowered",
                minimum.tag
            ),
            (Outcome::Failed { step, error }, true) => {
                format!("unsupported (older than {}): {step}: {error}", minimum.tag)
            }
            (Outcome::Failed { step, error }, false) => format!("FAILED at {step}: {error}"),
        };
        println!(
            "{:<12} {line}  ({}s)",
            snapshot.tag,
            started.elapsed().as_secs()
        );
        match (outcome.is_ok(), below) {
            (true, _) => ok += 1,
            (false, true) => unsupported += 1,
            (false, false) => failed.push(snapshot.tag.clone()),
        }
    }
    println!(
        "{ok} ok, {unsupported} unsupported (older than {}), {} failed",
        minimum.tag,
        failed.len()
    );
    if !failed.is_empty() {
        bail!("tags that failed: {}", failed.join(", "));
    }
    Ok(())
}

fn minimum() -> anyhow::Result<TagVersion> {
    TagVersion::parse(codegen::spec_features::MINIMUM_TAG).context("the minimum tag does not parse")
}

/// The tags of the remote in `[from, to]`, oldest first (only both ends with `ends_only`).
fn select_tags(all: &[TagVersion], options: &Options) -> anyhow::Result<Vec<TagVersion>> {
    let bound =
        |tag: &Option<String>, default: Option<&TagVersion>| -> anyhow::Result<TagVersion> {
            match tag {
                Some(tag) => {
                    let version = TagVersion::parse(tag)
                        .with_context(|| format!("`{tag}` is not a tag like `e2b@2.45.0`"))?;
                    if !all.contains(&version) {
                        bail!("tag `{tag}` is not in {}", options.repo);
                    }
                    Ok(version)
                }
                None => default
                    .cloned()
                    .with_context(|| format!("{} has no `e2b@2.X.Y` tags", options.repo)),
            }
        };
    let minimum = minimum()?;
    let from = bound(&options.from, Some(&minimum))?;
    let to = bound(&options.to, all.last())?;
    if from > to {
        bail!("--from {} is newer than --to {}", from.tag, to.tag);
    }
    let mut range: Vec<TagVersion> = all
        .iter()
        .filter(|t| **t >= from && **t <= to)
        .cloned()
        .collect();
    if options.ends_only && range.len() > 2 {
        range = vec![range[0].clone(), range[range.len() - 1].clone()];
    }
    Ok(range)
}

fn check_one(dir: &Path, snapshot: &SpecSnapshot, repo: &str, target_dir: &Path) -> Outcome {
    if let Err(err) = sync_spec::write(dir, snapshot, repo) {
        return failed("sync-spec", &err);
    }
    if let Err(err) = codegen::write_changed(dir) {
        return failed("codegen", &err);
    }
    match cargo_check(dir, target_dir) {
        Ok(None) => Outcome::Ok,
        Ok(Some(error)) => Outcome::Failed {
            step: "cargo check",
            error,
        },
        Err(err) => failed("cargo check", &err),
    }
}

fn failed(step: &'static str, err: &anyhow::Error) -> Outcome {
    let error = match err.downcast_ref::<BelowMinimum>() {
        Some(below) => format!(
            "lacks {} ({} in all)",
            below.missing[..below.missing.len().min(3)].join(", "),
            below.missing.len()
        ),
        // The whole chain on one line: the context says where, the cause says why.
        None => format!("{err:#}").replace('\n', " "),
    };
    Outcome::Failed { step, error }
}

/// Runs `cargo check` on the SDK crates; `Ok(Some(first error))` when it fails to compile.
fn cargo_check(dir: &Path, target_dir: &Path) -> anyhow::Result<Option<String>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir)
        .args(["check", "--locked", "--quiet", "--all-features"])
        .args(["--message-format", "short", "--color", "never"]);
    for krate in SDK_CRATES {
        cmd.args(["-p", krate]);
    }
    let out = cmd
        .env("CARGO_TARGET_DIR", target_dir)
        .stdin(Stdio::null())
        .output()
        .context("cannot run cargo")?;
    if out.status.success() {
        return Ok(None);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Ok(Some(first_error(&stderr)))
}

/// The first compiler error of `cargo check --message-format short` output, or the last lines
/// of the output when there is none (cargo itself failed).
fn first_error(stderr: &str) -> String {
    let is_summary = |l: &str| l.starts_with("error: could not compile");
    stderr
        .lines()
        .find(|l| l.contains("error") && !is_summary(l))
        .map(|l| l.trim().to_owned())
        .unwrap_or_else(|| {
            let lines: Vec<&str> = stderr.lines().collect();
            lines[lines.len().saturating_sub(3)..].join(" ")
        })
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_owned());
    }
    Ok(std::env::current_dir()
        .context("cannot determine the current directory")?
        .join(path))
}

/// A detached git worktree of the repository at `root`, removed on drop.
#[derive(Debug)]
struct ScratchWorktree {
    root: PathBuf,
    dir: PathBuf,
}

impl ScratchWorktree {
    fn create(root: &Path) -> anyhow::Result<Self> {
        // `git stash create` records uncommitted changes to tracked files as a commit without
        // touching the checkout; it prints nothing when there are none.
        let stash = git::run_in(root, ["stash", "create"])?;
        let commit = match stash.trim() {
            "" => "HEAD".to_owned(),
            stash => stash.to_owned(),
        };
        let dir = std::env::temp_dir().join(format!("e2b-check-tags-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot remove the stale {}", dir.display()))?;
        }
        let dir_arg = dir
            .to_str()
            .with_context(|| format!("path {} is not UTF-8", dir.display()))?;
        git::run_in(
            root,
            ["worktree", "add", "--quiet", "--detach", dir_arg, &commit],
        )?;
        Ok(ScratchWorktree {
            root: root.to_owned(),
            dir,
        })
    }
}

impl Drop for ScratchWorktree {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.to_str() {
            let _ = git::run_in(&self.root, ["worktree", "remove", "--force", dir]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = git::run_in(&self.root, ["worktree", "prune"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(names: &[&str]) -> Vec<TagVersion> {
        let mut v: Vec<_> = names
            .iter()
            .map(|t| TagVersion::parse(t).unwrap())
            .collect();
        v.sort();
        v
    }

    fn options(from: Option<&str>, to: Option<&str>, ends_only: bool) -> Options {
        Options {
            repo: "bundle".into(),
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            ends_only,
            target_dir: None,
        }
    }

    fn names(v: &[TagVersion]) -> Vec<&str> {
        v.iter().map(|t| t.tag.as_str()).collect()
    }

    #[test]
    fn selects_an_inclusive_range_in_version_order() {
        let all = tags(&["e2b@2.9.0", "e2b@2.10.0", "e2b@2.10.1", "e2b@2.11.0"]);
        let got = select_tags(&all, &options(Some("e2b@2.9.0"), Some("e2b@2.10.1"), false));
        assert_eq!(
            names(&got.unwrap()),
            ["e2b@2.9.0", "e2b@2.10.0", "e2b@2.10.1"]
        );
        let ends = select_tags(&all, &options(Some("e2b@2.9.0"), None, true)).unwrap();
        assert_eq!(names(&ends), ["e2b@2.9.0", "e2b@2.11.0"]);
    }

    #[test]
    fn rejects_unknown_and_reversed_bounds() {
        let all = tags(&["e2b@2.9.0", "e2b@2.10.0"]);
        let err = select_tags(&all, &options(Some("e2b@2.9.9"), None, false)).unwrap_err();
        assert!(err.to_string().contains("not in bundle"), "{err}");
        let err = select_tags(&all, &options(Some("2.9.0"), None, false)).unwrap_err();
        assert!(err.to_string().contains("not a tag like"), "{err}");
        let err =
            select_tags(&all, &options(Some("e2b@2.10.0"), Some("e2b@2.9.0"), false)).unwrap_err();
        assert!(err.to_string().contains("newer than"), "{err}");
    }

    #[test]
    fn first_error_skips_the_summary() {
        let out = "warning: unused\nerror: could not compile `x`\n\
                   crates/a/src/lib.rs:3:5: error[E0412]: cannot find type `X` in module `types`\n";
        assert_eq!(
            first_error(out),
            "crates/a/src/lib.rs:3:5: error[E0412]: cannot find type `X` in module `types`"
        );
        assert_eq!(first_error("a\nb\nc\nd"), "b c d");
    }
}
