//! Talking to a sandbox's agent over its Unix socket.
//!
//! Each proxied request gets its own HTTP/1.1 connection (a Unix socket
//! connect costs microseconds, and it keeps upgrades and long streams
//! independent). Ports other than envd's are reached through the agent's
//! forward route: `GET /.e2b/forward?port=N` with `Upgrade: e2b-tcp` turns
//! the connection into a raw TCP stream to `127.0.0.1:N` inside the sandbox.

use std::io;
use std::path::Path;
use std::time::Duration;

use axum::body::Body;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

/// How long connecting (socket, handshake, tunnel) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The upgrade protocol of the agent's forward route.
pub(crate) const FORWARD_PROTOCOL: &str = "e2b-tcp";
/// The agent's forward route.
pub(crate) const FORWARD_PATH: &str = "/.e2b/forward";

/// Why the agent could not be reached.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LinkError {
    /// The socket refused or vanished (the sandbox is gone or dying).
    #[error("cannot connect to the sandbox agent: {0}")]
    Connect(#[source] io::Error),
    /// The HTTP handshake or the request failed.
    #[error("sandbox agent connection failed: {0}")]
    Http(#[source] hyper::Error),
    /// Nothing listens on the requested port inside the sandbox.
    #[error("port {port} is not open in the sandbox (agent answered {status})")]
    PortClosed {
        /// The port.
        port: u16,
        /// The agent's status.
        status: http::StatusCode,
    },
    /// Connecting took too long (the sandbox may be paused).
    #[error("timed out connecting to the sandbox agent")]
    Timeout,
}

/// An HTTP/1.1 connection to the agent (with upgrades enabled).
pub(crate) async fn connect(socket: &Path) -> Result<SendRequest<Body>, LinkError> {
    tokio::time::timeout(CONNECT_TIMEOUT, async {
        let stream = UnixStream::connect(socket)
            .await
            .map_err(LinkError::Connect)?;
        widen_send_buffer(&stream);
        handshake(TokioIo::new(stream)).await
    })
    .await
    .map_err(|_| LinkError::Timeout)?
}

/// The send buffer both ends of a link ask for: a body crosses the link in a few large
/// writes instead of many 208 KiB ones (Linux's default), each a wakeup of the reader.
const LINK_SEND_BUFFER: usize = 1 << 20;

/// Ask for [`LINK_SEND_BUFFER`] on `socket`: beyond `net.core.wmem_max` where the
/// process may (`CAP_NET_ADMIN`), else up to it. Best effort: the default still works.
pub(crate) fn widen_send_buffer(socket: impl std::os::fd::AsFd) {
    use rustix::net::sockopt;
    if sockopt::set_socket_send_buffer_size_force(&socket, LINK_SEND_BUFFER).is_err() {
        let _ = sockopt::set_socket_send_buffer_size(&socket, LINK_SEND_BUFFER);
    }
}

async fn handshake<T>(io: T) -> Result<SendRequest<Body>, LinkError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = http1::handshake(io).await.map_err(LinkError::Http)?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "agent connection ended with an error");
        }
    });
    Ok(sender)
}

/// A raw TCP stream to `127.0.0.1:port` inside the sandbox, through the agent.
pub(crate) async fn tunnel(
    socket: &Path,
    port: u16,
) -> Result<hyper::upgrade::Upgraded, LinkError> {
    tokio::time::timeout(CONNECT_TIMEOUT, async {
        let mut sender = connect(socket).await?;
        let request = http::Request::builder()
            .method(http::Method::GET)
            .uri(format!("{FORWARD_PATH}?port={port}"))
            .header(http::header::HOST, "localhost")
            .header(http::header::CONNECTION, "Upgrade")
            .header(http::header::UPGRADE, FORWARD_PROTOCOL)
            .body(Body::empty())
            .map_err(|e| LinkError::Connect(io::Error::other(e)))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(LinkError::Http)?;
        if response.status() != http::StatusCode::SWITCHING_PROTOCOLS {
            return Err(LinkError::PortClosed {
                port,
                status: response.status(),
            });
        }
        hyper::upgrade::on(response).await.map_err(LinkError::Http)
    })
    .await
    .map_err(|_| LinkError::Timeout)?
}

/// An HTTP/1.1 connection to a port inside the sandbox (through [`tunnel`]).
pub(crate) async fn connect_port(socket: &Path, port: u16) -> Result<SendRequest<Body>, LinkError> {
    let upgraded = tunnel(socket, port).await?;
    tokio::time::timeout(CONNECT_TIMEOUT, handshake(upgraded))
        .await
        .map_err(|_| LinkError::Timeout)?
}
