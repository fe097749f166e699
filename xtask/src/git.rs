//! Reading upstream spec files out of a git remote (URL, repository or bundle), and the pin
//! recorded in `spec/UPSTREAM.toml`.
//!
//! Everything goes through the `git` command-line tool: a throwaway bare repository is created
//! in the system temporary directory, the wanted tag is fetched into it (shallowly when the
//! remote is a URL) and the blobs under `spec/` are read with `git cat-file`, so the bytes are
//! exactly upstream's (no checkout, no line-ending filters).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::{DEFAULT_REPO, SPEC_FILES};

/// The name of the pin file inside `spec/`.
pub(crate) const PIN_FILE: &str = "UPSTREAM.toml";

/// The trailer the offline bundle puts on its commits to name the real upstream commit.
const UPSTREAM_COMMIT_TRAILER: &str = "upstream-commit:";

/// Upstream's `spec/` directory at one tag.
#[derive(Debug, Clone)]
pub(crate) struct SpecSnapshot {
    /// The tag, as asked for (e.g. `e2b@2.45.0`).
    pub(crate) tag: String,
    /// The commit the tag points to in the remote that was read.
    pub(crate) commit: String,
    /// The upstream commit: the `upstream-commit:` trailer of `commit` when it has one (mirrors
    /// such as the offline bundle), otherwise `commit` itself.
    pub(crate) upstream_commit: String,
    /// Every file under `spec/`, keyed by its path relative to `spec/` (`envd/envd.yaml`).
    pub(crate) files: BTreeMap<String, Vec<u8>>,
}

impl SpecSnapshot {
    /// Whether `commit` named its upstream commit in a trailer (i.e. the remote is a mirror).
    pub(crate) fn is_mirror(&self) -> bool {
        self.commit != self.upstream_commit
    }
}

/// Reads every file under upstream's `spec/` at `tag` from `repo` (a URL, a local repository or
/// a git bundle; relative paths are resolved against the current directory).
pub(crate) fn read_spec_at(repo: &str, tag: &str) -> anyhow::Result<SpecSnapshot> {
    let mut snapshots = read_specs_at(repo, &[tag])?;
    Ok(snapshots.remove(0))
}

/// Like [`read_spec_at`] for several tags, fetched into one temporary repository.
pub(crate) fn read_specs_at(repo: &str, tags: &[&str]) -> anyhow::Result<Vec<SpecSnapshot>> {
    let remote = Remote::parse(repo)?;
    let scratch = ScratchRepo::create()?;
    tags.iter()
        .enumerate()
        .map(|(i, tag)| {
            let local_ref = format!("refs/xtask/fetched/{i}");
            scratch.fetch_tag(&remote, tag, &local_ref)?;
            scratch.snapshot(tag, &local_ref)
        })
        .collect()
}

/// An upstream release tag `e2b@MAJOR.MINOR.PATCH`, ordered by version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TagVersion {
    /// `(major, minor, patch)`; compared first, so tags sort by version.
    pub(crate) version: (u64, u64, u64),
    /// The tag as written.
    pub(crate) tag: String,
}

