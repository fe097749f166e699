//! The files of a volume, through the volume content API (`/volumecontent/{id}/…`).

use std::time::Duration;

use bytes::Bytes;
use e2b_api::volume_content::types as wire;
use e2b_core::{Error, NotFoundKind, Result, TimeoutKind};
use e2b_sandbox::ByteStream;
use e2b_sandbox::raw;
use futures_util::{Stream, StreamExt as _};
use tokio::io::AsyncRead;
use tokio_util::io::ReaderStream;
use tracing::Instrument as _;

use crate::types::{
    ListDirOptions, MakeDirOptions, Metadata, ReadOptions, VolumeEntry, WriteOptions,
};
use crate::volume::Volume;

/// How much of a reader one chunk of an upload takes.
const UPLOAD_CHUNK: usize = 256 * 1024;

fn path_not_found(e: Error) -> Error {
    // A 404 of the content API is about the path: the volume itself was checked by its token.
    e.with_not_found_kind(NotFoundKind::VolumePath)
}

fn deadline(timeout: Duration) -> Option<Duration> {
    (!timeout.is_zero()).then_some(timeout)
}

impl Volume {
    fn span(&self, operation: &'static str, path: &str) -> tracing::Span {
        tracing::info_span!("e2b.volume.content", operation, volume = %self.inner.volume_id, path)
    }

    /// Run one content operation under `timeout`, its errors mapped.
    async fn content_call<T, E: serde::Serialize>(
        &self,
        operation: &'static str,
        path: &str,
        timeout: Option<Duration>,
        call: impl Future<Output = std::result::Result<e2b_api::ResponseValue<T>, e2b_api::Error<E>>>,
    ) -> Result<T> {
        raw::http(&self.inner.client)
            .call(operation, timeout, call)
            .instrument(self.span(operation, path))
            .await
            .map(e2b_api::ResponseValue::into_inner)
            .map_err(path_not_found)
    }

    fn request_timeout(&self) -> Option<Duration> {
        self.inner.client.request_timeout()
    }

    /// The entries of the directory `path` (one level).
    ///
    /// # Errors
    ///
    /// [`is_volume_path_not_found`](Error::is_volume_path_not_found) when there is no such
    /// directory; invalid argument when `path` is a file.
    pub async fn list_dir(&self, path: &str) -> Result<Vec<VolumeEntry>> {
        self.list_dir_with(path, ListDirOptions::new()).await
    }

    /// [`list_dir`](Self::list_dir) with options (depth).
    ///
    /// # Errors
    ///
    /// As [`list_dir`](Self::list_dir); invalid argument for a depth outside 1 to 10.
    pub async fn list_dir_with(
        &self,
        path: &str,
        options: ListDirOptions,
    ) -> Result<Vec<VolumeEntry>> {
        let mut call = self
            .inner
            .content
            .get_volumecontent_volume_id_dir()
            .volume_id(self.id())
            .path(path);
        if let Some(depth) = options.depth {
            call = call.depth(depth);
        }
        let listing = self
            .content_call(
                "listing the directory",
                path,
                self.request_timeout(),
                call.send(),
            )
            .await?;
        Ok(listing.0.into_iter().map(VolumeEntry::from).collect())
    }

    /// Make the directory `path` (its parent must exist).
    ///
    /// # Errors
    ///
    /// [`is_volume_path_not_found`](Error::is_volume_path_not_found) when the parent is
    /// missing; [`is_conflict`](Error::is_conflict) when `path` exists.
    pub async fn make_dir(&self, path: &str) -> Result<VolumeEntry> {
        self.make_dir_with(path, MakeDirOptions::new()).await
    }

    /// [`make_dir`](Self::make_dir) with options (owner, group, mode, `force` to make the
    /// parents and accept an existing directory).
    ///
    /// # Errors
    ///
    /// As [`make_dir`](Self::make_dir).
    pub async fn make_dir_with(&self, path: &str, options: MakeDirOptions) -> Result<VolumeEntry> {
        let mut call = self
            .inner
            .content
            .post_volumecontent_volume_id_dir()
            .volume_id(self.id())
            .path(path);
        let Metadata { uid, gid, mode } = options.metadata;
        if let Some(uid) = uid {
            call = call.uid(uid);
        }
        if let Some(gid) = gid {
            call = call.gid(gid);
        }
        if let Some(mode) = mode {
            call = call.mode(mode);
        }
        if options.force {
            call = call.force(true);
        }
        let entry = self
            .content_call(
                "making the directory",
                path,
                self.request_timeout(),
                call.send(),
            )
            .await?;
        Ok(entry.into())
    }

