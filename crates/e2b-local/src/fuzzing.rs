//! Entry points for the fuzz targets of the workspace's `fuzz/` crate: thin
//! wrappers over the server's decoders of network input, taking and returning
//! plain types so that none of the crate's private types leaks.
//!
//! Not part of the public API: hidden from the docs, no semver guarantees.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use bytes::Bytes;
use futures_util::TryStreamExt as _;
use http::{HeaderMap, Method, Uri};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio_util::io::{ReaderStream, StreamReader};

use crate::agent::UserAccount;
use crate::agent::files::FilesQuery;
use crate::agent::files::download::{Span, parse_range};
use crate::agent::files::encoding::{self, BoundedGunzip, Coding, InflateLimit};
use crate::agent::interpreter::output::{self, Progress};
use crate::control::listing;
use crate::control::query::Query;
use crate::edge::envd_auth;
use crate::edge::routing::{self, Target};
use crate::interpreter::jupyter::message::Message;
use crate::sandbox::record::State;

/// Where the edge routes a request: `Ok(None)` for the control plane,
/// `Ok(Some((sandbox id, port)))` for a sandbox, `Err` for a 400.
pub fn route(headers: &HeaderMap, host: Option<&str>) -> Result<Option<(String, u16)>, String> {
    match routing::classify(headers, host) {
        Ok(Target::ControlPlane) => Ok(None),
        Ok(Target::Sandbox { id, port }) => Ok(Some((id, port))),
        Err(e) => Err(e.to_string()),
    }
}

/// The edge's check of an envd request (access token, signed `/files`
/// URLs); `Err((status, message))` when refused.
pub fn envd_auth(
    method: &Method,
    path: &str,
    query: Option<&str>,
    header_token: Option<&str>,
    token: Option<&str>,
    now_unix: i64,
) -> Result<(), (u16, String)> {
    envd_auth::check(method, path, query, header_token, token, now_unix).map_err(|refusal| {
        let status = refusal.status().as_u16();
        let message = match refusal {
            envd_auth::Refusal::Internal => String::new(),
            envd_auth::Refusal::Unauthorized(m) | envd_auth::Refusal::BadRequest(m) => m,
        };
        (status, message)
    })
}

/// The `path` and `username` of a `/files` request, extracted from its URI as
/// the agent's handlers extract them.
pub fn files_query(uri: &Uri) -> Result<(Option<String>, Option<String>), String> {
    axum::extract::Query::<FilesQuery>::try_from_uri(uri)
        .map(|q| (q.0.path, q.0.username))
        .map_err(|e| e.body_text())
}

/// A request path resolved for `user` as the agent resolves it.
pub fn resolve_path(
    path: &str,
    user: &UserAccount,
    default_workdir: &str,
) -> Result<PathBuf, String> {
    crate::agent::paths::resolve(path, user, default_workdir).map_err(|e| e.to_string())
}

/// The user named by a Connect request's `Authorization: Basic` header.
pub fn basic_auth_user(headers: &HeaderMap) -> Option<String> {
    crate::agent::users::basic_auth_user(headers)
}

/// The file metadata carried by an upload's `X-Metadata-*` headers.
pub fn file_metadata(headers: &HeaderMap) -> Result<HashMap<String, String>, String> {
    crate::agent::metadata::from_headers(headers).map_err(|e| e.to_string())
}

/// The part of a file of `size` bytes a `Range` header asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// The whole file.
    Whole,
    /// Inclusive byte offsets.
    Part(u64, u64),
    /// A `416`.
    Unsatisfiable,
}

/// A download's `Range` header, interpreted.
pub fn byte_range(value: &str, size: u64) -> ByteRange {
    match parse_range(value, size) {
        Span::Whole => ByteRange::Whole,
        Span::Part(first, last) => ByteRange::Part(first, last),
        Span::Unsatisfiable => ByteRange::Unsatisfiable,
    }
}

/// `true` for gzip, `false` for identity.
fn is_gzip(coding: Coding) -> bool {
    coding == Coding::Gzip
}

/// The coding of an upload body (`Content-Encoding`): `Ok(true)` for gzip.
pub fn request_is_gzip(headers: &HeaderMap) -> Result<bool, String> {
    encoding::request_coding(headers)
        .map(is_gzip)
        .map_err(|e| e.to_string())
}

/// The coding of a download (`Accept-Encoding`): `Ok(true)` for gzip.
pub fn response_is_gzip(headers: &HeaderMap) -> Result<bool, String> {
    encoding::response_coding(headers)
        .map(is_gzip)
        .map_err(|e| e.to_string())
}

/// Whether `Accept-Encoding` allows identity.
pub fn identity_acceptable(headers: &HeaderMap) -> bool {
    encoding::identity_acceptable(headers)
}

