//! Envd's `/files` HTTP endpoint: downloads and uploads, streamed in constant memory.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use async_compression::tokio::bufread::{GzipDecoder, GzipEncoder};
use bytes::Bytes;
use e2b_core::{EnvdFeature, Error, ErrorKind, NotFoundKind, Result, TimeoutKind};
use futures_util::{Stream, StreamExt as _};
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::io::{ReaderStream, StreamReader};
use tracing::Instrument as _;

use super::{DEFAULT_STREAM_IDLE_TIMEOUT, Files, WriteInfo};

/// Longest metadata key envd stores (`user.e2b.` + key must fit an xattr name).
const MAX_METADATA_KEY: usize = 246;
/// Largest total size of metadata keys and values.
const MAX_METADATA_TOTAL: usize = 4096;
/// Chunk size when streaming a local reader or gzip-encoding an upload.
const UPLOAD_CHUNK: usize = 256 * 1024;
/// Chunk size of a gzip-decoded download.
const DOWNLOAD_CHUNK: usize = 64 * 1024;

/// A stream of upload chunks.
type ChunkStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Options of a download ([`Files::read_stream`], [`Files::read_bytes_with`],
/// [`Files::read_text_with`]).
///
/// ```
/// use std::time::Duration;
/// use e2b_sandbox::ReadOptions;
/// let options = ReadOptions::new().gzip(true).idle_timeout(Duration::from_secs(10));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ReadOptions {
    /// The longest silence allowed between two chunks (default 60 s); `Duration::ZERO`
    /// means no limit.
    pub idle_timeout: Duration,
    /// Ask envd to gzip the file on the way (`Accept-Encoding: gzip`; default off). The
    /// answer is decoded as it streams, so reads return the file's own bytes either way;
    /// envd may still answer uncompressed.
    pub gzip: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            idle_timeout: DEFAULT_STREAM_IDLE_TIMEOUT,
            gzip: false,
        }
    }
}

impl ReadOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the longest silence allowed between two chunks; `Duration::ZERO` means no limit.
    #[must_use]
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// Ask for (or not) a gzip-compressed transfer; see [`ReadOptions::gzip`].
    #[must_use]
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }
}

/// Options of an upload.
///
/// ```
/// use e2b_sandbox::WriteOptions;
/// let options = WriteOptions::new().metadata("owner", "build-42").gzip(true);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WriteOptions {
    /// `X-Metadata-*` values stored with the file (envd 0.6.2 or newer); they replace any
    /// metadata the file had.
    pub metadata: HashMap<String, String>,
    /// The deadline of the whole upload: `None` means the sandbox's request timeout for
    /// in-memory data and none for streams; `Some(Duration::ZERO)` means no limit.
    pub timeout: Option<Duration>,
    /// Compress the body on the way (`Content-Encoding: gzip`; default off). envd 0.5.7 or
    /// newer decodes it; with older envd, which takes multipart bodies only, the option is
    /// ignored, as upstream's SDKs ignore it.
    pub gzip: bool,
    /// The longest the source of a streamed upload ([`Files::write_stream`],
    /// [`Files::write_reader`]) may take to produce its next chunk (default 60 s); when it
    /// stalls longer, the upload ends with a [`TimeoutKind::StreamIdle`] error.
    /// `Duration::ZERO` disables it. Time spent waiting for envd to take a chunk does not
    /// count.
    pub idle_timeout: Duration,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            metadata: HashMap::new(),
            timeout: None,
            gzip: false,
            idle_timeout: DEFAULT_STREAM_IDLE_TIMEOUT,
        }
    }
}

impl WriteOptions {
    /// The defaults: no metadata, no gzip, no deadline beyond the sandbox's request
    /// timeout for in-memory data, a 60 s idle timeout for streamed sources.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one metadata entry.
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Bound the whole upload; `Duration::ZERO` means no limit.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Compress (or not) the body; see [`WriteOptions::gzip`].
    #[must_use]
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }

    /// Set the longest a streamed source may stall; see [`WriteOptions::idle_timeout`].
    #[must_use]
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }
}

