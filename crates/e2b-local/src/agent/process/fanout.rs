//! Delivering a process's output to every stream attached to it.
//!
//! Each attached stream (the `Start` call, any number of `Connect` calls) has
//! its own queue of [`QUEUE_LEN`] messages. While a queue has room, output is
//! handed over without waiting. When a stream falls behind and its queue is
//! full, delivery waits for it — the process then blocks on its pipe, which
//! is the backpressure envd applies too — but only for [`STALL_LIMIT`]: a
//! stream that accepts nothing for that long is detached (its call ends with
//! `data_loss`), so a stuck client cannot stall the process or the other
//! streams for longer than that. Output produced while no stream is attached
//! is dropped, as in envd.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use e2b_envd::process::process_event::{DataEvent, EndEvent};
use futures_util::future::join_all;
use tokio::sync::mpsc::{self, error::TrySendError};

/// Messages a stream may have queued.
pub(crate) const QUEUE_LEN: usize = 64;
/// How long a full queue may accept nothing before its stream is detached.
pub(crate) const STALL_LIMIT: Duration = Duration::from_secs(5);

/// What a process sends to its streams.
#[derive(Debug, Clone)]
pub(crate) enum Output {
    Data(DataEvent),
    End(EndEvent),
}

#[derive(Debug)]
struct Subscriber {
    id: u64,
    tx: mpsc::Sender<Output>,
}

/// The streams attached to one process.
#[derive(Debug, Default)]
pub(crate) struct Fanout {
    subscribers: Mutex<Vec<Subscriber>>,
    next_id: AtomicU64,
}

impl Fanout {
    fn lock(&self) -> MutexGuard<'_, Vec<Subscriber>> {
        // Nothing done under this lock can leave the list inconsistent.
        self.subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Attach a stream. The receiver ends (yields `None`) when the stream is
    /// detached or after the end event.
    pub(crate) fn subscribe(&self) -> mpsc::Receiver<Output> {
        let (tx, rx) = mpsc::channel(QUEUE_LEN);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().push(Subscriber { id, tx });
        rx
    }

    fn detach(&self, ids: &[u64]) {
        if !ids.is_empty() {
            self.lock().retain(|s| !ids.contains(&s.id));
        }
    }

    /// Deliver `output` to every attached stream (see the module docs for
    /// what happens with slow ones).
    pub(crate) async fn publish(&self, output: Output) {
        let targets: Vec<(u64, mpsc::Sender<Output>)> =
            self.lock().iter().map(|s| (s.id, s.tx.clone())).collect();
        let mut gone = Vec::new();
        let mut waiting = Vec::new();
        for (id, tx) in targets {
            match tx.try_send(output.clone()) {
                Ok(()) => {}
                Err(TrySendError::Closed(_)) => gone.push(id),
                Err(TrySendError::Full(output)) => waiting.push(async move {
                    match tokio::time::timeout(STALL_LIMIT, tx.send(output)).await {
                        Ok(Ok(())) => None,
                        Ok(Err(_)) | Err(_) => Some(id),
                    }
                }),
            }
        }
        gone.extend(join_all(waiting).await.into_iter().flatten());
        self.detach(&gone);
    }

    /// Detach every stream (after the end event has been delivered).
    pub(crate) fn close(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use e2b_envd::process::process_event::data_event;

    fn data(byte: u8) -> Output {
        Output::Data(DataEvent {
            output: Some(data_event::Output::Stdout(vec![byte])),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_stuck_stream_is_detached_and_others_keep_receiving() {
        let fanout = Fanout::default();
        let mut stuck = fanout.subscribe();
        let mut live = fanout.subscribe();
        for i in 0..QUEUE_LEN as u8 {
            fanout.publish(data(i)).await;
            assert!(live.recv().await.is_some());
        }
        // `stuck` is full now: this publish waits out the stall limit (the
        // clock is paused, so the runtime advances it) and then detaches it.
        fanout.publish(data(0xff)).await;
        assert!(matches!(live.recv().await, Some(Output::Data(_))));
        for _ in 0..QUEUE_LEN {
            assert!(stuck.recv().await.is_some());
        }
        assert!(stuck.recv().await.is_none(), "detached stream must end");
        fanout.publish(data(1)).await;
        assert!(live.recv().await.is_some());
    }

    #[tokio::test]
    async fn dropped_streams_are_forgotten() {
        let fanout = Fanout::default();
        drop(fanout.subscribe());
        fanout.publish(data(1)).await;
        assert!(fanout.lock().is_empty());
    }
}
