//! [`ByteStream`]: a download, as a `Stream` of chunks and as an `AsyncRead`.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf as _, Bytes};
use e2b_core::Result;
use futures_util::Stream;
use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};

/// A download: a [`Stream`] of chunks that is also an [`AsyncRead`] and an
/// [`AsyncBufRead`]. Every chunk must arrive within the idle timeout, else the stream ends
/// with a [`TimeoutKind::StreamIdle`](crate::TimeoutKind::StreamIdle) error.
///
/// To save it, [`tokio::io::copy_buf`] hands each chunk to the writer whole, where
/// [`tokio::io::copy`] would cut it into 8 KiB writes (each a trip to the blocking pool
/// for a [`tokio::fs::File`]).
pub struct ByteStream {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>,
    pending: Bytes,
}

impl ByteStream {
    pub(super) fn new(inner: Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>) -> Self {
        ByteStream {
            inner,
            pending: Bytes::new(),
        }
    }

    /// A `ByteStream` over any stream of chunks (what other E2B crates stream, e.g.
    /// volume files, is handed out as this same type).
    pub fn from_stream(stream: impl Stream<Item = Result<Bytes>> + Send + 'static) -> Self {
        ByteStream::new(Box::pin(stream))
    }
}

impl std::fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteStream").finish_non_exhaustive()
    }
}

impl Stream for ByteStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if !self.pending.is_empty() {
            return Poll::Ready(Some(Ok(std::mem::take(&mut self.pending))));
        }
        self.inner.as_mut().poll_next(cx)
    }
}

impl ByteStream {
    /// The next chunk into `pending`; `false` at the end.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<bool>> {
        while self.pending.is_empty() {
            match self.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Ok(false)),
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Err(std::io::Error::other(e)));
                }
                Poll::Ready(Some(Ok(chunk))) => self.pending = chunk,
            }
        }
        Poll::Ready(Ok(true))
    }
}

impl AsyncBufRead for ByteStream {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<&[u8]>> {
        let this = self.get_mut();
        match std::task::ready!(this.poll_pending(cx)) {
            Ok(_) => Poll::Ready(Ok(&this.pending)),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        self.pending.advance(amt);
    }
}

impl AsyncRead for ByteStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !std::task::ready!(self.poll_pending(cx))? {
            return Poll::Ready(Ok(()));
        }
        let n = buf.remaining().min(self.pending.len());
        let chunk = self.pending.split_to(n);
        buf.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}