/// One file of [`Files::write_files`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WriteEntry {
    /// Where to write it.
    pub path: String,
    /// Its content.
    pub data: Bytes,
}

impl WriteEntry {
    /// A file at `path` with `data`.
    pub fn new(path: impl Into<String>, data: impl Into<Bytes>) -> Self {
        WriteEntry {
            path: path.into(),
            data: data.into(),
        }
    }
}

/// A download: a [`Stream`] of chunks that is also an [`AsyncRead`]. Every chunk must
/// arrive within the idle timeout, else the stream ends with a
/// [`TimeoutKind::StreamIdle`] error.
pub struct ByteStream {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>,
    pending: Bytes,
}

impl std::fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteStream").finish_non_exhaustive()
    }
}

impl Stream for ByteStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if !self.pending.is_empty() {
            return Poll::Ready(Some(Ok(std::mem::take(&mut self.pending))));
        }
        self.inner.as_mut().poll_next(cx)
    }
}

impl AsyncRead for ByteStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        while self.pending.is_empty() {
            match self.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Err(std::io::Error::other(e)));
                }
                Poll::Ready(Some(Ok(chunk))) => self.pending = chunk,
            }
        }
        let n = buf.remaining().min(self.pending.len());
        let chunk = self.pending.split_to(n);
        buf.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}

/// Check metadata as upstream's SDKs and envd do: keys are HTTP tokens of up to 246 bytes,
/// values printable ASCII, 4096 bytes in all.
pub(crate) fn validate_metadata(metadata: &HashMap<String, String>) -> Result<()> {
    let printable = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b));
    let mut total = 0;
    for (key, value) in metadata {
        // An HTTP token, as upstream's SDKs require: the key becomes a header name.
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if key.is_empty() || !key.bytes().all(token) {
            return Err(Error::invalid_argument(format!(
                "metadata key {key:?} must be a non-empty HTTP token (letters, digits and !#$%&'*+-.^_`|~)"
            )));
        }
        if key.len() > MAX_METADATA_KEY {
            return Err(Error::invalid_argument(format!(
                "metadata key {key:?} is longer than {MAX_METADATA_KEY} bytes"
            )));
        }
        if !printable(value) {
            return Err(Error::invalid_argument(format!(
                "metadata value of {key:?} must be printable ASCII"
            )));
        }
        total += key.len() + value.len();
    }
    if total > MAX_METADATA_TOTAL {
        return Err(Error::invalid_argument(format!(
            "metadata is {total} bytes, more than {MAX_METADATA_TOTAL}"
        )));
    }
    Ok(())
}

