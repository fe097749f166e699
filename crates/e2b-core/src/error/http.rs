//! HTTP responses and transport failures → [`Error`]. The one place HTTP statuses are mapped,
//! for the control plane and for envd's plain HTTP endpoints (`/files`, `/health`) alike.

use super::{Error, ErrorKind, NotFoundKind, TimeoutKind};

/// How many bytes of an error body are read and kept as its message.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// How many characters of a non-JSON error body end up in the message.
const MAX_RAW_MESSAGE: usize = 1024;

impl Error {
    /// The error for an HTTP error response.
    ///
    /// The message is the `message` of a JSON body (`{"code":N,"message":"…"}`, the
    /// control plane's and E2B edge proxy's format), else the raw body (trimmed and
    /// truncated), else the status's reason phrase. The status maps to:
    ///
    /// | Status | Kind |
    /// |---|---|
    /// | 400 | [`ErrorKind::InvalidArgument`] |
    /// | 401, 403 | [`ErrorKind::Authentication`] |
    /// | 404 | [`ErrorKind::NotFound`] ([`NotFoundKind::Other`]; refine with [`with_not_found_kind`](Error::with_not_found_kind)) |
    /// | 409 | [`ErrorKind::Conflict`] |
    /// | 429 | [`ErrorKind::RateLimited`] |
    /// | 502 | [`ErrorKind::Timeout`] ([`TimeoutKind::SandboxGone`]: the edge answers 502 for a sandbox that is gone) |
    /// | 507 | [`ErrorKind::NotEnoughSpace`] |
    /// | other | [`ErrorKind::Api`], displayed as `"<status>: <message>"` |
    pub fn from_status(status: u16, body: &[u8]) -> Error {
        let message = error_message(status, body);
        let kind = match status {
            400 => ErrorKind::InvalidArgument { message },
            401 | 403 => ErrorKind::Authentication { message },
            404 => ErrorKind::NotFound {
                resource: NotFoundKind::Other,
                message,
            },
            409 => ErrorKind::Conflict { message },
            429 => ErrorKind::RateLimited { message },
            502 => ErrorKind::Timeout {
                kind: TimeoutKind::SandboxGone,
                message,
            },
            507 => ErrorKind::NotEnoughSpace { message },
            _ => ErrorKind::Api { status, message },
        };
        Error::new(kind).with_status(status)
    }
}

/// The error for a response with an error status, reading (at most 64 KiB of) its body;
/// see [`Error::from_status`] for the mapping. The response's request id is kept.
pub(crate) async fn from_response(response: reqwest::Response) -> Error {
    let status = response.status().as_u16();
    let request_id = crate::http::request_id(response.headers());
    let error = match read_limited(response, MAX_ERROR_BODY).await {
        Ok(body) => Error::from_status(status, &body),
        Err(e) => Error::from_status(status, b"").caused_by(e),
    };
    error.with_request_id(request_id)
}

/// Pass a successful response through; turn an error status into an [`Error`].
pub(crate) async fn check_response(
    response: reqwest::Response,
) -> Result<reqwest::Response, Error> {
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(from_response(response).await)
    }
}

/// Map an error from a generated (progenitor) REST client.
///
/// Documented error responses are serialized back to JSON and mapped like any body;
/// undocumented ones are read and mapped by status; transport failures become
/// transport or timeout errors; undecodable bodies protocol errors.
pub(crate) async fn from_api_error<E: serde::Serialize>(
    error: progenitor_client::Error<E>,
) -> Error {
    use progenitor_client::Error as P;
    match error {
        P::ErrorResponse(value) => {
            let status = value.status().as_u16();
            let request_id = crate::http::request_id(value.headers());
            let body = serde_json::to_vec(value.as_ref()).unwrap_or_default();
            Error::from_status(status, &body).with_request_id(request_id)
        }
        P::UnexpectedResponse(response) if response.status().is_success() => {
            Error::protocol(format!("unexpected status {}", response.status()))
                .with_status(response.status().as_u16())
        }
        P::UnexpectedResponse(response) => from_response(response).await,
        P::CommunicationError(e) | P::InvalidUpgrade(e) | P::ResponseBodyError(e) => {
            from_reqwest(e)
        }
        P::InvalidResponsePayload(_, e) => {
            Error::protocol("the response body does not match the API schema").caused_by(e)
        }
        P::InvalidRequest(message) => Error::invalid_argument(message),
        P::Custom(message) => Error::new(ErrorKind::Transport { message }),
    }
}

