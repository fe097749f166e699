//! `GET /.e2b/forward?port=N` with `Connection: Upgrade` and
//! `Upgrade: e2b-tcp`: the server's way into TCP ports inside the sandbox.
//!
//! The agent connects to `127.0.0.1:N` first; if that fails the answer is a
//! `502` JSON error and the connection stays plain HTTP. Otherwise it answers
//! `101 Switching Protocols` and copies bytes both ways until either side
//! closes. A tunnel has no idle timeout of its own: it lives exactly as long
//! as the two connections it joins.

use axum::extract::{Query, Request};
use axum::response::{IntoResponse, Response};
use http::header::{CONNECTION, UPGRADE};
use http::{HeaderMap, HeaderValue, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpStream;

use super::http_error::HttpError;

/// The upgrade protocol name.
pub(crate) const PROTOCOL: &str = "e2b-tcp";

#[derive(Debug, Deserialize)]
pub(crate) struct ForwardQuery {
    port: Option<String>,
}

fn header_has_token(headers: &HeaderMap, name: http::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// The handler.
pub(crate) async fn forward(Query(query): Query<ForwardQuery>, mut request: Request) -> Response {
    let headers = request.headers();
    if !header_has_token(headers, CONNECTION, "upgrade")
        || !header_has_token(headers, UPGRADE, PROTOCOL)
    {
        return HttpError::bad_request(format!(
            "a forward needs the headers `Connection: Upgrade` and `Upgrade: {PROTOCOL}`"
        ))
        .into_response();
    }
    let port = match query.port.as_deref().map(str::parse::<u16>) {
        Some(Ok(port)) if port != 0 => port,
        _ => {
            return HttpError::bad_request(
                "the query parameter `port` must be a TCP port (1-65535)",
            )
            .into_response();
        }
    };
    let target = match TcpStream::connect(("127.0.0.1", port)).await {
        Ok(stream) => stream,
        Err(e) => {
            return HttpError::new(
                StatusCode::BAD_GATEWAY,
                format!("connecting to port {port} in the sandbox: {e}"),
            )
            .into_response();
        }
    };
    // Latency over throughput: interactive protocols go through here.
    let _ = target.set_nodelay(true);
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let mut target = target;
        match on_upgrade.await {
            Ok(upgraded) => {
                let mut client = TokioIo::new(upgraded);
                if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut target).await {
                    tracing::debug!(port, "forward ended: {e}");
                }
            }
            Err(e) => tracing::warn!(port, "forward upgrade failed: {e}"),
        }
    });
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    response
        .headers_mut()
        .insert(UPGRADE, HeaderValue::from_static(PROTOCOL));
    response
}
