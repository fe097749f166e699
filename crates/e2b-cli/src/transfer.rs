//! `files cp`: files and directory trees between this machine and a sandbox, streamed in
//! constant memory, with a progress bar on a terminal for large transfers.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use e2b_sandbox::{FileType, ListDirOptions, Sandbox};
use futures_util::StreamExt as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::io::{AsyncRead, AsyncWriteExt as _, ReadBuf};

use crate::error::CliError;
use crate::target::{Location, Remote};

/// Transfers smaller than this get no progress bar.
const PROGRESS_MIN_BYTES: u64 = 8 << 20;
/// How deep a sandbox directory is copied.
const MAX_DEPTH: u32 = 256;

/// What a copy did.
#[derive(Debug, Default)]
pub(crate) struct Copied {
    pub(crate) files: u64,
    pub(crate) directories: u64,
    pub(crate) bytes: u64,
    /// Where the source ended up.
    pub(crate) destination: String,
    /// Entries left out (symbolic links, special files).
    pub(crate) skipped: Vec<String>,
}

/// The sandbox a copy talks to.
pub(crate) struct Side<'a> {
    pub(crate) sandbox: &'a Sandbox,
    pub(crate) remote: &'a Remote,
}

/// Copy `source` (on this machine, or standard input) into the sandbox at `dest`.
pub(crate) async fn upload(source: &Location, dest: Side<'_>) -> Result<Copied, CliError> {
    let files = dest.sandbox.files();
    match source {
        Location::Stdio => {
            if dest.remote.path.ends_with('/') {
                return Err(CliError::failed(format!(
                    "standard input has no name: give a file path, not the directory {}",
                    dest.remote
                )));
            }
            let bar = ProgressBar::hidden();
            let reader = Counting::new(tokio::io::stdin(), bar.clone());
            files.write_reader(&dest.remote.path, reader).await?;
            Ok(Copied {
                files: 1,
                bytes: bar.position(),
                destination: dest.remote.to_string(),
                ..Copied::default()
            })
        }
        Location::Local(path) => {
            let local = Path::new(path);
            let meta = tokio::fs::metadata(local)
                .await
                .map_err(|e| local_error(local, e))?;
            let name = base_name(local)?;
            let target = remote_target(&dest, &name).await?;
            let mut copied = Copied {
                destination: format!("{}:{target}", dest.remote.sandbox_id),
                ..Copied::default()
            };
            if meta.is_dir() {
                let tree = walk_local(local).await?;
                let total = tree.iter().map(|e| e.size).sum();
                let bar = progress(total);
                files.make_dir(&target).await?;
                copied.directories += 1;
                for entry in tree {
                    let remote = join_remote(&target, &entry.relative);
                    match entry.kind {
                        LocalKind::Dir => {
                            files.make_dir(&remote).await?;
                            copied.directories += 1;
                        }
                        LocalKind::File => {
                            let file = open_local(&entry.path).await?;
                            let reader = Counting::new(file, bar.clone());
                            files.write_reader(&remote, reader).await?;
                            copied.files += 1;
                        }
                        LocalKind::Other => copied.skipped.push(entry.path.display().to_string()),
                    }
                }
                copied.bytes = bar.position();
                bar.finish_and_clear();
            } else if meta.is_file() {
                let bar = progress(meta.len());
                let file = open_local(local).await?;
                files
                    .write_reader(&target, Counting::new(file, bar.clone()))
                    .await?;
                copied.files = 1;
                copied.bytes = bar.position();
                bar.finish_and_clear();
            } else {
                return Err(CliError::failed(format!(
                    "{} is neither a file nor a directory",
                    local.display()
                )));
            }
            Ok(copied)
        }
        Location::Remote(_) => Err(both_remote()),
    }
}

