//! The `/health` probe that tells a dead sandbox from a broken connection.

use std::time::Duration;

use super::Envd;

/// How long the probe may take (the official SDKs' `HEALTH_CHECK_TIMEOUT`).
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

pub(super) async fn probe(envd: &Envd) -> Health {
    let request = envd
        .http()
        .get(format!("{}/health", envd.base_url()))
        .headers(envd.headers().clone())
        .timeout(HEALTH_CHECK_TIMEOUT)
        .send();
    match tokio::time::timeout(HEALTH_CHECK_TIMEOUT, request).await {
        Ok(Ok(response)) if response.status() == reqwest::StatusCode::BAD_GATEWAY => Health::Gone,
        Ok(Ok(response)) if response.status().is_success() => Health::Alive,
        Ok(Ok(response)) => {
            tracing::debug!(
                status = response.status().as_u16(),
                "unexpected /health status"
            );
            Health::Unknown
        }
        Ok(Err(error)) => {
            tracing::debug!(%error, "/health probe failed");
            Health::Unknown
        }
        Err(_) => Health::Unknown,
    }
}
