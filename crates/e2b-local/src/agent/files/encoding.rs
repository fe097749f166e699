//! Content codings of `/files`: gzip or identity, negotiated as RFC 9110
//! (and envd) describe; and the bound on how far a gzip request body may
//! inflate.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use async_compression::tokio::bufread::GzipDecoder;
use http::HeaderMap;
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING};
use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};

/// A content coding the agent speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Identity,
    Gzip,
}

/// A coding the agent does not speak, or no acceptable one.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CodingError {
    #[error("unsupported Content-Encoding: {0}, supported: [gzip]")]
    UnsupportedContentEncoding(String),
    #[error("no acceptable encoding found, supported: [gzip]")]
    NothingAcceptable,
}

/// One `coding;q=x` entry, lowercased; quality 1 when absent or unparsable
/// (`NaN` included: it is neither acceptable nor refused).
fn parse_entry(entry: &str) -> (String, f64) {
    let mut parts = entry.split(';');
    let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let mut quality = 1.0;
    for param in parts {
        let param = param.trim();
        if let Some(q) = param
            .strip_prefix("q=")
            .or_else(|| param.strip_prefix("Q="))
            .and_then(|q| q.trim().parse::<f64>().ok())
            .filter(|q| !q.is_nan())
        {
            quality = q;
        }
    }
    (coding, quality)
}

fn header<'a>(headers: &'a HeaderMap, name: &http::HeaderName) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The coding of a request body (`Content-Encoding`).
pub(crate) fn request_coding(headers: &HeaderMap) -> Result<Coding, CodingError> {
    let value = header(headers, &CONTENT_ENCODING);
    if value.trim().is_empty() {
        return Ok(Coding::Identity);
    }
    match parse_entry(value).0.as_str() {
        "identity" => Ok(Coding::Identity),
        "gzip" => Ok(Coding::Gzip),
        _ => Err(CodingError::UnsupportedContentEncoding(value.to_owned())),
    }
}

/// Whether `identity` is acceptable: it is unless `identity;q=0`, or `*;q=0`
/// without an explicit positive `identity`.
pub(crate) fn identity_acceptable(headers: &HeaderMap) -> bool {
    let entries: Vec<(String, f64)> = header(headers, &ACCEPT_ENCODING)
        .split(',')
        .filter(|e| !e.trim().is_empty())
        .map(parse_entry)
        .collect();
    let identity = entries
        .iter()
        .find(|(c, _)| c == "identity")
        .map(|(_, q)| *q);
    let wildcard = entries.iter().find(|(c, _)| c == "*").map(|(_, q)| *q);
    match (identity, wildcard) {
        (Some(q), _) => q > 0.0,
        (None, Some(q)) => q > 0.0,
        (None, None) => true,
    }
}

/// The coding of a response, from `Accept-Encoding`: the acceptable
/// supported coding of highest quality, identity unless refused.
pub(crate) fn response_coding(headers: &HeaderMap) -> Result<Coding, CodingError> {
    let mut entries: Vec<(String, f64)> = header(headers, &ACCEPT_ENCODING)
        .split(',')
        .filter(|e| !e.trim().is_empty())
        .map(parse_entry)
        .collect();
    if entries.is_empty() {
        return Ok(Coding::Identity);
    }
    let identity_ok = identity_acceptable(headers);
    // Stable: equal qualities keep the client's order.
    entries.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (coding, quality) in entries {
        if quality <= 0.0 {
            continue;
        }
        match coding.as_str() {
            "identity" => return Ok(Coding::Identity),
            "gzip" => return Ok(Coding::Gzip),
            "*" if identity_ok => return Ok(Coding::Identity),
            "*" => return Ok(Coding::Gzip),
            _ => {}
        }
    }
    if identity_ok {
        Ok(Coding::Identity)
    } else {
        Err(CodingError::NothingAcceptable)
    }
}

