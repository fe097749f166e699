//! A local reader's upload reads ahead: a task of its own reads the next chunks while
//! the connection sends the previous ones, instead of reading one chunk only when the
//! connection asks for it (disk and network one after the other).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use tokio::io::AsyncRead;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::io::ReaderStream;

use super::UPLOAD_CHUNK;

/// Chunks read ahead of the upload.
const AHEAD: usize = 4;

/// `reader`'s bytes in [`UPLOAD_CHUNK`]s, read up to [`AHEAD`] chunks ahead. Dropping the
/// stream stops the reading.
pub(super) fn read_ahead<R>(reader: R) -> ReadAhead
where
    R: AsyncRead + Send + Unpin + 'static,
{
    let (tx, rx) = mpsc::channel(AHEAD);
    let task = tokio::spawn(async move {
        let mut chunks = ReaderStream::with_capacity(reader, UPLOAD_CHUNK);
        while let Some(chunk) = chunks.next().await {
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                break;
            }
        }
    });
    ReadAhead { rx, task }
}

/// The chunks [`read_ahead`] reads.
pub(super) struct ReadAhead {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    task: JoinHandle<()>,
}

impl Stream for ReadAhead {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // A reader that stalled must not hold its task after the upload gave up.
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn yields_the_reader_in_order_and_ends() {
        let data: Vec<u8> = (0..3 * UPLOAD_CHUNK + 17)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut stream = read_ahead(std::io::Cursor::new(data.clone()));
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(out, data);
    }

    #[tokio::test]
    async fn dropping_the_stream_stops_a_stalled_reader() {
        let (reader, _writer) = tokio::io::duplex(16);
        let stream = read_ahead(reader);
        let task = stream.task.abort_handle();
        drop(stream);
        tokio::task::yield_now().await;
        for _ in 0..100 {
            if task.is_finished() {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("the reading task outlived its stream");
    }
}
