//! The idle timeout of an upload's source: a stream or reader that stops producing chunks
//! fails the upload with a stream-idle timeout instead of holding it open.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use e2b_core::{Error, ErrorKind, TimeoutKind};
use futures_util::Stream;

use super::ChunkStream;
use super::idle::IdleDeadline;

/// Bounds the wait for each chunk of an upload's source, and remembers whether it fired.
#[derive(Clone)]
pub(super) struct Stalled {
    idle: Duration,
    fired: Arc<AtomicBool>,
}

impl Stalled {
    pub(super) fn new(idle: Duration) -> Self {
        Stalled {
            idle,
            fired: Arc::new(AtomicBool::new(false)),
        }
    }

    /// `stream`, failing with [`std::io::ErrorKind::TimedOut`] when a chunk takes longer
    /// than the idle timeout (never with `Duration::ZERO`).
    pub(super) fn guard(&self, stream: ChunkStream) -> Guarded {
        Guarded {
            stream: Some(stream),
            idle: IdleDeadline::new(self.idle),
            stalled: self.clone(),
        }
    }

    pub(super) fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    /// The typed error of the stalled upload whose request failed with `transfer`.
    pub(super) fn error(&self, transfer: Error) -> Error {
        Error::with_source(
            ErrorKind::Timeout {
                kind: TimeoutKind::StreamIdle,
                message: format!("the upload's source produced nothing for {:?}", self.idle),
            },
            transfer,
        )
    }
}

/// An upload's source under its idle timeout ([`Stalled::guard`]).
pub(super) struct Guarded {
    stream: Option<ChunkStream>,
    idle: IdleDeadline,
    stalled: Stalled,
}

impl Stream for Guarded {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(stream) = &mut this.stream else {
            return Poll::Ready(None);
        };
        match stream.as_mut().poll_next(cx) {
            Poll::Ready(Some(item)) => {
                this.idle.progressed();
                Poll::Ready(Some(item))
            }
            Poll::Ready(None) => {
                this.stream = None;
                Poll::Ready(None)
            }
            Poll::Pending => {
                if this.idle.poll_expired(cx).is_pending() {
                    return Poll::Pending;
                }
                this.stream = None;
                this.stalled.fired.store(true, Ordering::SeqCst);
                Poll::Ready(Some(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the upload's source produced nothing for {:?}",
                        this.stalled.idle
                    ),
                ))))
            }
        }
    }
}