/// Copy `source` out of the sandbox to `dest` (on this machine, or standard output).
pub(crate) async fn download(source: Side<'_>, dest: &Location) -> Result<Copied, CliError> {
    let files = source.sandbox.files();
    let info = files.info(&source.remote.path).await?;
    let is_dir = info.file_type == Some(FileType::Directory);
    match dest {
        Location::Stdio if is_dir => Err(CliError::failed(format!(
            "{} is a directory: copy it to a local directory, not standard output",
            source.remote
        ))),
        Location::Stdio => {
            let mut stdout = tokio::io::stdout();
            let bytes = fetch(source.sandbox, &source.remote.path, &mut stdout, None).await?;
            Ok(Copied {
                files: 1,
                bytes,
                destination: "-".to_owned(),
                ..Copied::default()
            })
        }
        Location::Local(path) => {
            let target = local_target(Path::new(path), &info.name).await;
            let mut copied = Copied {
                destination: target.display().to_string(),
                ..Copied::default()
            };
            if is_dir {
                let entries = files
                    .list_with(&source.remote.path, ListDirOptions::new().depth(MAX_DEPTH))
                    .await?;
                let total = entries
                    .iter()
                    .filter(|e| e.file_type == Some(FileType::File))
                    .map(|e| e.size)
                    .sum();
                let bar = progress(total);
                create_local_dir(&target).await?;
                copied.directories += 1;
                let root = info.path.trim_end_matches('/');
                for entry in entries {
                    let Some(relative) = relative_to(root, &entry.path) else {
                        copied.skipped.push(entry.path);
                        continue;
                    };
                    let local = target.join(relative);
                    match entry.file_type {
                        Some(FileType::Directory) => {
                            create_local_dir(&local).await?;
                            copied.directories += 1;
                        }
                        Some(FileType::File) if entry.symlink_target.is_none() => {
                            if let Some(parent) = local.parent() {
                                create_local_dir(parent).await?;
                            }
                            let mut file = create_local(&local).await?;
                            fetch(source.sandbox, &entry.path, &mut file, Some(&bar)).await?;
                            copied.files += 1;
                        }
                        _ => copied.skipped.push(entry.path),
                    }
                }
                copied.bytes = bar.position();
                bar.finish_and_clear();
            } else {
                let bar = progress(info.size);
                let mut file = create_local(&target).await?;
                copied.bytes =
                    fetch(source.sandbox, &source.remote.path, &mut file, Some(&bar)).await?;
                copied.files = 1;
                bar.finish_and_clear();
            }
            Ok(copied)
        }
        Location::Remote(_) => Err(both_remote()),
    }
}

fn both_remote() -> CliError {
    CliError::with_code(
        2,
        "copy between this machine and a sandbox: one side must be local (copying between \
         sandboxes is not supported)",
    )
}

/// Stream a sandbox file into `out`; returns the bytes written.
async fn fetch<W>(
    sandbox: &Sandbox,
    path: &str,
    out: &mut W,
    bar: Option<&ProgressBar>,
) -> Result<u64, CliError>
where
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut stream = sandbox.files().read_stream(path).await?;
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        out.write_all(&chunk)
            .await
            .map_err(|e| CliError::io(format!("cannot write {path}'s copy"), e))?;
        written += chunk.len() as u64;
        if let Some(bar) = bar {
            bar.inc(chunk.len() as u64);
        }
    }
    out.flush()
        .await
        .map_err(|e| CliError::io(format!("cannot write {path}'s copy"), e))?;
    Ok(written)
}

/// Where a local source named `name` goes in the sandbox: inside `dest` when it is an
/// existing directory or ends with `/`, else at `dest`.
async fn remote_target(dest: &Side<'_>, name: &str) -> Result<String, CliError> {
    let path = &dest.remote.path;
    if path.ends_with('/') {
        return Ok(format!("{path}{name}"));
    }
    match dest.sandbox.files().info(path).await {
        Ok(info) if info.file_type == Some(FileType::Directory) => Ok(join_remote(path, name)),
        Ok(_) => Ok(path.clone()),
        Err(e) if e.is_not_found() => Ok(path.clone()),
        Err(e) => Err(e.into()),
    }
}

/// Where a sandbox entry named `name` goes here: inside `dest` when it is an existing
/// directory or ends with `/`, else at `dest`.
async fn local_target(dest: &Path, name: &str) -> PathBuf {
    let is_dir = dest.as_os_str().to_string_lossy().ends_with('/')
        || tokio::fs::metadata(dest).await.is_ok_and(|m| m.is_dir());
    if is_dir {
        dest.join(name)
    } else {
        dest.to_path_buf()
    }
}

fn join_remote(dir: &str, relative: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{relative}")
    } else {
        format!("{dir}/{relative}")
    }
}

/// `path` below `root`, without the separator; `None` when it is not below it.
fn relative_to<'a>(root: &str, path: &'a str) -> Option<&'a str> {
    path.strip_prefix(root)?
        .strip_prefix('/')
        .filter(|r| !r.is_empty())
}

