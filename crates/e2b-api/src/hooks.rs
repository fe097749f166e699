//! One tracing span per REST operation.

use std::time::Instant;

use progenitor_client::{ClientHooks, OperationInfo};
use tracing::Instrument;

macro_rules! traced_hooks {
    ($client:ty) => {
        impl ClientHooks for $client {
            async fn exec(
                &self,
                request: reqwest::Request,
                info: &OperationInfo,
            ) -> reqwest::Result<reqwest::Response> {
                exec_traced(progenitor_client::ClientInfo::client(self), request, info).await
            }
        }
    };
}

traced_hooks!(crate::control::Client);
traced_hooks!(crate::volume_content::Client);

async fn exec_traced(
    client: &reqwest::Client,
    request: reqwest::Request,
    info: &OperationInfo,
) -> reqwest::Result<reqwest::Response> {
    let span = tracing::debug_span!(
        "e2b.api",
        otel.kind = "client",
        operation_id = info.operation_id,
        http.request.method = %request.method(),
        url.path = request.url().path(),
        http.response.status_code = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
    );
    let started = Instant::now();
    let result = client.execute(request).instrument(span.clone()).await;
    span.record("duration_ms", started.elapsed().as_millis() as u64);
    match &result {
        Ok(response) => {
            span.record("http.response.status_code", response.status().as_u16());
        }
        Err(error) => {
            let _enter = span.enter();
            tracing::debug!(%error, "request failed");
        }
    }
    result
}