impl Files<'_> {
    fn files_url(&self) -> String {
        format!("{}/files", self.sandbox.envd().base_url())
    }

    fn query<'p>(&'p self, path: &'p str) -> Vec<(&'static str, &'p str)> {
        let mut query = vec![("path", path)];
        if let Some(user) = self.sandbox.envd().effective_user(self.user()) {
            query.push(("username", user));
        }
        query
    }

    /// Read a whole file into memory.
    ///
    /// # Errors
    ///
    /// Not found ([`NotFoundKind::File`]) if it does not exist, invalid argument for a
    /// directory, a request timeout, or envd's error.
    pub async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        self.read_bytes_with(path, ReadOptions::new()).await
    }

    /// [`read_bytes`](Files::read_bytes) with options (gzip, idle timeout).
    ///
    /// # Errors
    ///
    /// As [`read_bytes`](Files::read_bytes); a protocol error if a gzip answer is corrupt.
    pub async fn read_bytes_with(&self, path: &str, options: ReadOptions) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut stream = self.read_stream(path, options).await?;
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    /// Read a whole UTF-8 file.
    ///
    /// # Errors
    ///
    /// As [`read_bytes`](Files::read_bytes); a protocol error if the content is not UTF-8.
    pub async fn read_text(&self, path: &str) -> Result<String> {
        self.read_text_with(path, ReadOptions::new()).await
    }

    /// [`read_text`](Files::read_text) with options (gzip, idle timeout).
    ///
    /// # Errors
    ///
    /// As [`read_bytes_with`](Files::read_bytes_with); a protocol error if the content is
    /// not UTF-8.
    pub async fn read_text_with(&self, path: &str, options: ReadOptions) -> Result<String> {
        String::from_utf8(self.read_bytes_with(path, options).await?)
            .map_err(|_| Error::protocol(format!("{path} is not UTF-8 text")))
    }

    /// Stream a file in constant memory. The sandbox's request timeout bounds the wait
    /// for the response headers; [`ReadOptions::idle_timeout`] each chunk after that.
    /// With [`ReadOptions::gzip`] the transfer is compressed and decoded as it arrives.
    ///
    /// ```no_run
    /// # async fn f(sandbox: &e2b_sandbox::Sandbox) -> e2b_sandbox::Result<()> {
    /// use e2b_sandbox::ReadOptions;
    /// let options = ReadOptions::new().gzip(true);
    /// let mut reader = sandbox.files().read_stream("/var/log/big.log", options).await?;
    /// let mut out = tokio::fs::File::create("big.log").await.unwrap();
    /// tokio::io::copy(&mut reader, &mut out).await.unwrap();
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`read_bytes`](Files::read_bytes); the stream's items: a
    /// [`TimeoutKind::StreamIdle`] error when a chunk is late, a protocol error when a
    /// gzip answer is corrupt, a transport error when the connection breaks.
    pub async fn read_stream(&self, path: &str, options: ReadOptions) -> Result<ByteStream> {
        let envd = self.sandbox.envd();
        let mut request = envd
            .http()
            .get(self.files_url())
            .query(&self.query(path))
            .headers(envd.headers().clone());
        if options.gzip {
            request = request.header(http::header::ACCEPT_ENCODING, "gzip");
        }
        let response = self
            .send(request, self.sandbox.request_timeout(), None)
            .instrument(self.span("read", path))
            .await?;
        let gzipped = response
            .headers()
            .get(http::header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let idle = options.idle_timeout;
        let body = response.bytes_stream();
        let envd = envd.clone();
        let raw = futures_util::stream::unfold(Some(Box::pin(body)), move |state| {
            let envd = envd.clone();
            async move {
                let mut body = state?;
                let next = if idle.is_zero() {
                    Ok(body.next().await)
                } else {
                    tokio::time::timeout(idle, body.next()).await
                };
                match next {
                    Err(_) => Some((
                        Err(Error::timeout(
                            TimeoutKind::StreamIdle,
                            format!("no data from the download for {idle:?}"),
                        )),
                        None,
                    )),
                    Ok(None) => None,
                    Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(body))),
                    // A broken download is the sandbox going away when /health says so.
                    Ok(Some(Err(e))) => Some((Err(envd.stream_broke(Error::from(e)).await), None)),
                }
            }
        });
        let inner: Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>> = if gzipped {
            Box::pin(gunzip(raw))
        } else {
            Box::pin(raw)
        };
        Ok(ByteStream {
            inner,
            pending: Bytes::new(),
        })
    }

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
    /// A [`TimeoutKind::StreamIdle`] error when the stream stalls; a transport error
    /// when it fails; as [`write_with`](Files::write_with).
    pub async fn write_stream<S>(
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
    /// memory.
    ///
    /// ```no_run
    /// # async fn f(sandbox: &e2b_sandbox::Sandbox) -> e2b_sandbox::Result<()> {
    /// use e2b_sandbox::WriteOptions;
    /// let file = tokio::fs::File::open("data.csv").await.unwrap();
    /// let options = WriteOptions::new().gzip(true);
    /// sandbox.files().write_reader("/home/user/data.csv", file, options).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`write_stream`](Files::write_stream).
    pub async fn write_reader<R>(
        &self,
        path: &str,
        reader: R,
        options: WriteOptions,
    ) -> Result<WriteInfo>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        let stream = ReaderStream::with_capacity(reader, UPLOAD_CHUNK);
        self.write_stream(path, stream, options).await
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
    async fn write_one(
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
            Source::Stream(stream) => {
                let boundary = boundary();
                let head = Bytes::from(part_head(&boundary, path));
                let tail = Bytes::from(format!("\r\n--{boundary}--\r\n"));
                let body = futures_util::stream::once(async move { Ok(head) })
                    .chain(stalled.guard(stream))
                    .chain(futures_util::stream::once(async move { Ok(tail) }));
                (
                    multipart_content_type(&boundary),
                    reqwest::Body::wrap_stream(body),
                )
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
        let body = match (source, options.gzip) {
            (Source::Bytes(data), false) => reqwest::Body::from(data),
            (Source::Bytes(data), true) => {
                reqwest::Body::wrap_stream(gzip(futures_util::stream::iter([Ok(data)])))
            }
            (Source::Stream(stream), false) => reqwest::Body::wrap_stream(stalled.guard(stream)),
            (Source::Stream(stream), true) => {
                reqwest::Body::wrap_stream(gzip(stalled.guard(stream)))
            }
        };
        let envd = self.sandbox.envd();
        let mut request = envd
            .http()
            .post(self.files_url())
            .query(&self.query(path))
            .headers(envd.headers().clone())
            .header(http::header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        if options.gzip {
            request = request.header(http::header::CONTENT_ENCODING, "gzip");
        }
        for (key, value) in &options.metadata {
            request = request.header(format!("X-Metadata-{key}"), value);
        }
        async {
            let response = self.send(request, timeout, Some(&stalled)).await?;
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
        let envd = self.sandbox.envd();
        let mut query = Vec::new();
        if let [only] = paths {
            query.push(("path", *only));
        }
        if let Some(user) = envd.effective_user(self.user()) {
            query.push(("username", user));
        }
        let request = envd
            .http()
            .post(self.files_url())
            .query(&query)
            .headers(envd.headers().clone())
            .header(http::header::CONTENT_TYPE, content_type)
            .body(body);
        let response = self
            .send(request, timeout, Some(stalled))
            .instrument(self.span("write_files", paths[0]))
            .await?;
        parse_written(response).await
    }

    /// Send with `timeout` on the wait for the response headers; map error statuses. A
    /// request whose body source stalled fails with that idle timeout.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        timeout: Option<Duration>,
        stalled: Option<&Stalled>,
    ) -> Result<reqwest::Response> {
        let send = request.send();
        let sent = match timeout {
            Some(limit) => tokio::time::timeout(limit, send).await.map_err(|_| {
                Error::timeout(
                    TimeoutKind::Request,
                    format!("envd did not answer within {limit:?}"),
                )
            })?,
            None => send.await,
        };
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                return Err(match stalled.filter(|s| s.fired()) {
                    Some(s) => s.error(e),
                    None => Error::from(e),
                });
            }
        };
        Error::check_response(response)
            .await
            .map_err(|e| e.with_not_found_kind(NotFoundKind::File))
    }
}

