//! The client half: unary, server-streaming and client-streaming calls over
//! reqwest (HTTP/1.1, or HTTP/2 when TLS negotiates it).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use super::codec::{Codec, Message, StreamMessage};
use super::envelope;
use super::error::{ConnectError, Error, TimeoutKind};
use super::options::{CallOptions, timeout_header_value};
use super::streaming::Streaming;

const PROTOCOL_VERSION: HeaderName = HeaderName::from_static("connect-protocol-version");
const TIMEOUT_MS: HeaderName = HeaderName::from_static("connect-timeout-ms");
/// Largest error body read from a failed response.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The future of one sent request.
pub type ExecFuture =
    Pin<Box<dyn Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static>>;

/// Sends one built request of a call, named by its procedure path
/// (`/process.Process/Start`).
///
/// The SDK (`e2b-core`) implements this with its HTTP seam (tracing, connection
/// retries); by default a [`Client`] sends with its own `reqwest::Client`.
pub trait Execute: Send + Sync + 'static {
    /// Send `request` and return the response, whatever its status.
    fn execute(&self, request: reqwest::Request, procedure: &str) -> ExecFuture;
}

/// A Connect client: an HTTP client, a base URL, headers sent on every call and
/// a codec. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    transport: Option<Arc<dyn Execute>>,
    base_url: String,
    headers: HeaderMap,
    codec: Codec,
    max_message_size: usize,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("codec", &self.codec)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for the server at `base_url` (e.g. `http://localhost:49983`).
    pub fn new(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        let mut base_url = base_url.into();
        while base_url.ends_with('/') {
            base_url.pop();
        }
        Client {
            http,
            transport: None,
            base_url,
            headers: HeaderMap::new(),
            codec: Codec::default(),
            max_message_size: envelope::DEFAULT_MAX_MESSAGE_SIZE,
        }
    }

    /// Use `codec` for messages (JSON by default).
    #[must_use]
    pub fn with_codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// Send every request through `transport` instead of the `reqwest::Client` (which
    /// still builds the requests).
    #[must_use]
    pub fn with_transport(mut self, transport: Arc<dyn Execute>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Send `headers` on every call (routing headers, access tokens).
    #[must_use]
    pub fn with_headers(mut self, headers: HeaderMap) -> Self {
        self.headers = headers;
        self
    }

    /// Refuse received messages larger than `bytes`.
    #[must_use]
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The codec.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    fn request(
        &self,
        path: &str,
        content_type: &'static str,
        options: &CallOptions,
    ) -> reqwest::RequestBuilder {
        let mut headers = self.headers.clone();
        for (name, value) in &options.headers {
            headers.append(name, value.clone());
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(PROTOCOL_VERSION, HeaderValue::from_static("1"));
        if let Some(timeout) = options.timeout {
            headers.insert(TIMEOUT_MS, timeout_header_value(timeout));
        }
        self.http
            .post(format!("{}{}", self.base_url, path))
            .headers(headers)
    }

    /// Build `request` and send it through the transport.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<reqwest::Response, Error> {
        let request = request.build().map_err(Error::transport)?;
        let sent = match &self.transport {
            Some(transport) => transport.execute(request, path).await,
            None => self.http.execute(request).await,
        };
        sent.map_err(Error::transport)
    }

    /// A unary call.
    pub async fn unary<Req: Message, Resp: Message>(
        &self,
        path: &str,
        request: Req,
        options: CallOptions,
    ) -> Result<Resp, Error> {
        let body = self.codec.encode(&request)?;
        let span = tracing::debug_span!("connect.unary", rpc = path);
        let call = async {
            let response = self
                .send(
                    self.request(path, self.codec.unary_content_type(), &options)
                        .body(body),
                    path,
                )
                .await?;
            let status = response.status();
            if status != reqwest::StatusCode::OK {
                return Err(read_error(response).await.into());
            }
            check_content_type(response.headers(), self.codec, false)?;
            let bytes = read_limited(response, self.max_message_size).await?;
            self.codec.decode(&bytes)
        };
        with_deadline(options.timeout, tracing::Instrument::instrument(call, span)).await
    }

    /// A server-streaming call. The returned stream yields messages until the
    /// server ends the stream; a server error arrives as the last item.
    pub async fn server_stream<Req: Message, Resp: StreamMessage>(
        &self,
        path: &str,
        request: Req,
        options: CallOptions,
    ) -> Result<Streaming<Resp>, Error> {
        let payload = self.codec.encode(&request)?;
        let body = envelope::encode(0, &payload)?;
        let started = tokio::time::Instant::now();
        let response = with_deadline(
            options.timeout,
            self.send(
                self.request(path, self.codec.stream_content_type(), &options)
                    .body(body),
                path,
            ),
        )
        .await?;
        self.open_stream(response, &options, started).await
    }

    /// A client-streaming call: every item of `requests` is sent as one message,
    /// then the single response is read.
    pub async fn client_stream<Req, Resp, S>(
        &self,
        path: &str,
        requests: S,
        options: CallOptions,
    ) -> Result<Resp, Error>
    where
        Req: Message,
        Resp: Message,
        S: Stream<Item = Req> + Send + 'static,
    {
        let codec = self.codec;
        // Each request is one envelope; the end of the request body ends the
        // client's stream (Connect clients send no end-of-stream frame).
        let frames = requests.map(move |m| {
            codec
                .encode(&m)
                .and_then(|p| envelope::encode(0, &p))
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        });
        let call = async {
            let response = self
                .send(
                    self.request(path, codec.stream_content_type(), &options)
                        .body(reqwest::Body::wrap_stream(frames)),
                    path,
                )
                .await?;
            let mut stream: Streaming<Unary<Resp>> = self
                .open_stream(
                    response,
                    &CallOptions {
                        timeout: None,
                        ..options.clone()
                    },
                    tokio::time::Instant::now(),
                )
                .await?;
            let first = stream.next().await.transpose()?;
            let message = first.ok_or_else(|| {
                Error::Protocol("client-streaming response ended without a message".into())
            })?;
            if let Some(extra) = stream.next().await {
                extra?;
                return Err(Error::Protocol(
                    "client-streaming response carried more than one message".into(),
                ));
            }
            Ok(message.0)
        };
        with_deadline(options.timeout, call).await
    }

    async fn open_stream<Resp: StreamMessage>(
        &self,
        response: reqwest::Response,
        options: &CallOptions,
        started: tokio::time::Instant,
    ) -> Result<Streaming<Resp>, Error> {
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(read_error(response).await.into());
        }
        check_content_type(response.headers(), self.codec, true)?;
        // A deadline too far away to represent (`Duration::MAX`) is no deadline.
        let deadline = options
            .timeout
            .and_then(|t| Some((started.checked_add(t.saturating_add(DEADLINE_GRACE))?, t)));
        Ok(Streaming::new(
            response,
            self.codec,
            self.max_message_size,
            options.idle_timeout,
            deadline,
        ))
    }
}

