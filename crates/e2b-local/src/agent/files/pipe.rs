//! Files read and written on one blocking thread per transfer, handing whole chunks
//! over a short channel: the disk and the connection work at the same time, and no
//! chunk takes a trip through the blocking pool of its own (as every read or write of
//! a `tokio::fs::File` does) or an extra copy.

use std::io::{self, Write as _};

use axum::body::Body;
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::sync::mpsc;

use super::CHUNK;

/// Chunks in flight between the thread and the connection (each way, per transfer).
const DEPTH: usize = 4;

/// A body of the `len` bytes of `file` from its current position. A read error ends
/// the body with that error; a client that goes away stops the thread.
pub(crate) fn read_body(file: std::fs::File, len: u64) -> Body {
    Body::from_stream(e2b_envd::FileChunks::exact(file, len, CHUNK))
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
    let (tx, mut rx) = mpsc::channel::<BytesMut>(DEPTH);
    // Written chunks come back to be filled again: the same few buffers carry the
    // whole body, with no fresh memory to fault in and clear per chunk.
    let (spent_tx, mut spent_rx) = mpsc::channel::<BytesMut>(DEPTH + 1);
    let writer = tokio::task::spawn_blocking(move || {
        let mut file = file;
        while let Some(mut chunk) = rx.blocking_recv() {
            file.write_all(&chunk)?;
            chunk.clear();
            let _ = spent_tx.try_send(chunk);
        }
        Ok::<_, io::Error>(file)
    });
    let read = async {
        loop {
            let mut chunk = spent_rx
                .try_recv()
                .unwrap_or_else(|_| BytesMut::with_capacity(CHUNK));
            let mut end = false;
            // Fill a whole chunk unless the body ends: one write per chunk, however the
            // body arrives.
            while chunk.len() < CHUNK {
                if content.read_buf(&mut chunk).await? == 0 {
                    end = true;
                    break;
                }
            }
            if !chunk.is_empty() && tx.send(chunk).await.is_err() {
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