/// How far a gzip request body may inflate: its decompressed bytes may
/// exceed neither `floor` nor `ratio` times the compressed bytes read so far,
/// whichever allows more. A body that would is refused as it crosses the
/// bound, so a small "gzip bomb" cannot fill the disk, while ordinary
/// compressed files (text rarely compresses beyond 20:1) pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InflateLimit {
    pub(crate) floor: u64,
    pub(crate) ratio: u64,
}

impl InflateLimit {
    /// The bound of uploads: 64 MiB, or 100 times the compressed size.
    pub(crate) const UPLOAD: InflateLimit = InflateLimit {
        floor: 64 * 1024 * 1024,
        ratio: 100,
    };

    fn allows(&self, decompressed: u64, compressed: u64) -> bool {
        decompressed <= self.floor.max(compressed.saturating_mul(self.ratio))
    }
}

/// Why a body stopped decompressing.
#[derive(Debug, thiserror::Error)]
#[error(
    "decompressed request body too large: gzip bodies may inflate to at most {} MiB or {}× their compressed size",
    .0.floor / (1024 * 1024),
    .0.ratio
)]
pub(crate) struct InflateLimitExceeded(pub(crate) InflateLimit);

/// A buffered reader that counts the bytes consumed from it.
#[derive(Debug)]
struct Counting<R> {
    inner: R,
    consumed: u64,
}

impl<R: AsyncRead + Unpin> AsyncRead for Counting<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        this.consumed += (buf.filled().len() - before) as u64;
        Poll::Ready(Ok(()))
    }
}

impl<R: AsyncBufRead + Unpin> AsyncBufRead for Counting<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        Pin::new(&mut self.get_mut().inner).poll_fill_buf(cx)
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.consumed += amt as u64;
        Pin::new(&mut this.inner).consume(amt);
    }
}

/// A gzip body (any number of members), decompressed as it is read, within
/// an [`InflateLimit`]. Crossing the limit fails the read with
/// [`InflateLimitExceeded`] and raises the shared flag, which the handler
/// checks whatever error the failed read turned into on its way up.
#[derive(Debug)]
pub(crate) struct BoundedGunzip<R> {
    decoder: GzipDecoder<Counting<R>>,
    decompressed: u64,
    limit: InflateLimit,
    exceeded: Arc<AtomicBool>,
}

impl<R: AsyncBufRead + Unpin> BoundedGunzip<R> {
    pub(crate) fn new(compressed: R, limit: InflateLimit, exceeded: Arc<AtomicBool>) -> Self {
        let mut decoder = GzipDecoder::new(Counting {
            inner: compressed,
            consumed: 0,
        });
        decoder.multiple_members(true);
        BoundedGunzip {
            decoder,
            decompressed: 0,
            limit,
            exceeded,
        }
    }

    fn exceeded(&self) -> io::Error {
        self.exceeded.store(true, Ordering::SeqCst);
        io::Error::other(InflateLimitExceeded(self.limit))
    }
}

