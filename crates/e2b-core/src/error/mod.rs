//! The SDK's error type.
//!
//! [`Error`] is opaque: inspect it with the predicates (`is_not_found()`, `is_timeout()`,
//! …), the accessors ([`status`](Error::status), [`rpc_code`](Error::rpc_code),
//! [`request_id`](Error::request_id)) or its [`ErrorKind`]. HTTP statuses map into it in
//! one place ([`Error::from_status`], `http.rs`) and Connect errors in another
//! (`connect.rs`); the functions that take transport types (`reqwest`, `progenitor`,
//! Connect) are in [`raw`](crate::raw).

pub(crate) mod connect;
pub(crate) mod http;
mod kind;

use e2b_envd::connect::Code;

pub use kind::{CommandExit, ErrorKind, NotFoundKind, TimeoutKind};

use crate::config::ConfigError;

/// A boxed error used as an [`Error`]'s source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result type of the SDK.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error from the E2B SDK.
///
/// Its `Display` form is the message of its [`ErrorKind`]; the underlying error, if any,
/// is its [`source`](std::error::Error::source) and is not repeated in the message.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Error(Box<Inner>);

#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
struct Inner {
    kind: ErrorKind,
    status: Option<u16>,
    code: Option<Code>,
    request_id: Option<String>,
    #[source]
    source: Option<BoxError>,
}

impl Error {
    /// An error of the given kind.
    pub fn new(kind: ErrorKind) -> Self {
        Error(Box::new(Inner {
            kind,
            status: None,
            code: None,
            request_id: None,
            source: None,
        }))
    }

    /// An error of the given kind caused by `source`.
    pub fn with_source(kind: ErrorKind, source: impl Into<BoxError>) -> Self {
        Error::new(kind).caused_by(source)
    }