/// How long past its deadline a stream waits for the server's own
/// `deadline_exceeded` before timing out locally.
const DEADLINE_GRACE: Duration = Duration::from_millis(250);

/// Adapter reading the single response of a client stream through [`Streaming`].
struct Unary<M>(M);

impl<M: Message> prost::Message for Unary<M> {
    fn encode_raw(&self, buf: &mut impl bytes::BufMut) {
        self.0.encode_raw(buf)
    }
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        self.0.merge_field(tag, wire_type, buf, ctx)
    }
    fn encoded_len(&self) -> usize {
        self.0.encoded_len()
    }
    fn clear(&mut self) {
        self.0.clear()
    }
}

impl<M: Message> Default for Unary<M> {
    fn default() -> Self {
        Unary(M::default())
    }
}

impl<M: Message> fmt::Debug for Unary<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Unary")
    }
}

impl<M: Message> serde::Serialize for Unary<M> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, M: Message> serde::Deserialize<'de> for Unary<M> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        M::deserialize(d).map(Unary)
    }
}

impl<M: Message> StreamMessage for Unary<M> {
    fn is_keepalive(&self) -> bool {
        false
    }
}

async fn with_deadline<T, E: Into<Error>>(
    timeout: Option<Duration>,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, Error> {
    match timeout {
        None => fut.await.map_err(Into::into),
        Some(t) => match tokio::time::timeout(t.saturating_add(DEADLINE_GRACE), fut).await {
            Ok(r) => r.map_err(Into::into),
            Err(_) => Err(Error::Timeout {
                kind: TimeoutKind::Call,
                after: t,
            }),
        },
    }
}

impl From<reqwest::Error> for Error {
    fn from(e: reqwest::Error) -> Self {
        Error::transport(e)
    }
}

fn check_content_type(headers: &HeaderMap, codec: Codec, streaming: bool) -> Result<(), Error> {
    let ct = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match Codec::from_content_type(ct) {
        Some((c, s)) if c == codec && s == streaming => Ok(()),
        _ => Err(Error::Protocol(format!(
            "unexpected response content type `{ct}` (expected `{}`)",
            if streaming {
                codec.stream_content_type()
            } else {
                codec.unary_content_type()
            }
        ))),
    }
}

async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<Bytes, Error> {
    let mut buf = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Error::transport)? {
        if buf.len() + chunk.len() > limit {
            return Err(Error::Protocol(format!(
                "response of more than {limit} bytes exceeds the message size limit"
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

async fn read_error(mut response: reqwest::Response) -> ConnectError {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_ERROR_BODY.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    let mut err = ConnectError::from_http_response(status, &body);
    err.metadata = headers;
    err
}
