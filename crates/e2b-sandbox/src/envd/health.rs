//! The `/health` probe: whether the sandbox runs, and telling a dead sandbox from a
//! broken connection.

use std::time::Duration;

use e2b_core::Result;
use http::{Method, StatusCode};

use super::Envd;

/// How long the probe after a failure may take (the official SDKs' `HEALTH_CHECK_TIMEOUT`).
pub(crate) const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// What `/health` said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Health {
    /// envd answered: the sandbox is running.
    Alive,
    /// The edge answered 502: the sandbox was killed, timed out or is paused.
    Gone,
    /// No answer, or another status.
    Unknown,
}

/// `GET /health` under `deadline`: `true` for a 2xx, `false` for the edge's 502.
pub(super) async fn probe(envd: &Envd, deadline: Option<Duration>) -> Result<bool> {
    let request = envd.request(Method::GET, "/health");
    let response = envd.send(request, "envd.health", deadline).await?;
    if response.status() == StatusCode::BAD_GATEWAY {
        return Ok(false);
    }
    e2b_core::raw::check_response(response).await.map(|_| true)
}
