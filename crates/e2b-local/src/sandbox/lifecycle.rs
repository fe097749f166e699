//! Sandbox timeouts: one timer task per sandbox, driven by a watched deadline.
//!
//! The deadline is `Some` while the sandbox runs and `None` while it is
//! paused; every change (set timeout, refresh, connect, pause, resume)
//! re-arms the timer. The task ends when the sandbox is removed (the
//! sender is dropped) or the manager is gone.

use std::future::Future;

use tokio::sync::watch;
use tokio::time::Instant;

/// The sending half, kept with the sandbox.
pub(crate) type DeadlineTx = watch::Sender<Option<Instant>>;

/// A deadline channel, initially unarmed.
pub(crate) fn deadline_channel() -> (DeadlineTx, watch::Receiver<Option<Instant>>) {
    watch::channel(None)
}

/// Run a timer: call `expire` each time the current deadline passes.
///
/// `expire` must change the deadline (re-arm, disarm or drop the sender);
/// if it leaves the same past deadline in place the timer waits for the
/// next change instead of firing again.
pub(crate) async fn run_timer<F, Fut>(mut rx: watch::Receiver<Option<Instant>>, mut expire: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    loop {
        let deadline = *rx.borrow_and_update();
        let Some(at) = deadline else {
            if rx.changed().await.is_err() {
                return;
            }
            continue;
        };
        tokio::select! {
            () = tokio::time::sleep_until(at) => {
                if !expire().await {
                    return;
                }
                if *rx.borrow() == Some(at) && rx.changed().await.is_err() {
                    return;
                }
            }
            changed = rx.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn fires_at_the_deadline_and_follows_changes() {
        let (tx, rx) = deadline_channel();
        let fired = Arc::new(AtomicUsize::new(0));
        let (fired_tx, mut fired_rx) = tokio::sync::mpsc::unbounded_channel();
        let counter = Arc::clone(&fired);
        let task = tokio::spawn(run_timer(rx, move || {
            let counter = Arc::clone(&counter);
            let fired_tx = fired_tx.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = fired_tx.send(Instant::now());
                true
            }
        }));
        let start = Instant::now();
        tx.send_replace(Some(start + Duration::from_secs(10)));
        // Moving the deadline later postpones the expiry.
        tx.send_replace(Some(start + Duration::from_secs(20)));
        let at = fired_rx.recv().await.unwrap();
        assert!(at >= start + Duration::from_secs(20));
        assert_eq!(fired.load(Ordering::SeqCst), 1);
        // Disarmed: nothing fires; re-armed: fires again.
        tx.send_replace(None);
        tx.send_replace(Some(Instant::now() + Duration::from_secs(5)));
        fired_rx.recv().await.unwrap();
        assert_eq!(fired.load(Ordering::SeqCst), 2);
        drop(tx);
        task.await.unwrap();
    }
}
