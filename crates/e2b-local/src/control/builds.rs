//! Template builds (see [`crate::builds`]): requesting a build, uploading
//! its files, starting it, following its status and logs; a template's
//! builds and tags.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use e2b_api::control::types;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::errors::{ApiError, JsonBody, OptionalJsonBody, PathParam};
use crate::builds::{BuildError, BuildView, Level, LogEntry, Status};

impl From<BuildError> for ApiError {
    fn from(e: BuildError) -> Self {
        let status = match &e {
            BuildError::Invalid(_) | BuildError::Conflict(_) | BuildError::Unavailable(_) => {
                StatusCode::BAD_REQUEST
            }
            BuildError::NotFound(_) => StatusCode::NOT_FOUND,
        };
        ApiError::new(status, e.to_string())
    }
}

/// The body of `POST /v3/templates`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BuildRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    alias: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    cpu_count: Option<u32>,
    #[serde(default, rename = "memoryMB")]
    memory_mb: Option<u32>,
}

/// `POST /v3/templates` → 202 `TemplateRequestResponseV3`.
pub(crate) async fn request(
    State(app): State<AppState>,
    JsonBody(body): JsonBody<BuildRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let name = body
        .name
        .or(body.alias)
        .ok_or_else(|| ApiError::bad_request("a template name is required"))?;
    let (template_id, build_id, name, tags) =
        app.builds
            .request(&name, body.tags, body.cpu_count, body.memory_mb)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "templateID": template_id,
            "buildID": build_id,
            "public": false,
            "names": [name],
            "aliases": [name],
            "tags": tags,
        })),
    ))
}

/// `GET /templates/{templateID}/files/{hash}` → 201 `TemplateBuildFileUpload`.
pub(crate) async fn file_upload_link(
    State(app): State<AppState>,
    Path((template_id, hash)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<types::TemplateBuildFileUpload>), ApiError> {
    if !crate::builds::spec::is_files_hash(&hash) {
        return Err(ApiError::bad_request(format!(
            "invalid files hash {hash:?}: expected 64 hex digits"
        )));
    }
    if !app.builds.knows_template(&template_id) {
        return Err(ApiError::not_found(format!(
            "template '{template_id}' not found"
        )));
    }
    if app.builds.files().get(&hash).is_some() {
        return Ok((
            StatusCode::CREATED,
            Json(types::TemplateBuildFileUpload {
                present: true,
                url: None,
            }),
        ));
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| ApiError::bad_request("the request has no Host header"))?;
    let token = app.builds.files().token(&hash);
    Ok((
        StatusCode::CREATED,
        Json(types::TemplateBuildFileUpload {
            present: false,
            url: Some(format!("http://{host}/build-files/{hash}?token={token}")),
        }),
    ))
}

/// The query of an upload URL.
#[derive(Debug, Deserialize)]
pub(crate) struct UploadQuery {
    #[serde(default)]
    token: String,
}

/// `PUT /build-files/{hash}?token=` (the upload URL; the token is its
/// authorisation) → 200.
pub(crate) async fn upload(
    State(app): State<AppState>,
    PathParam(hash): PathParam,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let length = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    use crate::builds::files::UploadError;
    match app
        .builds
        .files()
        .put(&hash, &query.token, length, body)
        .await
    {
        Ok(()) => Ok(StatusCode::OK),
        Err(e @ UploadError::BadToken) => Err(ApiError::new(StatusCode::FORBIDDEN, e.to_string())),
        Err(e @ UploadError::NoLength) => {
            Err(ApiError::new(StatusCode::NOT_IMPLEMENTED, e.to_string()))
        }
        Err(e @ (UploadError::Length { .. } | UploadError::Body(_))) => {
            Err(ApiError::bad_request(e.to_string()))
        }
        Err(e @ UploadError::Io(_)) => {
            tracing::error!(error = %e, "storing an upload failed");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                e.to_string(),
            ))
        }
    }
}

