//! What went wrong: [`ErrorKind`] and the payload types it carries.

use std::fmt;

use crate::config::ConfigError;

/// The category of an [`Error`](crate::Error), with the details a caller may act on.
///
/// Match on it with a wildcard arm: new kinds may be added. The `Display` form is the
/// error's message: lowercase, saying what to do, never repeating the source.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The credentials were missing, wrong or not allowed (HTTP 401/403, Connect
    /// `unauthenticated`).
    Authentication {
        /// The server's message.
        message: String,
    },
    /// A sandbox, file, code context, template, … does not exist (HTTP 404, Connect
    /// `not_found`).
    NotFound {
        /// What was not found, when the caller knows it.
        resource: NotFoundKind,
        /// The server's message.
        message: String,
    },
    /// The request was rejected as invalid (HTTP 400, Connect `invalid_argument`), or a
    /// client-side check failed.
    InvalidArgument {
        /// What is wrong.
        message: String,
    },
    /// The resource is not in a state that allows the operation (HTTP 409).
    Conflict {
        /// The server's message.
        message: String,
    },
    /// Too many requests (HTTP 429, Connect `resource_exhausted`).
    RateLimited {
        /// The server's message.
        message: String,
    },
    /// Something took too long, or the sandbox is gone; see [`TimeoutKind`].
    Timeout {
        /// Which deadline, or why the sandbox stopped answering.
        kind: TimeoutKind,
        /// Details.
        message: String,
    },
    /// The sandbox's disk is full (HTTP 507).
    NotEnoughSpace {
        /// The server's message.
        message: String,
    },
    /// A command ran and exited with a non-zero code.
    CommandExit(CommandExit),
    /// The sandbox's template cannot do what was asked (e.g. its envd is too old).
    Template {
        /// What is missing.
        message: String,
    },
    /// A template build failed.
    Build {
        /// Why.
        message: String,
    },
    /// A volume operation failed.
    Volume {
        /// Why.
        message: String,
    },
    /// A git operation was refused by the remote for lack of valid credentials.
    GitAuth {
        /// Git's message.
        message: String,
    },
    /// A git operation needs an upstream branch and there is none.
    GitUpstream {
        /// Git's message.
        message: String,
    },
    /// The configuration is invalid.
    Config(ConfigError),
    /// The control plane answered with another error status.
    Api {
        /// The HTTP status.
        status: u16,
        /// The server's message, or the raw body.
        message: String,
    },
    /// envd answered with another Connect error code.
    Envd {
        /// The Connect code's wire name (`"already_exists"`, `"internal"`, …).
        code: String,
        /// envd's message.
        message: String,
    },
    /// The server's answer could not be understood.
    Protocol {
        /// What was wrong with it.
        message: String,
    },
    /// The connection could not be made or broke.
    Transport {
        /// What was being done (the underlying error is the `source`).
        message: String,
    },
    /// The operation needs a part of upstream's spec that the SDK was generated without: it
    /// was built from an older spec tag (see `e2b_api::spec_features`).
    NotInSpec {
        /// What needs it.
        what: String,
        /// The first upstream tag that has it.
        since: String,
        /// The upstream tag the SDK was generated from.
        pinned: String,
    },
}

/// What was not found; see [`ErrorKind::NotFound`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotFoundKind {
    /// A sandbox.
    Sandbox,
    /// A file or directory inside a sandbox.
    File,
    /// A code-interpreter context.
    Context,
    /// A template.
    Template,
    /// A volume.
    Volume,
    /// A file or directory inside a volume.
    VolumePath,
    /// A process inside a sandbox.
    Process,
    /// A snapshot.
    Snapshot,
    /// A secret.
    Secret,
    /// Not known at the point the error was mapped.
    Other,
}

/// Which deadline expired, or why the sandbox stopped answering; see [`ErrorKind::Timeout`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// One request exceeded the request timeout (or was cancelled).
    Request,
    /// A long-running operation (a command, a watch) exceeded its own timeout
    /// (Connect `deadline_exceeded`).
    Execution,
    /// A stream delivered nothing for longer than its idle timeout.
    StreamIdle,
    /// The sandbox no longer answers: killed, or it reached its timeout (HTTP 502,
    /// Connect `unavailable`).
    SandboxGone,
}