impl<R: AsyncBufRead + Unpin> AsyncRead for BoundedGunzip<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.exceeded.load(Ordering::SeqCst) {
            return Poll::Ready(Err(this.exceeded()));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.decoder).poll_read(cx, buf))?;
        this.decompressed += (buf.filled().len() - before) as u64;
        let compressed = this.decoder.get_ref().consumed;
        if !this.limit.allows(this.decompressed, compressed) {
            // What was just decompressed is not handed out.
            buf.set_filled(before);
            return Poll::Ready(Err(this.exceeded()));
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_ENCODING, value.parse().unwrap());
        h
    }

    #[test]
    fn negotiation() {
        assert_eq!(response_coding(&HeaderMap::new()), Ok(Coding::Identity));
        assert_eq!(response_coding(&accept("gzip")), Ok(Coding::Gzip));
        assert_eq!(response_coding(&accept("gzip, deflate")), Ok(Coding::Gzip));
        assert_eq!(response_coding(&accept("br")), Ok(Coding::Identity));
        assert_eq!(
            response_coding(&accept("identity;q=1, gzip;q=0.5")),
            Ok(Coding::Identity)
        );
        assert_eq!(response_coding(&accept("gzip;q=0")), Ok(Coding::Identity));
        assert_eq!(
            response_coding(&accept("*;q=0")),
            Err(CodingError::NothingAcceptable)
        );
        assert_eq!(
            response_coding(&accept("identity;q=0, *")),
            Ok(Coding::Gzip)
        );
        assert!(!identity_acceptable(&accept("identity;q=0")));
        assert!(identity_acceptable(&accept("*;q=0, identity")));
    }

    /// Found by the `files_headers` fuzz target: `q=NaN` was neither acceptable
    /// nor refused, so identity was answered while `identity_acceptable` said no.
    #[test]
    fn nan_quality_counts_as_absent() {
        for value in ["identity;q=NaN, gzip;q=0.5", "identity;q=inf, gzip;q=0.5"] {
            assert_eq!(
                response_coding(&accept(value)),
                Ok(Coding::Identity),
                "{value}"
            );
            assert!(identity_acceptable(&accept(value)), "{value}");
        }
        assert_eq!(
            response_coding(&accept("identity;q=0, gzip;q=nan")),
            Ok(Coding::Gzip)
        );
    }

    #[test]
    fn request_bodies() {
        let mut h = HeaderMap::new();
        assert_eq!(request_coding(&h), Ok(Coding::Identity));
        h.insert(CONTENT_ENCODING, "GZIP".parse().unwrap());
        assert_eq!(request_coding(&h), Ok(Coding::Gzip));
        h.insert(CONTENT_ENCODING, "br".parse().unwrap());
        assert!(request_coding(&h).is_err());
    }

    async fn gzip(data: &[u8]) -> Vec<u8> {
        use tokio::io::AsyncReadExt;
        let mut out = Vec::new();
        async_compression::tokio::bufread::GzipEncoder::new(data)
            .read_to_end(&mut out)
            .await
            .unwrap();
        out
    }

    async fn inflate(body: &[u8], limit: InflateLimit) -> (io::Result<usize>, bool) {
        use tokio::io::AsyncReadExt;
        let flag = Arc::new(AtomicBool::new(false));
        let mut reader = BoundedGunzip::new(body, limit, flag.clone());
        let mut out = Vec::new();
        let result = reader.read_to_end(&mut out).await;
        (result, flag.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn inflation_is_bounded() {
        let zeros = gzip(&vec![0u8; 1 << 20]).await;
        // Two members of a megabyte of zeros each: 2 MiB from a few KiB.
        let bomb = [zeros.clone(), zeros.clone()].concat();
        let small = InflateLimit {
            floor: 1 << 20,
            ratio: 100,
        };
        let (result, flagged) = inflate(&bomb, small).await;
        let err = result.unwrap_err();
        assert!(err.get_ref().unwrap().is::<InflateLimitExceeded>(), "{err}");
        assert!(flagged);
        assert!(err.to_string().contains("at most 1 MiB or 100×"), "{err}");
        // Within the floor, or within the ratio, it passes.
        let roomy = InflateLimit {
            floor: 2 << 20,
            ratio: 100,
        };
        let (result, flagged) = inflate(&bomb, roomy).await;
        assert_eq!((result.unwrap(), flagged), (2 << 20, false));
        let text: Vec<u8> = (0..300_000u32)
            .flat_map(|i| format!("{} ", i.wrapping_mul(2_654_435_761)).into_bytes())
            .collect();
        let tight_floor = InflateLimit {
            floor: 1024,
            ratio: 100,
        };
        let (result, flagged) = inflate(&gzip(&text).await, tight_floor).await;
        assert_eq!((result.unwrap(), flagged), (text.len(), false));
    }
}
