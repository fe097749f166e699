//! Refusing a request whose body is still arriving.
//!
//! A server that answers before it has read the request body, then closes
//! the connection with the rest of the body unread, makes the kernel reset
//! it: the client, still writing, sees `EPIPE` or a reset instead of the
//! answer. Go's `net/http` (E2B's edge and envd) reads up to 256 KiB of what
//! is left before it closes; so does the edge, for every refusal it makes
//! before the body was used.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;

/// How much of a refused request's body is read before the connection may
/// close (Go's `maxPostHandlerReadBytes`).
const DRAIN_LIMIT: usize = 256 * 1024;
/// How long a refused request's body may take to arrive.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Read and discard what is left of `body` in the background, up to the
/// limit, while the refusal is written.
pub(crate) fn discard(body: Incoming) {
    if body.is_end_stream() {
        return;
    }
    tokio::spawn(async move {
        let mut body = body;
        let mut read = 0usize;
        let reading = async {
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { return };
                if let Some(data) = frame.data_ref() {
                    read += data.len();
                    if read > DRAIN_LIMIT {
                        return;
                    }
                }
            }
        };
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, reading).await;
    });
}

/// [`discard`] the body of `req`, then answer with `response`.
pub(crate) fn refuse<B>(req: Request<Incoming>, response: B) -> B {
    discard(req.into_body());
    response
}

/// A request body lent to a handler that may not read it (the control
/// plane's routes). Once the handler has answered and let go of it,
/// [`Lent::reclaim`] hands back what is left, to [`discard`].
#[derive(Clone)]
pub(crate) struct Lent(Arc<Mutex<Option<Incoming>>>);

impl Lent {
    pub(crate) fn new(body: Incoming) -> Self {
        Lent(Arc::new(Mutex::new(Some(body))))
    }

    /// What is left of the body, if the handler no longer holds it.
    pub(crate) fn reclaim(self) -> Option<Incoming> {
        let inner = Arc::into_inner(self.0)?;
        inner.into_inner().ok().flatten()
    }
}

impl HttpBody for Lent {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let mut guard = match self.0.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        match guard.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0
            .lock()
            .map(|g| g.as_ref().is_none_or(HttpBody::is_end_stream))
            .unwrap_or(true)
    }

    fn size_hint(&self) -> SizeHint {
        self.0
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(HttpBody::size_hint))
            .unwrap_or_default()
    }
}
