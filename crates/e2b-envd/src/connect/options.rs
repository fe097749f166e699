//! Per-call options.

use std::fmt;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};

/// Options of one call: its deadline, the stream idle timeout and extra headers.
///
/// * `timeout` bounds the whole call, stream included. It is sent to the server
///   as `Connect-Timeout-Ms` (envd also uses it as the lifetime of a process
///   started by `Process/Start`). `None` means no deadline.
/// * `idle_timeout` bounds the silence between two stream messages (keepalives
///   count as activity). `None` means no idle limit.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct CallOptions {
    /// Deadline of the whole call.
    pub timeout: Option<Duration>,
    /// Longest silence tolerated between stream messages.
    pub idle_timeout: Option<Duration>,
    /// Headers added to this call (after the client's own headers).
    pub headers: HeaderMap,
}

impl CallOptions {
    /// Options with no deadline, no idle limit and no extra headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the call deadline.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Set the stream idle timeout.
    #[must_use]
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = Some(idle);
        self
    }

    /// Add a header to this call.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }
}

impl fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may carry credentials: names only.
        f.debug_struct("CallOptions")
            .field("timeout", &self.timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// `Connect-Timeout-Ms` for a deadline: whole milliseconds, at least 1.
pub fn timeout_header_value(timeout: Duration) -> HeaderValue {
    let ms = timeout.as_millis().clamp(1, 9_999_999_999);
    HeaderValue::from(ms as u64)
}

/// Parse `Connect-Timeout-Ms`: at most 10 ASCII digits.
pub fn parse_timeout_header(value: &HeaderValue) -> Option<Duration> {
    let s = value.to_str().ok()?;
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok().map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_header() {
        assert_eq!(timeout_header_value(Duration::from_micros(10)), "1");
        assert_eq!(timeout_header_value(Duration::from_secs(60)), "60000");
        assert_eq!(
            parse_timeout_header(&HeaderValue::from_static("1500")),
            Some(Duration::from_millis(1500))
        );
        for bad in ["", "-1", "1.5", "12345678901", "abc"] {
            assert_eq!(
                parse_timeout_header(&HeaderValue::from_static(bad)),
                None,
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_hides_header_values() {
        let o = CallOptions::new().header(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("Basic c2VjcmV0Og=="),
        );
        let s = format!("{o:?}");
        assert!(s.contains("authorization"));
        assert!(!s.contains("c2VjcmV0"));
    }
}
