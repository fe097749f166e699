//! Authentication of envd traffic, as envd itself does it (the agent trusts its socket).
//!
//! For a secure sandbox every request needs `X-Access-Token`, except
//! `GET /health` and the file routes: `GET`/`POST /files` accept the header
//! token or a signed URL (`signature`, optional `signature_expiration`).
//! Routes envd marks internal, and the agent's own forward route, are not
//! reachable from outside.

use http::{Method, StatusCode};

use crate::edge::signature::{self, Operation, SignatureError};

/// envd's port inside every sandbox.
pub const ENVD_PORT: u16 = 49983;
/// The header carrying the envd access token.
pub(crate) const ACCESS_TOKEN_HEADER: &str = "x-access-token";
/// envd's message for a missing or wrong token.
pub(crate) const UNAUTHORIZED_MESSAGE: &str =
    "unauthorized access, please provide a valid access token or method signing if supported";

/// envd routes the orchestrator uses; never reachable through the proxy.
const INTERNAL_PATHS: [&str; 7] = [
    "/init",
    "/freeze",
    "/unfreeze",
    "/collapse",
    "/fsfreeze",
    "/fsthaw",
    "/upgrade",
];

/// Why an envd request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// An internal route (404).
    Internal,
    /// Bad or missing credentials (401, envd's JSON error).
    Unauthorized(String),
    /// A malformed signature parameter (400).
    BadRequest(String),
}

impl Refusal {
    /// The HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::Internal => StatusCode::NOT_FOUND,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// Check an envd request for a sandbox whose access token is `token` (None = not secure).
pub(crate) fn check(
    method: &Method,
    path: &str,
    query: Option<&str>,
    header_token: Option<&str>,
    token: Option<&str>,
    now_unix: i64,
) -> Result<(), Refusal> {
    if INTERNAL_PATHS.contains(&path) || path.starts_with("/.e2b/") || path == "/.e2b" {
        return Err(Refusal::Internal);
    }
    let Some(token) = token else { return Ok(()) };
    let header_ok = header_token.is_some_and(|h| signature::secure_eq(h, token));
    let operation = match (method, path) {
        (&Method::GET, "/files") => Some(Operation::Read),
        (&Method::POST, "/files") => Some(Operation::Write),
        _ => None,
    };
    match operation {
        Some(operation) => check_files(operation, query, header_token, token, now_unix),
        None if header_ok || (method == Method::GET && path == "/health") => Ok(()),
        None => Err(Refusal::Unauthorized(UNAUTHORIZED_MESSAGE.to_owned())),
    }
}

/// `/files`: a header token, if sent, must match; otherwise a valid signature is required.
fn check_files(
    operation: Operation,
    query: Option<&str>,
    header_token: Option<&str>,
    token: &str,
    now_unix: i64,
) -> Result<(), Refusal> {
    if let Some(header) = header_token.filter(|h| !h.is_empty()) {
        return if signature::secure_eq(header, token) {
            Ok(())
        } else {
            Err(Refusal::Unauthorized(
                "access token present in header but does not match".to_owned(),
            ))
        };
    }
    let mut path = String::new();
    let mut username = String::new();
    let mut sig = None;
    let mut expiration = None;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "path" => path = v.into_owned(),
            "username" => username = v.into_owned(),
            "signature" => sig = Some(v.into_owned()),
            "signature_expiration" => {
                expiration = Some(v.parse::<i64>().map_err(|_| {
                    Refusal::BadRequest(format!(
                        "invalid signature_expiration '{v}': expected unix seconds"
                    ))
                })?);
            }
            _ => {}
        }
    }
    let Some(sig) = sig else {
        return Err(Refusal::Unauthorized(SignatureError::Missing.to_string()));
    };
    signature::verify(
        &sig, &path, operation, &username, token, expiration, now_unix,
    )
    .map_err(|e| Refusal::Unauthorized(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "tok";

    fn check_get(path: &str, query: Option<&str>, header: Option<&str>) -> Result<(), Refusal> {
        check(&Method::GET, path, query, header, Some(TOKEN), 1000)
    }

    #[test]
    fn open_sandboxes_need_nothing_but_internal_routes_stay_closed() {
        assert_eq!(
            check(&Method::POST, "/process.Process/Start", None, None, None, 0),
            Ok(())
        );
        assert_eq!(check(&Method::GET, "/files", None, None, None, 0), Ok(()));
        assert_eq!(
            check(&Method::POST, "/init", None, None, None, 0),
            Err(Refusal::Internal)
        );
        assert_eq!(
            check(&Method::GET, "/.e2b/forward", Some("port=1"), None, None, 0),
            Err(Refusal::Internal)
        );
    }

    #[test]
    fn secure_sandboxes_need_the_token() {
        assert_eq!(
            check(
                &Method::POST,
                "/process.Process/Start",
                None,
                Some(TOKEN),
                Some(TOKEN),
                0
            ),
            Ok(())
        );
        let refused = check(
            &Method::POST,
            "/process.Process/Start",
            None,
            None,
            Some(TOKEN),
            0,
        )
        .unwrap_err();
        assert_eq!(
            refused,
            Refusal::Unauthorized(UNAUTHORIZED_MESSAGE.to_owned())
        );
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert!(
            check(
                &Method::POST,
                "/process.Process/Start",
                None,
                Some("bad"),
                Some(TOKEN),
                0
            )
            .is_err()
        );
        assert_eq!(check_get("/health", None, None), Ok(()));
        assert!(check_get("/envs", None, None).is_err());
        assert_eq!(check_get("/envs", None, Some(TOKEN)), Ok(()));
    }

    #[test]
    fn files_accept_a_header_or_a_signature() {
        assert_eq!(check_get("/files", Some("path=/a"), Some(TOKEN)), Ok(()));
        assert!(matches!(
            check_get("/files", Some("path=/a"), Some("bad")),
            Err(Refusal::Unauthorized(_))
        ));
        assert_eq!(
            check_get("/files", Some("path=/a"), None),
            Err(Refusal::Unauthorized(
                "missing signature query parameter".into()
            ))
        );

        let sig = signature::sign("/home/user/a b.txt", Operation::Read, "", TOKEN, None);
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("path", "/home/user/a b.txt")
            .append_pair("signature", &sig)
            .finish();
        assert_eq!(check_get("/files", Some(&query), None), Ok(()));
        // The same signature does not allow writing.
        assert!(
            check(
                &Method::POST,
                "/files",
                Some(&query),
                None,
                Some(TOKEN),
                1000
            )
            .is_err()
        );
    }

    fn query(pairs: &[(&str, &str)]) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            s.append_pair(k, v);
        }
        s.finish()
    }

    #[test]
    fn expired_and_malformed_signatures_are_refused() {
        let sig = signature::sign("/a", Operation::Write, "root", TOKEN, Some(999));
        let q = query(&[
            ("path", "/a"),
            ("username", "root"),
            ("signature", &sig),
            ("signature_expiration", "999"),
        ]);
        assert_eq!(
            check(&Method::POST, "/files", Some(&q), None, Some(TOKEN), 1000),
            Err(Refusal::Unauthorized("signature is already expired".into()))
        );
        assert_eq!(
            check(&Method::POST, "/files", Some(&q), None, Some(TOKEN), 999),
            Ok(())
        );
        let q = query(&[
            ("path", "/a"),
            ("signature", &sig),
            ("signature_expiration", "soon"),
        ]);
        assert!(matches!(
            check(&Method::POST, "/files", Some(&q), None, Some(TOKEN), 0),
            Err(Refusal::BadRequest(_))
        ));
    }
}
