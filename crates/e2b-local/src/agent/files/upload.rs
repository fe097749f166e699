//! `POST /files?path=&username=`: write files.
//!
//! * `multipart/form-data`: every part named `file` is written, to `path`
//!   when given, else to the part's file name (a full path, not just a base
//!   name); two parts resolving to the same path are refused.
//! * `application/octet-stream`: the body is written to `path` (required).
//!   Only when the agent reports envd 0.5.7 or newer; older envd knew
//!   multipart bodies only, and so does an agent reporting such a version.
//! * `Content-Encoding: gzip` bodies are decompressed on the fly, within
//!   [`InflateLimit::UPLOAD`]: a body inflating beyond it is refused with
//!   `413` and the file it was filling is removed.
//!
//! Files are written as the requesting user (see `fs_user`): parent
//! directories are created by, and new files belong to, that user, and
//! what the user may not write is refused (`403`). `X-Metadata-<key>`
//! headers replace the file's metadata. The answer lists what was written.

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, Request, State};
use futures_util::TryStreamExt;
use http::StatusCode;
use http::header::CONTENT_TYPE;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio_util::io::{ReaderStream, StreamReader};

use super::encoding::{BoundedGunzip, Coding, InflateLimit, InflateLimitExceeded, request_coding};
use super::pipe::WriteFailure;
use super::{CHUNK, FilesQuery};
use crate::agent::context::Sandbox;
use crate::agent::fs_user::FsUser;
use crate::agent::http_error::HttpError;
use crate::agent::{UserAccount, metadata, os_error, paths};

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
    /// Who the file system is touched as.
    fs_user: FsUser,
    metadata: &'a HashMap<String, String>,
    /// Raised when a gzip body crossed its inflate limit.
    inflate_exceeded: &'a AtomicBool,
}

fn is_no_space(e: &io::Error) -> bool {
    os_error::http_status(e) == StatusCode::INSUFFICIENT_STORAGE
}

/// Most of the rest of a refused body read (and discarded) before answering,
/// so that a client still sending it gets the answer; and how long that may
/// take.
const MAX_DRAIN: u64 = 8 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(10);

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

    let mut raw = StreamReader::new(
        request
            .into_body()
            .into_data_stream()
            .map_err(io::Error::other),
    );
    let inflate_exceeded = Arc::new(AtomicBool::new(false));
    let body: BodyReader<'_> = match coding {
        Coding::Identity => Box::pin(&mut raw),
        Coding::Gzip => Box::pin(BoundedGunzip::new(
            &mut raw,
            InflateLimit::UPLOAD,
            inflate_exceeded.clone(),
        )),
    };
    let target = Target {
        sandbox: &sandbox,
        user,
        fs_user: sandbox.fs_user(user),
        metadata: &metadata,
        inflate_exceeded: &inflate_exceeded,
    };
    let written = write_body(&target, query.path.as_deref(), &content_type, body).await;
    if inflate_exceeded.load(Ordering::SeqCst) {
        let (mut rest, mut sink) = ((&mut raw).take(MAX_DRAIN), tokio::io::sink());
        let _ = tokio::time::timeout(DRAIN_TIME, tokio::io::copy(&mut rest, &mut sink)).await;
        return Err(HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            InflateLimitExceeded(InflateLimit::UPLOAD).to_string(),
        ));
    }
    written.map(Json)
}

