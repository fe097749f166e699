//! Sandbox traffic: authentication at the edge, then a streaming reverse proxy
//! to the sandbox's agent (envd, port 49983) or, through the agent's forward
//! tunnel, to any other port inside the sandbox.
//!
//! Bodies are streamed in both directions with backpressure (never buffered),
//! so uploads and downloads of any size run in constant memory. Upgrades
//! (WebSocket and the like) are passed through. Errors at the edge are JSON
//! `{"sandboxId", "message", "code"}` like E2B's proxy; a missing or killed
//! sandbox is 502, which the SDKs read as "sandbox timed out".

use std::time::Duration;

use axum::body::Body;
use chrono::Utc;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use crate::edge::drain::refuse;
use crate::edge::envd_auth::{self, ACCESS_TOKEN_HEADER, ENVD_PORT, Refusal};
use crate::edge::idle_body::IdleBody;
use crate::edge::reset::{ConnectionReset, SandboxBody};
use crate::sandbox::agent_link::{self, LinkError};
use crate::sandbox::manager::TrafficRefusal;
use crate::sandbox::{Manager, TrafficTarget};
use tokio_util::sync::CancellationToken;

/// The header carrying a sandbox's traffic access token (ports other than envd's).
pub(crate) const TRAFFIC_TOKEN_HEADER: &str = "e2b-traffic-access-token";