fn base_name(path: &Path) -> Result<String, CliError> {
    let canonical;
    let path = if path.file_name().is_none() {
        // `.` or `..`: name it after the directory it is.
        canonical = std::fs::canonicalize(path).map_err(|e| local_error(path, e))?;
        canonical.as_path()
    } else {
        path
    };
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| CliError::failed(format!("{} has no name to copy it under", path.display())))
}

enum LocalKind {
    File,
    Dir,
    Other,
}

struct LocalEntry {
    path: PathBuf,
    /// Relative to the root, `/`-separated.
    relative: String,
    kind: LocalKind,
    size: u64,
}

/// Every entry under `root`, parents before children. Symbolic links are not followed.
async fn walk_local(root: &Path) -> Result<Vec<LocalEntry>, CliError> {
    let mut entries = Vec::new();
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        let mut read = tokio::fs::read_dir(&dir)
            .await
            .map_err(|e| local_error(&dir, e))?;
        let mut children = Vec::new();
        while let Some(child) = read.next_entry().await.map_err(|e| local_error(&dir, e))? {
            children.push(child);
        }
        children.sort_by_key(|c| c.file_name());
        for child in children {
            let path = child.path();
            let name = child.file_name().to_string_lossy().into_owned();
            let relative = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let meta = tokio::fs::symlink_metadata(&path)
                .await
                .map_err(|e| local_error(&path, e))?;
            let (kind, size) = if meta.is_dir() {
                pending.push((path.clone(), relative.clone()));
                (LocalKind::Dir, 0)
            } else if meta.is_file() {
                (LocalKind::File, meta.len())
            } else {
                (LocalKind::Other, 0)
            };
            entries.push(LocalEntry {
                path,
                relative,
                kind,
                size,
            });
        }
    }
    // Parents first: a directory's entry precedes its children's.
    entries.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(entries)
}

async fn open_local(path: &Path) -> Result<tokio::fs::File, CliError> {
    tokio::fs::File::open(path)
        .await
        .map_err(|e| local_error(path, e))
}

async fn create_local(path: &Path) -> Result<tokio::fs::File, CliError> {
    tokio::fs::File::create(path)
        .await
        .map_err(|e| local_error(path, e))
}

async fn create_local_dir(path: &Path) -> Result<(), CliError> {
    tokio::fs::create_dir_all(path)
        .await
        .map_err(|e| local_error(path, e))
}

fn local_error(path: &Path, e: io::Error) -> CliError {
    let message = format!("{}: {e}", path.display());
    if e.kind() == io::ErrorKind::NotFound {
        CliError::not_found(message)
    } else {
        CliError::failed(message)
    }
}

/// A progress bar on standard error for `total` bytes: drawn only on a terminal, and only
/// for transfers worth one.
fn progress(total: u64) -> ProgressBar {
    if total < PROGRESS_MIN_BYTES {
        // Hidden bars still count.
        return ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// An `AsyncRead` that advances a progress bar by what it reads.
struct Counting<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R> Counting<R> {
    fn new(inner: R, bar: ProgressBar) -> Self {
        Counting { inner, bar }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Counting<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &result {
            self.bar.inc((buf.filled().len() - before) as u64);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_below_a_root() {
        assert_eq!(relative_to("/home/user/d", "/home/user/d/a/b"), Some("a/b"));
        assert_eq!(relative_to("/home/user/d", "/home/user/dd/a"), None);
        assert_eq!(relative_to("/home/user/d", "/home/user/d"), None);
        assert_eq!(join_remote("/tmp/", "a"), "/tmp/a");
        assert_eq!(join_remote("/tmp", "a/b"), "/tmp/a/b");
    }

    #[tokio::test]
    async fn local_trees_list_parents_first_and_skip_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/f"), "xyz").unwrap();
        std::fs::write(dir.path().join("top"), "1").unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("link")).unwrap();
        let tree = walk_local(dir.path()).await.unwrap();
        let names: Vec<&str> = tree.iter().map(|e| e.relative.as_str()).collect();
        assert_eq!(names, ["a", "a/b", "a/b/f", "link", "top"]);
        assert!(matches!(tree[3].kind, LocalKind::Other));
        assert_eq!(tree.iter().map(|e| e.size).sum::<u64>(), 4);
    }
}
