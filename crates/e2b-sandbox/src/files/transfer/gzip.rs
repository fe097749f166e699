//! Gzip on the way: uploads compressed as they stream, downloads decoded as they arrive.

use async_compression::tokio::bufread::{GzipDecoder, GzipEncoder};
use bytes::Bytes;
use e2b_core::{Error, ErrorKind, Result};
use futures_util::{Stream, StreamExt as _};
use tokio_util::io::{ReaderStream, StreamReader};

use super::UPLOAD_CHUNK;

/// Chunk size of a gzip-decoded download.
const DOWNLOAD_CHUNK: usize = 64 * 1024;

/// `source`, gzip-compressed as it streams.
pub(super) fn gzip<S>(source: S) -> impl Stream<Item = std::io::Result<Bytes>> + Send
where
    S: Stream<Item = std::io::Result<Bytes>> + Send,
{
    ReaderStream::with_capacity(GzipEncoder::new(StreamReader::new(source)), UPLOAD_CHUNK)
}

/// A gzip-encoded download, decoded as it streams. The body's own errors (an idle
/// timeout, a broken connection) come through unchanged. An empty body is an empty file,
/// as HTTP clients that decode gzip treat it.
pub(super) fn gunzip<S>(body: S) -> impl Stream<Item = Result<Bytes>> + Send
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

#[cfg(test)]
mod tests {
    use e2b_core::TimeoutKind;

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
}
