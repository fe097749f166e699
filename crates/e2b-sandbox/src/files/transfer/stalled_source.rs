//! The idle timeout of an upload's source: a stream or reader that stops producing chunks
//! fails the upload with a stream-idle timeout instead of holding it open.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use e2b_core::{Error, ErrorKind, TimeoutKind};
use futures_util::{Stream, StreamExt as _};

use super::ChunkStream;

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
    pub(super) fn guard(
        &self,
        stream: ChunkStream,
    ) -> impl Stream<Item = std::io::Result<Bytes>> + Send + use<> {
        let stalled = self.clone();
        futures_util::stream::unfold(Some(stream), move |state| {
            let stalled = stalled.clone();
            async move {
                let mut stream = state?;
                if stalled.idle.is_zero() {
                    return stream.next().await.map(|item| (item, Some(stream)));
                }
                match tokio::time::timeout(stalled.idle, stream.next()).await {
                    Ok(item) => item.map(|item| (item, Some(stream))),
                    Err(_) => {
                        stalled.fired.store(true, Ordering::SeqCst);
                        Some((
                            Err(std::io::Error::new(
                                std::io::ErrorKind::TimedOut,
                                format!(
                                    "the upload's source produced nothing for {:?}",
                                    stalled.idle
                                ),
                            )),
                            None,
                        ))
                    }
                }
            }
        })
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
