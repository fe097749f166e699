//! Transfers between a sandbox file and a local one: the local file is read or written
//! on a blocking thread of its own that exchanges whole chunks with the connection over
//! a short channel, so disk and network work at the same time, in constant memory, with
//! no copy through a `tokio::fs::File` buffer and no trip to the blocking pool per chunk.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use e2b_core::{Error, ErrorKind, Result};
use futures_util::{Stream, StreamExt as _};
use tokio::sync::mpsc;

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
    /// connection takes it.
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
    /// it fails part-way; as [`write_stream`](Files::write_stream).
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
        let file = tokio::task::spawn_blocking(move || std::fs::File::open(&opened))
            .await
            .map_err(|e| local_error("open", &local, std::io::Error::other(e)))?
            .map_err(|e| local_error("open", &local, e))?;
        self.write_stream_with(path, FileChunks::start(file), options)
            .await
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

/// A local file's chunks, read by a blocking thread up to [`DEPTH`] chunks ahead; the
/// thread stops when the stream is dropped.
struct FileChunks {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
}

impl FileChunks {
    fn start(mut file: std::fs::File) -> Self {
        let (tx, rx) = mpsc::channel(DEPTH);
        tokio::task::spawn_blocking(move || {
            loop {
                // Read into fresh capacity: no zeroing, and the chunk is handed over
                // without a copy.
                let mut chunk = Vec::with_capacity(UPLOAD_CHUNK);
                let read = (&mut file)
                    .take(UPLOAD_CHUNK as u64)
                    .read_to_end(&mut chunk);
                let (item, last) = match read {
                    Ok(0) => return,
                    Ok(_) => (Ok(Bytes::from(chunk)), false),
                    Err(e) => (Err(e), true),
                };
                if tx.blocking_send(item).is_err() || last {
                    return;
                }
            }
        });
        FileChunks { rx }
    }
}

impl Stream for FileChunks {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}
