//! The volume content API (`spec/openapi-volumecontent.yml`):
//! `/volumecontent/{volumeID}/path|dir|file`, authenticated by the volume's
//! bearer token instead of the API key.
//!
//! A missing or unknown token is a 401; the token of another volume a 403.
//! Errors are the spec's `Error` (`{"code": "<status>", "message": …}`, the
//! code a string here). Files stream both ways: uploads are written as they
//! arrive (a sender that stalls for the idle timeout is cut off with a 408
//! and its partial file removed), downloads are read as they are sent.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use e2b_api::volume_content::types;
use futures_util::StreamExt as _;
use tokio::io::AsyncWriteExt as _;

use super::AppState;
use super::query::Query;
use crate::volumes::content::{Attrs, Content, ContentError, Entry, VolumePath};
use crate::volumes::{Access, VolumeError};

/// How much of a file one read takes (and one body chunk carries).
const CHUNK: usize = 256 * 1024;
/// How long reading a `PATCH` body may take.
const SMALL_BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest `PATCH` body.
const SMALL_BODY_LIMIT: usize = 64 * 1024;

/// An error of the content API.
#[derive(Debug)]
pub(crate) struct ContentApiError {
    status: StatusCode,
    message: String,
}

impl ContentApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ContentApiError {
    fn into_response(self) -> Response {
        let body = types::Error {
            code: self.status.as_u16().to_string(),
            message: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<ContentError> for ContentApiError {
    fn from(e: ContentError) -> Self {
        let status = match &e {
            ContentError::NotFound(_) => StatusCode::NOT_FOUND,
            ContentError::Exists(_) => StatusCode::CONFLICT,
            ContentError::Invalid(_) => StatusCode::BAD_REQUEST,
            ContentError::Io { .. } => {
                tracing::error!(error = %e, "volume content operation failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        Self::new(status, e.to_string())
    }
}

impl From<VolumeError> for ContentApiError {
    fn from(e: VolumeError) -> Self {
        match e {
            VolumeError::NotFound => Self::new(StatusCode::NOT_FOUND, "volume not found"),
            VolumeError::Invalid(m) => Self::new(StatusCode::BAD_REQUEST, m),
            VolumeError::Store(e) => {
                tracing::error!(error = %e, "volume content operation failed");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
        }
    }
}

type Result<T> = std::result::Result<T, ContentApiError>;

/// Check the bearer token, then open the volume's content.
fn authorize(app: &AppState, id: &str, headers: &HeaderMap) -> Result<Content> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ContentApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing volume token: send it as 'Authorization: Bearer <token>'",
            )
        })?;
    match app.volumes.authorize(id, token) {
        Access::Granted => Ok(app.volumes.content(id)?),
        Access::OtherVolume => Err(ContentApiError::new(
            StatusCode::FORBIDDEN,
            "the token is not valid for this volume",
        )),
        Access::Denied => Err(ContentApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid volume token",
        )),
    }
}

fn path_of(q: &Query) -> Result<VolumePath> {
    let raw = q.get("path").ok_or_else(|| {
        ContentApiError::new(StatusCode::BAD_REQUEST, "missing query parameter 'path'")
    })?;
    Ok(VolumePath::parse(raw)?)
}

fn uint(q: &Query, key: &str) -> Result<Option<u32>> {
    match q.get(key) {
        None | Some("") => Ok(None),
        Some(v) => v.parse::<u32>().map(Some).map_err(|_| {
            ContentApiError::new(
                StatusCode::BAD_REQUEST,
                format!("invalid value of '{key}': expected an unsigned integer, got '{v}'"),
            )
        }),
    }
}

fn boolean(q: &Query, key: &str) -> Result<bool> {
    match q.get(key) {
        None | Some("") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => Ok(false),
        Some(v) => Err(ContentApiError::new(
            StatusCode::BAD_REQUEST,
            format!("invalid value of '{key}': expected true or false, got '{v}'"),
        )),
    }
}

fn attrs_of(q: &Query) -> Result<Attrs> {
    Ok(Attrs {
        uid: uint(q, "uid")?,
        gid: uint(q, "gid")?,
        mode: uint(q, "mode")?,
    })
}

pub(crate) fn wire(e: Entry) -> types::VolumeEntryStat {
    types::VolumeEntryStat {
        atime: e.atime,
        ctime: e.ctime,
        gid: e.gid,
        mode: e.mode,
        mtime: e.mtime,
        name: e.name,
        path: e.path,
        size: e.size,
        target: e.target,
        type_: types::VolumeEntryStatType::from(e.kind.as_str()),
        uid: e.uid,
    }
}

/// Run a filesystem operation on a blocking thread.
async fn blocking<T: Send + 'static>(
    op: impl FnOnce() -> std::result::Result<T, ContentError> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(op)
        .await
        .map_err(|e| {
            ContentApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("volume content operation failed: {e}"),
            )
        })?
        .map_err(ContentApiError::from)
}

