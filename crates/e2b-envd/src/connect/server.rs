//! The server half: decode a Connect request, call a handler, encode its
//! answer. The generated `*Server` dispatchers call these functions; any HTTP
//! server that speaks `http` types (axum, hyper) can host them.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, BodyStream, Full, StreamBody};

use super::code::Code;
use super::codec::{Codec, Message};
use super::envelope::{self, Decoder, EndOfStream, FLAG_END_STREAM};
use super::error::ConnectError;
use super::options::parse_timeout_header;

/// Boxed error of request bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of every response the runtime produces.
pub type ResponseBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// What a server-streaming handler returns: messages, or an error that ends the
/// stream.
pub type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, ConnectError>> + Send>>;

/// Largest request message accepted.
const MAX_REQUEST_MESSAGE: usize = envelope::DEFAULT_MAX_MESSAGE_SIZE;

/// Everything about a request except its message.
#[derive(Clone)]
#[non_exhaustive]
pub struct RequestContext {
    /// The request headers.
    pub headers: HeaderMap,
    /// The caller's deadline (`Connect-Timeout-Ms`), if it set one.
    pub timeout: Option<Duration>,
    /// The codec of the request (and of the response).
    pub codec: Codec,
}

impl fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestContext")
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .field("codec", &self.codec)
            .finish()
    }
}

/// Messages of a client stream.
pub struct RequestStream<T> {
    inner: Pin<Box<dyn Stream<Item = Result<T, ConnectError>> + Send>>,
}

impl<T> fmt::Debug for RequestStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestStream").finish_non_exhaustive()
    }
}

impl<T> Stream for RequestStream<T> {
    type Item = Result<T, ConnectError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn response(
    status: StatusCode,
    content_type: &'static str,
    body: ResponseBody,
) -> Response<ResponseBody> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A unary error response: the code's HTTP status and a JSON error body.
pub fn error_response(err: &ConnectError) -> Response<ResponseBody> {
    let status =
        StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&err.to_json()).unwrap_or_default();
    let mut r = response(status, "application/json", full(body));
    for (k, v) in &err.metadata {
        r.headers_mut().append(k, v.clone());
    }
    r
}

/// The answer to a path no service method matches.
pub fn unimplemented(path: &str) -> Response<ResponseBody> {
    error_response(&ConnectError::new(
        Code::Unimplemented,
        format!("{path} is not implemented"),
    ))
}

/// Check method, content type and timeout; returns the context or the response
/// refusing the request.
fn context<B>(
    request: &Request<B>,
    streaming: bool,
) -> Result<RequestContext, Response<ResponseBody>> {
    if request.method() != Method::POST {
        let mut r = error_response(&ConnectError::new(
            Code::Unimplemented,
            "Connect requests must use POST",
        ));
        *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        r.headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("POST"));
        return Err(r);
    }
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let codec = match Codec::from_content_type(content_type) {
        Some((codec, s)) if s == streaming => codec,
        _ => {
            let expected = if streaming {
                "application/connect+json or application/connect+proto"
            } else {
                "application/json or application/proto"
            };
            let mut r = error_response(&ConnectError::new(
                Code::Unknown,
                format!("unsupported content type `{content_type}`, expected {expected}"),
            ));
            *r.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
            r.headers_mut().insert(
                http::HeaderName::from_static("accept-post"),
                HeaderValue::from_static(if streaming {
                    "application/connect+json, application/connect+proto"
                } else {
                    "application/json, application/proto"
                }),
            );
            return Err(r);
        }
    };
    let timeout = match request.headers().get("connect-timeout-ms") {
        None => None,
        Some(v) => match parse_timeout_header(v) {
            Some(t) => Some(t),
            None => {
                return Err(error_response(&ConnectError::new(
                    Code::InvalidArgument,
                    "invalid Connect-Timeout-Ms header: expected at most 10 digits",
                )));
            }
        },
    };
    Ok(RequestContext {
        headers: request.headers().clone(),
        timeout,
        codec,
    })
}

async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, ConnectError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let limited = http_body_util::Limited::new(body, limit);
    limited.collect().await.map(|c| c.to_bytes()).map_err(|e| {
        let e: BoxError = e;
        if e.is::<http_body_util::LengthLimitError>() {
            ConnectError::new(
                Code::ResourceExhausted,
                format!("request message larger than {limit} bytes"),
            )
        } else {
            ConnectError::new(Code::Canceled, format!("reading request body: {e}"))
        }
    })
}