/// A command that exited with a non-zero code, with everything it produced.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommandExit {
    /// The exit code.
    pub exit_code: i32,
    /// Everything the command wrote to standard output.
    pub stdout: String,
    /// Everything the command wrote to standard error.
    pub stderr: String,
    /// envd's description of how the process ended (e.g. `signal: killed`), if any.
    pub error: Option<String>,
}

impl CommandExit {
    /// A command result.
    pub fn new(
        exit_code: i32,
        stdout: impl Into<String>,
        stderr: impl Into<String>,
        error: Option<String>,
    ) -> Self {
        CommandExit {
            exit_code,
            stdout: stdout.into(),
            stderr: stderr.into(),
            error,
        }
    }
}

/// How much of the end of stderr an error message shows.
const STDERR_TAIL: usize = 1000;

impl fmt::Display for CommandExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "command exited with code {}", self.exit_code)?;
        let stderr = self.stderr.trim_end();
        if !stderr.is_empty() {
            let mut start = stderr.len().saturating_sub(STDERR_TAIL);
            while !stderr.is_char_boundary(start) {
                start += 1;
            }
            let ellipsis = if start > 0 { "…" } else { "" };
            write!(f, "; stderr: {ellipsis}{}", &stderr[start..])
        } else if let Some(error) = self.error.as_deref().filter(|e| !e.is_empty()) {
            write!(f, ": {error}")
        } else {
            Ok(())
        }
    }
}

