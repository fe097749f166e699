//! Client connections the edge can end with a reset.
//!
//! When a sandbox dies while a response from it is streaming (a command's
//! output, a watch), the client must see the connection *dropped*, as at
//! E2B's edge, not a connection that closed cleanly in the middle of a
//! chunk: the official SDKs tell the two apart, and only a dropped
//! connection makes them check whether the sandbox is still alive and
//! report it killed. A [`ConnectionReset`] handle travels with each request;
//! the proxy requests the reset when the sandbox's body fails or the
//! sandbox stops serving (a pause ends the requests in flight instead of
//! leaving them to hang on frozen processes), and the connection then
//! closes with a TCP reset instead of its orderly end.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::eof_grace::EofGrace;

/// Asks a client connection to end with a reset (cheap to clone).
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnectionReset(Arc<AtomicBool>);

impl ConnectionReset {
    /// End the connection with a reset once it closes.
    pub(crate) fn request(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A client's TCP connection (with [`EofGrace`]) that closes with a reset
/// when its [`ConnectionReset`] was requested.
#[derive(Debug)]
pub(crate) struct ClientStream {
    io: EofGrace<TcpStream>,
    reset: ConnectionReset,
}

impl ClientStream {
    /// Wrap an accepted connection; returns it and its reset handle.
    pub(crate) fn new(stream: TcpStream) -> (Self, ConnectionReset) {
        let reset = ConnectionReset::default();
        (
            Self {
                io: EofGrace::new(stream),
                reset: reset.clone(),
            },
            reset,
        )
    }
}

impl Drop for ClientStream {
    fn drop(&mut self) {
        if self.reset.requested() {
            // Closing with a zero linger time sends a reset (and never
            // blocks, unlike a non-zero one).
            let _ =
                rustix::net::sockopt::set_socket_linger(self.io.get_ref(), Some(Duration::ZERO));
        }
    }
}

impl AsyncRead for ClientStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for ClientStream {
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
        if self.reset.requested() {
            // No orderly end (FIN) before the reset.
            return Poll::Ready(Ok(()));
        }
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

/// Why a response from a sandbox ended early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CutShort {
    /// The sandbox's side failed (it died, or its agent dropped the stream).
    #[error("the sandbox's response failed: {0}")]
    Failed(Box<dyn std::error::Error + Send + Sync>),
    /// The sandbox stopped serving (paused or killed) while it streamed.
    #[error("the sandbox stopped serving")]
    Stopped,
}

/// A response body from a sandbox: it ends when the sandbox stops serving,
/// and when it fails or ends early it requests the client connection's reset.
pub(crate) struct SandboxBody<B> {
    inner: B,
    reset: Option<ConnectionReset>,
    stopped: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl<B> std::fmt::Debug for SandboxBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxBody").finish_non_exhaustive()
    }
}

impl<B> SandboxBody<B> {
    /// Wrap `inner`, which ends when `serving` is cancelled; without a
    /// reset handle, failures pass through without one.
    pub(crate) fn new(
        inner: B,
        reset: Option<ConnectionReset>,
        serving: CancellationToken,
    ) -> Self {
        Self {
            inner,
            reset,
            stopped: Box::pin(serving.cancelled_owned()),
        }
    }

    fn cut(&self, why: CutShort) -> Poll<Option<Result<Frame<Bytes>, CutShort>>> {
        if let Some(reset) = &self.reset {
            reset.request();
        }
        Poll::Ready(Some(Err(why)))
    }
}

impl<B> Body for SandboxBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = CutShort;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.stopped.as_mut().poll(cx).is_ready() {
            return self.cut(CutShort::Stopped);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Err(e))) => self.cut(CutShort::Failed(e.into())),
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    async fn pair() -> (ClientStream, ConnectionReset, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        let (server, reset) = ClientStream::new(accepted.unwrap().0);
        (server, reset, client.unwrap())
    }

    #[tokio::test]
    async fn a_requested_reset_drops_the_connection() {
        let (mut server, reset, mut client) = pair().await;
        server.write_all(b"partial").await.unwrap();
        reset.request();
        server.shutdown().await.unwrap();
        drop(server);
        let mut buf = Vec::new();
        let err = client.read_to_end(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    }

    #[tokio::test]
    async fn otherwise_the_connection_ends_in_order() {
        let (mut server, _reset, mut client) = pair().await;
        server.write_all(b"whole").await.unwrap();
        server.shutdown().await.unwrap();
        drop(server);
        let mut buf = Vec::new();
        client.read_to_end(&mut buf).await.unwrap();
        assert_eq!(buf, b"whole");
    }
}