/// `POST /v2/templates/{templateID}/builds/{buildID}` → 202.
pub(crate) async fn start(
    State(app): State<AppState>,
    Path((template_id, build_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<crate::builds::spec::StartRequest>,
) -> Result<StatusCode, ApiError> {
    // Starting reads the uploaded archives (their hashes are checked).
    let builds = app.builds.clone();
    tokio::task::spawn_blocking(move || builds.start(&template_id, &build_id, body))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(StatusCode::ACCEPTED)
}

/// The query of the status route.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatusQuery {
    #[serde(default)]
    logs_offset: Option<usize>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    level: Option<String>,
}

fn level(name: Option<&str>) -> Result<Option<Level>, ApiError> {
    name.map(|n| {
        Level::parse(n).ok_or_else(|| ApiError::bad_request(format!("unknown log level {n:?}")))
    })
    .transpose()
}

/// `GET /templates/{templateID}/builds/{buildID}/status` → 200 `TemplateBuildInfo`.
pub(crate) async fn status(
    State(app): State<AppState>,
    Path((template_id, build_id)): Path<(String, String)>,
    Query(query): Query<StatusQuery>,
) -> Result<Json<types::TemplateBuildInfo>, ApiError> {
    let view = app.builds.view(
        &template_id,
        &build_id,
        query.logs_offset.unwrap_or(0),
        query.limit.unwrap_or(crate::builds::MAX_LOG_PAGE),
        level(query.level.as_deref())?,
    )?;
    Ok(Json(types::TemplateBuildInfo {
        build_id: view.build_id.clone(),
        template_id: view.template_id.clone(),
        logs: view.logs.iter().map(plain_line).collect(),
        log_entries: view.logs.iter().map(entry).collect(),
        status: status_type(view.status),
        reason: view.reason.as_ref().map(|r| types::BuildStatusReason {
            message: r.message.clone(),
            step: r.step.clone(),
            log_entries: Vec::new(),
        }),
    }))
}

/// The query of the logs route.
#[derive(Debug, Deserialize)]
pub(crate) struct LogsQuery {
    #[serde(default)]
    cursor: Option<i64>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    direction: Option<String>,
    #[serde(default)]
    level: Option<String>,
}

/// `GET /templates/{templateID}/builds/{buildID}/logs` → 200 `TemplateBuildLogsResponse`.
pub(crate) async fn logs(
    State(app): State<AppState>,
    Path((template_id, build_id)): Path<(String, String)>,
    Query(query): Query<LogsQuery>,
) -> Result<Json<Value>, ApiError> {
    let view = app.builds.view(
        &template_id,
        &build_id,
        0,
        usize::MAX,
        level(query.level.as_deref())?,
    )?;
    let limit = query
        .limit
        .unwrap_or(crate::builds::MAX_LOG_PAGE)
        .min(crate::builds::MAX_LOG_PAGE);
    let cursor = query.cursor.unwrap_or(0);
    let after = view
        .logs
        .into_iter()
        .filter(|e| e.timestamp.timestamp_millis() >= cursor);
    let entries: Vec<types::BuildLogEntry> = match query.direction.as_deref() {
        Some("backward") => {
            let mut all: Vec<LogEntry> = after.collect();
            all.reverse();
            all.iter().take(limit).map(entry).collect()
        }
        Some("forward") | None => after.take(limit).map(|e| entry(&e)).collect(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown direction {other:?}: use forward or backward"
            )));
        }
    };
    Ok(Json(json!({ "logs": entries })))
}

/// `GET /templates/{templateID}` → 200 `TemplateWithBuilds`.
pub(crate) async fn get(
    State(app): State<AppState>,
    PathParam(template_id): PathParam,
) -> Result<Json<Value>, ApiError> {
    let record = crate::templates::find(app.manager.data_dir(), &template_id).filter(|t| !t.hidden);
    let builds = app.builds.builds_of(
        record
            .as_ref()
            .map_or(template_id.as_str(), |r| r.template_id.as_str()),
    );
    let Some(record) = record else {
        if builds.is_empty() {
            return Err(ApiError::not_found(format!(
                "template '{template_id}' not found"
            )));
        }
        let first = &builds[0];
        return Ok(Json(json!({
            "templateID": first.template_id,
            "public": false,
            "aliases": [],
            "names": [],
            "createdAt": first.created_at,
            "updatedAt": first.created_at,
            "lastSpawnedAt": null,
            "spawnCount": 0,
            "builds": builds.iter().map(|b| build_json(&app, b)).collect::<Vec<_>>(),
        })));
    };
    Ok(Json(json!({
        "templateID": record.template_id,
        "public": false,
        "aliases": [record.name],
        "names": [record.name],
        "createdAt": record.created_at,
        "updatedAt": record.created_at,
        "lastSpawnedAt": null,
        "spawnCount": 0,
        "builds": builds.iter().map(|b| build_json(&app, b)).collect::<Vec<_>>(),
    })))
}

fn build_json(app: &AppState, build: &BuildView) -> Value {
    json!({
        "buildID": build.build_id,
        "status": status_type(build.status),
        "createdAt": build.created_at,
        "updatedAt": build.finished_at.unwrap_or(build.created_at),
        "finishedAt": build.finished_at,
        "cpuCount": build.cpu_count.unwrap_or(app.sizes.cpu_count().get()),
        "memoryMB": build.memory_mb.map_or(app.sizes.memory_mb().0, |m| m as i32),
        "envdVersion": app.manager.envd_version(),
    })
}

/// `DELETE /templates/{templateID}` → 204: a template (its running builds
/// are cancelled) or a snapshot.
pub(crate) async fn delete(
    State(app): State<AppState>,
    PathParam(reference): PathParam,
) -> Result<StatusCode, ApiError> {
    let record = crate::templates::find(app.manager.data_dir(), &reference).filter(|t| !t.hidden);
    let cancelled = app.builds.cancel_template(&reference);
    if let Some(record) = record {
        // Its warm sandboxes go (one starting meanwhile is dropped when ready).
        app.manager.template_changed(&record.template_id);
        app.builds.cancel_template(&record.template_id);
        crate::templates::remove_with(app.manager.data_dir(), &record.template_id, |dir| {
            app.manager.remove_tree(dir)
        })
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        return Ok(StatusCode::NO_CONTENT);
    }
    if cancelled {
        return Ok(StatusCode::NO_CONTENT);
    }
    super::snapshots::delete(State(app), PathParam(reference)).await
}

