//! Connection retries, as the official Python SDK makes them (`E2B_CONNECTION_RETRIES`):
//! which failed attempts may be sent again without repeating a side effect, and how long
//! to wait before each.

use std::time::Duration;

use http::Method;

/// The wait before the first retry; each later one waits twice as long as the one before.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Why a failed attempt may be sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reason {
    /// No connection was established (refused, unreachable, name not resolved, TLS or
    /// proxy handshake failed): not one byte of the request reached the server.
    NotConnected,
    /// A safe method (`GET`, `HEAD`, `OPTIONS`) whose connection broke before the
    /// response arrived: sending it again changes nothing on the server.
    SafeMethodInterrupted,
}

/// Whether the attempt that failed with `error` may be sent again, and why.
///
/// Never for timeouts (the deadline is the caller's), nor for anything that happened
/// after a response arrived: a status is an answer, not a transport failure.
pub(super) fn reason(method: &Method, error: &reqwest::Error) -> Option<Reason> {
    if error.is_connect() {
        // A certificate the client does not trust (or another TLS refusal) fails the same
        // way every time: sending again only delays the error.
        return (!tls_refused(error)).then_some(Reason::NotConnected);
    }
    let interrupted = error.is_request()
        && !error.is_timeout()
        && !error.is_builder()
        && !error.is_redirect()
        && !error.is_status()
        && !error.is_decode()
        && !error.is_body();
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    (interrupted && safe).then_some(Reason::SafeMethodInterrupted)
}

/// Whether the TLS handshake failed on what the peer sent (an untrusted or invalid
/// certificate, a protocol error), rather than on the connection going away. The TLS
/// stack reports those as I/O errors of kind `InvalidData`.
fn tls_refused(error: &reqwest::Error) -> bool {
    let mut next = std::error::Error::source(error);
    while let Some(e) = next {
        next = match e.downcast_ref::<std::io::Error>() {
            Some(io) if io.kind() == std::io::ErrorKind::InvalidData => return true,
            // An I/O error's `source` skips the error it wraps; look at that one too.
            Some(io) => io.get_ref().map(|inner| inner as _).or_else(|| e.source()),
            None => e.source(),
        };
    }
    false
}

/// The wait before retry `n` (counted from 1): 100 ms, 200 ms, 400 ms, … at most 2 s.
pub(super) fn backoff(n: u32) -> Duration {
    let doublings = n.saturating_sub(1).min(16);
    FIRST_BACKOFF
        .saturating_mul(1u32 << doublings)
        .min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(3), Duration::from_millis(400));
        assert_eq!(backoff(6), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[tokio::test]
    async fn refused_connections_are_retryable_for_any_method() {
        // A port nothing listens on: bind one, then drop the listener.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/"))
            .body("x")
            .send()
            .await
            .unwrap_err();
        assert_eq!(reason(&Method::POST, &error), Some(Reason::NotConnected));
        assert_eq!(reason(&Method::GET, &error), Some(Reason::NotConnected));
    }

    #[tokio::test]
    async fn timeouts_are_never_retried() {
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let error = reqwest::Client::builder()
            .timeout(Duration::from_millis(50))
            .build()
            .unwrap()
            .get(format!("http://{}/", silent.local_addr().unwrap()))
            .send()
            .await
            .unwrap_err();
        assert!(error.is_timeout());
        assert_eq!(reason(&Method::GET, &error), None);
    }
}
