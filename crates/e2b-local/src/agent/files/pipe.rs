//! Files read and written on one blocking thread per transfer, handing whole chunks
//! over a short channel: the disk and the connection work at the same time, and no
//! chunk takes a trip through the blocking pool of its own (as every read or write of
//! a `tokio::fs::File` does) or an extra copy.

use std::io::{self, Read as _, Write as _};

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::sync::mpsc;

use super::CHUNK;

/// Chunks in flight between the thread and the connection (each way, per transfer).
const DEPTH: usize = 4;

/// A body of the `len` bytes of `file` from its current position. A read error ends
/// the body with that error; a client that goes away stops the thread.
pub(crate) fn read_body(mut file: std::fs::File, len: u64) -> Body {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(DEPTH);
    tokio::task::spawn_blocking(move || {
        let mut left = len;
        while left > 0 {
            let want = CHUNK.min(usize::try_from(left).unwrap_or(CHUNK));
            let mut chunk = BytesMut::zeroed(want);
            let read = match file.read(&mut chunk) {
                Ok(0) => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was read",
                )),
                Ok(n) => Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let item = read.map(|n| {
                chunk.truncate(n);
                left -= n as u64;
                chunk.freeze()
            });
            let failed = item.is_err();
            if tx.blocking_send(item).is_err() || failed {
                return;
            }
        }
    });
    Body::from_stream(receiver_stream(rx))
}

fn receiver_stream(
    mut rx: mpsc::Receiver<io::Result<Bytes>>,
) -> impl futures_util::Stream<Item = io::Result<Bytes>> + Send {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Why [`write_from`] stopped.
#[derive(Debug)]
pub(crate) enum WriteFailure {
    /// Reading `content` failed.
    Read(io::Error),
    /// Writing the file failed.
    Write(io::Error),
}

/// Write everything `content` yields to `file`; the file, once all of it is written.
pub(crate) async fn write_from<R>(
    content: &mut R,
    file: std::fs::File,
) -> Result<std::fs::File, WriteFailure>
where
    R: AsyncRead + Unpin + ?Sized,
{
    let (tx, mut rx) = mpsc::channel::<Bytes>(DEPTH);
    let writer = tokio::task::spawn_blocking(move || {
        let mut file = file;
        while let Some(chunk) = rx.blocking_recv() {
            file.write_all(&chunk)?;
        }
        Ok::<_, io::Error>(file)
    });
    let read = async {
        loop {
            let mut chunk = BytesMut::with_capacity(CHUNK);
            let mut end = false;
            // Fill a whole chunk unless the body ends: one write per chunk, however the
            // body arrives.
            while chunk.len() < CHUNK {
                if content.read_buf(&mut chunk).await? == 0 {
                    end = true;
                    break;
                }
            }
            if !chunk.is_empty() && tx.send(chunk.freeze()).await.is_err() {
                // The writer failed; its error is the one to report.
                return Ok(());
            }
            if end {
                return Ok::<_, io::Error>(());
            }
        }
    };
    let read = read.await;
    drop(tx);
    let written = writer
        .await
        .map_err(|e| WriteFailure::Write(io::Error::other(e)))?;
    match (read, written) {
        (_, Err(e)) => Err(WriteFailure::Write(e)),
        (Err(e), Ok(_)) => Err(WriteFailure::Read(e)),
        (Ok(()), Ok(file)) => Ok(file),
    }
}
