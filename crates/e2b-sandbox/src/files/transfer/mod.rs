//! Envd's `/files` HTTP endpoint: downloads and uploads, streamed in constant memory.
//!
//! - [`options`]: what a transfer can be asked for ([`ReadOptions`], [`WriteOptions`],
//!   [`WriteEntry`]);
//! - [`download`] and [`upload`]: the [`Files`](crate::Files) methods;
//! - [`endpoint`]: the query and the sending, through the SDK's HTTP seam;
//! - [`byte_stream`]: what a streamed download returns;
//! - [`gzip`], [`multipart`], [`metadata`], [`stalled_source`]: the encodings and checks
//!   on the way.

mod byte_stream;
mod download;
mod endpoint;
mod gzip;
mod idle;
mod local_file;
mod metadata;
mod multipart;
mod options;
mod read_ahead;
mod stalled_source;
mod upload;

use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;

pub use byte_stream::ByteStream;
pub use options::{ReadOptions, WriteEntry, WriteOptions};

/// The path of envd's file transfer endpoint.
const FILES_PATH: &str = "/files";
/// Chunk size when streaming a local reader or gzip-encoding an upload.
const UPLOAD_CHUNK: usize = 256 * 1024;

/// A stream of upload chunks.
type ChunkStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;