    /// An invalid-argument error (a failed client-side check).
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument {
            message: message.into(),
        })
    }

    /// A not-found error for a known resource.
    pub fn not_found(resource: NotFoundKind, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::NotFound {
            resource,
            message: message.into(),
        })
    }

    /// A timeout of the given kind.
    pub fn timeout(kind: TimeoutKind, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Timeout {
            kind,
            message: message.into(),
        })
    }

    /// A template error (e.g. the sandbox's envd is too old for a feature).
    pub fn template(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Template {
            message: message.into(),
        })
    }

    /// A command that exited with a non-zero code.
    pub fn command_exit(exit: CommandExit) -> Self {
        Error::new(ErrorKind::CommandExit(exit))
    }

    /// An unexpected response (undecodable body, missing field, protocol violation).
    pub fn protocol(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Protocol {
            message: message.into(),
        })
    }

    /// An operation that needs the optional spec feature `feature` (an
    /// [`e2b_api::spec_features::ALL`] name), which the pinned spec lacks.
    pub fn not_in_spec(feature: &str) -> Self {
        let (what, since) = match e2b_api::spec_features::feature(feature) {
            Some(f) => (f.summary.to_owned(), f.since.to_owned()),
            None => (
                format!("spec feature `{feature}`"),
                "a newer tag".to_owned(),
            ),
        };
        Error::new(ErrorKind::NotInSpec {
            what,
            since,
            pinned: e2b_api::spec_features::TAG.to_owned(),
        })
    }

    pub(crate) fn caused_by(mut self, source: impl Into<BoxError>) -> Self {
        self.0.source = Some(source.into());
        self
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.0.status = Some(status);
        self
    }

    pub(crate) fn with_code(mut self, code: Code) -> Self {
        self.0.code = Some(code);
        self
    }

    pub(crate) fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.0.request_id = request_id;
        self
    }

    /// The Connect code, for the transport-level accessor in [`raw`](crate::raw).
    pub(crate) fn code(&self) -> Option<Code> {
        self.0.code
    }

    /// Say what a not-found error is about, once the caller knows (e.g. a 404 from
    /// `GET /sandboxes/{id}` is about a sandbox, a Connect `not_found` from `Stat` about
    /// a file). Other errors are returned unchanged.
    #[must_use]
    pub fn with_not_found_kind(mut self, resource: NotFoundKind) -> Self {
        if let ErrorKind::NotFound { resource: r, .. } = &mut self.0.kind {
            *r = resource;
        }
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// What went wrong, by value.
    pub fn into_kind(self) -> ErrorKind {
        self.0.kind
    }

    /// The HTTP status of the response that caused this error, if there was one.
    pub fn status(&self) -> Option<u16> {
        self.0.status
    }

    /// The wire name of the Connect code (`"already_exists"`, `"unavailable"`, …), if this
    /// error came from an envd RPC. The typed code is
    /// [`raw::connect_code`](crate::raw::connect_code).
    pub fn rpc_code(&self) -> Option<&'static str> {
        self.0.code.map(Code::as_str)
    }

    /// The id the server (or the edge in front of it) gave the failed request, from the
    /// response's `X-Request-Id`, `X-Trace-Id`, `X-Cloud-Trace-Context` or
    /// `X-Amzn-Trace-Id` header: quote it when reporting a problem to E2B.
    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    /// What was not found, for not-found errors.
    pub fn not_found_kind(&self) -> Option<NotFoundKind> {
        match &self.0.kind {
            ErrorKind::NotFound { resource, .. } => Some(*resource),
            _ => None,
        }
    }

    /// Which timeout, for timeout errors.
    pub fn timeout_kind(&self) -> Option<TimeoutKind> {
        match &self.0.kind {
            ErrorKind::Timeout { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The command's result, for command-exit errors.
    pub fn command_exit_result(&self) -> Option<&CommandExit> {
        match &self.0.kind {
            ErrorKind::CommandExit(exit) => Some(exit),
            _ => None,
        }
    }

    /// The configuration problem, for configuration errors.
    pub fn config_error(&self) -> Option<&ConfigError> {
        match &self.0.kind {
            ErrorKind::Config(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the credentials were missing, wrong or not allowed.
    pub fn is_authentication(&self) -> bool {
        matches!(self.0.kind, ErrorKind::Authentication { .. })
    }

    /// Whether something was not found (see [`not_found_kind`](Self::not_found_kind)).
    pub fn is_not_found(&self) -> bool {
        matches!(self.0.kind, ErrorKind::NotFound { .. })
    }

    /// Whether the request was rejected as invalid.
    pub fn is_invalid_argument(&self) -> bool {
        matches!(self.0.kind, ErrorKind::InvalidArgument { .. })
    }

    /// Whether the resource was in a conflicting state (HTTP 409).
    pub fn is_conflict(&self) -> bool {
        matches!(self.0.kind, ErrorKind::Conflict { .. })
    }

    /// Whether a rate limit was hit.
    pub fn is_rate_limited(&self) -> bool {
        matches!(self.0.kind, ErrorKind::RateLimited { .. })
    }

    /// Whether the operation needs a newer spec than the SDK was generated from
    /// ([`ErrorKind::NotInSpec`]).
    pub fn is_not_in_spec(&self) -> bool {
        matches!(self.0.kind, ErrorKind::NotInSpec { .. })
    }

    /// Whether a timeout of any kind expired, including the sandbox being gone (see
    /// [`timeout_kind`](Self::timeout_kind)).
    pub fn is_timeout(&self) -> bool {
        matches!(self.0.kind, ErrorKind::Timeout { .. })
    }

    /// Whether the sandbox no longer answers (killed or timed out).
    pub fn is_sandbox_gone(&self) -> bool {
        self.timeout_kind() == Some(TimeoutKind::SandboxGone)
    }

    /// Whether the sandbox's disk is full.
    pub fn is_not_enough_space(&self) -> bool {
        matches!(self.0.kind, ErrorKind::NotEnoughSpace { .. })
    }

    /// Whether a command exited with a non-zero code.
    pub fn is_command_exit(&self) -> bool {
        matches!(self.0.kind, ErrorKind::CommandExit(_))
    }

    /// Whether the template cannot do what was asked.
    pub fn is_template(&self) -> bool {
        matches!(self.0.kind, ErrorKind::Template { .. })
    }

    /// Whether a template build failed.
    pub fn is_build(&self) -> bool {
        matches!(self.0.kind, ErrorKind::Build { .. })
    }

    /// Whether a volume operation failed.
    pub fn is_volume(&self) -> bool {
        matches!(self.0.kind, ErrorKind::Volume { .. })
    }

    /// Whether a volume was not found ([`NotFoundKind::Volume`]).
    pub fn is_volume_not_found(&self) -> bool {
        self.not_found_kind() == Some(NotFoundKind::Volume)
    }

    /// Whether a path inside a volume was not found ([`NotFoundKind::VolumePath`]).
    pub fn is_volume_path_not_found(&self) -> bool {
        self.not_found_kind() == Some(NotFoundKind::VolumePath)
    }

    /// Whether a git remote refused the credentials.
    pub fn is_git_auth(&self) -> bool {
        matches!(self.0.kind, ErrorKind::GitAuth { .. })
    }

    /// Whether a git operation lacked an upstream branch.
    pub fn is_git_upstream(&self) -> bool {
        matches!(self.0.kind, ErrorKind::GitUpstream { .. })
    }

    /// Whether the configuration was invalid.
    pub fn is_config(&self) -> bool {
        matches!(self.0.kind, ErrorKind::Config(_))
    }

    /// Whether the server's answer could not be understood.
    pub fn is_protocol(&self) -> bool {
        matches!(self.0.kind, ErrorKind::Protocol { .. })
    }

    /// Whether the connection could not be made or broke.
    pub fn is_transport(&self) -> bool {
        matches!(self.0.kind, ErrorKind::Transport { .. })
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::new(ErrorKind::Config(e))
    }
}

impl From<CommandExit> for Error {
    fn from(exit: CommandExit) -> Self {
        Error::command_exit(exit)
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn not_in_spec_names_the_feature_and_both_tags() {
        let err = Error::not_in_spec("sandbox_list_filters");
        assert!(err.is_not_in_spec());
        let message = err.to_string();
        assert!(
            message.starts_with("ordering a sandbox listing"),
            "{message}"
        );
        assert!(
            message.contains(&format!(
                "not supported by the pinned spec ({})",
                e2b_api::spec_features::TAG
            )),
            "{message}"
        );
        assert!(message.contains("needs e2b@2.43.0 or newer"), "{message}");

        let unknown = Error::not_in_spec("no_such_feature").to_string();
        assert!(
            unknown.starts_with("spec feature `no_such_feature`"),
            "{unknown}"
        );
        assert!(!Error::protocol("x").is_not_in_spec());
    }

    #[test]
    fn error_is_small_and_thread_safe() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn display_is_the_kind_and_source_is_not_repeated() {
        let io = std::io::Error::other("connection reset by peer");
        let e = Error::with_source(
            ErrorKind::Transport {
                message: "request to api.e2b.app failed".into(),
            },
            io,
        );
        assert_eq!(
            e.to_string(),
            "request to api.e2b.app failed; check network access, the proxy and the configured urls"
        );
        assert_eq!(e.source().unwrap().to_string(), "connection reset by peer");
        assert!(Error::invalid_argument("x").source().is_none());
    }

    #[test]
    fn predicates() {
        type Predicate = fn(&Error) -> bool;
        let cases: Vec<(Error, Predicate)> = vec![
            (Error::invalid_argument("x"), Error::is_invalid_argument),
            (
                Error::not_found(NotFoundKind::File, "x"),
                Error::is_not_found,
            ),
            (Error::timeout(TimeoutKind::Request, "x"), Error::is_timeout),
            (Error::template("x"), Error::is_template),
            (
                Error::command_exit(CommandExit::new(1, "", "", None)),
                Error::is_command_exit,
            ),
            (Error::protocol("x"), Error::is_protocol),
            (ConfigError::MissingApiKey.into(), Error::is_config),
            (
                ErrorKind::Conflict {
                    message: "x".into(),
                }
                .into(),
                Error::is_conflict,
            ),
            (
                ErrorKind::RateLimited {
                    message: "x".into(),
                }
                .into(),
                Error::is_rate_limited,
            ),
            (
                ErrorKind::Authentication {
                    message: "x".into(),
                }
                .into(),
                Error::is_authentication,
            ),
            (
                ErrorKind::NotEnoughSpace {
                    message: "x".into(),
                }
                .into(),
                Error::is_not_enough_space,
            ),
            (
                ErrorKind::Build {
                    message: "x".into(),
                }
                .into(),
                Error::is_build,
            ),
            (
                ErrorKind::Volume {
                    message: "x".into(),
                }
                .into(),
                Error::is_volume,
            ),
            (
                ErrorKind::GitAuth {
                    message: "x".into(),
                }
                .into(),
                Error::is_git_auth,
            ),
            (
                ErrorKind::GitUpstream {
                    message: "x".into(),
                }
                .into(),
                Error::is_git_upstream,
            ),
            (
                ErrorKind::Transport {
                    message: "x".into(),
                }
                .into(),
                Error::is_transport,
            ),
            (
                Error::timeout(TimeoutKind::SandboxGone, "x"),
                Error::is_sandbox_gone,
            ),
        ];
        let all: [Predicate; 17] = [
            Error::is_invalid_argument,
            Error::is_not_found,
            Error::is_timeout,
            Error::is_template,
            Error::is_command_exit,
            Error::is_protocol,
            Error::is_config,
            Error::is_conflict,
            Error::is_rate_limited,
            Error::is_authentication,
            Error::is_not_enough_space,
            Error::is_build,
            Error::is_volume,
            Error::is_git_auth,
            Error::is_git_upstream,
            Error::is_transport,
            Error::is_sandbox_gone,
        ];
        for (i, (err, pred)) in cases.iter().enumerate() {
            assert!(pred(err), "{err}");
            let matching = all.iter().filter(|p| p(err)).count();
            // A sandbox-gone error is also a timeout; everything else matches one predicate.
            let expected = if err.is_sandbox_gone() { 2 } else { 1 };
            assert_eq!(matching, expected, "case {i}: {err}");
        }
    }

    #[test]
    fn accessors() {
        let e = Error::not_found(NotFoundKind::Other, "x")
            .with_status(404)
            .with_not_found_kind(NotFoundKind::Sandbox);
        assert_eq!(e.not_found_kind(), Some(NotFoundKind::Sandbox));
        assert_eq!(e.status(), Some(404));
        assert_eq!(e.rpc_code(), None);
        assert_eq!(e.request_id(), None);
        assert_eq!(e.timeout_kind(), None);
        let e = Error::timeout(TimeoutKind::Execution, "x")
            .with_code(Code::DeadlineExceeded)
            .with_request_id(Some("req-1".into()));
        assert_eq!(e.timeout_kind(), Some(TimeoutKind::Execution));
        assert_eq!(e.rpc_code(), Some("deadline_exceeded"));
        assert_eq!(e.request_id(), Some("req-1"));
        assert!(!e.is_sandbox_gone());
        // Refining a non-not-found error changes nothing.
        let e = e.with_not_found_kind(NotFoundKind::File);
        assert!(e.is_timeout());
        let exit = CommandExit::new(3, "o", "e", None);
        let e = Error::from(exit.clone());
        assert_eq!(e.command_exit_result(), Some(&exit));
        assert_eq!(e.into_kind(), ErrorKind::CommandExit(exit));
        let e = Error::from(ConfigError::InvalidApiKey);
        assert_eq!(e.config_error(), Some(&ConfigError::InvalidApiKey));
        assert!(e.kind() == &ErrorKind::Config(ConfigError::InvalidApiKey));
    }
}