fn decode<M: Message>(codec: Codec, bytes: &[u8]) -> Result<M, ConnectError> {
    codec
        .decode(bytes)
        .map_err(|e| ConnectError::new(Code::InvalidArgument, format!("malformed request: {e}")))
}

async fn with_deadline<T>(
    timeout: Option<Duration>,
    fut: impl Future<Output = Result<T, ConnectError>>,
) -> Result<T, ConnectError> {
    match timeout {
        None => fut.await,
        Some(t) => tokio::time::timeout(t, fut).await.unwrap_or_else(|_| {
            Err(ConnectError::new(
                Code::DeadlineExceeded,
                format!("the call exceeded its deadline of {t:?}"),
            ))
        }),
    }
}

/// Serve a unary method.
pub async fn unary<B, Req, Resp, F, Fut>(request: Request<B>, handler: F) -> Response<ResponseBody>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    Req: Message,
    Resp: Message,
    F: FnOnce(RequestContext, Req) -> Fut,
    Fut: Future<Output = Result<Resp, ConnectError>>,
{
    let ctx = match context(&request, false) {
        Ok(ctx) => ctx,
        Err(r) => return r,
    };
    let codec = ctx.codec;
    let timeout = ctx.timeout;
    let result = with_deadline(timeout, async move {
        let bytes = read_body(request.into_body(), MAX_REQUEST_MESSAGE).await?;
        let message = decode::<Req>(codec, &bytes)?;
        handler(ctx, message).await
    })
    .await;
    match result.and_then(|m| {
        codec
            .encode(&m)
            .map_err(|e| ConnectError::new(Code::Internal, e.to_string()))
    }) {
        Ok(bytes) => response(StatusCode::OK, codec.unary_content_type(), full(bytes)),
        Err(e) => error_response(&e),
    }
}

fn end_frame(error: Option<ConnectError>) -> Bytes {
    let eos = EndOfStream {
        error,
        metadata: HeaderMap::new(),
    };
    envelope::encode(FLAG_END_STREAM, &eos.to_json()).unwrap_or_default()
}

/// A streaming response carrying only an end-of-stream error.
fn stream_error(codec: Codec, error: ConnectError) -> Response<ResponseBody> {
    response(
        StatusCode::OK,
        codec.stream_content_type(),
        full(end_frame(Some(error))),
    )
}

/// Frame a handler's message stream, ending with an end-of-stream frame (with
/// the first error, or the deadline, if any).
fn stream_body<T: Message>(
    codec: Codec,
    messages: ResponseStream<T>,
    timeout: Option<Duration>,
) -> ResponseBody {
    let deadline = timeout.map(|t| (Box::pin(tokio::time::sleep(t)), t));
    let state = (Some(messages), deadline);
    let frames = futures_util::stream::unfold(state, move |(messages, mut deadline)| async move {
        let mut messages = messages?;
        let next = match deadline.as_mut() {
            None => messages.next().await,
            Some((sleep, t)) => tokio::select! {
                m = messages.next() => m,
                () = sleep.as_mut() => Some(Err(ConnectError::new(
                    Code::DeadlineExceeded,
                    format!("the call exceeded its deadline of {t:?}"),
                ))),
            },
        };
        let frame = match next {
            Some(Ok(m)) => match codec.encode(&m).and_then(|p| envelope::encode(0, &p)) {
                Ok(frame) => return Some((frame, (Some(messages), deadline))),
                Err(e) => end_frame(Some(ConnectError::new(Code::Internal, e.to_string()))),
            },
            Some(Err(e)) => end_frame(Some(e)),
            None => end_frame(None),
        };
        Some((frame, (None, deadline)))
    });
    StreamBody::new(frames.map(|b| Ok::<_, BoxError>(http_body::Frame::data(b)))).boxed_unsync()
}

