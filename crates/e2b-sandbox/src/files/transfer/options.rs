//! The options of downloads and uploads.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;

use crate::files::DEFAULT_STREAM_IDLE_TIMEOUT;

/// Options of a download ([`Files::read_stream`], [`Files::read_bytes_with`],
/// [`Files::read_text_with`]).
///
/// [`Files::read_stream`]: crate::Files::read_stream
/// [`Files::read_bytes_with`]: crate::Files::read_bytes_with
/// [`Files::read_text_with`]: crate::Files::read_text_with
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
    ///
    /// [`Files::write_stream`]: crate::Files::write_stream
    /// [`Files::write_reader`]: crate::Files::write_reader
    /// [`TimeoutKind::StreamIdle`]: crate::TimeoutKind::StreamIdle
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

/// One file of [`Files::write_files`](crate::Files::write_files).
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

/// The deadline of an upload: the one given (`Duration::ZERO` for none), else `default`.
pub(super) fn upload_deadline(
    given: Option<Duration>,
    default: Option<Duration>,
) -> Option<Duration> {
    match given {
        Some(t) if t.is_zero() => None,
        Some(t) => Some(t),
        None => default,
    }
}