impl TagVersion {
    /// `e2b@2.45.0` → version `(2, 45, 0)`; `None` for anything else (pre-releases included).
    pub(crate) fn parse(tag: &str) -> Option<Self> {
        let mut parts = tag.strip_prefix("e2b@")?.split('.');
        let mut next = || -> Option<u64> {
            let part = parts.next()?;
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let version = (next()?, next()?, next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(TagVersion {
            version,
            tag: tag.to_owned(),
        })
    }
}

/// The `e2b@2.X.Y` release tags of `repo`, oldest first.
pub(crate) fn list_tags(repo: &str) -> anyhow::Result<Vec<TagVersion>> {
    let remote = Remote::parse(repo)?;
    let out = git_checked(
        None,
        [
            "ls-remote",
            "--tags",
            "--refs",
            remote.location.as_str(),
            "refs/tags/e2b@2.*",
        ],
    )?;
    let mut tags: Vec<TagVersion> = utf8(out)?
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .filter_map(|(_, name)| name.strip_prefix("refs/tags/"))
        .filter_map(TagVersion::parse)
        .filter(|t| t.version.0 == 2)
        .collect();
    tags.sort();
    tags.dedup();
    Ok(tags)
}

/// Runs git in the repository at `dir` and returns its standard output.
pub(crate) fn run_in<I, S>(dir: &Path, args: I) -> anyhow::Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    utf8(git_checked(Some(dir), args)?)
}

/// A git remote as given on the command line.
#[derive(Debug)]
struct Remote {
    /// As the user wrote it, for messages.
    display: String,
    /// What to hand to `git fetch`: the URL, or the absolute path.
    location: String,
    /// Local paths (repositories and bundles) are fetched in full: `--depth` is ignored or
    /// unsupported for them, and cheap anyway.
    local: bool,
}

impl Remote {
    fn parse(repo: &str) -> anyhow::Result<Self> {
        if repo.is_empty() || repo.starts_with('-') {
            bail!("invalid repository `{repo}`");
        }
        if is_url(repo) {
            return Ok(Remote {
                display: repo.to_owned(),
                location: repo.to_owned(),
                local: false,
            });
        }
        let path = Path::new(repo);
        let absolute = if path.is_absolute() {
            path.to_owned()
        } else {
            std::env::current_dir()
                .context("cannot determine the current directory")?
                .join(path)
        };
        if !absolute.exists() {
            bail!(
                "repository `{repo}` does not exist (resolved to {}); pass a URL, a repository \
                 or a git bundle",
                absolute.display()
            );
        }
        let absolute = absolute.canonicalize().unwrap_or(absolute);
        Ok(Remote {
            display: repo.to_owned(),
            location: absolute
                .to_str()
                .with_context(|| format!("path {} is not UTF-8", absolute.display()))?
                .to_owned(),
            local: true,
        })
    }
}

/// `scheme://…` or scp-like `user@host:path`.
fn is_url(repo: &str) -> bool {
    if repo.contains("://") {
        return true;
    }
    match repo.split_once(':') {
        // `C:\…` is a Windows path, not a host.
        Some((host, _)) => host.len() > 1 && !host.contains(['/', '\\']),
        None => false,
    }
}

/// A bare repository in the temporary directory, removed on drop.
#[derive(Debug)]
struct ScratchRepo {
    dir: PathBuf,
}

impl ScratchRepo {
    fn create() -> anyhow::Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let dir =
            std::env::temp_dir().join(format!("e2b-xtask-spec-{}-{nanos:09}", std::process::id()));
        let scratch = ScratchRepo { dir };
        std::fs::create_dir_all(&scratch.dir)
            .with_context(|| format!("cannot create {}", scratch.dir.display()))?;
        git_checked(
            None,
            [
                OsStr::new("init"),
                OsStr::new("--quiet"),
                OsStr::new("--bare"),
                scratch.dir.as_os_str(),
            ],
        )?;
        Ok(scratch)
    }

    fn git<I, S>(&self, args: I) -> anyhow::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        git(Some(&self.dir), args)
    }

    fn git_checked<I, S>(&self, args: I) -> anyhow::Result<Vec<u8>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        git_checked(Some(&self.dir), args)
    }

    fn fetch_tag(&self, remote: &Remote, tag: &str, local_ref: &str) -> anyhow::Result<()> {
        check_tag_name(tag)?;
        let refspec = format!("+refs/tags/{tag}:{local_ref}");
        let mut args = vec!["fetch", "--quiet", "--no-tags"];
        if !remote.local {
            args.push("--depth=1");
        }
        args.extend([remote.location.as_str(), refspec.as_str()]);
        let out = self.git(&args)?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("couldn't find remote ref") {
            bail!(
                "tag `{tag}` not found in {repo}\n\
                 upstream tags look like `e2b@2.45.0`; list them with\n    \
                 git ls-remote --tags {repo} 'e2b@*'",
                repo = remote.display,
            );
        }
        bail!(
            "`git {}` failed ({}):\n{}",
            args.join(" "),
            out.status,
            stderr.trim_end()
        )
    }

    fn snapshot(&self, tag: &str, local_ref: &str) -> anyhow::Result<SpecSnapshot> {
        let commit = utf8(self.git_checked(["rev-parse", &format!("{local_ref}^{{commit}}")])?)?
            .trim()
            .to_owned();
        let message = utf8(self.git_checked(["log", "-1", "--format=%B", &commit])?)?;
        let upstream_commit = upstream_commit_trailer(&message).unwrap_or_else(|| commit.clone());

        let listing = self.git_checked(["ls-tree", "-r", "-z", "--full-tree", &commit, "spec/"])?;
        let mut files = BTreeMap::new();
        for entry in listing.split(|&b| b == 0).filter(|e| !e.is_empty()) {
            let entry = utf8(entry.to_vec())?;
            let (meta, path) = entry
                .split_once('\t')
                .with_context(|| format!("unexpected `git ls-tree` line: {entry}"))?;
            let mut meta = meta.split(' ');
            let (_mode, kind, object) = (meta.next(), meta.next(), meta.next());
            // Submodules (`commit` entries) have no content here.
            if kind != Some("blob") {
                continue;
            }
            let object = object.context("`git ls-tree` line without an object id")?;
            let name = path.strip_prefix("spec/").unwrap_or(path).to_owned();
            let bytes = self.git_checked(["cat-file", "blob", object])?;
            files.insert(name, bytes);
        }
        if files.is_empty() {
            bail!("tag `{tag}` (commit {commit}) has no files under spec/");
        }
        Ok(SpecSnapshot {
            tag: tag.to_owned(),
            commit,
            upstream_commit,
            files,
        })
    }
}

