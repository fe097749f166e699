//! Envd's `/files` HTTP endpoint: downloads and uploads, streamed in constant memory.

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use e2b_core::{EnvdFeature, Error, NotFoundKind, Result, TimeoutKind};
use futures_util::{Stream, StreamExt as _};
use tokio::io::{AsyncRead, AsyncReadExt as _, ReadBuf};
use tracing::Instrument as _;

use super::{DEFAULT_STREAM_IDLE_TIMEOUT, Files, WriteInfo};

/// Longest metadata key envd stores (`user.e2b.` + key must fit an xattr name).
const MAX_METADATA_KEY: usize = 246;
/// Largest total size of metadata keys and values.
const MAX_METADATA_TOTAL: usize = 4096;
/// Chunk size when streaming a local reader.
const UPLOAD_CHUNK: usize = 256 * 1024;

/// Options of a streamed download ([`Files::read_stream`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ReadOptions {
    /// The longest silence allowed between two chunks (default 60 s).
    pub idle_timeout: Duration,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            idle_timeout: DEFAULT_STREAM_IDLE_TIMEOUT,
        }
    }
}

impl ReadOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the longest silence allowed between two chunks.
    #[must_use]
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }
}

/// Options of an upload.
///
/// ```
/// use e2b_sandbox::WriteOptions;
/// let options = WriteOptions::new().metadata("owner", "build-42");
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct WriteOptions {
    /// `X-Metadata-*` values stored with the file (envd 0.6.2 or newer); they replace any
    /// metadata the file had.
    pub metadata: HashMap<String, String>,
    /// The deadline of the whole upload; `None` (the default for streams) means none.
    pub timeout: Option<Duration>,
}

