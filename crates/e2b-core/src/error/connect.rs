//! envd Connect errors → [`Error`]. The one place Connect codes are mapped, following the
//! official SDKs' RPC error map.

use e2b_envd::connect::{Code, ConnectError, Error as EnvdError, TimeoutKind as EnvdTimeoutKind};

use super::{Error, ErrorKind, NotFoundKind, TimeoutKind};

/// The error for a Connect error sent by envd.
///
/// | Code | Kind |
/// |---|---|
/// | `invalid_argument` | [`ErrorKind::InvalidArgument`] |
/// | `unauthenticated` | [`ErrorKind::Authentication`] |
/// | `not_found` | [`ErrorKind::NotFound`] ([`NotFoundKind::Other`]; refine with [`with_not_found_kind`](Error::with_not_found_kind)) |
/// | `unavailable` | [`ErrorKind::Timeout`] ([`TimeoutKind::SandboxGone`]) |
/// | `resource_exhausted` | [`ErrorKind::RateLimited`] |
/// | `canceled` | [`ErrorKind::Timeout`] ([`TimeoutKind::Request`]) |
/// | `deadline_exceeded` | [`ErrorKind::Timeout`] ([`TimeoutKind::Execution`]) |
/// | other | [`ErrorKind::Envd`], displayed as `"<code>: <message>"` |
///
/// The code stays available through [`Error::rpc_code`] (e.g. to treat `already_exists`
/// from `MakeDir` as "nothing to do").
pub(crate) fn from_connect(error: ConnectError) -> Error {
    let code = error.code;
    let message = error.message;
    let kind = match code {
        Code::InvalidArgument => ErrorKind::InvalidArgument { message },
        Code::Unauthenticated => ErrorKind::Authentication { message },
        Code::NotFound => ErrorKind::NotFound {
            resource: NotFoundKind::Other,
            message,
        },
        Code::Unavailable => ErrorKind::Timeout {
            kind: TimeoutKind::SandboxGone,
            message,
        },
        Code::ResourceExhausted => ErrorKind::RateLimited { message },
        Code::Canceled => ErrorKind::Timeout {
            kind: TimeoutKind::Request,
            message,
        },
        Code::DeadlineExceeded => ErrorKind::Timeout {
            kind: TimeoutKind::Execution,
            message,
        },
        code => ErrorKind::Envd {
            code: code.as_str().to_owned(),
            message,
        },
    };
    Error::new(kind).with_code(code)
}