/// Headers that describe one hop, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// An edge error for `sandbox_id` (E2B proxy format, plus `code`).
pub(crate) fn edge_error(status: StatusCode, sandbox_id: &str, message: &str) -> Response<Body> {
    json(
        status,
        &serde_json::json!({ "sandboxId": sandbox_id, "message": message, "code": status.as_u16() }),
    )
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::from(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// Handle a request for `port` of sandbox `id`.
pub(crate) async fn handle(
    manager: &Manager,
    id: &str,
    port: u16,
    req: Request<Incoming>,
) -> Response<Body> {
    let target = match manager.traffic(id).await {
        Ok(target) => target,
        Err(TrafficRefusal::NotFound) => {
            return refuse(
                req,
                edge_error(StatusCode::BAD_GATEWAY, id, "The sandbox was not found"),
            );
        }
        Err(TrafficRefusal::Paused) => {
            return refuse(
                req,
                edge_error(StatusCode::BAD_GATEWAY, id, "The sandbox is paused"),
            );
        }
    };
    let idle = manager.body_idle_timeout();
    if port == ENVD_PORT {
        to_envd(id, &target, req, idle).await
    } else if port == crate::agent::INTERPRETER_PORT && target.code_interpreter {
        to_interpreter(id, &target, req, idle).await
    } else {
        to_port(id, port, &target, req, idle).await
    }
}

async fn to_envd(
    id: &str,
    target: &TrafficTarget,
    req: Request<Incoming>,
    idle: Duration,
) -> Response<Body> {
    let header_token = req
        .headers()
        .get(ACCESS_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok());
    let checked = envd_auth::check(
        req.method(),
        req.uri().path(),
        req.uri().query(),
        header_token,
        target.envd_access_token.as_deref(),
        Utc::now().timestamp(),
    );
    match checked {
        Ok(()) => {}
        Err(Refusal::Internal) => {
            return refuse(
                req,
                edge_error(
                    StatusCode::NOT_FOUND,
                    id,
                    "This route is internal to the sandbox",
                ),
            );
        }
        Err(refusal @ (Refusal::Unauthorized(_) | Refusal::BadRequest(_))) => {
            let message = match &refusal {
                Refusal::Unauthorized(m) | Refusal::BadRequest(m) => m.clone(),
                Refusal::Internal => String::new(),
            };
            let status = refusal.status();
            return refuse(
                req,
                json(
                    status,
                    &serde_json::json!({ "code": status.as_u16(), "message": message }),
                ),
            );
        }
    }
    match agent_link::connect(&target.socket).await {
        Ok(sender) => forward(id, sender, req, idle, &target.serving).await,
        Err(e) => unreachable_agent(id, &e),
    }
}

/// The code interpreter is served by the agent itself (under its
/// interpreter prefix), so traffic to port 49999 skips the TCP tunnel.
///
/// Secure sandboxes require the envd access token (`X-Access-Token`) to run
/// code (`POST /execute`). The official SDKs send it there only, so the
/// context routes accept requests without it, but never a wrong one.
async fn to_interpreter(
    id: &str,
    target: &TrafficTarget,
    mut req: Request<Incoming>,
    idle: Duration,
) -> Response<Body> {
    if let Some(refused) = refuse_without_traffic_token(id, target, &req) {
        return refuse(req, refused);
    }
    if let Some(expected) = &target.envd_access_token {
        let given = req
            .headers()
            .get(ACCESS_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok());
        let runs_code = req.method() == http::Method::POST && req.uri().path() == "/execute";
        let message = match given {
            None if !runs_code => None,
            None => Some("Unauthorized access, please provide a valid access token"),
            Some(t) if !crate::edge::signature::secure_eq(t, expected) => {
                Some("Unauthorized access, please provide a valid access token")
            }
            Some(_) => None,
        };
        if let Some(message) = message {
            return refuse(
                req,
                json(
                    StatusCode::UNAUTHORIZED,
                    &serde_json::json!({ "code": 401, "message": message }),
                ),
            );
        }
    }
    let path_and_query = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let rewritten = format!("{}{path_and_query}", crate::agent::INTERPRETER_PREFIX);
    match rewritten.parse::<Uri>() {
        Ok(uri) => *req.uri_mut() = uri,
        Err(_) => {
            return refuse(
                req,
                edge_error(StatusCode::BAD_REQUEST, id, "Invalid request path"),
            );
        }
    }
    match agent_link::connect(&target.socket).await {
        Ok(sender) => forward(id, sender, req, idle, &target.serving).await,
        Err(e) => unreachable_agent(id, &e),
    }
}

/// The refusal for a request lacking the sandbox's traffic access token, if it has one.
fn refuse_without_traffic_token(
    id: &str,
    target: &TrafficTarget,
    req: &Request<Incoming>,
) -> Option<Response<Body>> {
    let expected = target.traffic_access_token.as_ref()?;
    let message = match req
        .headers()
        .get(TRAFFIC_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        None => format!(
            "Sandbox is secured with traffic access token. Token header '{TRAFFIC_TOKEN_HEADER}' is missing"
        ),
        Some(t) if !crate::edge::signature::secure_eq(t, expected) => format!(
            "Sandbox is secured with traffic access token. Provided token in header '{TRAFFIC_TOKEN_HEADER}' is invalid"
        ),
        Some(_) => return None,
    };
    Some(edge_error(StatusCode::FORBIDDEN, id, &message))
}

async fn to_port(
    id: &str,
    port: u16,
    target: &TrafficTarget,
    req: Request<Incoming>,
    idle: Duration,
) -> Response<Body> {
    if let Some(refused) = refuse_without_traffic_token(id, target, &req) {
        return refuse(req, refused);
    }
    match agent_link::connect_port(&target.socket, port).await {
        Ok(sender) => forward(id, sender, req, idle, &target.serving).await,
        Err(LinkError::PortClosed { .. }) => {
            let body = serde_json::json!({
                "sandboxId": id,
                "message": "The sandbox is running but port is not open",
                "port": port.to_string(),
                "code": 502,
            });
            json(StatusCode::BAD_GATEWAY, &body)
        }
        Err(e) => unreachable_agent(id, &e),
    }
}

fn unreachable_agent(id: &str, error: &LinkError) -> Response<Body> {
    tracing::debug!(sandbox = id, %error, "sandbox traffic failed");
    edge_error(
        StatusCode::BAD_GATEWAY,
        id,
        &format!("The sandbox is not reachable: {error}"),
    )
}

fn wants_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

/// Remove hop-by-hop headers (and those named in `Connection`); keep the upgrade pair if asked.
fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .filter(|n| !(keep_upgrade && n == header::UPGRADE))
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    if keep_upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(header::UPGRADE);
    }
}

