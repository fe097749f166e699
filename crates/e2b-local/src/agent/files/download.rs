//! `GET /files?path=&username=`: a file's bytes.
//!
//! Identity responses carry `Content-Length`, `Last-Modified` and
//! `Accept-Ranges`, honour one byte range (`206`/`416`) and
//! `If-Modified-Since` (`304`). With `Accept-Encoding: gzip` (and no range
//! or conditional header) the body is gzip-compressed as it is read.

use std::io::SeekFrom;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use async_compression::tokio::bufread::GzipEncoder;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike as _, Utc};
use http::header::{
    ACCEPT_RANGES, CONTENT_DISPOSITION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE,
    CONTENT_TYPE, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, LAST_MODIFIED, RANGE, VARY,
};
use http::{HeaderMap, HeaderValue, StatusCode};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, BufReader};
use tokio_util::io::ReaderStream;

use super::encoding::{Coding, identity_acceptable, response_coding};
use super::{CHUNK, FilesQuery, content_disposition};
use crate::agent::context::Sandbox;
use crate::agent::http_error::HttpError;

/// The part of the file a request asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Span {
    Whole,
    /// Inclusive byte offsets.
    Part(u64, u64),
    Unsatisfiable,
}

/// Interpret a `Range` header for a file of `size` bytes. Several ranges
/// are answered with the whole file.
pub(crate) fn parse_range(value: &str, size: u64) -> Span {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Span::Unsatisfiable;
    };
    if spec.contains(',') {
        return Span::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Span::Unsatisfiable;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // A suffix: the last N bytes.
        return match last.parse::<u64>() {
            Ok(n) if n > 0 && size > 0 => Span::Part(size - n.min(size), size - 1),
            _ => Span::Unsatisfiable,
        };
    }
    let Ok(start) = first.parse::<u64>() else {
        return Span::Unsatisfiable;
    };
    if start >= size {
        return Span::Unsatisfiable;
    }
    let end = if last.is_empty() {
        size - 1
    } else {
        match last.parse::<u64>() {
            Ok(end) if end >= start => end.min(size - 1),
            _ => return Span::Unsatisfiable,
        }
    };
    Span::Part(start, end)
}

/// A file time as an HTTP date can state it (years 1 to 9999); `None` for
/// times outside that range, which some filesystems (tmpfs) can hold.
fn http_time(time: SystemTime) -> Option<DateTime<Utc>> {
    let utc = match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => DateTime::from_timestamp(i64::try_from(after.as_secs()).ok()?, 0)?,
        Err(before) => {
            let before = before.duration();
            let secs = i64::try_from(before.as_secs()).ok()?;
            // Round down to the whole second, as for times after the epoch.
            let secs = if before.subsec_nanos() == 0 {
                secs
            } else {
                secs.checked_add(1)?
            };
            DateTime::from_timestamp(secs.checked_neg()?, 0)?
        }
    };
    (1..=9999).contains(&utc.year()).then_some(utc)
}

fn http_date(time: DateTime<Utc>) -> String {
    time.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Whether `If-Modified-Since` lets the agent answer `304`.
fn not_modified(headers: &HeaderMap, modified: DateTime<Utc>) -> bool {
    if headers.contains_key(IF_NONE_MATCH) {
        return false;
    }
    let Some(since) = headers
        .get(IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
    else {
        return false;
    };
    modified.timestamp() <= since.timestamp()
}

/// `Content-Type` by file extension.
fn content_type_by_extension(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "avif" => "image/avif",
        "css" => "text/css; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "gif" => "image/gif",
        "gz" => "application/gzip",
        "htm" | "html" => "text/html; charset=utf-8",
        "jpeg" | "jpg" => "image/jpeg",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "md" => "text/markdown; charset=utf-8",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "py" => "text/x-python; charset=utf-8",
        "svg" => "image/svg+xml",
        "tar" => "application/x-tar",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        "webp" => "image/webp",
        "xml" => "text/xml; charset=utf-8",
        "zip" => "application/zip",
        _ => return None,
    })
}

/// `Content-Type` from the first bytes: text if they are UTF-8 without
/// control characters other than whitespace.
fn sniff(head: &[u8]) -> &'static str {
    let text = match std::str::from_utf8(head) {
        Ok(s) => s,
        // A multi-byte character cut at the end of the sample is fine.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return "application/octet-stream",
    };
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c' | '\x1b'))
    {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    }
}