impl Drop for ScratchRepo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Rejects anything git would not accept as a tag name (and anything that looks like an option).
fn check_tag_name(tag: &str) -> anyhow::Result<()> {
    let ok = !tag.starts_with('-')
        && git(None, ["check-ref-format", &format!("refs/tags/{tag}")])?
            .status
            .success();
    if !ok {
        bail!("`{tag}` is not a valid tag name (expected something like `e2b@2.45.0`)");
    }
    Ok(())
}

/// The value of the last `upstream-commit:` trailer of a commit message.
fn upstream_commit_trailer(message: &str) -> Option<String> {
    message
        .lines()
        .rev()
        .filter_map(|line| line.trim().strip_prefix(UPSTREAM_COMMIT_TRAILER))
        .map(str::trim)
        .find(|sha| sha.len() >= 7 && sha.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_owned)
}

fn git<I, S>(dir: Option<&Path>, args: I) -> anyhow::Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new("git");
    if let Some(dir) = dir {
        cmd.arg("-C").arg(dir);
    }
    cmd.args(args)
        .stdin(Stdio::null())
        // Never prompt for credentials, and ignore a repository the caller may be inside of.
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_OBJECT_DIRECTORY")
        .env_remove("GIT_ALTERNATE_OBJECT_DIRECTORIES");
    cmd.output()
        .context("cannot run `git`; is it installed and on PATH?")
}

fn git_checked<I, S>(dir: Option<&Path>, args: I) -> anyhow::Result<Vec<u8>>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<S> = args.into_iter().collect();
    let out = git(dir, &args)?;
    if !out.status.success() {
        let shown: Vec<_> = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        bail!(
            "`git {}` failed ({}):\n{}",
            shown.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    Ok(out.stdout)
}

fn utf8(bytes: Vec<u8>) -> anyhow::Result<String> {
    String::from_utf8(bytes).context("git printed non-UTF-8 output")
}

// ---------------------------------------------------------------------------------------------
// spec/UPSTREAM.toml
// ---------------------------------------------------------------------------------------------

/// The pin recorded in `spec/UPSTREAM.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pin {
    /// The canonical upstream repository.
    pub(crate) repository: String,
    /// Where the files were actually fetched from, when that was not upstream or a mirror of it.
    pub(crate) source: Option<String>,
    /// The upstream tag, e.g. `e2b@2.45.0`.
    pub(crate) tag: String,
    /// The upstream commit the tag points to.
    pub(crate) upstream_commit: String,
    /// Lower-case hex sha256 of each pinned file, keyed by its path relative to `spec/`.
    pub(crate) sha256: BTreeMap<String, String>,
}

/// `<root>/spec`, the spec directory of the workspace at `root`.
pub(crate) fn spec_dir(root: &Path) -> PathBuf {
    root.join("spec")
}

/// Lower-case hex sha256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// Reads and parses `spec/UPSTREAM.toml`.
pub(crate) fn read_pin(root: &Path) -> anyhow::Result<Pin> {
    let path = spec_dir(root).join(PIN_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {}; run `cargo xtask sync-spec --tag e2b@X.Y.Z` first",
            path.display()
        )
    })?;
    parse_pin(&text).with_context(|| format!("malformed {}", path.display()))
}

/// Recomputes the sha256 of every pinned file in `spec/` and compares it with
/// `spec/UPSTREAM.toml`. Fails listing every mismatch.
pub(crate) fn verify_pinned_files(root: &Path) -> anyhow::Result<()> {
    let pin = read_pin(root)?;
    verify_files_against(&pin, &spec_dir(root))
}

