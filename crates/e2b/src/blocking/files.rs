//! Blocking [`Files`].

use bytes::Bytes;

use super::sandbox::Sandbox;
use crate::{EntryInfo, ListDirOptions, ReadOptions, Result, WriteInfo, WriteOptions};

/// Files of one sandbox ([`Sandbox::files`]); the blocking counterpart of
/// [`crate::Files`].
///
/// ```no_run
/// # fn demo(sandbox: e2b::blocking::Sandbox) -> e2b::Result<()> {
/// let files = sandbox.files();
/// files.make_dir("/tmp/data")?;
/// files.write("/tmp/data/hello.txt", "hello")?;
/// assert_eq!(files.read_text("/tmp/data/hello.txt")?, "hello");
/// assert!(files.exists("/tmp/data/hello.txt")?);
/// for entry in files.list("/tmp/data")? {
///     println!("{} {:?}", entry.path, entry.file_type);
/// }
/// files.remove("/tmp/data")?;
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Files<'a> {
    pub(crate) sandbox: &'a Sandbox,
}

impl Files<'_> {
    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.sandbox.rt.block_on(future)
    }

    /// Read a file as UTF-8 text.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Files::read_text`].
    pub fn read_text(&self, path: &str) -> Result<String> {
        self.block_on(self.sandbox.inner.files().read_text(path))
    }

    /// [`read_text`](Self::read_text) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`read_text`](Self::read_text).
    pub fn read_text_with(&self, path: &str, options: ReadOptions) -> Result<String> {
        self.block_on(self.sandbox.inner.files().read_text_with(path, options))
    }

    /// Read a file's bytes.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Files::read_bytes`].
    pub fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        self.block_on(self.sandbox.inner.files().read_bytes(path))
    }

    /// [`read_bytes`](Self::read_bytes) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`read_bytes`](Self::read_bytes).
    pub fn read_bytes_with(&self, path: &str, options: ReadOptions) -> Result<Vec<u8>> {
        self.block_on(self.sandbox.inner.files().read_bytes_with(path, options))
    }

    /// Write `data` to `path`, creating its parents and replacing what was there.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Files::write`].
    pub fn write(&self, path: &str, data: impl Into<Bytes>) -> Result<WriteInfo> {
        self.block_on(self.sandbox.inner.files().write(path, data))
    }

    /// [`write`](Self::write) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`write`](Self::write).
    pub fn write_with(
        &self,
        path: &str,
        data: impl Into<Bytes>,
        options: WriteOptions,
    ) -> Result<WriteInfo> {
        self.block_on(self.sandbox.inner.files().write_with(path, data, options))
    }

    /// The entries of directory `path`, one level deep.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Files::list`].
    pub fn list(&self, path: &str) -> Result<Vec<EntryInfo>> {
        self.block_on(self.sandbox.inner.files().list(path))
    }

    /// [`list`](Self::list) with options (the depth).
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Files::list_with`].
    pub fn list_with(&self, path: &str, options: ListDirOptions) -> Result<Vec<EntryInfo>> {
        self.block_on(self.sandbox.inner.files().list_with(path, options))
    }

    /// Whether `path` exists.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Files::exists`].
    pub fn exists(&self, path: &str) -> Result<bool> {
        self.block_on(self.sandbox.inner.files().exists(path))
    }

    /// Everything envd knows about `path`.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Files::info`].
    pub fn info(&self, path: &str) -> Result<EntryInfo> {
        self.block_on(self.sandbox.inner.files().info(path))
    }

    /// Create directory `path` and its parents; `false` if it already existed.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Files::make_dir`].
    pub fn make_dir(&self, path: &str) -> Result<bool> {
        self.block_on(self.sandbox.inner.files().make_dir(path))
    }

    /// Move `old_path` to `new_path`.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Files::rename`].
    pub fn rename(&self, old_path: &str, new_path: &str) -> Result<EntryInfo> {
        self.block_on(self.sandbox.inner.files().rename(old_path, new_path))
    }

    /// Remove a file or a directory tree.
    ///
    /// # Errors
    ///
    /// The errors of [`crate::Files::remove`].
    pub fn remove(&self, path: &str) -> Result<()> {
        self.block_on(self.sandbox.inner.files().remove(path))
    }
}
