//! `POST /files?path=&username=`: write files.
//!
//! * `multipart/form-data`: every part named `file` is written, to `path`
//!   when given, else to the part's file name (a full path, not just a base
//!   name); two parts resolving to the same path are refused.
//! * `application/octet-stream`: the body is written to `path` (required).
//!   Only when the agent reports envd 0.5.7 or newer; older envd knew
//!   multipart bodies only, and so does an agent reporting such a version.
//! * `Content-Encoding: gzip` bodies are decompressed on the fly.
//!
//! Parent directories are created for, and files handed to, the requesting
//! user. `X-Metadata-<key>` headers replace the file's metadata. The answer
//! lists what was written.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use async_compression::tokio::bufread::GzipDecoder;
use axum::Json;
use axum::extract::{Query, Request, State};
use futures_util::TryStreamExt;
use http::StatusCode;
use http::header::CONTENT_TYPE;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio_util::io::{ReaderStream, StreamReader};

use super::encoding::{Coding, request_coding};
use super::{CHUNK, FilesQuery};
use crate::agent::context::Sandbox;
use crate::agent::http_error::HttpError;
use crate::agent::{UserAccount, metadata, paths};

/// One written file, as the answer lists it.
#[derive(Debug, Serialize)]
pub(crate) struct WrittenFile {
    path: String,
    name: String,
    r#type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<HashMap<String, String>>,
}

type BodyReader<'a> = Pin<Box<dyn AsyncRead + Send + 'a>>;

/// What a file is written for.
struct Target<'a> {
    sandbox: &'a Sandbox,
    user: &'a UserAccount,
    metadata: &'a HashMap<String, String>,
}

fn is_no_space(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

/// The handler.
pub(crate) async fn upload(
    State(sandbox): State<Arc<Sandbox>>,
    Query(query): Query<FilesQuery>,
    request: Request,
) -> Result<Json<Vec<WrittenFile>>, HttpError> {
    let headers = request.headers().clone();
    let coding = request_coding(&headers)
        .map_err(|e| HttpError::bad_request(format!("error decompressing request body: {e}")))?;
    let user = query.user(&sandbox)?;
    let metadata = metadata::from_headers(&headers)
        .map_err(|e| HttpError::bad_request(format!("invalid metadata: {e}")))?;
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();

    let raw = StreamReader::new(
        request
            .into_body()
            .into_data_stream()
            .map_err(io::Error::other),
    );
    let body: BodyReader<'static> = match coding {
        Coding::Identity => Box::pin(raw),
        Coding::Gzip => {
            let mut decoder = GzipDecoder::new(raw);
            decoder.multiple_members(true);
            Box::pin(decoder)
        }
    };
    let target = Target {
        sandbox: &sandbox,
        user,
        metadata: &metadata,
    };

    let written = if media_type == "application/octet-stream" && sandbox.octet_stream_upload {
        let Some(path) = &query.path else {
            return Err(HttpError::bad_request(
                "path query parameter is required for raw body upload",
            ));
        };
        let path = resolve(&target, path)?;
        vec![write_file(&target, &path, body).await?]
    } else if media_type.starts_with("multipart/") {
        let boundary = multer::parse_boundary(&content_type)
            .map_err(|e| HttpError::bad_request(format!("error parsing multipart form: {e}")))?;
        write_parts(&target, query.path.as_deref(), body, boundary).await?
    } else if sandbox.octet_stream_upload {
        return Err(HttpError::bad_request(format!(
            "unsupported content type: {content_type}, expected multipart/form-data or application/octet-stream"
        )));
    } else {
        return Err(HttpError::bad_request(format!(
            "error parsing multipart form: unsupported content type: {content_type}, expected multipart/form-data"
        )));
    };
    Ok(Json(written))
}

fn resolve(target: &Target<'_>, path: &str) -> Result<PathBuf, HttpError> {
    paths::resolve(path, target.user, &target.sandbox.default_workdir)
        .map_err(|e| HttpError::bad_request(format!("error resolving path: {e}")))
}

/// Most of a request body left after the multipart form's closing boundary that is
/// read (and discarded) before answering, as Go's `net/http` does for envd.
const MAX_EPILOGUE: u64 = 256 * 1024;