    /// What `path` is (a symlink is reported, not followed).
    ///
    /// # Errors
    ///
    /// [`is_volume_path_not_found`](Error::is_volume_path_not_found) when there is nothing
    /// at `path`.
    pub async fn info(&self, path: &str) -> Result<VolumeEntry> {
        let call = self
            .inner
            .content
            .get_volumecontent_volume_id_path()
            .volume_id(self.id())
            .path(path)
            .send();
        let entry = self
            .content_call(
                "getting the path's information",
                path,
                self.request_timeout(),
                call,
            )
            .await?;
        Ok(entry.into())
    }

    /// Whether anything is at `path`.
    ///
    /// # Errors
    ///
    /// The errors of [`info`](Self::info) other than a missing path.
    pub async fn exists(&self, path: &str) -> Result<bool> {
        match self.info(path).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_volume_path_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Change the owner, group or mode of `path` (what `metadata` sets; symlinks are
    /// followed inside the volume).
    ///
    /// # Errors
    ///
    /// [`is_volume_path_not_found`](Error::is_volume_path_not_found) when there is nothing
    /// at `path`; invalid argument for ids sandboxes cannot have.
    pub async fn update_metadata(&self, path: &str, metadata: Metadata) -> Result<VolumeEntry> {
        let body = wire::PatchVolumecontentVolumeIdPathBody {
            uid: metadata.uid,
            gid: metadata.gid,
            mode: metadata.mode,
        };
        let call = self
            .inner
            .content
            .patch_volumecontent_volume_id_path()
            .volume_id(self.id())
            .path(path)
            .body(body)
            .send();
        let entry = self
            .content_call(
                "updating the path's metadata",
                path,
                self.request_timeout(),
                call,
            )
            .await?;
        Ok(entry.into())
    }

    /// Remove `path` (a directory with everything in it; a symlink itself).
    ///
    /// # Errors
    ///
    /// [`is_volume_path_not_found`](Error::is_volume_path_not_found) when there is nothing
    /// at `path`; invalid argument for `/`.
    pub async fn remove(&self, path: &str) -> Result<()> {
        let call = self
            .inner
            .content
            .delete_volumecontent_volume_id_path()
            .volume_id(self.id())
            .path(path)
            .send();
        self.content_call("removing the path", path, self.request_timeout(), call)
            .await
    }

    /// The file `path` as a stream of chunks (also an `AsyncRead`), in constant memory.
    /// The request timeout bounds the wait for the response; after that each chunk must
    /// arrive within [`ReadOptions::idle_timeout`] (default 60 s).
    ///
    /// # Errors
    ///
    /// [`is_volume_path_not_found`](Error::is_volume_path_not_found) when there is no such
    /// file; invalid argument for a directory. The stream ends with a
    /// [`TimeoutKind::StreamIdle`] error when the download stalls.
    pub async fn read_stream(&self, path: &str) -> Result<ByteStream> {
        self.read_stream_with(path, ReadOptions::new()).await
    }

    /// [`read_stream`](Self::read_stream) with options (idle timeout).
    ///
    /// # Errors
    ///
    /// As [`read_stream`](Self::read_stream).
    pub async fn read_stream_with(&self, path: &str, options: ReadOptions) -> Result<ByteStream> {
        let call = self
            .inner
            .content
            .get_volumecontent_volume_id_file()
            .volume_id(self.id())
            .path(path)
            .send();
        let body = self
            .content_call("reading the file", path, self.request_timeout(), call)
            .await?;
        let idle = options.idle_timeout;
        let chunks = futures_util::stream::unfold(Some(Box::pin(body)), move |state| async move {
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
                        format!("no data from the volume for {idle:?}"),
                    )),
                    None,
                )),
                Ok(None) => None,
                Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(body))),
                Ok(Some(Err(e))) => Some((Err(raw::error_from_reqwest(e)), None)),
            }
        });
        Ok(ByteStream::from_stream(chunks))
    }

    /// The file `path`, whole.
    ///
    /// # Errors
    ///
    /// As [`read_stream`](Self::read_stream).
    pub async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        self.read_bytes_with(path, ReadOptions::new()).await
    }

    /// [`read_bytes`](Self::read_bytes) with options (idle timeout).
    ///
    /// # Errors
    ///
    /// As [`read_stream`](Self::read_stream).
    pub async fn read_bytes_with(&self, path: &str, options: ReadOptions) -> Result<Vec<u8>> {
        let mut stream = self.read_stream_with(path, options).await?;
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    /// The file `path` as text.
    ///
    /// # Errors
    ///
    /// As [`read_stream`](Self::read_stream); a protocol error when it is not UTF-8.
    pub async fn read_text(&self, path: &str) -> Result<String> {
        self.read_text_with(path, ReadOptions::new()).await
    }

    /// [`read_text`](Self::read_text) with options (idle timeout).
    ///
    /// # Errors
    ///
    /// As [`read_text`](Self::read_text).
    pub async fn read_text_with(&self, path: &str, options: ReadOptions) -> Result<String> {
        let bytes = self.read_bytes_with(path, options).await?;
        String::from_utf8(bytes)
            .map_err(|_| Error::protocol(format!("the file `{path}` is not UTF-8 text")))
    }

    /// Write `data` to the file `path` (which must not exist, unless
    /// [`WriteOptions::force`]).
    ///
    /// # Errors
    ///
    /// [`is_conflict`](Error::is_conflict) when `path` exists and `force` is off;
    /// [`is_volume_path_not_found`](Error::is_volume_path_not_found) when its directory is
    /// missing and `force` is off.
    pub async fn write(&self, path: &str, data: impl Into<Bytes>) -> Result<VolumeEntry> {
        self.write_with(path, data, WriteOptions::new()).await
    }

    /// [`write`](Self::write) with options (owner, group, mode, force, timeout).
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write).
    pub async fn write_with(
        &self,
        path: &str,
        data: impl Into<Bytes>,
        options: WriteOptions,
    ) -> Result<VolumeEntry> {
        self.upload(path, reqwest::Body::from(data.into()), options)
            .await
    }

    /// Upload a stream of chunks to the file `path` in constant memory;
    /// [`WriteOptions::timeout`] bounds the whole upload.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write); a transport error when the stream fails.
    pub async fn write_stream<S>(&self, path: &str, stream: S) -> Result<VolumeEntry>
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
    /// As [`write_stream`](Self::write_stream).
    pub async fn write_stream_with<S>(
        &self,
        path: &str,
        stream: S,
        options: WriteOptions,
    ) -> Result<VolumeEntry>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        self.upload(path, reqwest::Body::wrap_stream(stream), options)
            .await
    }

    /// Upload everything `reader` yields (e.g. a local [`tokio::fs::File`]) to the file
    /// `path` in constant memory.
    ///
    /// ```no_run
    /// # async fn f(volume: &e2b_volume::Volume) -> e2b_volume::Result<()> {
    /// use e2b_volume::WriteOptions;
    /// let file = tokio::fs::File::open("weights.bin").await.unwrap();
    /// volume
    ///     .write_reader_with("/models/weights.bin", file, WriteOptions::new().force(true))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`write_stream`](Self::write_stream).
    pub async fn write_reader<R>(&self, path: &str, reader: R) -> Result<VolumeEntry>
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
    /// As [`write_stream`](Self::write_stream).
    pub async fn write_reader_with<R>(
        &self,
        path: &str,
        reader: R,
        options: WriteOptions,
    ) -> Result<VolumeEntry>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        let stream = ReaderStream::with_capacity(reader, UPLOAD_CHUNK);
        self.write_stream_with(path, stream, options).await
    }

    async fn upload(
        &self,
        path: &str,
        body: reqwest::Body,
        options: WriteOptions,
    ) -> Result<VolumeEntry> {
        let mut call = self
            .inner
            .content
            .put_volumecontent_volume_id_file()
            .volume_id(self.id())
            .path(path)
            .body(body);
        let Metadata { uid, gid, mode } = options.metadata;
        if let Some(uid) = uid {
            call = call.uid(uid);
        }
        if let Some(gid) = gid {
            call = call.gid(gid);
        }
        if let Some(mode) = mode {
            call = call.mode(mode);
        }
        if options.force {
            call = call.force(true);
        }
        let entry = self
            .content_call(
                "writing the file",
                path,
                deadline(options.timeout),
                call.send(),
            )
            .await?;
        Ok(entry.into())
    }
}
