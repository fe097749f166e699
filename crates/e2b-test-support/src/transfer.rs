//! Large transfers that are never held in memory as a whole: a request body generated
//! from a repeating pattern, and a response checked against it as it arrives.

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};

/// The pattern: every byte value in order, repeated to 64 KiB (`bytes(range(256)) * 256`
/// in Python).
pub fn pattern() -> Bytes {
    (0..=255u8)
        .cycle()
        .take(64 * 1024)
        .collect::<Vec<u8>>()
        .into()
}

/// A streamed request body of `size` bytes of [`pattern`] (`size` a multiple of 64 KiB).
pub fn pattern_body(size: usize) -> reqwest::Body {
    let chunk = pattern();
    assert!(
        size.is_multiple_of(chunk.len()),
        "{size} is not a multiple of the pattern's length"
    );
    let chunks = size / chunk.len();
    reqwest::Body::wrap_stream(futures_util::stream::iter(
        (0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    ))
}

/// Read `stream` to its end, checking every byte against [`pattern`] repeated, however the
/// pieces are cut; the number of bytes read.
pub async fn read_pattern<S, E>(stream: S) -> usize
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let pattern = pattern();
    let doubled = [pattern.as_ref(), pattern.as_ref()].concat();
    let mut stream = std::pin::pin!(stream);
    let mut received = 0usize;
    while let Some(piece) = stream.next().await {
        let piece = piece.unwrap_or_else(|e| panic!("the body failed after {received} bytes: {e}"));
        let mut piece = &piece[..];
        while !piece.is_empty() {
            let offset = received % pattern.len();
            let n = piece.len().min(pattern.len());
            assert!(
                piece[..n] == doubled[offset..offset + n],
                "bytes at {received} differ"
            );
            received += n;
            piece = &piece[n..];
        }
    }
    received
}
