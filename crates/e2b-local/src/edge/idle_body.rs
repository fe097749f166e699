//! A request body that fails when its sender stalls.
//!
//! The edge streams request bodies to the sandbox's agent. A client that
//! sends headers and then part of a body, and nothing more, would hold the
//! connection and the agent's socket forever; this wrapper ends such a body
//! with an error once no data has arrived for the idle timeout, so the
//! request is answered `408 Request Timeout` and everything it held is freed.
//!
//! A frame only records when it arrived: the timer is re-armed when it fires
//! before the real deadline (at most once per idle period), not for every
//! frame of an upload.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The error a stalled body ends with.
#[derive(Debug, thiserror::Error)]
#[error("no request body data for {0:?}")]
pub(crate) struct BodyStalled(pub(crate) Duration);

/// `inner`, failing after `idle` without a frame.
pub(crate) struct IdleBody<B> {
    inner: B,
    idle: Duration,
    /// When the last frame arrived.
    last: Instant,
    deadline: Pin<Box<Sleep>>,
    stalled: Arc<AtomicBool>,
}

impl<B> IdleBody<B> {
    /// Wrap `inner`; the flag is set when the body stalled.
    pub(crate) fn new(inner: B, idle: Duration) -> (Self, Arc<AtomicBool>) {
        let stalled = Arc::new(AtomicBool::new(false));
        (
            Self {
                inner,
                idle,
                last: Instant::now(),
                deadline: Box::pin(tokio::time::sleep(idle)),
                stalled: Arc::clone(&stalled),
            },
            stalled,
        )
    }
}

impl<B> Body for IdleBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.last = Instant::now();
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => loop {
                if this.deadline.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                // Set for an earlier deadline than the last frame moved it to.
                let deadline = this.last + this.idle;
                if Instant::now() < deadline {
                    this.deadline.as_mut().reset(deadline);
                    continue;
                }
                this.stalled.store(true, Ordering::Relaxed);
                return Poll::Ready(Some(Err(Box::new(BodyStalled(this.idle)))));
            },
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
    use http_body_util::BodyExt as _;
    use tokio::sync::mpsc;

    use super::*;

    /// A body fed by a channel.
    struct Channel(mpsc::Receiver<Bytes>);

    impl Body for Channel {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_fails_and_a_steady_one_does_not() {
        let (tx, rx) = mpsc::channel(4);
        let (mut body, stalled) = IdleBody::new(Channel(rx), Duration::from_secs(5));
        tx.send(Bytes::from_static(b"a")).await.unwrap();
        assert!(body.frame().await.unwrap().is_ok());
        // Data every 4 s keeps it alive past the 5 s idle limit.
        for _ in 0..3 {
            tokio::time::advance(Duration::from_secs(4)).await;
            tx.send(Bytes::from_static(b"b")).await.unwrap();
            assert!(body.frame().await.unwrap().is_ok());
        }
        assert!(!stalled.load(Ordering::Relaxed));
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(err.to_string().contains("no request body data"), "{err}");
        assert!(stalled.load(Ordering::Relaxed));
        drop(tx);
    }
}
