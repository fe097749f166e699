//! The `tracing` span of one request, and the request id a response carries.

use http::HeaderMap;

/// Response headers naming the request, in the order they are looked for: a plain
/// request id, E2B's trace id, and the trace headers of the cloud edges in front of it.
const REQUEST_ID_HEADERS: [&str; 4] = [
    "x-request-id",
    "x-trace-id",
    "x-cloud-trace-context",
    "x-amzn-trace-id",
];

/// The id the server (or its edge) gave the request, if a response header names it.
///
/// `X-Cloud-Trace-Context: <trace>/<span>;o=1` gives `<trace>`;
/// `X-Amzn-Trace-Id: Root=1-<time>-<id>;…` gives `<time><id>`, the 32-hex form.
pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS.iter().find_map(|name| {
        let value = headers.get(*name)?.to_str().ok()?.trim();
        let id = match *name {
            "x-cloud-trace-context" => value.split(['/', ';']).next().unwrap_or_default(),
            "x-amzn-trace-id" => {
                let root = value
                    .split(';')
                    .find_map(|part| part.trim().strip_prefix("Root="))?;
                return match root.split('-').collect::<Vec<_>>()[..] {
                    ["1", time, id] => Some(format!("{time}{id}")),
                    _ => Some(root.to_owned()),
                };
            }
            _ => value,
        };
        (!id.is_empty()).then(|| id.to_owned())
    })
}

/// The span of one request: named `e2b.http`, at `DEBUG`, with OpenTelemetry-style
/// fields. The response fields are recorded by [`record_response`]. Nothing secret is
/// recorded: no header, no query string, no body.
pub(super) fn span(operation: &str, request: &reqwest::Request) -> tracing::Span {
    tracing::debug_span!(
        "e2b.http",
        otel.kind = "client",
        operation,
        http.request.method = %request.method(),
        server.address = request.url().host_str().unwrap_or_default(),
        url.path = request.url().path(),
        http.response.status_code = tracing::field::Empty,
        http.request_id = tracing::field::Empty,
        retries = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
    )
}

/// Record the outcome of a request on its span.
pub(super) fn record_response(
    span: &tracing::Span,
    result: &reqwest::Result<reqwest::Response>,
    retries: u32,
    duration: std::time::Duration,
) {
    span.record(
        "duration_ms",
        u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
    );
    if retries > 0 {
        span.record("retries", retries);
    }
    match result {
        Ok(response) => {
            span.record("http.response.status_code", response.status().as_u16());
            if let Some(id) = request_id(response.headers()) {
                span.record("http.request_id", id.as_str());
            }
        }
        Err(error) => {
            let _enter = span.enter();
            tracing::debug!(%error, "request failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn request_ids_from_every_known_header() {
        assert_eq!(request_id(&headers(&[])), None);
        assert_eq!(
            request_id(&headers(&[("x-request-id", "req-1")])).as_deref(),
            Some("req-1")
        );
        assert_eq!(
            request_id(&headers(&[("x-trace-id", "abc123")])).as_deref(),
            Some("abc123")
        );
        assert_eq!(
            request_id(&headers(&[(
                "x-cloud-trace-context",
                "105445aa7843bc8bf206b12000100000/1;o=1"
            )]))
            .as_deref(),
            Some("105445aa7843bc8bf206b12000100000")
        );
        assert_eq!(
            request_id(&headers(&[(
                "x-amzn-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
            )]))
            .as_deref(),
            Some("5759e988bd862e3fe1be46a994272793")
        );
        assert_eq!(
            request_id(&headers(&[("x-amzn-trace-id", "Root=custom")])).as_deref(),
            Some("custom")
        );
        // The plain request id comes first; empty values are skipped.
        assert_eq!(
            request_id(&headers(&[("x-request-id", " "), ("x-trace-id", "t")])).as_deref(),
            Some("t")
        );
    }
}