/// Serve a server-streaming method.
pub async fn server_stream<B, Req, Resp, F, Fut>(
    request: Request<B>,
    handler: F,
) -> Response<ResponseBody>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    Req: Message,
    Resp: Message,
    F: FnOnce(RequestContext, Req) -> Fut,
    Fut: Future<Output = Result<ResponseStream<Resp>, ConnectError>>,
{
    let ctx = match context(&request, true) {
        Ok(ctx) => ctx,
        Err(r) => return r,
    };
    let codec = ctx.codec;
    let timeout = ctx.timeout;
    let message = async {
        let bytes = read_body(request.into_body(), MAX_REQUEST_MESSAGE + 5).await?;
        let mut decoder = Decoder::new(MAX_REQUEST_MESSAGE);
        decoder.push(&bytes);
        let frame = decoder
            .next_frame()
            .map_err(|e| ConnectError::new(Code::InvalidArgument, e.to_string()))?
            .ok_or_else(|| {
                ConnectError::new(Code::InvalidArgument, "request carried no message")
            })?;
        if frame.is_end_stream()
            || decoder.pending() > 0
            || decoder.next_frame().ok().flatten().is_some()
        {
            return Err(ConnectError::new(
                Code::InvalidArgument,
                "a server-streaming request carries exactly one message",
            ));
        }
        decode::<Req>(codec, &frame.payload)
    };
    let started = tokio::time::Instant::now();
    let result = with_deadline(timeout, async move {
        let m = message.await?;
        handler(ctx, m).await
    })
    .await;
    match result {
        Ok(messages) => {
            let remaining = timeout.map(|t| t.saturating_sub(started.elapsed()));
            response(
                StatusCode::OK,
                codec.stream_content_type(),
                stream_body(codec, messages, remaining),
            )
        }
        Err(e) => stream_error(codec, e),
    }
}

/// Serve a client-streaming method.
pub async fn client_stream<B, Req, Resp, F, Fut>(
    request: Request<B>,
    handler: F,
) -> Response<ResponseBody>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    Req: Message,
    Resp: Message,
    F: FnOnce(RequestContext, RequestStream<Req>) -> Fut,
    Fut: Future<Output = Result<Resp, ConnectError>>,
{
    let ctx = match context(&request, true) {
        Ok(ctx) => ctx,
        Err(r) => return r,
    };
    let codec = ctx.codec;
    let timeout = ctx.timeout;
    let chunks = BodyStream::new(request.into_body());
    let state = (Box::pin(chunks), Decoder::new(MAX_REQUEST_MESSAGE), false);
    let messages =
        futures_util::stream::unfold(state, move |(mut chunks, mut decoder, done)| async move {
            if done {
                return None;
            }
            loop {
                match decoder.next_frame() {
                    Err(e) => {
                        let e = ConnectError::new(Code::InvalidArgument, e.to_string());
                        return Some((Err(e), (chunks, decoder, true)));
                    }
                    // An explicit end of the client's stream.
                    Ok(Some(frame)) if frame.is_end_stream() => return None,
                    Ok(Some(frame)) => {
                        let m = decode::<Req>(codec, &frame.payload);
                        let done = m.is_err();
                        return Some((m, (chunks, decoder, done)));
                    }
                    Ok(None) => {}
                }
                match chunks.next().await {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            decoder.push(&data);
                        }
                    }
                    Some(Err(e)) => {
                        let e: BoxError = e.into();
                        let e = ConnectError::new(
                            Code::Canceled,
                            format!("reading request stream: {e}"),
                        );
                        return Some((Err(e), (chunks, decoder, true)));
                    }
                    None if decoder.pending() == 0 => return None,
                    None => {
                        let e = ConnectError::new(
                            Code::InvalidArgument,
                            "request stream ended inside a message",
                        );
                        return Some((Err(e), (chunks, decoder, true)));
                    }
                }
            }
        });
    let stream = RequestStream {
        inner: Box::pin(messages),
    };
    let result = with_deadline(timeout, handler(ctx, stream)).await;
    match result.and_then(|m| {
        codec
            .encode(&m)
            .and_then(|p| envelope::encode(0, &p))
            .map_err(|e| ConnectError::new(Code::Internal, e.to_string()))
    }) {
        Ok(frame) => {
            let body = [frame, end_frame(None)].concat();
            response(StatusCode::OK, codec.stream_content_type(), full(body))
        }
        Err(e) => stream_error(codec, e),
    }
}
