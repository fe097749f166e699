//! API-key authentication of the control plane (`X-API-Key`, header name case-insensitive).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::errors::ApiError;
use crate::edge::signature::secure_eq;

/// The header carrying the API key.
pub(crate) const API_KEY_HEADER: &str = "x-api-key";

/// Refuse requests without the server's API key (401).
pub(crate) async fn require_api_key(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match check(&app, &request) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

fn check(app: &AppState, request: &Request) -> Result<(), ApiError> {
    let Some(value) = request.headers().get(API_KEY_HEADER) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Missing API key: send it in the X-API-Key header",
        ));
    };
    match value.to_str() {
        Ok(key) if secure_eq(key.trim(), &app.api_key) => Ok(()),
        _ => Err(ApiError::new(StatusCode::UNAUTHORIZED, "Invalid API key")),
    }
}
