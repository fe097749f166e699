//! Transfers between a sandbox file and a local one: the local file is read or written
//! on a blocking thread of its own that exchanges whole chunks with the connection over
//! a short channel, so disk and network work at the same time, in constant memory, with
//! no copy through a `tokio::fs::File` buffer and no trip to the blocking pool per chunk.

use std::io::Write as _;
use std::path::Path;

use bytes::Bytes;
use e2b_core::{Error, ErrorKind, Result};
use e2b_envd::FileChunks;
use futures_util::StreamExt as _;
use tokio::sync::mpsc;

use super::options::upload_deadline;
use super::upload::Source;
use super::{ReadOptions, UPLOAD_CHUNK, WriteOptions};
use crate::files::{Files, WriteInfo};

/// Chunks in flight between the file's thread and the connection.
const DEPTH: usize = 4;

fn local_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::with_source(
        ErrorKind::InvalidArgument {
            message: format!("cannot {what} the local file {}: {e}", path.display()),
        },
        e,
    )
}

impl Files<'_> {
    /// Upload the local file at `local` to `path`, in constant memory, as fast as the
    /// connection takes it. A regular file is sent with its length, as it is when the
    /// upload starts; a pipe or a device is read to its end.
    ///
    /// ```no_run
    /// # async fn f(sandbox: &e2b_sandbox::Sandbox) -> e2b_sandbox::Result<()> {
    /// sandbox.files().write_from_file("/home/user/data.bin", "data.bin").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// Invalid argument if the local file cannot be opened; a transport error if reading
    /// it fails part-way or it shrinks while it is sent; as
    /// [`write_stream`](Files::write_stream).
    pub async fn write_from_file(&self, path: &str, local: impl AsRef<Path>) -> Result<WriteInfo> {
        self.write_from_file_with(path, local, WriteOptions::new())
            .await
    }

    /// [`write_from_file`](Self::write_from_file) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`write_from_file`](Self::write_from_file).
    pub async fn write_from_file_with(
        &self,
        path: &str,
        local: impl AsRef<Path>,
        options: WriteOptions,
    ) -> Result<WriteInfo> {
        let local = local.as_ref().to_path_buf();
        let opened = local.clone();
        let (file, metadata) = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&opened)?;
            let metadata = file.metadata()?;
            Ok::<_, std::io::Error>((file, metadata))
        })
        .await
        .map_err(|e| local_error("open", &local, std::io::Error::other(e)))?
        .map_err(|e| local_error("open", &local, e))?;
        // A regular file goes with its length; a pipe or a device is read to its end.
        let source = if metadata.is_file() {
            let len = metadata.len();
            Source::Sized {
                stream: Box::pin(FileChunks::exact(file, len, UPLOAD_CHUNK)),
                len,
            }
        } else {
            Source::Stream(Box::pin(FileChunks::to_end(file, UPLOAD_CHUNK)))
        };
        let timeout = upload_deadline(options.timeout, None);
        self.write_one(path, source, &options, timeout).await
    }

    /// Download `path` into the local file at `local` (created or truncated), in constant
    /// memory; the number of bytes written.
    ///
    /// ```no_run
    /// # async fn f(sandbox: &e2b_sandbox::Sandbox) -> e2b_sandbox::Result<()> {
    /// let bytes = sandbox.files().read_to_file("/var/log/big.log", "big.log").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// Invalid argument if the local file cannot be created or written; as
    /// [`read_stream`](Files::read_stream).
    pub async fn read_to_file(&self, path: &str, local: impl AsRef<Path>) -> Result<u64> {
        self.read_to_file_with(path, local, ReadOptions::new())
            .await
    }

    /// [`read_to_file`](Self::read_to_file) with options (gzip, idle timeout).
    ///
    /// # Errors
    ///
    /// The errors of [`read_to_file`](Self::read_to_file).
    pub async fn read_to_file_with(
        &self,
        path: &str,
        local: impl AsRef<Path>,
        options: ReadOptions,
    ) -> Result<u64> {
        let mut stream = self.read_stream_with(path, options).await?;
        let local = local.as_ref().to_path_buf();
        let created = local.clone();
        let (tx, mut rx) = mpsc::channel::<Bytes>(DEPTH);
        let writer = tokio::task::spawn_blocking(move || {
            let mut file = std::fs::File::create(&created).map_err(|e| ("create", e))?;
            let mut written = 0u64;
            while let Some(chunk) = rx.blocking_recv() {
                file.write_all(&chunk).map_err(|e| ("write", e))?;
                written += chunk.len() as u64;
            }
            Ok::<_, (&str, std::io::Error)>(written)
        });
        let mut failed = None;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => {
                    if tx.send(chunk).await.is_err() {
                        // The writer stopped; its error is the one to report.
                        break;
                    }
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        drop(tx);
        let written = writer
            .await
            .map_err(|e| local_error("write", &local, std::io::Error::other(e)))?
            .map_err(|(what, e)| local_error(what, &local, e))?;
        match failed {
            Some(e) => Err(e),
            None => Ok(written),
        }
    }
}
