//! Control-plane errors and request extractors that report bad input as JSON.
//!
//! Every error response is `{"code": <HTTP status>, "message": "…"}` (the
//! spec's `Error`): the JS SDK branches on the body's `code`, Python on the
//! status, so both must agree.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use e2b_api::control::types;
use serde::de::DeserializeOwned;

use crate::sandbox::SandboxError;
use crate::sandbox::network::NetworkError;

/// How long a client may take to send a request body (all of them are small).
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// An error answered as the spec's `Error` JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    /// HTTP status (also the body's `code`).
    pub(crate) status: StatusCode,
    /// Human-readable message.
    pub(crate) message: String,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// The body as the generated type.
    pub(crate) fn body(&self) -> types::Error {
        types::Error {
            code: i32::from(self.status.as_u16()),
            error_code: None,
            message: self.message.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

impl From<SandboxError> for ApiError {
    fn from(e: SandboxError) -> Self {
        let status = match &e {
            SandboxError::NotFound(_) | SandboxError::TemplateNotFound(_) => StatusCode::NOT_FOUND,
            SandboxError::AlreadyPaused(_) | SandboxError::AlreadyRunning(_) => {
                StatusCode::CONFLICT
            }
            SandboxError::Invalid(_)
            | SandboxError::TemplateUnavailable { .. }
            | SandboxError::Network(NetworkError::Unavailable(_)) => StatusCode::BAD_REQUEST,
            SandboxError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            SandboxError::Launch(_)
            | SandboxError::Network(NetworkError::Failed(_))
            | SandboxError::Store(_)
            | SandboxError::Io { .. } => {
                tracing::error!(error = %e, "sandbox operation failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        Self::new(status, e.to_string())
    }
}

/// A JSON request body; malformed or missing → 400 with the parser's message.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        parse(&bytes).map(JsonBody)
    }
}

/// A JSON request body that may be absent (empty body → `T::default()`).
#[derive(Debug)]
pub(crate) struct OptionalJsonBody<T>(pub(crate) T);

impl<S, T> FromRequest<S> for OptionalJsonBody<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        parse(&bytes).map(OptionalJsonBody)
    }
}

async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    tokio::time::timeout(BODY_READ_TIMEOUT, Bytes::from_request(req, state))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "Error when reading request: the body did not arrive within {BODY_READ_TIMEOUT:?}"
                ),
            )
        })?
        .map_err(|e| {
            ApiError::new(
                e.status(),
                format!("Error when reading request: {}", e.body_text()),
            )
        })
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("Error when parsing request: {e}")))
}

/// The `{sandboxID}` (or other single) path parameter; bad encoding → 400.
#[derive(Debug)]
pub(crate) struct PathParam(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| Self(p))
            .map_err(|e| {
                ApiError::bad_request(format!("Invalid path parameter: {}", e.body_text()))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_repeats_the_status() {
        let e = ApiError::new(StatusCode::CONFLICT, "busy");
        assert_eq!(
            serde_json::to_value(e.body()).unwrap(),
            serde_json::json!({"code": 409, "message": "busy"})
        );
    }

    #[test]
    fn sandbox_errors_map_to_statuses() {
        let cases = [
            (SandboxError::NotFound("x".into()), 404),
            (SandboxError::TemplateNotFound("t".into()), 404),
            (SandboxError::AlreadyPaused("x".into()), 409),
            (SandboxError::Invalid("bad".into()), 400),
            (SandboxError::ShuttingDown, 503),
        ];
        for (err, status) in cases {
            assert_eq!(ApiError::from(err).status.as_u16(), status);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_never_arrives_is_a_408() {
        let stalled = axum::body::Body::from_stream(futures_util::stream::pending::<
            Result<Bytes, std::io::Error>,
        >());
        let req = Request::builder()
            .method("POST")
            .uri("/sandboxes")
            .body(stalled)
            .unwrap();
        let err = JsonBody::<types::NewSandbox>::from_request(req, &())
            .await
            .unwrap_err();
        assert_eq!(err.status, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(err.body().code, 408);
    }

    #[test]
    fn parse_reports_json_errors_as_400() {
        let err = parse::<types::ConnectSandbox>(b"{\"timeout\": \"x\"}").unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(
            err.message.starts_with("Error when parsing request"),
            "{}",
            err.message
        );
        assert_eq!(
            parse::<types::ConnectSandbox>(b"{\"timeout\": 5}")
                .unwrap()
                .timeout,
            5
        );
    }
}