/// What one file's upload reads from.
enum Source {
    Bytes(Bytes),
    Stream(ChunkStream),
}

/// Bounds the wait for each chunk of an upload's source, and remembers whether it fired.
#[derive(Clone)]
struct Stalled {
    idle: Duration,
    fired: Arc<AtomicBool>,
}

impl Stalled {
    fn new(idle: Duration) -> Self {
        Stalled {
            idle,
            fired: Arc::new(AtomicBool::new(false)),
        }
    }

    /// `stream`, failing with [`std::io::ErrorKind::TimedOut`] when a chunk takes longer
    /// than the idle timeout (never with `Duration::ZERO`).
    fn guard(
        &self,
        stream: ChunkStream,
    ) -> impl Stream<Item = std::io::Result<Bytes>> + Send + use<> {
        let stalled = self.clone();
        futures_util::stream::unfold(Some(stream), move |state| {
            let stalled = stalled.clone();
            async move {
                let mut stream = state?;
                if stalled.idle.is_zero() {
                    return stream.next().await.map(|item| (item, Some(stream)));
                }
                match tokio::time::timeout(stalled.idle, stream.next()).await {
                    Ok(item) => item.map(|item| (item, Some(stream))),
                    Err(_) => {
                        stalled.fired.store(true, Ordering::SeqCst);
                        Some((
                            Err(std::io::Error::new(
                                std::io::ErrorKind::TimedOut,
                                format!(
                                    "the upload's source produced nothing for {:?}",
                                    stalled.idle
                                ),
                            )),
                            None,
                        ))
                    }
                }
            }
        })
    }

    fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    /// The typed error of the stalled upload whose request failed with `transfer`.
    fn error(&self, transfer: reqwest::Error) -> Error {
        Error::with_source(
            ErrorKind::Timeout {
                kind: TimeoutKind::StreamIdle,
                message: format!("the upload's source produced nothing for {:?}", self.idle),
            },
            transfer,
        )
    }
}

/// `source`, gzip-compressed as it streams.
fn gzip<S>(source: S) -> impl Stream<Item = std::io::Result<Bytes>> + Send
where
    S: Stream<Item = std::io::Result<Bytes>> + Send,
{
    ReaderStream::with_capacity(GzipEncoder::new(StreamReader::new(source)), UPLOAD_CHUNK)
}

/// A gzip-encoded download, decoded as it streams. The body's own errors (an idle
/// timeout, a broken connection) come through unchanged. An empty body is an empty file,
/// as HTTP clients that decode gzip treat it.
fn gunzip<S>(body: S) -> impl Stream<Item = Result<Bytes>> + Send
where
    S: Stream<Item = Result<Bytes>> + Send,
{
    let mut body = Box::pin(body.peekable());
    futures_util::stream::once(async move {
        if body.as_mut().peek().await.is_none() {
            return futures_util::stream::empty().left_stream();
        }
        let reader = StreamReader::new(body.map(|chunk| chunk.map_err(std::io::Error::other)));
        let mut decoder = GzipDecoder::new(reader);
        decoder.multiple_members(true);
        ReaderStream::with_capacity(decoder, DOWNLOAD_CHUNK)
            .map(|chunk| chunk.map_err(decode_error))
            .right_stream()
    })
    .flatten()
}

/// The error of a gzip-decoded download: the body's own [`Error`] if it failed, else a
/// protocol error (the gzip data is corrupt or truncated).
fn decode_error(e: std::io::Error) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        if let Some(Ok(error)) = e.into_inner().map(|inner| inner.downcast::<Error>()) {
            return *error;
        }
        return Error::protocol("envd's gzip answer could not be decoded");
    }
    Error::with_source(
        ErrorKind::Protocol {
            message: "envd's gzip answer could not be decoded".to_owned(),
        },
        e,
    )
}

fn boundary() -> String {
    format!("e2b-{}", uuid::Uuid::new_v4().simple())
}

fn multipart_content_type(boundary: &str) -> String {
    format!("multipart/form-data; boundary={boundary}")
}

/// The headers of one `file` part, named by its destination path.
fn part_head(boundary: &str, path: &str) -> String {
    let name = path.replace(['"', '\r', '\n'], "_");
    format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
}