/// Write the files of `body`, by its content type.
async fn write_body(
    target: &Target<'_>,
    path: Option<&str>,
    content_type: &str,
    body: BodyReader<'_>,
) -> Result<Vec<WrittenFile>, HttpError> {
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let octet_stream_upload = target.sandbox.octet_stream_upload;
    if media_type == "application/octet-stream" && octet_stream_upload {
        let Some(path) = path else {
            return Err(HttpError::bad_request(
                "path query parameter is required for raw body upload",
            ));
        };
        let path = resolve(target, path)?;
        Ok(vec![write_file(target, &path, body).await?])
    } else if media_type.starts_with("multipart/") {
        let boundary = multer::parse_boundary(content_type)
            .map_err(|e| HttpError::bad_request(format!("error parsing multipart form: {e}")))?;
        write_parts(target, path, body, boundary).await
    } else if octet_stream_upload {
        Err(HttpError::bad_request(format!(
            "unsupported content type: {content_type}, expected multipart/form-data or application/octet-stream"
        )))
    } else {
        Err(HttpError::bad_request(format!(
            "error parsing multipart form: unsupported content type: {content_type}, expected multipart/form-data"
        )))
    }
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
    mut body: BodyReader<'_>,
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
    body: &mut BodyReader<'_>,
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

/// Stream `content` into `path` (created or truncated) as the user, then
/// set its metadata.
async fn write_file(
    target: &Target<'_>,
    path: &Path,
    mut content: BodyReader<'_>,
) -> Result<WrittenFile, HttpError> {
    let owner = target.sandbox.owner_for(target.user);
    let fs_user = target.fs_user;
    let created = path.to_path_buf();
    let file = fs_user
        .run(move || create(&created, owner, fs_user.switches()))
        .await?;
    let file = match super::pipe::write_from(&mut content, file).await {
        Ok(file) => file,
        Err(WriteFailure::Write(e)) if is_no_space(&e) => {
            return Err(HttpError::io(&e, "not enough disk space available"));
        }
        Err(WriteFailure::Write(e)) => {
            return Err(HttpError::io(&e, format!("error writing file: {e}")));
        }
        Err(WriteFailure::Read(e)) => {
            if target.inflate_exceeded.load(Ordering::SeqCst) {
                // Leave no part of what was refused behind.
                let partial = path.to_path_buf();
                let _ = fs_user.run(move || remove_file(&partial)).await;
            }
            return Err(HttpError::bad_request(format!(
                "error reading request body: {e}"
            )));
        }
    };

    let metadata = target.metadata.clone();
    let written = path.to_path_buf();
    let persisted = fs_user
        .run(move || {
            set_metadata(&file, &written, &metadata)?;
            Ok::<_, HttpError>(metadata::read(&written).unwrap_or_default())
        })
        .await?;
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

/// Create or truncate `path` and the directories above it (as the calling
/// thread's user), handing what is created to `owner`. An existing file
/// keeps its owner when written as a user other than its owner: acting as
/// that user, the agent cannot give it away (a root request takes it over,
/// as envd does).
fn create(
    path: &Path,
    owner: Option<(u32, u32)>,
    as_user: bool,
) -> Result<std::fs::File, HttpError> {
    if let Some(parent) = path.parent() {
        paths::ensure_dirs(parent, owner).map_err(|e| {
            HttpError::io(&e.os_error(), format!("error ensuring directories: {e}"))
        })?;
    }
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(HttpError::bad_request(format!(
                "path is a directory: {}",
                path.display()
            )));
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(HttpError::io(&e, format!("error getting file info: {e}"))),
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o666)
        .open(path)
        .map_err(|e| {
            if is_no_space(&e) {
                HttpError::io(&e, format!("not enough inodes available: {e}"))
            } else {
                HttpError::io(&e, format!("error opening file: {e}"))
            }
        })?;
    if let Some((uid, gid)) = owner {
        let meta = file
            .metadata()
            .map_err(|e| HttpError::io(&e, format!("error getting file info: {e}")))?;
        let owned = (meta.uid(), meta.gid());
        if owned != (uid, gid) && (owned.0 == uid || !as_user) {
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid))
                .map_err(|e| HttpError::io(&e, format!("error changing file ownership: {e}")))?;
        }
    }
    Ok(file)
}

fn remove_file(path: &Path) -> Result<(), HttpError> {
    std::fs::remove_file(path).map_err(|e| HttpError::io(&e, format!("error removing file: {e}")))
}

/// Replace the metadata of the written `file`.
fn set_metadata(
    file: &std::fs::File,
    path: &Path,
    metadata: &HashMap<String, String>,
) -> Result<(), HttpError> {
    match metadata::write(file, metadata) {
        Ok(()) => Ok(()),
        Err(e) if metadata::is_unsupported(&e) => {
            tracing::warn!(path = %path.display(), "filesystem does not support xattrs; metadata not persisted");
            Ok(())
        }
        Err(e) if is_no_space(&e) => Err(HttpError::io(
            &e,
            format!("not enough space for file metadata: {e}"),
        )),
        Err(e) => Err(HttpError::io(
            &e,
            format!("error writing file metadata: {e}"),
        )),
    }
}
