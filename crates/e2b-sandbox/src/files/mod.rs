//! The sandbox's filesystem: read, write, list, stat, create, move, remove and watch
//! files through envd.

mod entry;
mod signature;
mod transfer;
mod urls;
mod watch;

use std::time::Duration;

use e2b_core::{NotFoundKind, Result};
use e2b_envd::filesystem as pb;
use tracing::Instrument as _;

use crate::Sandbox;
use crate::envd::Operation;

pub use entry::{EntryInfo, FileType, WriteInfo};
pub use signature::{FileOperation, file_signature};
pub use transfer::{ByteStream, ReadOptions, WriteEntry, WriteOptions};
pub use urls::FileUrlOptions;
pub use watch::{
    DEFAULT_WATCH_TIMEOUT, FilesystemEvent, FilesystemEventType, WatchExitCallback, WatchHandle,
    WatchOptions,
};

/// The default silence allowed between two chunks of a download or two watch messages.
pub const DEFAULT_STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Files of one sandbox ([`Sandbox::files`]).
///
/// Relative paths are resolved against the user's home directory. Every call acts as the
/// sandbox handle's user: the template's default user unless the handle was made with
/// [`Sandbox::with_user`].
///
/// ```no_run
/// # async fn f(sandbox: &e2b_sandbox::Sandbox) -> e2b_sandbox::Result<()> {
/// let files = sandbox.files();
/// files.write("/tmp/hello.txt", "hello").await?;
/// assert_eq!(files.read_text("/tmp/hello.txt").await?, "hello");
/// for entry in files.list("/tmp").await? {
///     println!("{} {:?}", entry.path, entry.file_type);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Files<'a> {
    sandbox: &'a Sandbox,
}

/// Options of [`Files::list_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct ListDirOptions {
    /// How many levels deep to list (at least 1; default 1, the directory's own entries).
    pub depth: u32,
}

impl Default for ListDirOptions {
    fn default() -> Self {
        ListDirOptions { depth: 1 }
    }
}

impl ListDirOptions {
    /// The defaults: depth 1.
    pub fn new() -> Self {
        Self::default()
    }

    /// List `depth` levels deep (at least 1).
    pub fn depth(mut self, depth: u32) -> Self {
        self.depth = depth;
        self
    }
}

impl<'a> Files<'a> {
    pub(crate) fn new(sandbox: &'a Sandbox) -> Self {
        Files { sandbox }
    }

    fn user(&self) -> Option<&str> {
        self.sandbox.user()
    }

    fn span(&self, name: &'static str, path: &str) -> tracing::Span {
        tracing::info_span!("e2b.files", op = name, sandbox_id = %self.sandbox.id(), path = %path)
    }

    /// Whether `path` exists.
    ///
    /// # Errors
    ///
    /// A request timeout, a sandbox-gone timeout or envd's error (never not-found).
    pub async fn exists(&self, path: &str) -> Result<bool> {
        match self.info(path).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Everything envd knows about `path` (following a symlink at `path`).
    ///
    /// # Errors
    ///
    /// Not found ([`NotFoundKind::File`]) if `path` does not exist.
    pub async fn info(&self, path: &str) -> Result<EntryInfo> {
        let request = pb::StatRequest {
            path: path.to_owned(),
        };
        self.unary("info", path, |fs, call| async move {
            fs.stat(request, call).await.map(|r| r.entry)
        })
        .await
        .and_then(required_entry)
    }

    /// The entries of directory `path` (one level deep; deeper with
    /// [`list_with`](Self::list_with)). Entries of an unknown type (dangling symlinks) are
    /// left out, as upstream does.
    ///
    /// # Errors
    ///
    /// Invalid argument if `path` is not a directory; not found if it does not exist.
    pub async fn list(&self, path: &str) -> Result<Vec<EntryInfo>> {
        self.list_with(path, ListDirOptions::new()).await
    }

    /// [`list`](Self::list) with options: the entries under `path`, `depth` levels deep.
    ///
    /// ```no_run
    /// # async fn f(sandbox: &e2b_sandbox::Sandbox) -> e2b_sandbox::Result<()> {
    /// use e2b_sandbox::ListDirOptions;
    /// let tree = sandbox.files().list_with("/home/user", ListDirOptions::new().depth(3)).await?;
    /// # let _ = tree; Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// Invalid argument if `depth` is 0; the errors of [`list`](Self::list).
    pub async fn list_with(&self, path: &str, options: ListDirOptions) -> Result<Vec<EntryInfo>> {
        let depth = options.depth;
        if depth < 1 {
            return Err(e2b_core::Error::invalid_argument(
                "depth should be at least one",
            ));
        }
        let request = pb::ListDirRequest {
            path: path.to_owned(),
            depth,
        };
        let entries = self
            .unary("list", path, |fs, call| async move {
                fs.list_dir(request, call).await.map(|r| r.entries)
            })
            .await?;
        Ok(entries
            .into_iter()
            .map(EntryInfo::from)
            .filter(|e| e.file_type.is_some())
            .collect())
    }

    /// Create directory `path` and its parents. `false` if it already existed.
    ///
    /// # Errors
    ///
    /// Invalid argument if `path` exists and is not a directory.
    pub async fn make_dir(&self, path: &str) -> Result<bool> {
        let request = pb::MakeDirRequest {
            path: path.to_owned(),
        };
        let result = self
            .unary("make_dir", path, |fs, call| async move {
                fs.make_dir(request, call).await
            })
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e2b_core::raw::connect_code(&e) == Some(e2b_core::raw::Code::AlreadyExists) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Move `old_path` to `new_path` (creating its parents); returns the moved entry.
    ///
    /// # Errors
    ///
    /// Not found if `old_path` does not exist.
    pub async fn rename(&self, old_path: &str, new_path: &str) -> Result<EntryInfo> {
        let request = pb::MoveRequest {
            source: old_path.to_owned(),
            destination: new_path.to_owned(),
        };
        self.unary("rename", old_path, |fs, call| async move {
            fs.r#move(request, call).await.map(|r| r.entry)
        })
        .await
        .and_then(required_entry)
    }

    /// Remove a file or a directory tree. Removing a missing path is not an error.
    ///
    /// # Errors
    ///
    /// A request timeout, a sandbox-gone timeout or envd's error.
    pub async fn remove(&self, path: &str) -> Result<()> {
        let request = pb::RemoveRequest {
            path: path.to_owned(),
        };
        self.unary("remove", path, |fs, call| async move {
            fs.remove(request, call).await
        })
        .await
        .map(drop)
    }

    async fn unary<T, F, Fut>(&self, name: &'static str, path: &str, call: F) -> Result<T>
    where
        F: FnOnce(
            e2b_envd::filesystem::filesystem_client::FilesystemClient,
            e2b_envd::connect::CallOptions,
        ) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, e2b_envd::connect::Error>>,
    {
        let envd = self.sandbox.envd();
        async {
            let options = envd.unary_options(self.sandbox.request_timeout(), self.user())?;
            match call(envd.filesystem().clone(), options).await {
                Ok(v) => Ok(v),
                Err(e) => Err(envd
                    .map_error(e, Operation::Other)
                    .await
                    .with_not_found_kind(NotFoundKind::File)),
            }
        }
        .instrument(self.span(name, path))
        .await
    }
}

fn required_entry(entry: Option<pb::EntryInfo>) -> Result<EntryInfo> {
    entry
        .map(EntryInfo::from)
        .ok_or_else(|| e2b_core::Error::protocol("envd answered without the entry"))
}
