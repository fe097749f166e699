//! Errors of envd's plain HTTP API: `{"code": <status>, "message": "…"}`.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use super::fs_user::FsUserError;
use super::os_error;

/// An HTTP error answer with envd's JSON body.
#[derive(Debug)]
pub(crate) struct HttpError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl HttpError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        HttpError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// A failed file-system call, answered as [`os_error`] says.
    pub(crate) fn io(e: &std::io::Error, message: impl Into<String>) -> Self {
        Self::new(os_error::http_status(e), message)
    }
}

impl From<FsUserError> for HttpError {
    fn from(e: FsUserError) -> Self {
        Self::internal(e.to_string())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "code": self.status.as_u16(),
            "message": self.message,
        });
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    }
}
