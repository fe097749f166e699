//! Downloads: `GET /files`, whole or streamed in constant memory.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use e2b_core::{Error, Result, TimeoutKind};
use futures_util::{Stream, StreamExt as _};
use http::Method;
use tracing::Instrument as _;

use super::gzip::gunzip;
use super::idle::IdleDeadline;
use super::{ByteStream, FILES_PATH, ReadOptions};
use crate::envd::Envd;
use crate::files::Files;

impl Files<'_> {
    /// Read a whole file into memory.
    ///
    /// # Errors
    ///
    /// Not found ([`NotFoundKind::File`](e2b_core::NotFoundKind::File)) if it does not
    /// exist, invalid argument for a directory, a request timeout, or envd's error.
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
        let mut stream = self.read_stream_with(path, options).await?;
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
    /// let mut reader = sandbox.files().read_stream_with("/var/log/big.log", options).await?;
    /// let mut out = tokio::fs::File::create("big.log").await.unwrap();
    /// tokio::io::copy_buf(&mut reader, &mut out).await.unwrap();
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`read_bytes`](Files::read_bytes); the stream's items: a
    /// [`TimeoutKind::StreamIdle`] error when a chunk is late, a protocol error when a
    /// gzip answer is corrupt, a transport error when the connection breaks.
    pub async fn read_stream(&self, path: &str) -> Result<ByteStream> {
        self.read_stream_with(path, ReadOptions::new()).await
    }

    /// [`read_stream`](Self::read_stream) with options.
    ///
    /// # Errors
    ///
    /// The errors of [`read_stream`](Self::read_stream).
    pub async fn read_stream_with(&self, path: &str, options: ReadOptions) -> Result<ByteStream> {
        let envd = self.sandbox.envd();
        let mut request = envd
            .request(Method::GET, FILES_PATH)
            .query(&self.files_query(Some(path)));
        if options.gzip {
            request = request.header(http::header::ACCEPT_ENCODING, "gzip");
        }
        let response = self
            .send_files(
                request,
                "envd.files.read",
                self.sandbox.request_timeout(),
                None,
            )
            .instrument(self.span("read", path))
            .await?;
        let gzipped = response
            .headers()
            .get(http::header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let raw = Download {
            body: Some(Box::pin(response.bytes_stream())),
            idle: IdleDeadline::new(options.idle_timeout),
            envd: envd.clone(),
            broke: None,
        };
        let inner: Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>> = if gzipped {
            Box::pin(gunzip(raw))
        } else {
            Box::pin(raw)
        };
        Ok(ByteStream::new(inner))
    }
}

/// A download's body under its idle timeout. A broken connection is the sandbox going
/// away when `/health` says so. The timer is not touched per chunk ([`IdleDeadline`]):
/// a download is many small chunks.
struct Download {
    body: Option<Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>>,
    idle: IdleDeadline,
    envd: Envd,
    /// Asking `/health` after the connection broke.
    broke: Option<Pin<Box<dyn Future<Output = Error> + Send>>>,
}

impl Stream for Download {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(broke) = &mut this.broke {
            let error = std::task::ready!(broke.as_mut().poll(cx));
            this.broke = None;
            return Poll::Ready(Some(Err(error)));
        }
        let Some(body) = &mut this.body else {
            return Poll::Ready(None);
        };
        match body.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.idle.progressed();
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) => {
                this.body = None;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                this.body = None;
                let error = e2b_core::raw::error_from_reqwest(e);
                let envd = this.envd.clone();
                this.broke = Some(Box::pin(async move { envd.stream_broke(error).await }));
                self.poll_next(cx)
            }
            Poll::Pending => {
                if this.idle.poll_expired(cx).is_pending() {
                    return Poll::Pending;
                }
                this.body = None;
                Poll::Ready(Some(Err(Error::timeout(
                    TimeoutKind::StreamIdle,
                    format!("no data from the download for {:?}", this.idle.limit()),
                ))))
            }
        }
    }
}