fn verify_files_against(pin: &Pin, dir: &Path) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for file in SPEC_FILES {
        if !pin.sha256.contains_key(file) {
            problems.push(format!("{file}: not listed in {PIN_FILE}"));
        }
    }
    for (file, expected) in &pin.sha256 {
        match std::fs::read(dir.join(file)) {
            Ok(bytes) => {
                let actual = sha256_hex(&bytes);
                if &actual != expected {
                    problems.push(format!(
                        "{file}: sha256 is {actual}, {PIN_FILE} says {expected}"
                    ));
                }
            }
            Err(err) => problems.push(format!("{file}: {err}")),
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    bail!(
        "spec/ does not match {PIN_FILE} (upstream {tag}):\n  {}\n\
         The spec files must be byte-identical copies of upstream (patch the parsed document in \
         the xtask instead of editing them). Restore them with\n    \
         cargo xtask sync-spec --tag {tag}",
        problems.join("\n  "),
        tag = pin.tag,
    )
}

/// Renders `spec/UPSTREAM.toml`. Deterministic: same pin, same bytes.
pub(crate) fn render_pin(pin: &Pin) -> String {
    let mut out = String::new();
    out.push_str(
        "# Upstream pin of the spec files in this directory.\n\
         #\n\
         # Written by `cargo xtask sync-spec --tag <tag>`; do not edit by hand. The files listed\n\
         # under [files] are byte-identical copies of upstream's spec/ at `tag`, and\n\
         # `cargo xtask codegen` refuses to run if their sha256 no longer matches.\n\n",
    );
    out.push_str("[upstream]\n");
    let _ = writeln!(out, "repository = {}", toml_string(&pin.repository));
    if let Some(source) = &pin.source {
        out.push_str(
            "# Fetched from a source that is neither upstream nor a mirror of it; `commit` is that\n\
             # source's commit.\n",
        );
        let _ = writeln!(out, "source = {}", toml_string(source));
    }
    let _ = writeln!(out, "tag = {}", toml_string(&pin.tag));
    let _ = writeln!(out, "commit = {}", toml_string(&pin.upstream_commit));
    out.push_str("\n# sha256 of each file, relative to spec/.\n[files]\n");
    for (file, sha) in &pin.sha256 {
        let _ = writeln!(out, "{} = {}", toml_string(file), toml_string(sha));
    }
    out
}

fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Parses the subset of TOML [`render_pin`] writes: comments, `[upstream]` and `[files]`
/// tables, and `key = "basic string"` lines (keys bare or quoted).
fn parse_pin(text: &str) -> anyhow::Result<Pin> {
    let mut table = None::<String>;
    let mut upstream = BTreeMap::<String, String>::new();
    let mut files = BTreeMap::<String, String>::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            if name != "upstream" && name != "files" {
                bail!("line {line_no}: unknown table [{name}]");
            }
            table = Some(name.to_owned());
            continue;
        }
        let (key, rest) = parse_key(line).with_context(|| format!("line {line_no}: `{raw}`"))?;
        let rest = rest
            .trim_start()
            .strip_prefix('=')
            .with_context(|| format!("line {line_no}: expected `=`"))?;
        let (value, rest) = parse_basic_string(rest.trim_start())
            .with_context(|| format!("line {line_no}: expected a quoted string"))?;
        let rest = rest.trim();
        if !(rest.is_empty() || rest.starts_with('#')) {
            bail!("line {line_no}: unexpected `{rest}`");
        }
        let target = match table.as_deref() {
            Some("upstream") => &mut upstream,
            Some("files") => &mut files,
            _ => bail!("line {line_no}: key outside of a table"),
        };
        if target.insert(key.clone(), value).is_some() {
            bail!("line {line_no}: duplicate key `{key}`");
        }
    }
    let mut take = |key: &str| {
        upstream
            .remove(key)
            .with_context(|| format!("[upstream] has no `{key}`"))
    };
    let pin = Pin {
        repository: take("repository")?,
        tag: take("tag")?,
        upstream_commit: take("commit")?,
        source: upstream.remove("source"),
        sha256: files,
    };
    if let Some(key) = upstream.keys().next() {
        bail!("[upstream] has an unknown key `{key}`");
    }
    for (file, sha) in &pin.sha256 {
        if sha.len() != 64 || !sha.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
            bail!("[files] `{file}`: `{sha}` is not a lower-case hex sha256");
        }
    }
    Ok(pin)
}

fn parse_key(line: &str) -> anyhow::Result<(String, &str)> {
    if line.starts_with('"') {
        return parse_basic_string(line);
    }
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(line.len());
    if end == 0 {
        bail!("expected a key");
    }
    Ok((line[..end].to_owned(), &line[end..]))
}

