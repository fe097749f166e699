//! The output buffer between a process's event stream and the streams handed to callers.
//!
//! One writer (the task reading envd's stream) appends chunks; any number of readers, each
//! with its own position, read them in order. The buffer keeps the most recent
//! [`OUTPUT_BUFFER_BYTES`] of output, so a reader that starts late still sees it. A reader
//! never misses a chunk: when the slowest reader has a full buffer still to read, the writer
//! waits for it (backpressure reaches envd). Without readers the oldest chunks are dropped
//! instead, so output nobody streams never stalls the process.

use std::collections::{BTreeMap, VecDeque};
use std::future::poll_fn;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

/// How many bytes of output not yet read by every stream a handle buffers.
pub const OUTPUT_BUFFER_BYTES: usize = 1 << 20;

/// A chunk of a process's output.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandOutput {
    /// Text the process wrote to standard output (decoded as UTF-8).
    Stdout(String),
    /// Text the process wrote to standard error (decoded as UTF-8).
    Stderr(String),
    /// Raw bytes a pseudo-terminal produced.
    Pty(Bytes),
}

impl CommandOutput {
    fn len(&self) -> usize {
        match self {
            CommandOutput::Stdout(s) | CommandOutput::Stderr(s) => s.len(),
            CommandOutput::Pty(b) => b.len(),
        }
    }
}

/// Identifies one reader of an [`OutputLog`].
pub(crate) type ReaderId = u64;

#[derive(Debug, Default)]
pub(crate) struct OutputLog {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    entries: VecDeque<CommandOutput>,
    /// Sequence number of `entries[0]`.
    first: u64,
    /// Bytes in `entries`.
    bytes: usize,
    readers: BTreeMap<ReaderId, Reader>,
    next_reader: ReaderId,
    closed: bool,
    writer: Option<Waker>,
}

#[derive(Debug)]
struct Reader {
    /// Sequence number of the next chunk to read.
    position: u64,
    waker: Option<Waker>,
}

impl State {
    fn end(&self) -> u64 {
        self.first + self.entries.len() as u64
    }

    /// The position of the slowest reader; `None` without readers.
    fn slowest(&self) -> Option<u64> {
        self.readers.values().map(|r| r.position).min()
    }

    /// Drop the oldest chunks beyond the limit, but never one a reader has yet to read.
    fn trim(&mut self) {
        let keep_from = self.slowest().unwrap_or(u64::MAX);
        while self.bytes > OUTPUT_BUFFER_BYTES && self.first < keep_from {
            self.pop_front();
        }
    }

    /// Whether the slowest reader has a full buffer still to read.
    fn is_full(&self) -> bool {
        self.bytes >= OUTPUT_BUFFER_BYTES && self.slowest().is_some_and(|s| s <= self.first)
    }

    fn pop_front(&mut self) {
        if let Some(chunk) = self.entries.pop_front() {
            self.bytes -= chunk.len();
            self.first += 1;
        }
    }

    fn wake_readers(&mut self) {
        for reader in self.readers.values_mut() {
            if let Some(waker) = reader.waker.take() {
                waker.wake();
            }
        }
    }

    fn wake_writer(&mut self) {
        if let Some(waker) = self.writer.take() {
            waker.wake();
        }
    }
}