/// `GET /volumecontent/{id}/path?path=` → 200 `VolumeEntryStat`.
pub(crate) async fn stat(
    State(app): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Json<types::VolumeEntryStat>> {
    let content = authorize(&app, &id, &headers)?;
    let path = path_of(&Query::parse(raw.as_deref()))?;
    let entry = blocking(move || content.stat(&path)).await?;
    Ok(Json(wire(entry)))
}

/// `PATCH /volumecontent/{id}/path?path=` `{uid?, gid?, mode?}` → 200 `VolumeEntryStat`.
#[tracing::instrument(name = "volumecontent.update", skip_all, fields(volume = %id))]
pub(crate) async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<types::VolumeEntryStat>> {
    let content = authorize(&app, &id, &headers)?;
    let path = path_of(&Query::parse(raw.as_deref()))?;
    let bytes = tokio::time::timeout(
        SMALL_BODY_TIMEOUT,
        axum::body::to_bytes(body, SMALL_BODY_LIMIT),
    )
    .await
    .map_err(|_| {
        ContentApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "the body did not arrive in time",
        )
    })?
    .map_err(|e| ContentApiError::new(StatusCode::BAD_REQUEST, format!("invalid body: {e}")))?;
    let body: types::PatchVolumecontentVolumeIdPathBody =
        serde_json::from_slice(&bytes).map_err(|e| {
            ContentApiError::new(
                StatusCode::BAD_REQUEST,
                format!("Invalid metadata provided: {e}"),
            )
        })?;
    let attrs = Attrs {
        uid: body.uid,
        gid: body.gid,
        mode: body.mode,
    };
    let entry = blocking(move || content.update(&path, attrs)).await?;
    Ok(Json(wire(entry)))
}

/// `DELETE /volumecontent/{id}/path?path=` → 204.
#[tracing::instrument(name = "volumecontent.remove", skip_all, fields(volume = %id))]
pub(crate) async fn remove(
    State(app): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<StatusCode> {
    let content = authorize(&app, &id, &headers)?;
    let path = path_of(&Query::parse(raw.as_deref()))?;
    blocking(move || content.remove(&path)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /volumecontent/{id}/dir?path=&depth=` → 200 `[VolumeEntryStat]`.
pub(crate) async fn list(
    State(app): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Vec<types::VolumeEntryStat>>> {
    let content = authorize(&app, &id, &headers)?;
    let q = Query::parse(raw.as_deref());
    let path = path_of(&q)?;
    let depth = uint(&q, "depth")?.unwrap_or(1);
    let entries = blocking(move || content.list(&path, depth)).await?;
    Ok(Json(entries.into_iter().map(wire).collect()))
}

/// `POST /volumecontent/{id}/dir?path=&uid=&gid=&mode=&force=` → 201 `VolumeEntryStat`.
#[tracing::instrument(name = "volumecontent.make_dir", skip_all, fields(volume = %id))]
pub(crate) async fn make_dir(
    State(app): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<types::VolumeEntryStat>)> {
    let content = authorize(&app, &id, &headers)?;
    let q = Query::parse(raw.as_deref());
    let path = path_of(&q)?;
    let attrs = attrs_of(&q)?;
    let force = boolean(&q, "force")?;
    let entry = blocking(move || content.make_dir(&path, attrs, force)).await?;
    Ok((StatusCode::CREATED, Json(wire(entry))))
}

/// `GET /volumecontent/{id}/file?path=` → 200, the bytes, streamed.
#[tracing::instrument(name = "volumecontent.read", skip_all, fields(volume = %id))]
pub(crate) async fn read(
    State(app): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    let content = authorize(&app, &id, &headers)?;
    let path = path_of(&Query::parse(raw.as_deref()))?;
    let (file, size) = blocking(move || content.open_file(&path)).await?;
    let stream =
        tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), CHUNK);
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, size.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `PUT /volumecontent/{id}/file?path=&uid=&gid=&mode=&force=` (octet-stream)
/// → 201 `VolumeEntryStat`.
#[tracing::instrument(name = "volumecontent.write", skip_all, fields(volume = %id))]
pub(crate) async fn write(
    State(app): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<types::VolumeEntryStat>)> {
    let content = std::sync::Arc::new(authorize(&app, &id, &headers)?);
    let q = Query::parse(raw.as_deref());
    let path = path_of(&q)?;
    let attrs = attrs_of(&q)?;
    let force = boolean(&q, "force")?;
    let (file, attrs) = {
        let (content, path) = (content.clone(), path.clone());
        blocking(move || content.create_file(&path, attrs, force)).await?
    };
    let mut file = tokio::fs::File::from_std(file);
    let idle = app.body_idle_timeout;
    let copied = async {
        let mut frames = body.into_data_stream();
        loop {
            let next = tokio::time::timeout(idle, frames.next())
                .await
                .map_err(|_| {
                    ContentApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        format!("no request body data for {idle:?}"),
                    )
                })?;
            match next {
                None => break,
                Some(Ok(chunk)) => file.write_all(&chunk).await.map_err(|e| {
                    ContentApiError::from(ContentError::Io {
                        what: format!("failed to write '{path}'"),
                        source: e,
                    })
                })?,
                Some(Err(e)) => {
                    return Err(ContentApiError::new(
                        StatusCode::BAD_REQUEST,
                        format!("the request body broke off: {e}"),
                    ));
                }
            }
        }
        file.flush().await.map_err(|e| {
            ContentApiError::from(ContentError::Io {
                what: format!("failed to write '{path}'"),
                source: e,
            })
        })
    }
    .await;
    let file = file.into_std().await;
    if let Err(e) = copied {
        drop(file);
        let (content, path) = (content.clone(), path.clone());
        // A partial file is not left behind (a retry without `force` would find it).
        let _ = blocking(move || content.remove(&path)).await;
        return Err(e);
    }
    let entry = blocking(move || content.finish_file(file, &path, attrs)).await?;
    Ok((StatusCode::CREATED, Json(wire(entry))))
}
