//! Uploads: `POST /files`, octet-stream (envd 0.5.7 or newer, one file per request,
//! optionally gzipped) or multipart (older envd, or several files in one request).

use std::time::Duration;

use bytes::Bytes;
use e2b_core::{EnvdFeature, Error, Result};
use futures_util::Stream;
use http::Method;
use tokio::io::AsyncRead;
use tracing::Instrument as _;

use super::gzip::gzip;
use super::metadata::validate_metadata;
use super::multipart::{multipart_body, multipart_stream};
use super::options::upload_deadline;
use super::read_ahead::read_ahead;
use super::stalled_source::Stalled;
use super::{ChunkStream, FILES_PATH, WriteEntry, WriteOptions};
use crate::files::{Files, WriteInfo};

impl Files<'_> {
    /// Write `data` to `path`, creating parents and replacing any existing file.
    ///
    /// # Errors
    ///
    /// Invalid argument if `path` is a directory, not enough space, a request timeout,
    /// or envd's error.
    pub async fn write(&self, path: &str, data: impl Into<Bytes>) -> Result<WriteInfo> {
        self.write_with(path, data, WriteOptions::new()).await
    }

    /// [`write`](Files::write) with options (metadata, gzip, deadline).
    ///
    /// # Errors
    ///
    /// As [`write`](Files::write); invalid argument for metadata envd would refuse, or a
    /// template error if envd is too old for metadata.
    pub async fn write_with(
        &self,
        path: &str,
        data: impl Into<Bytes>,
        options: WriteOptions,
    ) -> Result<WriteInfo> {
        let timeout = upload_deadline(options.timeout, self.sandbox.request_timeout());
        self.write_one(path, Source::Bytes(data.into()), &options, timeout)
            .await
    }

    /// Write several files; one request per file on envd 0.5.7 or newer, one multipart
    /// request otherwise.
    ///
    /// # Errors
    ///
    /// As [`write`](Files::write).
    pub async fn write_files(&self, entries: &[WriteEntry]) -> Result<Vec<WriteInfo>> {
        self.write_files_with(entries, WriteOptions::new()).await
    }

    /// [`write_files`](Files::write_files) with options (metadata and gzip for every file,
    /// the deadline of each request).
    ///
    /// # Errors
    ///
    /// As [`write_with`](Files::write_with).
    pub async fn write_files_with(
        &self,
        entries: &[WriteEntry],
        options: WriteOptions,
    ) -> Result<Vec<WriteInfo>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let timeout = upload_deadline(options.timeout, self.sandbox.request_timeout());
        if self.octet_stream_supported() {
            let mut out = Vec::with_capacity(entries.len());
            for e in entries {
                out.push(
                    self.upload(&e.path, Source::Bytes(e.data.clone()), &options, timeout)
                        .await?,
                );
            }
            Ok(out)
        } else {
            self.check_metadata(&options)?;
            self.write_multipart(entries, timeout).await
        }
    }

    /// Upload a stream of chunks in constant memory. Only [`WriteOptions::timeout`] bounds
    /// the whole upload; [`WriteOptions::idle_timeout`] bounds the wait for each chunk.
    /// envd older than 0.5.7 gets the stream as the one part of a multipart body.
    ///
    /// # Errors
    ///
    /// A [`TimeoutKind::StreamIdle`](e2b_core::TimeoutKind::StreamIdle) error when the
    /// stream stalls; a transport error when it fails; as [`write_with`](Files::write_with).
    pub async fn write_stream<S>(&self, path: &str, stream: S) -> Result<WriteInfo>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        self.write_stream_with(path, stream, WriteOptions::new())
            .await
    }

    /// [`write_stream`](Self::write_stream) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`write_stream`](Self::write_stream).
    pub async fn write_stream_with<S>(
        &self,
        path: &str,
        stream: S,
        options: WriteOptions,
    ) -> Result<WriteInfo>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        let timeout = upload_deadline(options.timeout, None);
        self.write_one(path, Source::Stream(Box::pin(stream)), &options, timeout)
            .await
    }

    /// Upload everything `reader` yields (e.g. a local [`tokio::fs::File`]) in constant
    /// memory. A task of its own reads a few chunks ahead of the connection, so reading
    /// and sending overlap.
    ///
    /// ```no_run
    /// # async fn f(sandbox: &e2b_sandbox::Sandbox) -> e2b_sandbox::Result<()> {
    /// use e2b_sandbox::WriteOptions;
    /// let file = tokio::fs::File::open("data.csv").await.unwrap();
    /// let options = WriteOptions::new().gzip(true);
    /// sandbox.files().write_reader_with("/home/user/data.csv", file, options).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`write_stream`](Files::write_stream).
    pub async fn write_reader<R>(&self, path: &str, reader: R) -> Result<WriteInfo>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        self.write_reader_with(path, reader, WriteOptions::new())
            .await
    }

    /// [`write_reader`](Self::write_reader) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`write_reader`](Self::write_reader).
    pub async fn write_reader_with<R>(
        &self,
        path: &str,
        reader: R,
        options: WriteOptions,
    ) -> Result<WriteInfo>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        self.write_stream_with(path, read_ahead(reader), options)
            .await
    }

    fn octet_stream_supported(&self) -> bool {
        self.sandbox
            .envd_version()
            .supports(EnvdFeature::OctetStreamUpload)
    }

    fn check_metadata(&self, options: &WriteOptions) -> Result<()> {
        if options.metadata.is_empty() {
            return Ok(());
        }
        if !self
            .sandbox
            .envd_version()
            .supports(EnvdFeature::FileMetadata)
        {
            return Err(Error::template(
                "file metadata needs envd 0.6.2 or newer; rebuild the template",
            ));
        }
        validate_metadata(&options.metadata)
    }

    /// One file: octet-stream on envd 0.5.7 or newer, a one-part multipart body before.
    pub(super) async fn write_one(
        &self,
        path: &str,
        source: Source,
        options: &WriteOptions,
        timeout: Option<Duration>,
    ) -> Result<WriteInfo> {
        if self.octet_stream_supported() {
            return self.upload(path, source, options, timeout).await;
        }
        self.check_metadata(options)?;
        let stalled = Stalled::new(options.idle_timeout);
        let (content_type, body) = match source {
            Source::Bytes(data) => {
                let (content_type, body) = multipart_body(&[WriteEntry::new(path, data)]);
                (content_type, reqwest::Body::from(body))
            }
            Source::Stream(stream) | Source::Sized { stream, .. } => {
                let (content_type, body) = multipart_stream(path, stalled.guard(stream));
                (content_type, reqwest::Body::wrap_stream(body))
            }
        };
        let mut written = self
            .post_multipart(&[path], content_type, body, timeout, &stalled)
            .await?;
        Ok(written.remove(0))
    }

    async fn upload(
        &self,
        path: &str,
        source: Source,
        options: &WriteOptions,
        timeout: Option<Duration>,
    ) -> Result<WriteInfo> {
        self.check_metadata(options)?;
        let stalled = Stalled::new(options.idle_timeout);
        let length = match (&source, options.gzip) {
            (Source::Sized { len, .. }, false) => Some(*len),
            _ => None,
        };
        let body = match (source, options.gzip) {
            (Source::Bytes(data), false) => reqwest::Body::from(data),
            (Source::Bytes(data), true) => {
                reqwest::Body::wrap_stream(gzip(futures_util::stream::iter([Ok(data)])))
            }
            (Source::Stream(stream) | Source::Sized { stream, .. }, false) => {
                reqwest::Body::wrap_stream(stalled.guard(stream))
            }
            (Source::Stream(stream) | Source::Sized { stream, .. }, true) => {
                reqwest::Body::wrap_stream(gzip(stalled.guard(stream)))
            }
        };
        let mut request = self
            .sandbox
            .envd()
            .request(Method::POST, FILES_PATH)
            .query(&self.files_query(Some(path)))
            .header(http::header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        if options.gzip {
            request = request.header(http::header::CONTENT_ENCODING, "gzip");
        }
        if let Some(length) = length {
            request = request.header(http::header::CONTENT_LENGTH, length);
        }
        for (key, value) in &options.metadata {
            request = request.header(format!("X-Metadata-{key}"), value);
        }
        async {
            let response = self
                .send_files(request, "envd.files.write", timeout, Some(&stalled))
                .await?;
            let mut written = parse_written(response).await?;
            Ok(written.remove(0))
        }
        .instrument(self.span("write", path))
        .await
    }

    async fn write_multipart(
        &self,
        entries: &[WriteEntry],
        timeout: Option<Duration>,
    ) -> Result<Vec<WriteInfo>> {
        let (content_type, body) = multipart_body(entries);
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        self.post_multipart(
            &paths,
            content_type,
            reqwest::Body::from(body),
            timeout,
            &Stalled::new(Duration::ZERO),
        )
        .await
    }

    /// `POST /files` with a multipart body holding `paths`; the `path` query only for one.
    async fn post_multipart(
        &self,
        paths: &[&str],
        content_type: String,
        body: reqwest::Body,
        timeout: Option<Duration>,
        stalled: &Stalled,
    ) -> Result<Vec<WriteInfo>> {
        let only = match paths {
            [only] => Some(*only),
            _ => None,
        };
        let request = self
            .sandbox
            .envd()
            .request(Method::POST, FILES_PATH)
            .query(&self.files_query(only))
            .header(http::header::CONTENT_TYPE, content_type)
            .body(body);
        let response = self
            .send_files(request, "envd.files.write", timeout, Some(stalled))
            .instrument(self.span("write_files", paths[0]))
            .await?;
        parse_written(response).await
    }
}

/// What one file's upload reads from.
pub(super) enum Source {
    Bytes(Bytes),
    Stream(ChunkStream),
    /// A stream of exactly `len` bytes (a local file): sent with its length, as curl
    /// and the other SDKs send a file, rather than chunked.
    Sized {
        stream: ChunkStream,
        len: u64,
    },
}

async fn parse_written(response: reqwest::Response) -> Result<Vec<WriteInfo>> {
    let body = response
        .bytes()
        .await
        .map_err(e2b_core::raw::error_from_reqwest)?;
    let written: Vec<WriteInfo> = serde_json::from_slice(&body).map_err(|e| {
        Error::protocol(format!("envd's upload answer is not a list of files: {e}"))
    })?;
    if written.is_empty() {
        return Err(Error::protocol(
            "expected to receive information about the written file",
        ));
    }
    Ok(written)
}