/// Parses a TOML basic string at the start of `s`; returns it and the rest of `s`.
fn parse_basic_string(s: &str) -> anyhow::Result<(String, &str)> {
    let mut chars = s.char_indices();
    if !matches!(chars.next(), Some((_, '"'))) {
        bail!("expected `\"`");
    }
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &s[i + 1..])),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).map(|(_, c)| c).collect();
                    let code = u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .with_context(|| format!("bad escape \\u{hex}"))?;
                    out.push(code);
                }
                other => bail!("unsupported escape `\\{}`", other.unwrap_or(' ')),
            },
            c => out.push(c),
        }
    }
    bail!("unterminated string")
}

/// Records what [`crate::sync_spec`] writes for a snapshot: canonical repository, upstream
/// commit, and the sha256 of the pinned files.
pub(crate) fn pin_for(snapshot: &SpecSnapshot, repo: &str) -> anyhow::Result<Pin> {
    let mut sha256 = BTreeMap::new();
    for file in SPEC_FILES {
        let bytes = snapshot.files.get(file).with_context(|| {
            format!(
                "upstream {} has no spec/{file} (commit {}); the oldest supported tag is {}",
                snapshot.tag,
                snapshot.commit,
                crate::codegen::spec_features::MINIMUM_TAG
            )
        })?;
        sha256.insert(file.to_owned(), sha256_hex(bytes));
    }
    // The default remote and mirrors of it (commits carrying an `upstream-commit:` trailer, like
    // the offline bundle) pin the same thing; anything else is recorded as the source.
    let source = (repo != DEFAULT_REPO && !snapshot.is_mirror()).then(|| repo.to_owned());
    Ok(Pin {
        repository: canonical_repository(),
        source,
        tag: snapshot.tag.clone(),
        upstream_commit: snapshot.upstream_commit.clone(),
        sha256,
    })
}

/// The upstream repository as a browsable URL (without `.git`).
fn canonical_repository() -> String {
    DEFAULT_REPO.trim_end_matches(".git").to_owned()
}