impl OutputLog {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state consistent (every update is a
        // single step), so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Append a chunk, first waiting while readers have a full buffer to catch up on.
    pub(crate) async fn push(&self, chunk: CommandOutput) {
        poll_fn(|cx| {
            let mut state = self.lock();
            state.trim();
            if state.is_full() {
                state.writer = Some(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        let mut state = self.lock();
        state.bytes += chunk.len();
        state.entries.push_back(chunk);
        state.trim();
        state.wake_readers();
    }

    /// No more chunks will come: readers end after the buffered ones.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.wake_readers();
    }

    /// A new reader, starting at the oldest buffered chunk.
    pub(crate) fn subscribe(&self) -> ReaderId {
        let mut state = self.lock();
        let id = state.next_reader;
        state.next_reader += 1;
        let position = state.first;
        state.readers.insert(
            id,
            Reader {
                position,
                waker: None,
            },
        );
        id
    }

    pub(crate) fn unsubscribe(&self, id: ReaderId) {
        let mut state = self.lock();
        state.readers.remove(&id);
        state.trim();
        state.wake_writer();
    }

    /// The reader's next chunk, `None` once the log is closed and read to the end.
    pub(crate) fn poll_read(
        &self,
        id: ReaderId,
        cx: &mut Context<'_>,
    ) -> Poll<Option<CommandOutput>> {
        let mut state = self.lock();
        let end = state.end();
        let first = state.first;
        let closed = state.closed;
        let Some(reader) = state.readers.get_mut(&id) else {
            return Poll::Ready(None);
        };
        if reader.position < end {
            let index = (reader.position.max(first) - first) as usize;
            reader.position = first + index as u64 + 1;
            let chunk = state.entries[index].clone();
            state.trim();
            state.wake_writer();
            Poll::Ready(Some(chunk))
        } else if closed {
            Poll::Ready(None)
        } else {
            reader.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future as _;

    use super::*;

    fn out(s: &str) -> CommandOutput {
        CommandOutput::Stdout(s.to_owned())
    }

    async fn read(log: &OutputLog, id: ReaderId) -> Option<CommandOutput> {
        poll_fn(|cx| log.poll_read(id, cx)).await
    }

    #[tokio::test]
    async fn readers_see_everything_in_order_then_the_end() {
        let log = OutputLog::default();
        log.push(out("a")).await;
        let r1 = log.subscribe();
        log.push(CommandOutput::Stderr("b".into())).await;
        let r2 = log.subscribe();
        log.close();
        for r in [r1, r2] {
            assert_eq!(read(&log, r).await, Some(out("a")));
            assert_eq!(read(&log, r).await, Some(CommandOutput::Stderr("b".into())));
            assert_eq!(read(&log, r).await, None);
        }
    }

    #[tokio::test]
    async fn without_readers_the_oldest_output_is_dropped() {
        let log = OutputLog::default();
        let chunk = "x".repeat(OUTPUT_BUFFER_BYTES / 4 - 1);
        for i in 0..8 {
            log.push(out(&format!("{i}{chunk}"))).await;
        }
        let r = log.subscribe();
        log.close();
        let mut first = None;
        let mut count = 0;
        while let Some(CommandOutput::Stdout(s)) = read(&log, r).await {
            first.get_or_insert(s.chars().next().unwrap());
            count += 1;
        }
        assert_eq!(count, 4, "exactly the last full buffer is kept");
        assert_eq!(first, Some('4'));
    }

    #[tokio::test]
    async fn a_late_reader_sees_recent_output_already_read_by_others() {
        let log = OutputLog::default();
        let early = log.subscribe();
        log.push(out("a")).await;
        log.push(out("b")).await;
        assert_eq!(read(&log, early).await, Some(out("a")));
        assert_eq!(read(&log, early).await, Some(out("b")));
        log.unsubscribe(early);
        let late = log.subscribe();
        log.close();
        assert_eq!(read(&log, late).await, Some(out("a")));
        assert_eq!(read(&log, late).await, Some(out("b")));
        assert_eq!(read(&log, late).await, None);
    }

    #[tokio::test]
    async fn a_slow_reader_holds_the_writer_back_and_releases_it() {
        let log = OutputLog::default();
        let r = log.subscribe();
        let chunk = "y".repeat(OUTPUT_BUFFER_BYTES / 2);
        log.push(out(&chunk)).await;
        log.push(out(&chunk)).await;
        // The buffer is full for `r`: the next push waits until `r` reads.
        let mut push = std::pin::pin!(log.push(out("last")));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(push.as_mut().poll(&mut cx).is_pending());
        assert_eq!(read(&log, r).await.unwrap(), out(&chunk));
        assert!(push.as_mut().poll(&mut cx).is_ready());
        assert_eq!(read(&log, r).await.unwrap(), out(&chunk));
        assert_eq!(read(&log, r).await.unwrap(), out("last"));
    }

    #[tokio::test]
    async fn dropping_a_reader_releases_the_writer() {
        let log = OutputLog::default();
        let r = log.subscribe();
        log.push(out(&"z".repeat(OUTPUT_BUFFER_BYTES))).await;
        let mut push = std::pin::pin!(log.push(out("next")));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(push.as_mut().poll(&mut cx).is_pending());
        log.unsubscribe(r);
        assert!(push.as_mut().poll(&mut cx).is_ready());
    }
}
