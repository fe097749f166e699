//! A small HTTP/1.1 reverse proxy in front of e2b-local, for routing modes e2b-local does not
//! serve itself (OpenKruise path prefixes, debug mode's fixed envd address), for control
//! planes without the v2 paths, for servers that never answer, and to count the bytes a
//! client really sends and receives. Request bodies are buffered: keep them small.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::TryStreamExt as _;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

type Body = BoxBody<Bytes, std::io::Error>;

/// What the proxy does with one request.
pub enum Verdict {
    /// Forward it (possibly rewritten) to the upstream.
    Forward,
    /// Answer with this status and JSON body.
    Respond(StatusCode, &'static str),
    /// Never answer.
    Hang,
}

/// Rewrites a request's method, path and headers, or decides to answer itself.
pub type Rule = Arc<dyn Fn(&mut http::request::Parts) -> Verdict + Send + Sync>;

/// Body bytes that went through the proxy, as they were on the wire (still encoded).
#[derive(Debug, Default)]
pub struct Traffic {
    request_bytes: AtomicU64,
    response_bytes: AtomicU64,
}

impl Traffic {
    /// Request body bytes forwarded so far.
    pub fn request_bytes(&self) -> u64 {
        self.request_bytes.load(Ordering::SeqCst)
    }

    /// Response body bytes forwarded so far.
    pub fn response_bytes(&self) -> u64 {
        self.response_bytes.load(Ordering::SeqCst)
    }

    /// Start counting again.
    pub fn reset(&self) {
        self.request_bytes.store(0, Ordering::SeqCst);
        self.response_bytes.store(0, Ordering::SeqCst);
    }
}

pub struct Proxy {
    addr: SocketAddr,
    task: JoinHandle<()>,
    traffic: Arc<Traffic>,
}

impl Proxy {
    /// Listen on `addr` and forward to `upstream` (`http://host:port`) after `rule`.
    pub async fn start(addr: SocketAddr, upstream: String, rule: Rule) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let http = reqwest::Client::builder().build().expect("http client");
        let traffic = Arc::new(Traffic::default());
        let counted = Arc::clone(&traffic);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (http, upstream, rule) = (http.clone(), upstream.clone(), Arc::clone(&rule));
                let traffic = Arc::clone(&counted);
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        handle(
                            req,
                            http.clone(),
                            upstream.clone(),
                            Arc::clone(&rule),
                            Arc::clone(&traffic),
                        )
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Proxy {
            addr,
            task,
            traffic,
        })
    }

    /// The bytes forwarded so far.
    pub fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn full(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(body.as_bytes()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        "application/json".parse().unwrap(),
    );
    response
}

async fn handle(
    req: Request<Incoming>,
    http: reqwest::Client,
    upstream: String,
    rule: Rule,
    traffic: Arc<Traffic>,
) -> Result<Response<Body>, Infallible> {
    let (mut parts, body) = req.into_parts();
    match rule(&mut parts) {
        Verdict::Forward => {}
        Verdict::Respond(status, body) => return Ok(full(status, body)),
        Verdict::Hang => std::future::pending::<()>().await,
    }
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(full(StatusCode::BAD_REQUEST, "{}")),
    };
    traffic
        .request_bytes
        .fetch_add(body.len() as u64, Ordering::SeqCst);
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        if name != http::header::HOST && name != http::header::CONTENT_LENGTH {
            headers.append(name, value.clone());
        }
    }
    let sent = http
        .request(parts.method, format!("{upstream}{path}"))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let upstream_response = match sent {
        Ok(r) => r,
        Err(_) => return Ok(full(StatusCode::BAD_GATEWAY, r#"{"code":502}"#)),
    };
    let mut response = Response::builder().status(upstream_response.status());
    for (name, value) in upstream_response.headers() {
        if name != http::header::CONTENT_LENGTH && name != http::header::TRANSFER_ENCODING {
            response = response.header(name, value);
        }
    }
    let stream = upstream_response
        .bytes_stream()
        .map_ok(move |chunk| {
            traffic
                .response_bytes
                .fetch_add(chunk.len() as u64, Ordering::SeqCst);
            Frame::data(chunk)
        })
        .map_err(std::io::Error::other);
    Ok(response
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .unwrap())
}
