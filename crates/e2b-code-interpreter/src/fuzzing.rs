//! Entry points for the fuzz targets of the workspace's `fuzz/` crate: the
//! decoder of the `/execute` NDJSON stream, reachable without a sandbox.
//!
//! Not part of the public API: hidden from the docs, no semver guarantees.

use bytes::Bytes;
use futures_util::StreamExt as _;

use crate::models::{self, Execution, OutputEvent};
use crate::stream::{ExecutionStream, Limits};
use crate::{Result, sandbox::Prober};

/// One line of the stream, decoded.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// Output to report.
    Event(OutputEvent),
    /// The end-of-execution marker.
    End,
    /// A keepalive, a blank line or an unknown type.
    Skip,
}

/// Decode one line (without its newline).
pub fn parse_line(bytes: &[u8]) -> Result<Line> {
    models::parse_line(bytes).map(|line| match line {
        models::Line::Event(event) => Line::Event(event),
        models::Line::End => Line::End,
        models::Line::Skip => Line::Skip,
    })
}

fn stream(chunks: Vec<Bytes>) -> ExecutionStream {
    let body = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, reqwest::Error>));
    let limits = Limits {
        deadline: None,
        idle: None,
    };
    ExecutionStream::new(Box::pin(body), limits, Prober::detached())
}

/// Every item of the stream a response body arriving as `chunks` becomes
/// (with no deadline and no sandbox to probe when it breaks off).
pub async fn decode_stream(chunks: Vec<Bytes>) -> Vec<Result<OutputEvent>> {
    stream(chunks).collect().await
}

/// The [`Execution`] a response body arriving as `chunks` folds into.
pub async fn decode_execution(chunks: Vec<Bytes>) -> Result<Execution> {
    stream(chunks).into_execution().await
}
