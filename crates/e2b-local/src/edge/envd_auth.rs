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
    let query = SignedQuery::parse(query)?;
    let Some(sig) = &query.signature else {
        return Err(Refusal::Unauthorized(SignatureError::Missing.to_string()));
    };
    signature::verify(
        sig,
        &query.path,
        operation,
        &query.username,
        token,
        query.expiration,
        now_unix,
    )
    .map_err(|e| Refusal::Unauthorized(e.to_string()))
}

/// The parameters of a `/files` request that matter to its signature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SignedQuery {
    /// `path`, exactly as sent.
    pub(crate) path: String,
    /// `username`, or empty.
    pub(crate) username: String,
    /// `signature`, if sent.
    pub(crate) signature: Option<String>,
    /// `signature_expiration`, unix seconds.
    pub(crate) expiration: Option<i64>,
}

impl SignedQuery {
    /// Read them from a query string.
    pub(crate) fn parse(query: Option<&str>) -> Result<Self, Refusal> {
        let mut out = Self::default();
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "path" => out.path = v.into_owned(),
                "username" => out.username = v.into_owned(),
                "signature" => out.signature = Some(v.into_owned()),
                "signature_expiration" => {
                    out.expiration = Some(v.parse::<i64>().map_err(|_| {
                        Refusal::BadRequest(format!(
                            "invalid signature_expiration '{v}': expected unix seconds"
                        ))
                    })?);
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// Whether `token` is the access token this query was signed with (an
    /// expired signature still names its sandbox, which then refuses it).
    pub(crate) fn signed_with(&self, operation: Operation, token: &str, now_unix: i64) -> bool {
        self.signature.as_deref().is_some_and(|sig| {
            signature::verify(
                sig,
                &self.path,
                operation,
                &self.username,
                token,
                self.expiration,
                now_unix,
            ) != Err(SignatureError::Invalid)
        })
    }
}

/// A signed file URL that names no sandbox (`<E2B_SANDBOX_URL>/files?…`,
/// as the official SDKs build it): its operation and parameters.
pub(crate) fn unrouted_signed_file(
    method: &Method,
    path: &str,
    query: Option<&str>,
) -> Option<(Operation, SignedQuery)> {
    let operation = match (method, path) {
        (&Method::GET, "/files") => Operation::Read,
        (&Method::POST, "/files") => Operation::Write,
        _ => return None,
    };
    let query = SignedQuery::parse(query).ok()?;
    query.signature.is_some().then_some((operation, query))
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
