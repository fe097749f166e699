//! Options of commands: [`CommandOptions`], [`CommandConnectOptions`].

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How long a command may run by default (the official SDKs' 60 s).
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an open output stream may stay silent by default. envd sends a keepalive every
/// 50 s of silence, so a healthy stream is never silent this long.
pub const DEFAULT_STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A callback receiving text output (stdout or stderr), called in order as it arrives.
pub type TextCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// The deadlines of a process stream, shared by commands and pseudo-terminals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StreamDeadlines {
    /// The whole stream (and, for a start, the process's life); `None` means none.
    pub(crate) timeout: Option<Duration>,
    /// Waiting for envd to confirm the start; `None` inherits the sandbox's request timeout.
    pub(crate) request_timeout: Option<Duration>,
    /// Silence between two messages; `None` means no limit.
    pub(crate) idle_timeout: Option<Duration>,
}

impl Default for StreamDeadlines {
    fn default() -> Self {
        StreamDeadlines {
            timeout: Some(DEFAULT_COMMAND_TIMEOUT),
            request_timeout: None,
            idle_timeout: Some(DEFAULT_STREAM_IDLE_TIMEOUT),
        }
    }
}

/// Options of [`Commands::run_with`](crate::Commands::run_with) and
/// [`Commands::spawn_with`](crate::Commands::spawn_with). The user to run as is chosen on
/// the sandbox handle: [`Sandbox::with_user`](crate::Sandbox::with_user).
///
/// # Timeouts
///
/// - [`timeout`](Self::timeout) (default 60 s) bounds the whole command: envd kills the
///   process when it passes and the call fails with a timeout of kind
///   [`Execution`](crate::TimeoutKind::Execution). `Duration::ZERO` or
///   [`no_timeout`](Self::no_timeout) lets it run until it exits (or the sandbox ends).
/// - [`request_timeout`](Self::request_timeout) bounds only the start: the wait until envd
///   confirms the process with its pid. It defaults to the client's request timeout.
/// - [`stream_idle_timeout`](Self::stream_idle_timeout) (default 60 s) bounds the silence
///   of the open output stream; envd sends keepalives, so it only expires when the
///   connection is stuck.
///
/// ```
/// use std::time::Duration;
/// use e2b_sandbox::CommandOptions;
///
/// let options = CommandOptions::new()
///     .cwd("/tmp")
///     .env("RUST_LOG", "debug")
///     .timeout(Duration::from_secs(600))
///     .on_stdout(|text| print!("{text}"));
/// # let _ = options;
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
#[must_use]
pub struct CommandOptions {
    /// Environment variables, added to the sandbox's.
    pub envs: HashMap<String, String>,
    /// The working directory; `None` is the user's home.
    pub cwd: Option<String>,
    /// Whether the command's stdin stays open for [`CommandHandle::send_stdin`](crate::CommandHandle::send_stdin).
    /// `None` is `false` (stdin is `/dev/null`); `Some(false)` fails on envd older than 0.3.0,
    /// where stdin is always open.
    pub stdin: Option<bool>,
    /// A tag to find the process by later (see [`ProcessSelector::Tag`](crate::ProcessSelector::Tag)).
    pub tag: Option<String>,
    pub(crate) deadlines: StreamDeadlines,
    pub(crate) on_stdout: Option<TextCallback>,
    pub(crate) on_stderr: Option<TextCallback>,
}

impl CommandOptions {
    /// The defaults: no extra environment, the default directory, stdin closed, a
    /// 60 s timeout.
    pub fn new() -> Self {
        CommandOptions::default()
    }

    crate::setters::process_setters!(cwd = "Run in `cwd`.");

    /// Keep stdin open (`true`) or connect it to `/dev/null` (`false`, the default).
    pub fn stdin(mut self, open: bool) -> Self {
        self.stdin = Some(open);
        self
    }

    /// Tag the process.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    crate::setters::deadline_setters!(
        timeout = "Bound the whole command; `Duration::ZERO` means no limit.",
        no_timeout = "Let the command run until it exits.",
        request_timeout =
            "Bound the start (until envd confirms the pid); `Duration::ZERO` means no limit.",
    );

    crate::setters::output_callback_setters!();
}

impl fmt::Debug for CommandOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Environment values may be secrets: names only.
        f.debug_struct("CommandOptions")
            .field("envs", &self.envs.keys().collect::<Vec<_>>())
            .field("cwd", &self.cwd)
            .field("stdin", &self.stdin)
            .field("tag", &self.tag)
            .field("deadlines", &self.deadlines)
            .field("on_stdout", &self.on_stdout.is_some())
            .field("on_stderr", &self.on_stderr.is_some())
            .finish()
    }
}

/// Options of [`Commands::connect_with`](crate::Commands::connect_with): the same deadlines and
/// callbacks as [`CommandOptions`].
#[derive(Clone, Default)]
#[non_exhaustive]
#[must_use]
pub struct CommandConnectOptions {
    pub(crate) deadlines: StreamDeadlines,
    pub(crate) on_stdout: Option<TextCallback>,
    pub(crate) on_stderr: Option<TextCallback>,
}

impl CommandConnectOptions {
    /// A 60 s timeout on the connection, the client's request timeout for attaching.
    pub fn new() -> Self {
        CommandConnectOptions::default()
    }

    crate::setters::deadline_setters!(
        timeout = "Bound how long to stay connected; `Duration::ZERO` means no limit. Unlike a \
                   start, this does not limit the process itself.",
        no_timeout = "Stay connected until the process exits.",
        request_timeout = "Bound attaching (until envd confirms the pid); `Duration::ZERO` means \
                           no limit.",
    );

    crate::setters::output_callback_setters!();
}

impl fmt::Debug for CommandConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandConnectOptions")
            .field("deadlines", &self.deadlines)
            .field("on_stdout", &self.on_stdout.is_some())
            .field("on_stderr", &self.on_stderr.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_upstream() {
        let o = CommandOptions::new();
        assert_eq!(o.deadlines.timeout, Some(Duration::from_secs(60)));
        assert_eq!(o.deadlines.request_timeout, None);
        assert_eq!(o.deadlines.idle_timeout, Some(Duration::from_secs(60)));
        assert_eq!(o.stdin, None);
        assert!(o.cwd.is_none() && o.tag.is_none());
    }

    #[test]
    fn zero_means_no_limit() {
        let o = CommandOptions::new()
            .timeout(Duration::ZERO)
            .stream_idle_timeout(Duration::ZERO);
        assert_eq!(o.deadlines.timeout, None);
        assert_eq!(o.deadlines.idle_timeout, None);
        let o = CommandOptions::new()
            .timeout(Duration::from_secs(5))
            .no_timeout();
        assert_eq!(o.deadlines.timeout, None);
    }

    #[test]
    fn debug_hides_environment_values() {
        let o = CommandOptions::new()
            .env("TOKEN", "s3cr3t-value")
            .on_stdout(|_| {});
        let s = format!("{o:?}");
        assert!(s.contains("TOKEN"));
        assert!(!s.contains("s3cr3t"), "{s}");
    }
}
