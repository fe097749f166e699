//! A local file as a `/files` body: its bytes in chunks, read on a blocking thread of
//! their own a few chunks ahead of the connection, in buffers that are reused.
//!
//! Both ends of a transfer use it: a client uploading a local file, and the server
//! inside the sandbox answering a download. Reading ahead lets the disk and the
//! connection work at the same time; handing each chunk over whole avoids a trip
//! through the blocking pool per chunk (as every read of a `tokio::fs::File` takes) and
//! a copy; and since a chunk's buffer comes back to the reader once the connection has
//! sent it, a transfer of any size cycles through a handful of buffers instead of
//! faulting in fresh memory for every chunk.

use std::io::{self, Read as _};
use std::pin::Pin;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;

/// Chunks in flight between the reading thread and the connection.
const DEPTH: usize = 4;

/// A file's bytes from its current position, in chunks of at most `chunk` bytes: the
/// first `len` of them ([`exact`](Self::exact)) or all up to its end
/// ([`to_end`](Self::to_end)).
///
/// A read error ends the stream with that error. Dropping the stream stops the thread.
/// Needs a Tokio runtime.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use futures_util::StreamExt as _;
///
/// let file = std::fs::File::open("data.bin")?;
/// let len = file.metadata()?.len();
/// let mut chunks = e2b_envd::FileChunks::exact(file, len, 256 * 1024);
/// while let Some(chunk) = chunks.next().await {
///     println!("{} bytes", chunk?.len());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct FileChunks {
    rx: mpsc::Receiver<io::Result<Bytes>>,
}

impl FileChunks {
    /// Start reading `len` bytes of `file` in chunks of `chunk` bytes (at least 1).
    ///
    /// A file that ends sooner ends the stream with an
    /// [`UnexpectedEof`](io::ErrorKind::UnexpectedEof) error, since the length may
    /// have been announced to the other end; bytes beyond `len` are not read.
    pub fn exact(file: std::fs::File, len: u64, chunk: usize) -> Self {
        Self::start(file, Some(len), chunk)
    }

    /// Start reading `file` to its end (a pipe, a device, a file that grows) in chunks
    /// of `chunk` bytes (at least 1).
    pub fn to_end(file: std::fs::File, chunk: usize) -> Self {
        Self::start(file, None, chunk)
    }

    fn start(file: std::fs::File, len: Option<u64>, chunk: usize) -> Self {
        let chunk = chunk.max(1);
        let (tx, rx) = mpsc::channel(DEPTH);
        tokio::task::spawn_blocking(move || read_chunks(file, len, chunk, &tx));
        FileChunks { rx }
    }
}

fn read_chunks(
    file: std::fs::File,
    len: Option<u64>,
    chunk: usize,
    tx: &mpsc::Sender<io::Result<Bytes>>,
) {
    // Room for every buffer that can be out at once: in the channel, being sent, and
    // the one being filled.
    let (spent_tx, spent_rx) = sync_channel(DEPTH + 2);
    let mut file = file.take(len.unwrap_or(u64::MAX));
    let mut sent = 0u64;
    while len.is_none_or(|len| sent < len) {
        let mut buffer = spent_rx
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(chunk));
        // Into the buffer's spare capacity: nothing to zero first.
        let item = match (&mut file).take(chunk as u64).read_to_end(&mut buffer) {
            Ok(0) => match len {
                None => return,
                Some(len) => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the file ended after {sent} of the {len} bytes it had when the transfer began"
                    ),
                )),
            },
            Ok(n) => {
                sent += n as u64;
                Ok(Bytes::from_owner(Reused {
                    buffer,
                    spent: spent_tx.clone(),
                }))
            }
            Err(e) => Err(e),
        };
        let failed = item.is_err();
        if tx.blocking_send(item).is_err() || failed {
            return;
        }
    }
}

/// A chunk's buffer, handed back to its reader when the chunk is dropped.
struct Reused {
    buffer: Vec<u8>,
    spent: SyncSender<Vec<u8>>,
}

impl AsRef<[u8]> for Reused {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for Reused {
    fn drop(&mut self) {
        let mut buffer = std::mem::take(&mut self.buffer);
        buffer.clear();
        // A full queue or a finished reader lets the buffer go.
        let _ = self.spent.try_send(buffer);
    }
}

impl Stream for FileChunks {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use futures_util::StreamExt as _;

    use super::*;

    fn temp_file(data: &[u8]) -> (std::path::PathBuf, std::fs::File) {
        let path = std::env::temp_dir().join(format!(
            "e2b-envd-chunks-{}-{}",
            std::process::id(),
            data.len()
        ));
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(data).unwrap();
        (path.clone(), std::fs::File::open(&path).unwrap())
    }

    #[tokio::test]
    async fn chunks_carry_the_file_in_order_and_stop_at_len() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (path, file) = temp_file(&data);
        let mut chunks = FileChunks::exact(file, 99_000, 4096);
        let mut got = Vec::new();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.unwrap();
            assert!(chunk.len() <= 4096);
            got.extend_from_slice(&chunk);
            // Dropped here: its buffer is reused for a later chunk.
        }
        std::fs::remove_file(path).unwrap();
        assert_eq!(got, data[..99_000]);
    }

    #[tokio::test]
    async fn a_file_shorter_than_announced_ends_with_an_error() {
        let (path, file) = temp_file(&[1; 1000]);
        let mut chunks = FileChunks::exact(file, 5000, 512);
        let mut read = 0;
        let err = loop {
            match chunks
                .next()
                .await
                .expect("the stream ended without an error")
            {
                Ok(chunk) => read += chunk.len(),
                Err(e) => break e,
            }
        };
        std::fs::remove_file(path).unwrap();
        assert_eq!(read, 1000);
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(
            err.to_string().contains("after 1000 of the 5000 bytes"),
            "{err}"
        );
        assert!(chunks.next().await.is_none());
    }

    #[tokio::test]
    async fn to_end_reads_a_pipe_until_it_closes() {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let writing = std::thread::spawn(move || {
            for i in 0..50u8 {
                writer.write_all(&[i; 1000]).unwrap();
            }
        });
        let mut chunks = FileChunks::to_end(
            std::fs::File::from(std::os::fd::OwnedFd::from(reader)),
            4096,
        );
        let mut got = Vec::new();
        while let Some(chunk) = chunks.next().await {
            got.extend_from_slice(&chunk.unwrap());
        }
        writing.join().unwrap();
        let want: Vec<u8> = (0..50u8).flat_map(|i| [i; 1000]).collect();
        assert_eq!(got, want);
    }
}