/// The error of a failed call of the Connect runtime: server errors map by code
/// ([`from_connect`]); transport failures (whatever
/// [`is_transport`](EnvdError::is_transport) reports) stay transport errors; client-side
/// deadlines become [`TimeoutKind::Request`] (whole call) or [`TimeoutKind::StreamIdle`];
/// framing and codec failures become protocol errors.
pub(crate) fn from_envd(e: EnvdError) -> Error {
    let code = e.code();
    if e.is_transport() {
        let message = "connection to the sandbox failed".to_owned();
        return match e {
            EnvdError::Transport(source) => {
                Error::with_source(ErrorKind::Transport { message }, source)
            }
            other => Error::with_source(ErrorKind::Transport { message }, other),
        }
        .with_code(code);
    }
    match e {
        EnvdError::Connect(e) => from_connect(*e),
        EnvdError::Timeout { kind, after } => {
            let (kind, message) = match kind {
                EnvdTimeoutKind::Idle => {
                    (TimeoutKind::StreamIdle, format!("no message for {after:?}"))
                }
                _ => (
                    TimeoutKind::Request,
                    format!("no complete response within {after:?}"),
                ),
            };
            Error::timeout(kind, message).with_code(code)
        }
        other => Error::with_source(
            ErrorKind::Protocol {
                message: "envd sent a malformed response".into(),
            },
            other,
        )
        .with_code(code),
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::time::Duration;

    use super::*;

    fn map(code: Code) -> Error {
        from_envd(EnvdError::from(ConnectError::new(code, "msg")))
    }

    #[test]
    fn every_connect_code() {
        for code in Code::ALL {
            let e = map(code);
            assert_eq!(e.code(), Some(code));
            assert_eq!(e.rpc_code(), Some(code.as_str()));
            assert_eq!(e.status(), None);
            let expected: fn(&Error) -> bool = match code {
                Code::InvalidArgument => Error::is_invalid_argument,
                Code::Unauthenticated => Error::is_authentication,
                Code::NotFound => Error::is_not_found,
                Code::Unavailable => Error::is_sandbox_gone,
                Code::ResourceExhausted => Error::is_rate_limited,
                Code::Canceled => |e| e.timeout_kind() == Some(TimeoutKind::Request),
                Code::DeadlineExceeded => |e| e.timeout_kind() == Some(TimeoutKind::Execution),
                Code::Unknown
                | Code::AlreadyExists
                | Code::PermissionDenied
                | Code::FailedPrecondition
                | Code::Aborted
                | Code::OutOfRange
                | Code::Unimplemented
                | Code::Internal
                | Code::DataLoss => |e| matches!(e.kind(), ErrorKind::Envd { .. }),
                _ => unreachable!("a new Connect code needs a mapping decision: {code}"),
            };
            assert!(expected(&e), "{code}: {e:?}");
        }
    }

    #[test]
    fn other_codes_display_code_and_message() {
        for code in [
            Code::Unknown,
            Code::AlreadyExists,
            Code::PermissionDenied,
            Code::FailedPrecondition,
            Code::Aborted,
            Code::OutOfRange,
            Code::Unimplemented,
            Code::Internal,
            Code::DataLoss,
        ] {
            let e = map(code);
            assert_eq!(e.to_string(), format!("{}: msg", code.as_str()));
            assert_eq!(
                e.kind(),
                &ErrorKind::Envd {
                    code: code.as_str().into(),
                    message: "msg".into()
                }
            );
        }
    }

    #[test]
    fn messages() {
        assert!(
            map(Code::Unavailable)
                .to_string()
                .contains("likely due to sandbox timeout")
        );
        assert!(map(Code::DeadlineExceeded).to_string().contains("timeout"));
        assert_eq!(
            map(Code::NotFound)
                .with_not_found_kind(NotFoundKind::File)
                .to_string(),
            "file or directory was not found: msg; check the path"
        );
        assert_eq!(
            map(Code::InvalidArgument).to_string(),
            "invalid argument: msg"
        );
    }

    #[test]
    fn transport_errors_stay_transport_errors() {
        let e = from_envd(EnvdError::Transport(Box::new(std::io::Error::other(
            "connection reset",
        ))));
        assert!(e.is_transport());
        assert_eq!(e.code(), Some(Code::Unavailable));
        assert_eq!(e.source().unwrap().to_string(), "connection reset");
        assert!(!e.to_string().contains("connection reset"));
    }

    #[test]
    fn client_side_timeouts() {
        let e = from_envd(EnvdError::Timeout {
            kind: EnvdTimeoutKind::Idle,
            after: Duration::from_secs(60),
        });
        assert_eq!(e.timeout_kind(), Some(TimeoutKind::StreamIdle));
        assert!(e.to_string().contains("60s"), "{e}");
        let e = from_envd(EnvdError::Timeout {
            kind: EnvdTimeoutKind::Call,
            after: Duration::from_secs(5),
        });
        assert_eq!(e.timeout_kind(), Some(TimeoutKind::Request));
        assert_eq!(e.code(), Some(Code::DeadlineExceeded));
    }

    #[test]
    fn protocol_and_codec_errors() {
        for err in [
            EnvdError::Protocol("bad envelope flags 0x80".into()),
            EnvdError::Codec("expected value at line 1".into()),
        ] {
            let e = from_envd(err);
            assert!(e.is_protocol(), "{e:?}");
            assert_eq!(e.code(), Some(Code::Internal));
            assert!(e.source().is_some());
        }
    }

    #[test]
    fn connect_error_converts_directly() {
        let e = from_connect(ConnectError::new(Code::NotFound, "process 1"));
        assert!(e.is_not_found());
    }
}