/// A reqwest failure: timeouts become [`TimeoutKind::Request`], undecodable bodies
/// protocol errors, error statuses (from `error_for_status`) are mapped by status, and
/// everything else is a transport error naming the host.
pub(crate) fn from_reqwest(e: reqwest::Error) -> Error {
    let host = e
        .url()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "the server".to_owned());
    if e.is_timeout() {
        return Error::timeout(
            TimeoutKind::Request,
            format!("no complete response from {host} within the request timeout"),
        )
        .caused_by(e);
    }
    if let Some(status) = e.status() {
        return Error::from_status(status.as_u16(), b"").caused_by(e);
    }
    if e.is_decode() {
        return Error::protocol(format!("could not decode the response from {host}")).caused_by(e);
    }
    if e.is_builder() {
        return Error::invalid_argument("the request could not be built").caused_by(e);
    }
    let message = if e.is_connect() {
        format!("could not connect to {host}")
    } else {
        format!("request to {host} failed")
    };
    Error::with_source(ErrorKind::Transport { message }, e)
}

/// The message of an error body; see [`Error::from_status`].
fn error_message(status: u16, body: &[u8]) -> String {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(message) = json.get("message").and_then(|m| m.as_str())
    {
        return message.to_owned();
    }
    let raw = String::from_utf8_lossy(body);
    let raw = raw.trim();
    if raw.is_empty() {
        return http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("no details")
            .to_lowercase();
    }
    match raw.char_indices().nth(MAX_RAW_MESSAGE) {
        Some((cut, _)) => format!("{}…", &raw[..cut]),
        None => raw.to_owned(),
    }
}

