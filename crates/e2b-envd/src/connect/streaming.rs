//! The receiving side of a server stream.

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use http::HeaderMap;
use tokio::time::{Instant, Sleep};

use super::codec::{Codec, StreamMessage};
use super::envelope::{Decoder, EndOfStream};
use super::error::{Error, TimeoutKind};

type BodyStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// Messages of a server stream, as a [`Stream`] of results.
///
/// * Keepalive messages are consumed (they reset the idle timer) and never
///   yielded.
/// * The end-of-stream frame ends the stream; if it carries an error, that
///   error is the last item.
/// * A connection that closes without an end-of-stream frame yields a
///   transport error: the server (or the sandbox) went away.
/// * With an idle timeout, silence longer than it yields
///   [`Error::Timeout`] with [`TimeoutKind::Idle`]; with a deadline, the call
///   ends with [`TimeoutKind::Call`] once it passes.
///
/// Dropping the stream closes the connection.
pub struct Streaming<T> {
    body: BodyStream,
    decoder: Decoder,
    codec: Codec,
    headers: HeaderMap,
    trailers: Option<HeaderMap>,
    idle_timeout: Option<Duration>,
    idle: Option<Pin<Box<Sleep>>>,
    deadline: Option<(Pin<Box<Sleep>>, Duration)>,
    done: bool,
    _message: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Streaming<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Streaming")
            .field("codec", &self.codec)
            .field("idle_timeout", &self.idle_timeout)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<T: StreamMessage> Streaming<T> {
    pub(crate) fn new(
        response: reqwest::Response,
        codec: Codec,
        max_message_size: usize,
        idle_timeout: Option<Duration>,
        deadline: Option<(Instant, Duration)>,
    ) -> Self {
        let headers = response.headers().clone();
        Streaming {
            body: Box::pin(response.bytes_stream()),
            decoder: Decoder::new(max_message_size),
            codec,
            headers,
            trailers: None,
            idle_timeout,
            idle: idle_timeout.map(|d| Box::pin(tokio::time::sleep(d))),
            deadline: deadline.map(|(at, d)| (Box::pin(tokio::time::sleep_until(at)), d)),
            done: false,
            _message: PhantomData,
        }
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The trailing metadata, once the stream has ended normally.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_ref()
    }

    /// The next message, `None` at the end of the stream.
    pub async fn message(&mut self) -> Result<Option<T>, Error> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx))
            .await
            .transpose()
    }

    fn reset_idle(&mut self) {
        if let (Some(idle), Some(d)) = (self.idle.as_mut(), self.idle_timeout) {
            // `tokio::time::sleep` treats an unrepresentable deadline as about
            // 30 years away; do the same here.
            let now = Instant::now();
            let at = now
                .checked_add(d)
                .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400));
            idle.as_mut().reset(at);
        }
    }

    fn finish(&mut self, item: Option<Result<T, Error>>) -> Poll<Option<Result<T, Error>>> {
        self.done = true;
        Poll::Ready(item)
    }
}

impl<T: StreamMessage> Stream for Streaming<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            // Whole frames already buffered come first.
            match this.decoder.next_frame() {
                Err(e) => return this.finish(Some(Err(e))),
                Ok(Some(frame)) if frame.is_end_stream() => {
                    return match EndOfStream::parse(&frame.payload) {
                        Err(e) => this.finish(Some(Err(e))),
                        Ok(eos) => match eos.error {
                            Some(err) => this.finish(Some(Err(err.into()))),
                            None => {
                                this.trailers = Some(eos.metadata);
                                this.finish(None)
                            }
                        },
                    };
                }
                Ok(Some(frame)) => match this.codec.decode::<T>(&frame.payload) {
                    Err(e) => return this.finish(Some(Err(e))),
                    Ok(message) if message.is_keepalive() => continue,
                    Ok(message) => return Poll::Ready(Some(Ok(message))),
                },
                Ok(None) => {}
            }
            if let Some((deadline, after)) = this.deadline.as_mut()
                && deadline.as_mut().poll(cx).is_ready()
            {
                let after = *after;
                return this.finish(Some(Err(Error::Timeout {
                    kind: TimeoutKind::Call,
                    after,
                })));
            }
            match this.body.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.reset_idle();
                    this.decoder.push(&chunk);
                }
                Poll::Ready(Some(Err(e))) => return this.finish(Some(Err(Error::transport(e)))),
                Poll::Ready(None) => {
                    // The peer went away mid-stream: a transport failure, which
                    // callers check against the sandbox's health.
                    return this.finish(Some(Err(Error::transport(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "stream closed without end-of-stream message",
                    )))));
                }
                Poll::Pending => {
                    if let (Some(idle), Some(d)) = (this.idle.as_mut(), this.idle_timeout)
                        && idle.as_mut().poll(cx).is_ready()
                    {
                        return this.finish(Some(Err(Error::Timeout {
                            kind: TimeoutKind::Idle,
                            after: d,
                        })));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}
