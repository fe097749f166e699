//! `/sandboxes` and `/v2/sandboxes`: create, info, kill, timeout, refresh,
//! connect, pause, resume, network, logs.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use e2b_api::control::types;

use super::AppState;
use super::errors::{ApiError, JsonBody, OptionalJsonBody, PathParam};
use super::views;
use crate::sandbox::SandboxSpec;
use crate::sandbox::record::{Lifecycle, OnTimeout};

/// Default of `SandboxRefreshRequest.duration` when absent, seconds.
const DEFAULT_REFRESH_SECS: u32 = 15;
/// Upper bound of `SandboxRefreshRequest.duration`, seconds.
const MAX_REFRESH_SECS: i64 = 3600;

fn timeout_secs(value: i32) -> Result<u32, ApiError> {
    u32::try_from(value)
        .map_err(|_| ApiError::bad_request(format!("timeout must be at least 0, got {value}")))
}

fn validate_env(env: &BTreeMap<String, String>) -> Result<(), ApiError> {
    for (k, v) in env {
        if k.is_empty() || k.contains('=') || k.contains('\0') || v.contains('\0') {
            return Err(ApiError::bad_request(format!(
                "invalid environment variable name or value: '{k}'"
            )));
        }
    }
    Ok(())
}

/// `POST /sandboxes` → 201 `Sandbox`.
pub(crate) async fn create(
    State(app): State<AppState>,
    JsonBody(body): JsonBody<types::NewSandbox>,
) -> Result<(StatusCode, Json<types::Sandbox>), ApiError> {
    create_sandbox(&app, body).await
}

/// Create a sandbox from a (v1-shaped) request.
pub(super) async fn create_sandbox(
    app: &AppState,
    body: types::NewSandbox,
) -> Result<(StatusCode, Json<types::Sandbox>), ApiError> {
    if body.template_id.trim().is_empty() {
        return Err(ApiError::bad_request("templateID must not be empty"));
    }
    let auto_resume = body.auto_resume.as_ref().is_some_and(|a| a.enabled.0);
    if auto_resume && body.auto_pause && !body.auto_pause_memory {
        return Err(ApiError::bad_request(
            "autoResume cannot be combined with autoPauseMemory=false: a filesystem-only pause must be resumed explicitly",
        ));
    }
    let env_vars: BTreeMap<String, String> = body
        .env_vars
        .map(|e| e.0.into_iter().collect())
        .unwrap_or_default();
    validate_env(&env_vars)?;
    let spec = SandboxSpec {
        template: body.template_id,
        timeout_secs: timeout_secs(body.timeout)?,
        metadata: body
            .metadata
            .map(|m| m.0.into_iter().collect())
            .unwrap_or_default(),
        env_vars,
        secure: body.secure.unwrap_or(false),
        allow_internet_access: body.allow_internet_access,
        network: body.network.map(super::wire::network_settings),
        lifecycle: Lifecycle {
            on_timeout: if body.auto_pause {
                OnTimeout::Pause
            } else {
                OnTimeout::Kill
            },
            auto_resume,
            pause_keeps_memory: body.auto_pause_memory,
        },
        volume_mounts: super::volumes::resolve_mounts(&app.volumes, body.volume_mounts)?,
        mcp: body.mcp.and_then(|m| m.0).map(serde_json::Value::Object),
        internal: false,
    };
    let record = app.manager.create(spec).await?;
    Ok((
        StatusCode::CREATED,
        Json(views::sandbox(&record, app.manager.envd_version())),
    ))
}

/// `GET /sandboxes/{id}` → 200 `SandboxDetail`.
pub(crate) async fn get(
    State(app): State<AppState>,
    PathParam(id): PathParam,
) -> Result<Json<types::SandboxDetail>, ApiError> {
    let record = app.manager.get(&id)?;
    Ok(Json(views::detail(
        &record,
        app.manager.envd_version(),
        &app.sizes,
    )))
}