async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(status: u16) -> Error {
        Error::from_status(status, br#"{"code":0,"message":"msg"}"#)
    }

    #[test]
    fn every_mapped_status() {
        let e = map(400);
        assert!(e.is_invalid_argument());
        assert_eq!(e.to_string(), "invalid argument: msg");
        for s in [401, 403] {
            let e = map(s);
            assert!(e.is_authentication(), "{s}");
            assert!(e.to_string().contains("E2B_API_KEY"), "{e}");
        }
        let e = map(404);
        assert!(e.is_not_found());
        assert_eq!(e.not_found_kind(), Some(NotFoundKind::Other));
        assert_eq!(
            e.with_not_found_kind(NotFoundKind::Sandbox).to_string(),
            "sandbox was not found: msg; it may have been killed or timed out"
        );
        assert!(map(409).is_conflict());
        assert!(map(429).is_rate_limited());
        let e = map(502);
        assert!(e.is_sandbox_gone() && e.is_timeout());
        assert!(e.to_string().contains("sandbox timeout"), "{e}");
        assert!(map(507).is_not_enough_space());
        for s in [400, 401, 403, 404, 409, 429, 502, 507] {
            assert_eq!(map(s).status(), Some(s));
            assert_eq!(map(s).rpc_code(), None);
        }
    }

    #[test]
    fn other_statuses_are_api_errors() {
        for s in [300, 405, 410, 413, 418, 500, 501, 503, 504, 599] {
            let e = map(s);
            assert_eq!(
                e.kind(),
                &ErrorKind::Api {
                    status: s,
                    message: "msg".into()
                }
            );
            assert_eq!(e.to_string(), format!("{s}: msg"));
            assert_eq!(e.status(), Some(s));
        }
    }

    #[test]
    fn message_fallbacks() {
        let e = Error::from_status(500, b"upstream exploded\n");
        assert_eq!(e.to_string(), "500: upstream exploded");
        let e = Error::from_status(503, b"");
        assert_eq!(e.to_string(), "503: service unavailable");
        let e = Error::from_status(599, b"  ");
        assert_eq!(e.to_string(), "599: no details");
        // JSON without a string message: the raw body.
        let e = Error::from_status(500, br#"{"code":500}"#);
        assert_eq!(e.to_string(), r#"500: {"code":500}"#);
        // The edge proxy's format.
        let e = Error::from_status(
            502,
            br#"{"sandboxId":"abc","message":"The sandbox was not found","code":502}"#,
        );
        assert!(e.to_string().contains("The sandbox was not found"), "{e}");
        // Long HTML pages are cut.
        let page = format!("<html>{}</html>", "x".repeat(5000));
        let e = Error::from_status(500, page.as_bytes());
        assert!(e.to_string().len() < 1100);
        assert!(e.to_string().ends_with('…'));
        // Invalid UTF-8 does not fail.
        let e = Error::from_status(500, &[0xff, 0xfe, b'a']);
        assert!(e.to_string().starts_with("500: "));
    }

    fn response(status: u16, body: &'static str) -> reqwest::Response {
        reqwest::Response::from(http::Response::builder().status(status).body(body).unwrap())
    }

    #[tokio::test]
    async fn from_response_reads_the_body() {
        let e = from_response(response(404, r#"{"code":404,"message":"sandbox x"}"#)).await;
        assert!(e.is_not_found());
        assert!(e.to_string().contains("sandbox x"));
        let ok = check_response(response(204, "")).await.unwrap();
        assert_eq!(ok.status(), 204);
        let err = check_response(response(429, "slow down"))
            .await
            .unwrap_err();
        assert!(err.is_rate_limited());
        assert!(err.to_string().contains("slow down"));
        assert_eq!(err.request_id(), None);
        let traced = reqwest::Response::from(
            http::Response::builder()
                .status(500)
                .header("x-request-id", "req-42")
                .body("boom")
                .unwrap(),
        );
        assert_eq!(from_response(traced).await.request_id(), Some("req-42"));
    }

    #[derive(serde::Serialize)]
    struct ApiError {
        code: i64,
        message: String,
    }

    #[tokio::test]
    async fn progenitor_errors() {
        let documented =
            progenitor_client::Error::ErrorResponse(progenitor_client::ResponseValue::new(
                ApiError {
                    code: 401,
                    message: "invalid key".into(),
                },
                reqwest::StatusCode::UNAUTHORIZED,
                Default::default(),
            ));
        let e = from_api_error(documented).await;
        assert!(e.is_authentication());
        assert!(e.to_string().contains("invalid key"));
        assert_eq!(e.status(), Some(401));

        let undocumented: progenitor_client::Error<ApiError> =
            progenitor_client::Error::UnexpectedResponse(response(507, "disk full"));
        let e = from_api_error(undocumented).await;
        assert!(e.is_not_enough_space());

        let odd: progenitor_client::Error<ApiError> =
            progenitor_client::Error::UnexpectedResponse(response(200, ""));
        assert!(from_api_error(odd).await.is_protocol());

        let bad_body: progenitor_client::Error<ApiError> =
            progenitor_client::Error::InvalidResponsePayload(
                Default::default(),
                serde_json::from_str::<serde_json::Value>("{").unwrap_err(),
            );
        let e = from_api_error(bad_body).await;
        assert!(e.is_protocol());
        assert!(std::error::Error::source(&e).is_some());

        let invalid: progenitor_client::Error<ApiError> =
            progenitor_client::Error::InvalidRequest("bad template id".into());
        assert!(from_api_error(invalid).await.is_invalid_argument());
        let custom: progenitor_client::Error<ApiError> =
            progenitor_client::Error::Custom("hook failed".into());
        assert!(from_api_error(custom).await.is_transport());
    }

    #[tokio::test]
    async fn reqwest_errors() {
        // A refused connection: bind a port, drop the listener, connect to it.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap_err();
        let e = from_reqwest(err);
        assert!(e.is_transport(), "{e}");
        assert!(e.to_string().contains("127.0.0.1"), "{e}");
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(e.rpc_code(), None);

        // A server that accepts the connection but never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let err = reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(100))
            .build()
            .unwrap()
            .get(format!("http://{}/", silent.local_addr().unwrap()))
            .send()
            .await
            .unwrap_err();
        let e = from_reqwest(err);
        assert_eq!(e.timeout_kind(), Some(TimeoutKind::Request), "{e}");

        let err = response(403, "").error_for_status().unwrap_err();
        let e = from_reqwest(err);
        assert!(e.is_authentication());
        assert_eq!(e.status(), Some(403));

        let err = reqwest::Client::new()
            .get("not a url")
            .send()
            .await
            .unwrap_err();
        assert!(from_reqwest(err).is_invalid_argument());

        let err = response(200, "{")
            .json::<serde_json::Value>()
            .await
            .unwrap_err();
        assert!(from_reqwest(err).is_protocol());
    }
}
