//! Errors of the Connect runtime.

use std::fmt;
use std::time::Duration;

use super::code::Code;

/// An error sent by a Connect server: a code, a message and optional details.
///
/// Unary calls receive it as a JSON body with a non-200 status; streams receive
/// it in the end-of-stream envelope.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ConnectError {
    /// The error code.
    pub code: Code,
    /// The human-readable message, possibly empty.
    pub message: String,
    /// Error details as sent by the server (`type`, base64 `value`, …), kept verbatim.
    pub details: Vec<serde_json::Value>,
    /// Response metadata sent with the error (headers of a unary response,
    /// end-of-stream metadata of a stream).
    pub metadata: http::HeaderMap,
}

impl ConnectError {
    /// A new error with the given code and message.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ConnectError {
            code,
            message: message.into(),
            details: Vec::new(),
            metadata: http::HeaderMap::new(),
        }
    }

    /// The JSON form of the error as the Connect protocol writes it.
    pub fn to_json(&self) -> serde_json::Value {
        let mut obj = serde_json::Map::new();
        obj.insert("code".into(), self.code.as_str().into());
        if !self.message.is_empty() {
            obj.insert("message".into(), self.message.clone().into());
        }
        if !self.details.is_empty() {
            obj.insert("details".into(), self.details.clone().into());
        }
        serde_json::Value::Object(obj)
    }

    /// Parse a Connect error body. Returns `None` when the JSON is not a Connect
    /// error (no string `code` naming a known Connect code).
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        let code = value.get("code")?.as_str()?.parse::<Code>().ok()?;
        let message = value
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or_default()
            .to_owned();
        let details = value
            .get("details")
            .and_then(|d| d.as_array())
            .cloned()
            .unwrap_or_default();
        Some(ConnectError {
            code,
            message,
            details,
            metadata: http::HeaderMap::new(),
        })
    }

    /// Interpret a non-200 unary or pre-stream response body.
    ///
    /// A Connect error body is used as is. Anything else (a proxy's JSON page with
    /// a numeric `code`, plain text, nothing) becomes an error whose code is
    /// derived from the HTTP status (or from the numeric `code`, which takes
    /// precedence), and whose message is the JSON `message` or the raw body.
    pub fn from_http_response(status: u16, body: &[u8]) -> Self {
        let json = serde_json::from_slice::<serde_json::Value>(body).ok();
        if let Some(err) = json.as_ref().and_then(ConnectError::from_json) {
            return err;
        }
        let numeric = json
            .as_ref()
            .and_then(|j| j.get("code"))
            .and_then(|c| c.as_u64())
            .and_then(|c| u16::try_from(c).ok());
        let message = json
            .as_ref()
            .and_then(|j| j.get("message"))
            .and_then(|m| m.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
        let message = if message.is_empty() {
            format!("HTTP status {status}")
        } else {
            message
        };
        ConnectError::new(Code::from_http_status(numeric.unwrap_or(status)), message)
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

impl std::error::Error for ConnectError {}

/// Which deadline expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// The whole call exceeded its deadline (`Connect-Timeout-Ms`).
    Call,
    /// No message arrived on a stream within the idle timeout.
    Idle,
}

/// The error type of every call made through the Connect runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a Connect error.
    #[error("{0}")]
    Connect(Box<ConnectError>),
    /// The connection could not be made or broke.
    #[error("transport error")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A deadline expired on the client side.
    #[error("{} timed out after {:?}", match .kind { TimeoutKind::Call => "call", TimeoutKind::Idle => "stream idle" }, .after)]
    Timeout {
        /// Which deadline.
        kind: TimeoutKind,
        /// The deadline that expired.
        after: Duration,
    },
    /// The peer violated the Connect protocol (bad framing, wrong content type,
    /// a stream that ended without its end-of-stream message).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A message could not be encoded or decoded.
    #[error("codec error: {0}")]
    Codec(String),
}

impl Error {
    /// The Connect code that best describes this error. Transport failures are
    /// `unavailable`, client-side timeouts `deadline_exceeded`, protocol and codec
    /// failures `internal`.
    pub fn code(&self) -> Code {
        match self {
            Error::Connect(e) => e.code,
            Error::Transport(_) => Code::Unavailable,
            Error::Timeout { .. } => Code::DeadlineExceeded,
            Error::Protocol(_) | Error::Codec(_) => Code::Internal,
        }
    }

    /// The server's Connect error, if this is one.
    pub fn as_connect(&self) -> Option<&ConnectError> {
        match self {
            Error::Connect(e) => Some(e),
            _ => None,
        }
    }

    /// The message of the server's error, or the display form otherwise.
    pub fn message(&self) -> String {
        match self {
            Error::Connect(e) => e.message.clone(),
            other => other.to_string(),
        }
    }

    /// Whether the connection failed or dropped (as opposed to the server
    /// answering with an error). Callers use this to probe whether the sandbox
    /// is still alive.
    pub fn is_transport(&self) -> bool {
        matches!(self, Error::Transport(_))
    }

    #[cfg(feature = "client")]
    pub(crate) fn transport(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Transport(Box::new(e))
    }
}

impl From<ConnectError> for Error {
    fn from(e: ConnectError) -> Self {
        Error::Connect(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_body_parsed() {
        let e = ConnectError::from_http_response(
            404,
            br#"{"code":"not_found","message":"process with pid 1 not found","details":[]}"#,
        );
        assert_eq!(e.code, Code::NotFound);
        assert_eq!(e.message, "process with pid 1 not found");
    }

    #[test]
    fn numeric_code_overrides_status() {
        let e = ConnectError::from_http_response(
            200,
            br#"{"code":401,"message":"unauthorized access"}"#,
        );
        assert_eq!(e.code, Code::Unauthenticated);
        assert_eq!(e.message, "unauthorized access");
    }

    #[test]
    fn plain_text_uses_status() {
        let e = ConnectError::from_http_response(502, b"bad gateway\n");
        assert_eq!(e.code, Code::Unavailable);
        assert_eq!(e.message, "bad gateway");
        let e = ConnectError::from_http_response(503, b"");
        assert_eq!(e.message, "HTTP status 503");
    }

    #[test]
    fn json_round_trip() {
        let e = ConnectError::new(Code::InvalidArgument, "bad cwd");
        let back = ConnectError::from_json(&e.to_json()).unwrap();
        assert_eq!(back, e);
    }
}