/// `DELETE /sandboxes/{id}` → 204.
pub(crate) async fn kill(
    State(app): State<AppState>,
    PathParam(id): PathParam,
) -> Result<StatusCode, ApiError> {
    app.manager.kill(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /sandboxes/{id}/timeout` → 204.
pub(crate) async fn set_timeout(
    State(app): State<AppState>,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<types::SandboxTimeoutRequest>,
) -> Result<StatusCode, ApiError> {
    app.manager
        .set_timeout(&id, timeout_secs(body.timeout)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /sandboxes/{id}/refreshes` → 204.
pub(crate) async fn refresh(
    State(app): State<AppState>,
    PathParam(id): PathParam,
    OptionalJsonBody(body): OptionalJsonBody<types::SandboxRefreshRequest>,
) -> Result<StatusCode, ApiError> {
    let secs = match body.duration {
        None => DEFAULT_REFRESH_SECS,
        Some(d) if (0..=MAX_REFRESH_SECS).contains(&d) => {
            u32::try_from(d).unwrap_or(DEFAULT_REFRESH_SECS)
        }
        Some(d) => {
            return Err(ApiError::bad_request(format!(
                "duration must be in 0..={MAX_REFRESH_SECS}, got {d}"
            )));
        }
    };
    app.manager.refresh(&id, secs).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /sandboxes/{id}/connect` → 200 (running) or 201 (resumed) `Sandbox`.
pub(crate) async fn connect(
    State(app): State<AppState>,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<types::ConnectSandbox>,
) -> Result<(StatusCode, Json<types::Sandbox>), ApiError> {
    let (record, resumed) = app
        .manager
        .connect(&id, timeout_secs(body.timeout)?, true)
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

/// `POST /sandboxes/{id}/pause` → 204 (409 when already paused).
pub(crate) async fn pause(
    State(app): State<AppState>,
    PathParam(id): PathParam,
    OptionalJsonBody(body): OptionalJsonBody<types::SandboxPauseRequest>,
) -> Result<StatusCode, ApiError> {
    app.manager.pause(&id, body.memory).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /sandboxes/{id}/resume` (deprecated) → 201 `Sandbox` (409 when running).
pub(crate) async fn resume(
    State(app): State<AppState>,
    PathParam(id): PathParam,
    OptionalJsonBody(body): OptionalJsonBody<types::ResumedSandbox>,
) -> Result<(StatusCode, Json<types::Sandbox>), ApiError> {
    let record = app.manager.resume(&id, timeout_secs(body.timeout)?).await?;
    Ok((
        StatusCode::CREATED,
        Json(views::sandbox(&record, app.manager.envd_version())),
    ))
}

/// `PUT /sandboxes/{id}/network` → 204.
pub(crate) async fn update_network(
    State(app): State<AppState>,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<types::SandboxNetworkUpdateConfig>,
) -> Result<StatusCode, ApiError> {
    app.manager
        .update_network(&id, super::wire::network_update(body))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /sandboxes/{id}/logs` → 200 `SandboxLogs` (always empty: logs stay on the server's stderr).
pub(crate) async fn logs(
    State(app): State<AppState>,
    PathParam(id): PathParam,
) -> Result<Response, ApiError> {
    app.manager.get(&id)?;
    Ok(Json(serde_json::json!({ "logs": [], "logEntries": [] })).into_response())
}

/// `GET /v2/sandboxes/{id}/logs` → 200 `SandboxLogsV2Response` (always empty).
pub(crate) async fn logs_v2(
    State(app): State<AppState>,
    PathParam(id): PathParam,
) -> Result<Response, ApiError> {
    app.manager.get(&id)?;
    Ok(Json(serde_json::json!({ "logs": [] })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_validated() {
        assert!(validate_env(&BTreeMap::from([("A".into(), "1".into())])).is_ok());
        assert!(validate_env(&BTreeMap::from([("".into(), "1".into())])).is_err());
        assert!(validate_env(&BTreeMap::from([("A=B".into(), "1".into())])).is_err());
        assert!(validate_env(&BTreeMap::from([("A".into(), "x\0".into())])).is_err());
    }

    #[test]
    fn negative_timeouts_are_refused() {
        assert_eq!(timeout_secs(5).unwrap(), 5);
        assert_eq!(
            timeout_secs(-1).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }
}
