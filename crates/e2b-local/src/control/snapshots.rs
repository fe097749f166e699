//! Snapshots (`POST /sandboxes/{id}/snapshots`, `GET /snapshots`, `DELETE /templates/{id}`)
//! and forks (`POST /sandboxes/{id}/fork`).
//!
//! A snapshot is a copy of the sandbox's files (its home and `/tmp`), taken
//! with the sandbox frozen, registered as a template that create accepts.
//! Memory and running processes are not part of it.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use e2b_api::control::types;

use super::AppState;
use super::errors::{ApiError, OptionalJsonBody, PathParam};
use super::listing::DEFAULT_LIMIT;
use super::query::Query;
use super::views;
use crate::sandbox::manager::BASE_TEMPLATE;
use crate::sandbox::record::SnapshotRecord;

fn info(s: &SnapshotRecord) -> types::SnapshotInfo {
    types::SnapshotInfo {
        names: s.names(),
        snapshot_id: s.snapshot_id(),
    }
}

/// `POST /sandboxes/{id}/snapshots` → 201 `SnapshotInfo`.
pub(crate) async fn create(
    State(app): State<AppState>,
    PathParam(id): PathParam,
    OptionalJsonBody(body): OptionalJsonBody<types::SandboxSnapshotRequest>,
) -> Result<(StatusCode, Json<types::SnapshotInfo>), ApiError> {
    let name = body.name.filter(|n| !n.is_empty());
    let snapshot = app.manager.snapshot(&id, name).await?;
    Ok((StatusCode::CREATED, Json(info(&snapshot))))
}

/// `GET /snapshots?sandboxID=&name=&limit=&nextToken=` → 200 `[SnapshotInfo]`, newest first.
pub(crate) async fn list(
    State(app): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(raw.as_deref());
    let limit = usize::try_from(q.int("limit", DEFAULT_LIMIT, 1, 100)?).unwrap_or(100);
    let offset = match q.get("nextToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| ApiError::bad_request("Invalid next token"))?,
    };
    let matching: Vec<SnapshotRecord> = app
        .manager
        .snapshots()
        .into_iter()
        .filter(|s| {
            q.get("sandboxID")
                .is_none_or(|id| id.is_empty() || s.source_sandbox_id == id)
        })
        .filter(|s| q.get("name").is_none_or(|n| n.is_empty() || s.matches(n)))
        .collect();
    let page: Vec<types::SnapshotInfo> =
        matching.iter().skip(offset).take(limit).map(info).collect();
    let mut response = Json(page).into_response();
    // The offset comes from the client: a huge one must not overflow.
    let next = offset.saturating_add(limit);
    if next < matching.len() {
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(next.to_string());
        if let Ok(value) = HeaderValue::from_str(&token) {
            response.headers_mut().insert("x-next-token", value);
        }
    }
    Ok(response)
}

/// `DELETE /templates/{templateID}` → 204 (404 when unknown).
pub(crate) async fn delete(
    State(app): State<AppState>,
    PathParam(reference): PathParam,
) -> Result<StatusCode, ApiError> {
    if reference
        .rsplit_once(':')
        .map_or(reference.as_str(), |(n, _)| n)
        == BASE_TEMPLATE
    {
        return Err(ApiError::bad_request(
            "the built-in template 'base' cannot be deleted",
        ));
    }
    if app.manager.delete_snapshot(&reference).await? {
        app.manager.template_changed(&reference);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "template '{reference}' not found"
        )))
    }
}

/// `POST /sandboxes/{id}/fork` → 201 `[SandboxForkResult]`, one per requested copy.
pub(crate) async fn fork(
    State(app): State<AppState>,
    PathParam(id): PathParam,
    OptionalJsonBody(body): OptionalJsonBody<types::SandboxForkRequest>,
) -> Result<(StatusCode, Json<Vec<types::SandboxForkResult>>), ApiError> {
    let count = body.count.get();
    if count > 100 {
        return Err(ApiError::bad_request(format!(
            "count must be in 1..=100, got {count}"
        )));
    }
    let timeout = u32::try_from(body.timeout)
        .map_err(|_| ApiError::bad_request("timeout must be at least 0"))?;
    let outcomes = app.manager.fork(&id, count, timeout).await?;
    let results = outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(record) => types::SandboxForkResult {
                sandbox: Some(views::sandbox(&record, app.manager.envd_version())),
                error: None,
            },
            Err(e) => types::SandboxForkResult {
                sandbox: None,
                error: Some(ApiError::from(e).body()),
            },
        })
        .collect();
    Ok((StatusCode::CREATED, Json(results)))
}