/// Send `req` over `sender` and return the upstream response, splicing upgraded connections.
/// A request body that stalls for `idle` ends the request with 408.
async fn forward(
    id: &str,
    sender: SendRequest<Body>,
    req: Request<Incoming>,
    idle: Duration,
    serving: &CancellationToken,
) -> Response<Body> {
    let reset = req.extensions().get::<ConnectionReset>().cloned();
    let (parts, body) = req.into_parts();
    let (body, stalled) = IdleBody::new(body, idle);
    let sent = tokio::select! {
        sent = send(sender, Request::from_parts(parts, body)) => sent,
        () = serving.cancelled() => {
            // Paused or killed before it answered: refused, not left hanging.
            return edge_error(StatusCode::BAD_GATEWAY, id, "The sandbox stopped serving (paused or killed)");
        }
    };
    match sent {
        // A sandbox that dies or stops mid-response drops the client's connection.
        Ok(response) => {
            let serving = serving.clone();
            response.map(|body| Body::new(SandboxBody::new(body, reset, serving)))
        }
        Err(_) if stalled.load(std::sync::atomic::Ordering::Relaxed) => edge_error(
            StatusCode::REQUEST_TIMEOUT,
            id,
            &format!("The request body sent no data for {idle:?}"),
        ),
        Err(e) => unreachable_agent(id, &e),
    }
}

async fn send(
    mut sender: SendRequest<Body>,
    mut req: Request<IdleBody<Incoming>>,
) -> Result<Response<Body>, LinkError> {
    let upgrade = wants_upgrade(req.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();
    strip_hop_by_hop(&mut parts.headers, upgrade);
    // Origin form: the agent (or the app inside) sees the path, not our address.
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = path_and_query
        .parse::<Uri>()
        .unwrap_or_else(|_| Uri::from_static("/"));
    if !parts.headers.contains_key(header::HOST) {
        parts
            .headers
            .insert(header::HOST, HeaderValue::from_static("localhost"));
    }
    let mut response = sender
        .send_request(Request::from_parts(parts, Body::new(body)))
        .await
        .map_err(LinkError::Http)?;
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_upgrade) = client_upgrade {
            let upstream_upgrade = hyper::upgrade::on(&mut response);
            tokio::spawn(async move {
                match tokio::try_join!(client_upgrade, upstream_upgrade) {
                    Ok((client, upstream)) => {
                        let mut client = TokioIo::new(client);
                        let mut upstream = TokioIo::new(upstream);
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                    Err(e) => tracing::debug!(error = %e, "upgrade failed"),
                }
            });
        }
        let (parts, _) = response.into_parts();
        return Ok(Response::from_parts(parts, Body::empty()));
    }
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers, false);
    Ok(Response::from_parts(parts, Body::new(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert("x-keep", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h, false);
        assert!(h.get("x-secret").is_none());
        assert!(h.get(header::TRANSFER_ENCODING).is_none());
        assert!(h.get(header::CONNECTION).is_none());
        assert_eq!(h.get("x-keep").unwrap(), "1");
    }

    #[test]
    fn upgrades_are_detected_and_kept() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(wants_upgrade(&h));
        strip_hop_by_hop(&mut h, true);
        assert_eq!(h.get(header::UPGRADE).unwrap(), "websocket");
        assert_eq!(h.get(header::CONNECTION).unwrap(), "upgrade");
        let mut plain = HeaderMap::new();
        plain.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(!wants_upgrade(&plain));
    }

    #[test]
    fn edge_errors_have_the_proxy_shape() {
        let r = edge_error(StatusCode::BAD_GATEWAY, "iabc", "The sandbox was not found");
        assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
    }
}