/// `": message"`, or nothing for an empty message.
struct Detail<'a>(&'a str);

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, ": {}", self.0)
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Authentication { message } => write!(
                f,
                "authentication failed{}; check the api key (E2B_API_KEY) or access token",
                Detail(message)
            ),
            ErrorKind::NotFound { resource, message } => {
                let (what, hint) = match resource {
                    NotFoundKind::Sandbox => (
                        "sandbox was not found",
                        "; it may have been killed or timed out",
                    ),
                    NotFoundKind::File => ("file or directory was not found", "; check the path"),
                    NotFoundKind::Context => (
                        "code context was not found",
                        "; it may have been removed, create a new one",
                    ),
                    NotFoundKind::Template => (
                        "template was not found",
                        "; check the template name, tag or id",
                    ),
                    NotFoundKind::Volume => {
                        ("volume was not found", "; check the volume name or id")
                    }
                    NotFoundKind::VolumePath => {
                        ("path was not found in the volume", "; check the path")
                    }
                    NotFoundKind::Process => {
                        ("process was not found", "; it may have exited already")
                    }
                    NotFoundKind::Snapshot => ("snapshot was not found", "; check the snapshot id"),
                    NotFoundKind::Secret => {
                        ("secret was not found", "; check the secret name or id")
                    }
                    NotFoundKind::Other => ("not found", ""),
                };
                write!(f, "{what}{}{hint}", Detail(message))
            }
            ErrorKind::InvalidArgument { message } => {
                write!(f, "invalid argument{}", Detail(message))
            }
            ErrorKind::Conflict { message } => write!(
                f,
                "conflict{}; the resource is not in a state that allows this operation",
                Detail(message)
            ),
            ErrorKind::RateLimited { message } => write!(
                f,
                "rate limit exceeded{}; retry later or lower the request rate",
                Detail(message)
            ),
            ErrorKind::Timeout { kind, message } => {
                let (what, hint) = match kind {
                    TimeoutKind::Request => (
                        "request timed out",
                        "; raise the request timeout if the operation is expected to be slow",
                    ),
                    TimeoutKind::Execution => (
                        "operation exceeded its timeout",
                        "; pass a longer timeout for long-running commands or watches \
                         (zero disables it)",
                    ),
                    TimeoutKind::StreamIdle => (
                        "stream received nothing for too long",
                        "; the sandbox may be overloaded or unreachable, or the source of an upload stalled",
                    ),
                    TimeoutKind::SandboxGone => (
                        "sandbox is not reachable",
                        "; this is likely due to sandbox timeout: it was killed or reached \
                         its end of life (extend it with set_timeout)",
                    ),
                };
                write!(f, "{what}{}{hint}", Detail(message))
            }
            ErrorKind::NotEnoughSpace { message } => write!(
                f,
                "not enough disk space in the sandbox{}; free some space or use a template \
                 with a larger disk",
                Detail(message)
            ),
            ErrorKind::CommandExit(exit) => exit.fmt(f),
            ErrorKind::Template { message } => write!(f, "template error{}", Detail(message)),
            ErrorKind::Build { message } => {
                write!(f, "template build failed{}", Detail(message))
            }
            ErrorKind::Volume { message } => write!(f, "volume error{}", Detail(message)),
            ErrorKind::GitAuth { message } => write!(
                f,
                "git authentication failed{}; pass a username and token for the remote",
                Detail(message)
            ),
            ErrorKind::GitUpstream { message } => write!(
                f,
                "git upstream is missing{}; set an upstream branch or name the remote and \
                 branch explicitly",
                Detail(message)
            ),
            ErrorKind::Config(e) => e.fmt(f),
            ErrorKind::Api { status, message } => write!(f, "{status}{}", Detail(message)),
            ErrorKind::Envd { code, message } => write!(f, "{code}{}", Detail(message)),
            ErrorKind::Protocol { message } => write!(
                f,
                "unexpected response{}; the server may not be E2B-compatible or may run an \
                 incompatible version",
                Detail(message)
            ),
            ErrorKind::Transport { message } => write!(
                f,
                "{}; check network access, the proxy and the configured urls",
                if message.is_empty() {
                    "connection failed"
                } else {
                    message
                }
            ),
            ErrorKind::NotInSpec {
                what,
                since,
                pinned,
            } => write!(
                f,
                "{what} is not supported by the pinned spec ({pinned}); it needs {since} or \
                 newer: regenerate the SDK from a newer spec"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(kind: ErrorKind) -> String {
        kind.to_string()
    }

    #[test]
    fn messages_are_lowercase_and_actionable() {
        assert_eq!(
            s(ErrorKind::NotFound {
                resource: NotFoundKind::Sandbox,
                message: "sandbox abc".into()
            }),
            "sandbox was not found: sandbox abc; it may have been killed or timed out"
        );
        assert_eq!(
            s(ErrorKind::NotFound {
                resource: NotFoundKind::Other,
                message: String::new()
            }),
            "not found"
        );
        assert_eq!(
            s(ErrorKind::Api {
                status: 500,
                message: "boom".into()
            }),
            "500: boom"
        );
        assert_eq!(
            s(ErrorKind::Envd {
                code: "internal".into(),
                message: "stdin closed".into()
            }),
            "internal: stdin closed"
        );
        let all = [
            ErrorKind::Authentication {
                message: "x".into(),
            },
            ErrorKind::InvalidArgument {
                message: "x".into(),
            },
            ErrorKind::Conflict {
                message: "x".into(),
            },
            ErrorKind::RateLimited {
                message: "x".into(),
            },
            ErrorKind::NotEnoughSpace {
                message: "x".into(),
            },
            ErrorKind::Template {
                message: "x".into(),
            },
            ErrorKind::Build {
                message: "x".into(),
            },
            ErrorKind::Volume {
                message: "x".into(),
            },
            ErrorKind::GitAuth {
                message: "x".into(),
            },
            ErrorKind::GitUpstream {
                message: "x".into(),
            },
            ErrorKind::Protocol {
                message: "x".into(),
            },
            ErrorKind::Transport {
                message: "x".into(),
            },
            ErrorKind::Config(ConfigError::MissingApiKey),
        ];
        for kind in all {
            let m = s(kind);
            assert!(m.chars().next().unwrap().is_lowercase(), "{m}");
        }
        for kind in [
            TimeoutKind::Request,
            TimeoutKind::Execution,
            TimeoutKind::StreamIdle,
            TimeoutKind::SandboxGone,
        ] {
            let m = s(ErrorKind::Timeout {
                kind,
                message: "m".into(),
            });
            assert!(m.contains(": m; "), "{m}");
        }
    }

    #[test]
    fn command_exit_message() {
        let e = CommandExit::new(2, "out", "line1\nboom\n", Some("exit status 2".into()));
        assert_eq!(
            e.to_string(),
            "command exited with code 2; stderr: line1\nboom"
        );
        let e = CommandExit::new(-1, "", "", Some("signal: killed".into()));
        assert_eq!(e.to_string(), "command exited with code -1: signal: killed");
        let e = CommandExit::new(1, "", "", None);
        assert_eq!(e.to_string(), "command exited with code 1");
        let long = "é".repeat(2000);
        let m = CommandExit::new(1, "", long, None).to_string();
        assert!(m.contains("stderr: …é"));
        assert!(m.len() < 1100);
    }
}
