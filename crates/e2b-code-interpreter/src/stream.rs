//! [`ExecutionStream`]: the `/execute` NDJSON stream, decoded into [`OutputEvent`]s.

use std::fmt;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use e2b_core::{Error, Result, TimeoutKind};
use futures_util::{Stream, StreamExt as _};
use tokio::time::Instant;

use crate::models::{Execution, Line, OutputEvent, parse_line};
use crate::sandbox::Prober;

type Body = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// The output of a running execution, as a `Stream` of [`OutputEvent`]s in the order the
/// kernel produced them; returned by
/// [`run_code_stream`](crate::CodeInterpreter::run_code_stream).
///
/// The stream ends after the server's end-of-execution marker. A failure (deadline, broken
/// connection, sandbox gone) is its last item. The code's own error is an
/// [`OutputEvent::Error`], not an `Err`.
///
/// Dropping the stream closes the connection, which makes the server interrupt the kernel.
pub struct ExecutionStream {
    inner: Pin<Box<dyn Stream<Item = Result<OutputEvent>> + Send>>,
}

impl ExecutionStream {
    pub(crate) fn new(body: Body, limits: Limits, prober: Prober) -> ExecutionStream {
        let state = State {
            body,
            buf: Vec::new(),
            scanned: 0,
            limits,
            prober,
            done: false,
        };
        ExecutionStream {
            inner: Box::pin(futures_util::stream::unfold(
                state,
                |mut state| async move {
                    let item = state.next().await?;
                    if item.is_err() {
                        state.done = true;
                    }
                    Some((item, state))
                },
            )),
        }
    }

    /// Drive the stream to its end, folding every event into an [`Execution`].
    ///
    /// # Errors
    ///
    /// The stream's failure, if it has one.
    pub async fn into_execution(mut self) -> Result<Execution> {
        let mut execution = Execution::default();
        while let Some(event) = self.next().await {
            execution.apply(event?);
        }
        Ok(execution)
    }
}

impl Stream for ExecutionStream {
    type Item = Result<OutputEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl fmt::Debug for ExecutionStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutionStream").finish_non_exhaustive()
    }
}

/// The deadlines of one stream.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// When the whole execution must be over, and the timeout it came from.
    pub(crate) deadline: Option<(Instant, Duration)>,
    /// The longest silence allowed.
    pub(crate) idle: Option<Duration>,
}

struct State {
    body: Body,
    /// Bytes received and not yet decoded (at most one partial line after `scanned`).
    buf: Vec<u8>,
    /// How much of `buf` is known to hold no newline.
    scanned: usize,
    limits: Limits,
    prober: Prober,
    done: bool,
}

enum Wait {
    Chunk(Option<reqwest::Result<Bytes>>),
    Deadline(Duration),
    Idle(Duration),
}

impl State {
    async fn next(&mut self) -> Option<Result<OutputEvent>> {
        while !self.done {
            if let Some(pos) = self.buf[self.scanned..].iter().position(|b| *b == b'\n') {
                let end = self.scanned + pos;
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                self.scanned = 0;
                match parse_line(&line[..line.len() - 1]) {
                    Ok(Line::Event(event)) => return Some(Ok(event)),
                    Ok(Line::End) => self.done = true,
                    Ok(Line::Skip) => {}
                    Err(e) => return Some(Err(e)),
                }
                continue;
            }
            self.scanned = self.buf.len();
            match self.wait().await {
                Wait::Chunk(Some(Ok(chunk))) => self.buf.extend_from_slice(&chunk),
                Wait::Chunk(Some(Err(error))) => {
                    let error = crate::sandbox::body_error(error);
                    return Some(Err(self.prober.explain(error).await));
                }
                Wait::Chunk(None) => {
                    // The body ended without the end-of-execution marker.
                    let rest = std::mem::take(&mut self.buf);
                    self.scanned = 0;
                    match parse_line(&rest) {
                        Ok(Line::Event(event)) => return Some(Ok(event)),
                        Ok(Line::End) => {
                            self.done = true;
                            continue;
                        }
                        Ok(Line::Skip) => {}
                        Err(e) => return Some(Err(e)),
                    }
                    let error = Error::new(e2b_core::ErrorKind::Transport {
                        message: "the code interpreter closed the stream before the execution \
                                  finished"
                            .to_owned(),
                    });
                    return Some(Err(self.prober.explain(error).await));
                }
                Wait::Deadline(limit) => {
                    return Some(Err(Error::timeout(
                        TimeoutKind::Execution,
                        format!(
                            "the execution did not finish within its timeout of {limit:?} and \
                             was interrupted; raise RunCodeOptions::timeout, or use \
                             Duration::ZERO for none"
                        ),
                    )));
                }
                Wait::Idle(limit) => {
                    return Some(Err(Error::timeout(
                        TimeoutKind::StreamIdle,
                        format!(
                            "the code interpreter sent nothing for {limit:?} (it sends a \
                             keepalive every 5 s); the connection may be broken"
                        ),
                    )));
                }
            }
        }
        None
    }

    async fn wait(&mut self) -> Wait {
        let now = Instant::now();
        let idle = self.limits.idle.map(|d| (now + d, Wait::Idle(d)));
        let deadline = self
            .limits
            .deadline
            .map(|(at, limit)| (at, Wait::Deadline(limit)));
        let timer = match (idle, deadline) {
            (Some(i), Some(d)) => Some(if d.0 <= i.0 { d } else { i }),
            (i, d) => i.or(d),
        };
        match timer {
            None => Wait::Chunk(self.body.next().await),
            Some((at, expired)) => match tokio::time::timeout_at(at, self.body.next()).await {
                Ok(chunk) => Wait::Chunk(chunk),
                Err(_) => expired,
            },
        }
    }
}