/// The offline upstream bundle next to the workspace, for tests; `None` (with a note) when absent.
#[cfg(test)]
pub(crate) fn test_bundle() -> Option<PathBuf> {
    let path = crate::workspace_root().join("../shared/upstream/e2b-spec.bundle");
    if path.exists() {
        Some(path)
    } else {
        println!(
            "note: {} not found; skipping the bundle test",
            path.display()
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace_root;

    fn bundle() -> Option<PathBuf> {
        test_bundle()
    }

    #[test]
    fn reads_spec_from_bundle() {
        let Some(bundle) = bundle() else { return };
        let snapshot = read_spec_at(bundle.to_str().unwrap(), "e2b@2.45.0").unwrap();
        assert_eq!(snapshot.tag, "e2b@2.45.0");
        assert_eq!(snapshot.commit.len(), 40);
        assert!(snapshot.is_mirror(), "bundle commits carry upstream-commit");
        assert_eq!(
            snapshot.upstream_commit,
            "f6014f17ce12609e00304311d75e550dba1bfe7a"
        );
        for file in SPEC_FILES {
            assert!(snapshot.files.contains_key(file), "missing {file}");
        }
        // Every file under spec/, not only the pinned ones.
        assert!(snapshot.files.len() > SPEC_FILES.len());

        // The checked-in copies are byte-identical to that tag.
        for file in SPEC_FILES {
            let local = std::fs::read(spec_dir(&workspace_root()).join(file)).unwrap();
            assert!(local == snapshot.files[file], "spec/{file} differs");
        }
    }

    #[test]
    fn missing_tag_is_a_clear_error() {
        let Some(bundle) = bundle() else { return };
        let err = read_spec_at(bundle.to_str().unwrap(), "e2b@0.0.0-nope")
            .unwrap_err()
            .to_string();
        assert!(err.contains("tag `e2b@0.0.0-nope` not found"), "{err}");
        assert!(err.contains("git ls-remote --tags"), "{err}");
    }

    #[test]
    fn rejects_bad_tag_names() {
        let err = check_tag_name("--upload-pack=x").unwrap_err().to_string();
        assert!(err.contains("not a valid tag name"), "{err}");
        assert!(check_tag_name("e2b@2.45.0").is_ok());
        assert!(check_tag_name("a b").is_err());
    }

    #[test]
    fn tag_versions_sort_numerically() {
        let mut tags: Vec<_> = ["e2b@2.10.0", "e2b@2.9.1", "e2b@2.45.0", "e2b@2.9.0"]
            .iter()
            .map(|t| TagVersion::parse(t).unwrap())
            .collect();
        tags.sort();
        let names: Vec<_> = tags.iter().map(|t| t.tag.as_str()).collect();
        assert_eq!(
            names,
            ["e2b@2.9.0", "e2b@2.9.1", "e2b@2.10.0", "e2b@2.45.0"]
        );
        for bad in [
            "2.45.0",
            "e2b@2.45",
            "e2b@2.45.0-rc.1",
            "e2b@2.45.0.1",
            "e2b@2.x.0",
            "e2b@",
        ] {
            assert_eq!(TagVersion::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn lists_bundle_tags() {
        let Some(bundle) = bundle() else { return };
        let tags = list_tags(bundle.to_str().unwrap()).unwrap();
        assert!(tags.windows(2).all(|w| w[0] < w[1]));
        assert!(tags.iter().any(|t| t.tag == "e2b@2.45.0"));
        assert!(tags.iter().all(|t| t.version.0 == 2));
    }

    #[test]
    fn parses_trailer() {
        let msg = "spec/ at upstream e2b@2.45.0\n\nupstream-commit: f6014f17ce12609e00304311d75e550dba1bfe7a\n";
        assert_eq!(
            upstream_commit_trailer(msg).as_deref(),
            Some("f6014f17ce12609e00304311d75e550dba1bfe7a")
        );
        assert_eq!(upstream_commit_trailer("fix things\n"), None);
    }

    #[test]
    fn urls_and_paths() {
        assert!(is_url("https://github.com/e2b-dev/E2B.git"));
        assert!(is_url("file:///tmp/x"));
        assert!(is_url("git@github.com:e2b-dev/E2B.git"));
        assert!(!is_url("../shared/upstream/e2b-spec.bundle"));
        assert!(!is_url("/abs/path"));
        assert!(!is_url("C:\\repo"));
    }

    fn sample_pin() -> Pin {
        Pin {
            repository: "https://github.com/e2b-dev/E2B".into(),
            source: None,
            tag: "e2b@2.45.0".into(),
            upstream_commit: "f6014f17ce12609e00304311d75e550dba1bfe7a".into(),
            sha256: SPEC_FILES
                .iter()
                .map(|f| (f.to_string(), sha256_hex(f.as_bytes())))
                .collect(),
        }
    }

    #[test]
    fn pin_round_trips() {
        let pin = sample_pin();
        let text = render_pin(&pin);
        assert!(text.starts_with("# "));
        assert!(text.contains("cargo xtask sync-spec"));
        assert_eq!(parse_pin(&text).unwrap(), pin);

        let odd = Pin {
            source: Some("../some \"fork\"\\repo".into()),
            ..pin
        };
        assert_eq!(parse_pin(&render_pin(&odd)).unwrap(), odd);
    }

    #[test]
    fn pin_parser_is_strict() {
        assert!(parse_pin("[upstream]\ntag = \"x\"\n").is_err());
        let text = render_pin(&sample_pin());
        assert!(parse_pin(&format!("{text}\n[other]\n")).is_err());
        assert!(parse_pin(&text.replace("tag = ", "tag ")).is_err());
        assert!(parse_pin(&format!("{text}\"openapi.yml\" = \"{}\"\n", "0".repeat(64))).is_err());
    }

    #[test]
    fn checked_in_spec_matches_pin() {
        if !spec_dir(&workspace_root()).join(PIN_FILE).exists() {
            println!("note: spec/{PIN_FILE} not written yet; skipping");
            return;
        }
        verify_pinned_files(&workspace_root()).unwrap();
    }

    #[test]
    fn verify_reports_mismatches() {
        let dir = std::env::temp_dir().join(format!("e2b-xtask-verify-{}", std::process::id()));
        for file in SPEC_FILES {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, file.as_bytes()).unwrap();
        }
        let pin = sample_pin();
        let ok = verify_files_against(&pin, &dir);
        std::fs::write(dir.join("openapi.yml"), b"edited").unwrap();
        let bad = verify_files_against(&pin, &dir);
        std::fs::remove_dir_all(&dir).unwrap();
        ok.unwrap();
        let err = bad.unwrap_err().to_string();
        assert!(err.contains("openapi.yml: sha256 is"), "{err}");
        assert!(err.contains("sync-spec --tag e2b@2.45.0"), "{err}");
    }
}
