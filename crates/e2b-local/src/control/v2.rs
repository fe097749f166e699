//! The v2 create and connect, which the official SDKs call from e2b 2.51 on.
//!
//! Their bodies follow upstream's `NewSandboxV2` and `ConnectSandboxV2`:
//! a sandbox lives 300 s when no `timeout` is given (v1's default is 15 s);
//! envd access is always secured (there is no `secure` field: every
//! sandbox gets an access token); connect may omit `timeout` (300 s) and
//! may ask to resume from the files only (`memory: false`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use e2b_api::control::types;
use serde::Deserialize;
use serde_json::Value;

use super::AppState;
use super::errors::{ApiError, JsonBody, OptionalJsonBody, PathParam};
use super::sandboxes::create_sandbox;
use super::views;

/// A v2 sandbox's timeout when the request names none, seconds.
pub(crate) const DEFAULT_TIMEOUT_SECS: i32 = 300;

/// `POST /v2/sandboxes` → 201 `Sandbox` (always with an envd access token).
pub(crate) async fn create(
    State(app): State<AppState>,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<types::Sandbox>), ApiError> {
    create_sandbox(&app, v1_request(body)?).await
}

/// The v1 request a v2 create body means.
fn v1_request(body: Value) -> Result<types::NewSandbox, ApiError> {
    let Value::Object(mut fields) = body else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    fields
        .entry("timeout")
        .or_insert(Value::from(DEFAULT_TIMEOUT_SECS));
    fields.insert("secure".to_owned(), Value::Bool(true));
    serde_json::from_value(Value::Object(fields))
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))
}

/// `ConnectSandboxV2`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ConnectV2 {
    /// Seconds from now until the sandbox expires (300 when absent).
    timeout: Option<i32>,
    /// `false`: a paused sandbox resumes from its files, not its memory.
    memory: Option<bool>,
}

/// `POST /v2/sandboxes/{id}/connect` → 200 (running) or 201 (resumed) `Sandbox`.
pub(crate) async fn connect(
    State(app): State<AppState>,
    PathParam(id): PathParam,
    OptionalJsonBody(body): OptionalJsonBody<ConnectV2>,
) -> Result<(StatusCode, Json<types::Sandbox>), ApiError> {
    let timeout = body.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS);
    let timeout = u32::try_from(timeout)
        .map_err(|_| ApiError::bad_request(format!("timeout must be at least 0, got {timeout}")))?;
    let (record, resumed) = app
        .manager
        .connect(&id, timeout, body.memory.unwrap_or(true))
        .await?;
    let status = if resumed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(views::sandbox(&record, app.manager.envd_version())),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_creates_default_to_300_seconds_and_are_always_secure() {
        let request = v1_request(serde_json::json!({"templateID": "base"})).unwrap();
        assert_eq!(request.timeout, DEFAULT_TIMEOUT_SECS);
        assert_eq!(request.secure, Some(true));
        let request =
            v1_request(serde_json::json!({"templateID": "base", "timeout": 5, "secure": false}))
                .unwrap();
        assert_eq!((request.timeout, request.secure), (5, Some(true)));
        assert!(v1_request(serde_json::json!([1])).is_err());
        assert!(v1_request(serde_json::json!({"timeout": 5})).is_err());
    }
}
