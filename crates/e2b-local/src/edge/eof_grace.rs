//! A connection whose end of input is reported one scheduler turn late.
//!
//! hyper closes a connection as soon as it reads its end, dropping the
//! request in flight. A client that sends a request and hangs up at once
//! ("pause this sandbox", then gone) would then have its request dropped
//! before the handler ever ran, or not, depending on whether the close was
//! read in the same turn as the request. With the end held back for one
//! turn, hyper always polls the handler of a request that fully arrived
//! first; control-plane handlers run on their own task from that first poll,
//! so the request is carried out. A client that leaves a streaming response
//! is still noticed at once (one turn later).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// `T` with its end of input delayed by one turn.
#[derive(Debug)]
pub(crate) struct EofGrace<T> {
    io: T,
    held_back: bool,
}

impl<T> EofGrace<T> {
    /// Wrap `io`.
    pub(crate) fn new(io: T) -> Self {
        Self {
            io,
            held_back: false,
        }
    }
}

impl<T> EofGrace<T> {
    /// The wrapped connection.
    pub(crate) fn get_ref(&self) -> &T {
        &self.io
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for EofGrace<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled
            && buf.filled().len() == before
            && buf.remaining() > 0
            && !self.held_back
        {
            // The end: let everything else on this connection run first.
            self.held_back = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for EofGrace<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    #[tokio::test]
    async fn the_end_comes_after_the_data_one_turn_late() {
        let (mut client, server) = tokio::io::duplex(64);
        client.write_all(b"request").await.unwrap();
        drop(client);
        let mut server = EofGrace::new(server);
        let mut buf = [0u8; 16];
        assert_eq!(server.read(&mut buf).await.unwrap(), 7);
        // The end is held back once (a pending read that wakes itself)...
        let mut read = std::pin::pin!(server.read(&mut buf));
        let first = futures_util::poll!(read.as_mut());
        assert!(first.is_pending());
        // ...then reported.
        assert_eq!(read.await.unwrap(), 0);
        assert_eq!(server.read(&mut buf).await.unwrap(), 0);
    }
}