impl WriteOptions {
    /// The defaults: no metadata, no deadline beyond the sandbox's request timeout for
    /// in-memory data.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one metadata entry.
    #[must_use]
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Bound the whole upload.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
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

/// Check metadata as envd would: printable ASCII, keys up to 246 bytes, 4096 bytes in all.
pub(crate) fn validate_metadata(metadata: &HashMap<String, String>) -> Result<()> {
    let printable = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b));
    let mut total = 0;
    for (key, value) in metadata {
        if key.is_empty() || !printable(key) || key.contains(' ') {
            return Err(Error::invalid_argument(format!(
                "metadata key {key:?} must be non-empty printable ASCII without spaces"
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
        let mut out = Vec::new();
        let mut stream = self.read_stream(path, ReadOptions::new()).await?;
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
        String::from_utf8(self.read_bytes(path).await?)
            .map_err(|_| Error::protocol(format!("{path} is not UTF-8 text")))
    }

    /// Stream a file in constant memory. The sandbox's request timeout bounds the wait
    /// for the response headers; [`ReadOptions::idle_timeout`] each chunk after that.
    ///
    /// ```no_run
    /// # async fn f(sandbox: &e2b_sandbox::Sandbox) -> e2b_sandbox::Result<()> {
    /// use e2b_sandbox::ReadOptions;
    /// let mut reader = sandbox.files().read_stream("/var/log/big.log", ReadOptions::new()).await?;
    /// let mut out = tokio::fs::File::create("big.log").await.unwrap();
    /// tokio::io::copy(&mut reader, &mut out).await.unwrap();
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`read_bytes`](Files::read_bytes).
    pub async fn read_stream(&self, path: &str, options: ReadOptions) -> Result<ByteStream> {
        let envd = self.sandbox.envd();
        let request = envd
            .http()
            .get(self.files_url())
            .query(&self.query(path))
            .headers(envd.headers().clone());
        let response = self
            .send(request, self.sandbox.request_timeout())
            .instrument(self.span("read", path))
            .await?;
        let idle = options.idle_timeout;
        let body = response.bytes_stream();
        let inner = futures_util::stream::unfold(Some(Box::pin(body)), move |state| async move {
            let mut body = state?;
            match tokio::time::timeout(idle, body.next()).await {
                Err(_) => Some((
                    Err(Error::timeout(
                        TimeoutKind::StreamIdle,
                        format!("no data from the download for {idle:?}"),
                    )),
                    None,
                )),
                Ok(None) => None,
                Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(body))),
                Ok(Some(Err(e))) => Some((Err(Error::from(e)), None)),
            }
        });
        Ok(ByteStream {
            inner: Box::pin(inner),
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

    /// [`write`](Files::write) with options (metadata, deadline).
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
        let data: Bytes = data.into();
        let timeout = options.timeout.or(self.sandbox.request_timeout());
        if self.octet_stream_supported() {
            self.upload(path, reqwest::Body::from(data), &options, timeout)
                .await
        } else {
            self.check_metadata(&options)?;
            let mut written = self
                .write_multipart(&[WriteEntry::new(path, data)], timeout)
                .await?;
            Ok(written.remove(0))
        }
    }

    /// Write several files; one request per file on envd 0.5.7 or newer, one multipart
    /// request otherwise.
    ///
    /// # Errors
    ///
    /// As [`write`](Files::write).
    pub async fn write_files(&self, entries: &[WriteEntry]) -> Result<Vec<WriteInfo>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let timeout = self.sandbox.request_timeout();
        if self.octet_stream_supported() {
            let mut out = Vec::with_capacity(entries.len());
            for e in entries {
                out.push(
                    self.upload(
                        &e.path,
                        reqwest::Body::from(e.data.clone()),
                        &WriteOptions::new(),
                        timeout,
                    )
                    .await?,
                );
            }
            Ok(out)
        } else {
            self.write_multipart(entries, timeout).await
        }
    }

    /// Upload a stream of chunks in constant memory (envd 0.5.7 or newer). Only
    /// [`WriteOptions::timeout`] bounds it.
    ///
    /// # Errors
    ///
    /// A template error on older envd; an error of the stream; as [`write`](Files::write).
    pub async fn write_stream<S>(
        &self,
        path: &str,
        stream: S,
        options: WriteOptions,
    ) -> Result<WriteInfo>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        if !self.octet_stream_supported() {
            return Err(Error::template(
                "streamed uploads need envd 0.5.7 or newer; rebuild the template",
            ));
        }
        let timeout = options.timeout;
        self.upload(path, reqwest::Body::wrap_stream(stream), &options, timeout)
            .await
    }

    /// Upload everything `reader` yields (e.g. a local [`tokio::fs::File`]) in constant
    /// memory.
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
        let stream = futures_util::stream::try_unfold(reader, |mut reader| async move {
            let mut buf = vec![0u8; UPLOAD_CHUNK];
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n);
            Ok(Some((Bytes::from(buf), reader)))
        });
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

    async fn upload(
        &self,
        path: &str,
        body: reqwest::Body,
        options: &WriteOptions,
        timeout: Option<Duration>,
    ) -> Result<WriteInfo> {
        self.check_metadata(options)?;
        let envd = self.sandbox.envd();
        let mut request = envd
            .http()
            .post(self.files_url())
            .query(&self.query(path))
            .headers(envd.headers().clone())
            .header(http::header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        for (key, value) in &options.metadata {
            request = request.header(format!("X-Metadata-{key}"), value);
        }
        async {
            let response = self.send(request, timeout).await?;
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
        let boundary = format!("e2b-{}", uuid::Uuid::new_v4().simple());
        let mut body = Vec::new();
        for e in entries {
            let name = e.path.replace(['"', '\r', '\n'], "_");
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(&e.data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let envd = self.sandbox.envd();
        let mut query = Vec::new();
        if let [only] = entries {
            query.push(("path", only.path.as_str()));
        }
        if let Some(user) = envd.effective_user(self.user()) {
            query.push(("username", user));
        }
        let request = envd
            .http()
            .post(self.files_url())
            .query(&query)
            .headers(envd.headers().clone())
            .header(
                http::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        let response = self
            .send(request, timeout)
            .instrument(self.span("write_files", &entries[0].path))
            .await?;
        parse_written(response).await
    }

    /// Send with `timeout` on the wait for the response headers; map error statuses.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        timeout: Option<Duration>,
    ) -> Result<reqwest::Response> {
        let send = request.send();
        let response = match timeout {
            Some(limit) => tokio::time::timeout(limit, send).await.map_err(|_| {
                Error::timeout(
                    TimeoutKind::Request,
                    format!("envd did not answer within {limit:?}"),
                )
            })??,
            None => send.await?,
        };
        Error::check_response(response)
            .await
            .map_err(|e| e.with_not_found_kind(NotFoundKind::File))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