/// One `file` part of an upload, as `POST /files` would write it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadedPart {
    /// The part's file name, if it has one.
    pub file_name: Option<String>,
    /// Where it would be written.
    pub path: PathBuf,
    /// Its content.
    pub content: Vec<u8>,
}

/// Decode an upload body as `POST /files` does, without touching the file
/// system: `Content-Encoding` (gzip within the upload's inflate limit), the
/// multipart boundary of `content_type`, every part named `file`, its
/// target path (`path`, else its file name, resolved for `user`), refusing
/// two parts for one path. `chunks` is the body as it arrives.
pub async fn multipart_upload(
    headers: &HeaderMap,
    chunks: Vec<Bytes>,
    path: Option<&str>,
    user: &UserAccount,
    default_workdir: &str,
) -> Result<Vec<UploadedPart>, String> {
    let coding = encoding::request_coding(headers).map_err(|e| e.to_string())?;
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|e| e.to_string())?;
    let mut raw = StreamReader::new(futures_util::stream::iter(
        chunks.into_iter().map(Ok::<_, io::Error>),
    ));
    let body: std::pin::Pin<Box<dyn AsyncRead + Send + '_>> = match coding {
        Coding::Identity => Box::pin(&mut raw),
        Coding::Gzip => Box::pin(BoundedGunzip::new(
            &mut raw,
            InflateLimit::UPLOAD,
            Arc::new(AtomicBool::new(false)),
        )),
    };
    let mut form = multer::Multipart::new(
        ReaderStream::with_capacity(body, crate::agent::files::CHUNK),
        boundary,
    );
    let mut parts: Vec<UploadedPart> = Vec::new();
    while let Some(field) = form.next_field().await.map_err(|e| e.to_string())? {
        if field.name() != Some("file") {
            continue;
        }
        let file_name = field.file_name().map(str::to_owned);
        let requested = match (path, &file_name) {
            (Some(p), _) => p.to_owned(),
            (None, Some(name)) => name.clone(),
            (None, None) => return Err("filename not found in Content-Disposition header".into()),
        };
        let path = resolve_path(&requested, user, default_workdir)?;
        if parts.iter().any(|p| p.path == path) {
            return Err(format!("two parts for '{}'", path.display()));
        }
        let mut content = Vec::new();
        StreamReader::new(field.map_err(io::Error::other))
            .read_to_end(&mut content)
            .await
            .map_err(|e| e.to_string())?;
        parts.push(UploadedPart {
            file_name,
            path,
            content,
        });
    }
    Ok(parts)
}

/// The NDJSON lines of one execution, from the kernel's messages, as the
/// agent's `/execute` writes them.
#[derive(Debug, Default)]
pub struct ExecutionLines {
    progress: Progress,
}

impl ExecutionLines {
    /// A new execution.
    pub fn new() -> Self {
        Self::default()
    }

    /// The line an iopub message becomes, if any.
    pub fn iopub(&mut self, message: &Message) -> Option<Value> {
        output::iopub_lines(message, &mut self.progress)
    }

    /// The lines an `execute_reply` becomes.
    pub fn reply(&mut self, message: &Message) -> Vec<Value> {
        output::reply_lines(message, &mut self.progress)
    }
}

/// `key`'s value in a control-plane query string as a number in
/// `min..=max`, `default` when absent.
pub fn query_int(
    raw: Option<&str>,
    key: &str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, String> {
    Query::parse(raw)
        .int(key, default, min, max)
        .map_err(|e| e.message)
}

/// `key`'s first value in a control-plane query string.
pub fn query_get(raw: Option<&str>, key: &str) -> Option<String> {
    Query::parse(raw).get(key).map(str::to_owned)
}

/// The `metadata` filter of a sandbox listing.
pub fn metadata_filter(raw: &str) -> Result<Vec<(String, String)>, String> {
    listing::parse_metadata_filter(raw).map_err(|e| e.message)
}

/// The `state` filter of a sandbox listing, as state names.
pub fn state_filter(raw: &str) -> Result<Vec<&'static str>, String> {
    listing::parse_states(raw)
        .map(|states| {
            states
                .into_iter()
                .map(|s| match s {
                    State::Running => "running",
                    State::Paused => "paused",
                })
                .collect()
        })
        .map_err(|e| e.message)
}

/// A listing's page cursor for a sandbox started at `started_at`.
pub fn encode_page_token(started_at: chrono::DateTime<chrono::Utc>, id: &str) -> String {
    listing::encode_token(started_at, id)
}

/// A listing's `nextToken`, decoded: (start time in nanoseconds, sandbox id).
pub fn decode_page_token(token: &str) -> Result<(i64, String), String> {
    listing::decode_token(token).map_err(|e| e.message)
}