fn header(value: &str) -> HeaderValue {
    HeaderValue::from_str(value)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// The handler.
pub(crate) async fn download(
    State(sandbox): State<Arc<Sandbox>>,
    Query(query): Query<FilesQuery>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let user = query.user(&sandbox)?;
    let requested = query.path.clone().unwrap_or_default();
    let path =
        crate::agent::paths::resolve(&requested, user, &sandbox.default_workdir).map_err(|e| {
            HttpError::bad_request(format!(
                "error expanding and resolving path '{requested}': {e}"
            ))
        })?;
    let opened = path.clone();
    let (file, meta) = sandbox.fs_user(user).run(move || open(&opened)).await?;
    let mut file = tokio::fs::File::from_std(file);
    let mut coding = response_coding(&headers).map_err(|e| {
        HttpError::new(
            StatusCode::NOT_ACCEPTABLE,
            format!("error parsing Accept-Encoding: {e}"),
        )
    })?;
    let ranged_or_conditional = [RANGE, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE]
        .iter()
        .any(|h| headers.contains_key(h));
    if ranged_or_conditional {
        if !identity_acceptable(&headers) {
            return Err(HttpError::new(
                StatusCode::NOT_ACCEPTABLE,
                "identity encoding not acceptable for Range or conditional request",
            ));
        }
        coding = Coding::Identity;
    }

    let mut response_headers = HeaderMap::new();
    response_headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    response_headers.insert(CONTENT_DISPOSITION, header(&content_disposition(&name)));
    let by_extension = content_type_by_extension(&path);

    if coding == Coding::Gzip {
        response_headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response_headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(by_extension.unwrap_or("application/octet-stream")),
        );
        let encoder = GzipEncoder::new(BufReader::with_capacity(CHUNK, file));
        let body = Body::from_stream(ReaderStream::with_capacity(encoder, CHUNK));
        return Ok((StatusCode::OK, response_headers, body).into_response());
    }

    let size = meta.len();
    let content_type = match by_extension {
        Some(t) => t,
        None => {
            let mut head = vec![0u8; 512];
            let n = read_head(&mut file, &mut head).await.map_err(|e| {
                HttpError::internal(format!("error reading file '{}': {e}", path.display()))
            })?;
            sniff(&head[..n])
        }
    };
    response_headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response_headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(modified) = meta.modified().ok().and_then(http_time) {
        response_headers.insert(LAST_MODIFIED, header(&http_date(modified)));
        if not_modified(&headers, modified) {
            return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
        }
    }
    let range = headers
        .get(RANGE)
        .filter(|_| !headers.contains_key(IF_RANGE))
        .and_then(|v| v.to_str().ok());
    let (status, start, len) = match range.map(|r| parse_range(r, size)) {
        None | Some(Span::Whole) => (StatusCode::OK, 0, size),
        Some(Span::Part(first, last)) => {
            response_headers.insert(
                CONTENT_RANGE,
                header(&format!("bytes {first}-{last}/{size}")),
            );
            (StatusCode::PARTIAL_CONTENT, first, last - first + 1)
        }
        Some(Span::Unsatisfiable) => {
            let mut response = HttpError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "invalid range: failed to overlap",
            )
            .into_response();
            response
                .headers_mut()
                .insert(CONTENT_RANGE, header(&format!("bytes */{size}")));
            return Ok(response);
        }
    };
    file.seek(SeekFrom::Start(start)).await.map_err(|e| {
        HttpError::internal(format!("error reading file '{}': {e}", path.display()))
    })?;
    response_headers.insert(CONTENT_LENGTH, header(&len.to_string()));
    let body = super::pipe::read_body(file.into_std().await, len);
    Ok((status, response_headers, body).into_response())
}

/// Open `path` for reading, as the requesting user (the calling thread's
/// identity): a missing path is `404`, a directory `400`, a file the user
/// may not read `403`.
fn open(path: &Path) -> Result<(std::fs::File, std::fs::Metadata), HttpError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(HttpError::new(
                StatusCode::NOT_FOUND,
                format!("path '{}' does not exist", path.display()),
            ));
        }
        Err(e) => {
            return Err(HttpError::io(
                &e,
                format!("error checking if path exists '{}': {e}", path.display()),
            ));
        }
    };
    if meta.is_dir() {
        return Err(HttpError::bad_request(format!(
            "path '{}' is a directory",
            path.display()
        )));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| HttpError::io(&e, format!("error opening file '{}': {e}", path.display())))?;
    Ok((file, meta))
}

/// Fill as much of `buf` as the file has.
async fn read_head(file: &mut tokio::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Span::Part(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), Span::Part(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), Span::Part(90, 99));
        assert_eq!(parse_range("bytes=-500", 100), Span::Part(0, 99));
        assert_eq!(parse_range("bytes=50-500", 100), Span::Part(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), Span::Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 100), Span::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Span::Whole);
        assert_eq!(parse_range("items=0-1", 100), Span::Unsatisfiable);
        assert_eq!(parse_range("bytes=-1", 0), Span::Unsatisfiable);
    }

    #[test]
    fn http_times_cover_four_digit_years_only() {
        use std::time::Duration;
        let epoch = SystemTime::UNIX_EPOCH;
        let at = |t: SystemTime| http_time(t).map(|d| d.timestamp());
        assert_eq!(at(epoch + Duration::from_millis(1500)), Some(1));
        assert_eq!(at(epoch - Duration::from_millis(1500)), Some(-2));
        assert_eq!(
            http_time(epoch + Duration::from_secs(1_700_000_000)).map(http_date),
            Some("Tue, 14 Nov 2023 22:13:20 GMT".to_owned())
        );
        for far in [
            epoch + Duration::from_secs(253_402_300_800),
            epoch + Duration::from_secs(9_000_000_000_000),
            epoch + Duration::from_secs(i64::MAX as u64),
            epoch - Duration::from_secs(62_135_596_801),
            epoch - Duration::from_secs(9_000_000_000_000),
        ] {
            assert_eq!(http_time(far), None, "{far:?}");
        }
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff(b"hello\n"), "text/plain; charset=utf-8");
        assert_eq!(sniff(&[0, 1, 2]), "application/octet-stream");
        assert_eq!(sniff("é".as_bytes()), "text/plain; charset=utf-8");
        assert_eq!(sniff(&"é".as_bytes()[..1]), "text/plain; charset=utf-8");
    }
}