/// A multipart body with one `file` part per entry, and its content type.
fn multipart_body(entries: &[WriteEntry]) -> (String, Vec<u8>) {
    let boundary = boundary();
    let mut body = Vec::new();
    for e in entries {
        body.extend_from_slice(part_head(&boundary, &e.path).as_bytes());
        body.extend_from_slice(&e.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (multipart_content_type(&boundary), body)
}

async fn parse_written(response: reqwest::Response) -> Result<Vec<WriteInfo>> {
    let body = response.bytes().await?;
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

/// The deadline of an upload: the one given (`Duration::ZERO` for none), else `default`.
fn upload_deadline(given: Option<Duration>, default: Option<Duration>) -> Option<Duration> {
    match given {
        Some(t) if t.is_zero() => None,
        Some(t) => Some(t),
        None => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `data` gzip-compressed by [`gzip`], in one piece.
    async fn compress(data: &[u8]) -> Vec<u8> {
        let source = futures_util::stream::iter([Ok(Bytes::copy_from_slice(data))]);
        let mut out = Vec::new();
        let mut encoded = std::pin::pin!(gzip(source));
        while let Some(chunk) = encoded.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        out
    }

    async fn decode(chunks: Vec<Result<Bytes>>) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut decoded = std::pin::pin!(gunzip(futures_util::stream::iter(chunks)));
        while let Some(chunk) = decoded.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn gzip_round_trips_across_chunk_boundaries() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let encoded = compress(&data).await;
        assert!(encoded.len() < data.len() / 10);
        assert_eq!(&encoded[..2], [0x1f, 0x8b], "a gzip member");
        let chunks = encoded
            .chunks(7)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        assert_eq!(decode(chunks).await.unwrap(), data);
        // Two members back to back are one body.
        let mut two = compress(b"one ").await;
        two.extend(compress(b"two").await);
        assert_eq!(
            decode(vec![Ok(Bytes::from(two))]).await.unwrap(),
            b"one two"
        );
        assert!(decode(Vec::new()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn gunzip_errors_stay_typed() {
        let corrupt = decode(vec![Ok(Bytes::from_static(b"not gzip at all"))])
            .await
            .unwrap_err();
        assert!(corrupt.is_protocol(), "{corrupt}");
        let encoded = compress(b"hello").await;
        let truncated = decode(vec![Ok(Bytes::copy_from_slice(&encoded[..8]))])
            .await
            .unwrap_err();
        assert!(truncated.is_protocol(), "{truncated}");
        // The body's own errors (an idle timeout) come through unchanged.
        let idle = decode(vec![
            Ok(Bytes::copy_from_slice(&encoded[..4])),
            Err(Error::timeout(TimeoutKind::StreamIdle, "late")),
        ])
        .await
        .unwrap_err();
        assert_eq!(idle.timeout_kind(), Some(TimeoutKind::StreamIdle), "{idle}");
    }

    #[test]
    fn metadata_validation_follows_envd() {
        let ok: HashMap<_, _> = [("owner".to_owned(), "build 42".to_owned())].into();
        assert!(validate_metadata(&ok).is_ok());
        let bad_value: HashMap<_, _> = [("k".to_owned(), "é".to_owned())].into();
        assert!(
            validate_metadata(&bad_value)
                .unwrap_err()
                .is_invalid_argument()
        );
        for bad in ["", "a b", "a/b", "a:b", "ключ", "a\tb"] {
            let key: HashMap<_, _> = [(bad.to_owned(), "v".to_owned())].into();
            assert!(
                validate_metadata(&key).unwrap_err().is_invalid_argument(),
                "{bad:?}"
            );
        }
        let token: HashMap<_, _> = [("Owner_1.x-y~z!#$%&'*+^`|".to_owned(), String::new())].into();
        assert!(validate_metadata(&token).is_ok());
        let long_key: HashMap<_, _> = [("k".repeat(247), "v".to_owned())].into();
        assert!(
            validate_metadata(&long_key)
                .unwrap_err()
                .is_invalid_argument()
        );
        let big: HashMap<_, _> = (0..5)
            .map(|i| (format!("k{i}"), "v".repeat(1000)))
            .collect();
        assert!(validate_metadata(&big).unwrap_err().is_invalid_argument());
    }
}