async fn write_parts(
    target: &Target<'_>,
    path: Option<&str>,
    mut body: BodyReader<'static>,
    boundary: String,
) -> Result<Vec<WrittenFile>, HttpError> {
    let written = write_fields(target, path, &mut body, boundary).await?;
    // Read what follows the closing boundary (an epilogue, the end of a chunked body):
    // answering before the body is complete would break the connection under a client
    // that is still sending it.
    let _ = tokio::io::copy(&mut (&mut body).take(MAX_EPILOGUE), &mut tokio::io::sink()).await;
    Ok(written)
}

async fn write_fields(
    target: &Target<'_>,
    path: Option<&str>,
    body: &mut BodyReader<'static>,
    boundary: String,
) -> Result<Vec<WrittenFile>, HttpError> {
    let mut form = multer::Multipart::new(ReaderStream::with_capacity(body, CHUNK), boundary);
    let mut written: Vec<WrittenFile> = Vec::new();
    loop {
        let field = form
            .next_field()
            .await
            .map_err(|e| HttpError::bad_request(format!("error reading form: {e}")))?;
        let Some(field) = field else {
            break;
        };
        if field.name() != Some("file") {
            continue;
        }
        let requested = match path {
            Some(p) => p.to_owned(),
            None => field.file_name().map(str::to_owned).ok_or_else(|| {
                HttpError::bad_request(
                    "error getting multipart custom part file name: filename not found in Content-Disposition header",
                )
            })?,
        };
        let file_path = resolve(target, &requested)?;
        let file_path_text = file_path.to_string_lossy();
        if written.iter().any(|w| w.path == file_path_text) {
            return Err(HttpError::bad_request(format!(
                "you cannot upload multiple files to the same path '{file_path_text}' in one upload request, only the first specified file was uploaded"
            )));
        }
        let part: BodyReader<'_> = Box::pin(StreamReader::new(field.map_err(io::Error::other)));
        written.push(write_file(target, &file_path, part).await?);
    }
    Ok(written)
}

/// Stream `content` into `path` (created or truncated), owned by the user,
/// then set its metadata.
async fn write_file(
    target: &Target<'_>,
    path: &Path,
    mut content: BodyReader<'_>,
) -> Result<WrittenFile, HttpError> {
    let owner = target.sandbox.owner_for(target.user);
    if let Some(parent) = path.parent() {
        paths::ensure_dirs(parent, owner).map_err(|e| match e.io_error() {
            Some(io) if is_no_space(io) => HttpError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                format!("error ensuring directories: {e}"),
            ),
            _ => HttpError::internal(format!("error ensuring directories: {e}")),
        })?;
    }
    match tokio::fs::metadata(path).await {
        Ok(meta) if meta.is_dir() => {
            return Err(HttpError::bad_request(format!(
                "path is a directory: {}",
                path.display()
            )));
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(HttpError::internal(format!("error getting file info: {e}"))),
    }
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o666)
        .open(path)
        .await
        .map_err(|e| {
            if is_no_space(&e) {
                HttpError::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    format!("not enough inodes available: {e}"),
                )
            } else {
                HttpError::internal(format!("error opening file: {e}"))
            }
        })?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::fchown(&file, Some(uid), Some(gid))
            .map_err(|e| HttpError::internal(format!("error changing file ownership: {e}")))?;
    }

    let write_error = |e: io::Error| {
        if is_no_space(&e) {
            HttpError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "not enough disk space available",
            )
        } else {
            HttpError::internal(format!("error writing file: {e}"))
        }
    };
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = content
            .read(&mut buf)
            .await
            .map_err(|e| HttpError::bad_request(format!("error reading request body: {e}")))?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n]).await.map_err(write_error)?;
    }
    file.flush().await.map_err(write_error)?;

    let file = file.into_std().await;
    let metadata = target.metadata.clone();
    let shown = path.display().to_string();
    tokio::task::spawn_blocking(move || metadata::write(&file, &metadata))
        .await
        .map_err(|e| HttpError::internal(format!("error writing file metadata: {e}")))?
        .or_else(|e| {
            if metadata::is_unsupported(&e) {
                tracing::warn!(path = %shown, "filesystem does not support xattrs; metadata not persisted");
                Ok(())
            } else if is_no_space(&e) {
                Err(HttpError::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    format!("not enough space for file metadata: {e}"),
                ))
            } else {
                Err(HttpError::internal(format!("error writing file metadata: {e}")))
            }
        })?;

    let persisted = metadata::read(path).unwrap_or_default();
    Ok(WrittenFile {
        path: path.to_string_lossy().into_owned(),
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        r#type: "file",
        metadata: (!persisted.is_empty()).then_some(persisted),
    })
}
