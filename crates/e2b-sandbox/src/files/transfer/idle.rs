//! An idle deadline that costs nothing per chunk: progress only records the time, and the
//! timer is re-armed when it fires before the real deadline (at most once per idle
//! period), instead of a new timer for every chunk of a transfer.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// Fires once `limit` has passed without [`progressed`](Self::progressed); never with
/// `Duration::ZERO`.
pub(super) struct IdleDeadline {
    limit: Duration,
    last: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl IdleDeadline {
    pub(super) fn new(limit: Duration) -> Self {
        IdleDeadline {
            limit,
            last: Instant::now(),
            sleep: None,
        }
    }

    pub(super) fn limit(&self) -> Duration {
        self.limit
    }

    /// Something arrived: the idle period starts again.
    pub(super) fn progressed(&mut self) {
        if !self.limit.is_zero() {
            self.last = Instant::now();
        }
    }

    /// Ready once the idle period has passed since the last progress; call it when the
    /// stream it guards is pending, so that the task is woken at the deadline.
    pub(super) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.limit.is_zero() {
            return Poll::Pending;
        }
        let deadline = self.last + self.limit;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        loop {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            // The timer was set for an earlier deadline than the one progress moved to.
            let deadline = self.last + self.limit;
            if Instant::now() >= deadline {
                return Poll::Ready(());
            }
            sleep.as_mut().reset(deadline);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expired(idle: &mut IdleDeadline) -> bool {
        let waker = futures_util::task::noop_waker();
        idle.poll_expired(&mut Context::from_waker(&waker))
            .is_ready()
    }

    #[tokio::test(start_paused = true)]
    async fn fires_after_an_idle_period_and_not_while_progress_is_made() {
        let mut idle = IdleDeadline::new(Duration::from_secs(5));
        assert!(!expired(&mut idle));
        for _ in 0..4 {
            tokio::time::advance(Duration::from_secs(3)).await;
            idle.progressed();
            assert!(
                !expired(&mut idle),
                "progress every 3 s keeps a 5 s deadline away"
            );
        }
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(!expired(&mut idle));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(expired(&mut idle));
    }

    #[tokio::test(start_paused = true)]
    async fn zero_never_fires() {
        let mut idle = IdleDeadline::new(Duration::ZERO);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(!expired(&mut idle));
    }
}