/// The body of the template update routes.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct UpdateRequest {
    #[serde(default)]
    public: Option<bool>,
}

/// `PATCH /templates/{templateID}` and `/v2/templates/{templateID}` → 200
/// `TemplateUpdateResponse` (templates here are private to the server: the
/// flag is accepted and has no effect).
pub(crate) async fn update(
    State(app): State<AppState>,
    PathParam(reference): PathParam,
    OptionalJsonBody(body): OptionalJsonBody<UpdateRequest>,
) -> Result<Json<Value>, ApiError> {
    let record = crate::templates::find(app.manager.data_dir(), &reference)
        .filter(|t| !t.hidden)
        .ok_or_else(|| ApiError::not_found(format!("template '{reference}' not found")))?;
    tracing::debug!(template = %record.template_id, public = ?body.public, "template update");
    Ok(Json(json!({ "names": [record.name] })))
}

/// The body of `POST /templates/tags`.
#[derive(Debug, Deserialize)]
pub(crate) struct AssignTags {
    target: String,
    tags: Vec<String>,
}

/// `POST /templates/tags` → 201 `AssignedTemplateTags`.
pub(crate) async fn assign_tags(
    State(app): State<AppState>,
    JsonBody(body): JsonBody<AssignTags>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let record = change_tags(&app, &body.target, |tags| {
        tags.extend(body.tags.iter().cloned());
    })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "buildID": record.build_id, "tags": body.tags })),
    ))
}

/// The body of `DELETE /templates/tags`.
#[derive(Debug, Deserialize)]
pub(crate) struct RemoveTags {
    name: String,
    tags: Vec<String>,
}

/// `DELETE /templates/tags` → 204.
pub(crate) async fn remove_tags(
    State(app): State<AppState>,
    JsonBody(body): JsonBody<RemoveTags>,
) -> Result<StatusCode, ApiError> {
    change_tags(&app, &body.name, |tags| {
        tags.retain(|t| !body.tags.contains(t));
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /templates/{templateID}/tags` → 200 `[TemplateTag]`.
pub(crate) async fn tags(
    State(app): State<AppState>,
    PathParam(reference): PathParam,
) -> Result<Json<Value>, ApiError> {
    let record = crate::templates::find(app.manager.data_dir(), &reference)
        .filter(|t| !t.hidden)
        .ok_or_else(|| ApiError::not_found(format!("template '{reference}' not found")))?;
    let tags: Vec<Value> = record
        .tags
        .iter()
        .map(
            |tag| json!({ "tag": tag, "buildID": record.build_id, "createdAt": record.created_at }),
        )
        .collect();
    Ok(Json(Value::Array(tags)))
}

/// Change the tags of the template a reference (`name` or `name:tag`) names.
fn change_tags(
    app: &AppState,
    reference: &str,
    change: impl FnOnce(&mut Vec<String>),
) -> Result<crate::templates::TemplateRecord, ApiError> {
    let data_dir = app.manager.data_dir();
    let mut record = crate::templates::find(data_dir, reference)
        .filter(|t| !t.hidden && t.build_id.is_some())
        .ok_or_else(|| ApiError::not_found(format!("template '{reference}' not found")))?;
    change(&mut record.tags);
    if let Some(bad) = record
        .tags
        .iter()
        .find(|t| !crate::templates::is_valid_name(t))
    {
        return Err(ApiError::bad_request(format!("invalid tag {bad:?}")));
    }
    record.tags.sort();
    record.tags.dedup();
    crate::templates::write_record(
        &crate::templates::template_dir(data_dir, &record.template_id),
        &record,
    )
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(record)
}

fn status_type(status: Status) -> types::TemplateBuildStatus {
    match status {
        Status::Waiting => types::TemplateBuildStatus::Waiting,
        Status::Building => types::TemplateBuildStatus::Building,
        Status::Ready => types::TemplateBuildStatus::Ready,
        Status::Error => types::TemplateBuildStatus::Error,
    }
}

fn entry(e: &LogEntry) -> types::BuildLogEntry {
    types::BuildLogEntry {
        level: match e.level {
            Level::Debug => types::LogLevel::Debug,
            Level::Info => types::LogLevel::Info,
            Level::Warn => types::LogLevel::Warn,
            Level::Error => types::LogLevel::Error,
        },
        message: e.message.clone(),
        step: e.step.clone(),
        timestamp: e.timestamp,
    }
}

fn plain_line(e: &LogEntry) -> String {
    format!("{} {}", e.timestamp.to_rfc3339(), e.message)
}
