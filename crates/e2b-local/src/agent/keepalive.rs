//! Keepalive cadence of server streams.
//!
//! Clients send `Keepalive-Ping-Interval: <seconds>` on streaming calls; the
//! agent emits a keepalive message after that many seconds without any other
//! message, so proxies and clients with idle timeouts keep the stream open.

use std::time::Duration;

use http::HeaderMap;
use tokio::time::{Instant, Sleep};

/// The header naming the interval in whole seconds.
const HEADER: &str = "keepalive-ping-interval";

/// Interval used when the header is missing, unparsable or not positive (as
/// envd does).
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(90);

/// Longest interval honoured: longer requests get a keepalive a day, which
/// is no different for the client and keeps timer arithmetic in range.
pub(crate) const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// The interval requested by `headers`.
pub(crate) fn interval(headers: &HeaderMap) -> Duration {
    headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&secs| secs > 0)
        .map(|secs| Duration::from_secs(secs).min(MAX_INTERVAL))
        .unwrap_or(DEFAULT_INTERVAL)
}

/// A timer that fires after `interval` of silence; reset it whenever a
/// message goes out.
#[derive(Debug)]
pub(crate) struct Keepalive {
    interval: Duration,
    timer: std::pin::Pin<Box<Sleep>>,
}

impl Keepalive {
    pub(crate) fn new(interval: Duration) -> Self {
        Keepalive {
            interval,
            timer: Box::pin(tokio::time::sleep(interval)),
        }
    }

    /// Restart the silence period.
    pub(crate) fn reset(&mut self) {
        self.timer.as_mut().reset(Instant::now() + self.interval);
    }

    /// Wait until the silence period is over, then start the next one.
    pub(crate) async fn tick(&mut self) {
        self.timer.as_mut().await;
        self.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(interval(&h), DEFAULT_INTERVAL);
        h.insert(HEADER, "50".parse().unwrap());
        assert_eq!(interval(&h), Duration::from_secs(50));
        for bad in ["0", "-1", "1.5", "soon"] {
            h.insert(HEADER, bad.parse().unwrap());
            assert_eq!(interval(&h), DEFAULT_INTERVAL, "{bad}");
        }
        for huge in ["86401", "18446744073709551615"] {
            h.insert(HEADER, huge.parse().unwrap());
            assert_eq!(interval(&h), MAX_INTERVAL, "{huge}");
        }
    }

    #[tokio::test]
    async fn the_longest_interval_can_be_reset() {
        let mut h = HeaderMap::new();
        h.insert(HEADER, u64::MAX.to_string().parse().unwrap());
        let mut keepalive = Keepalive::new(interval(&h));
        keepalive.reset();
    }
}
