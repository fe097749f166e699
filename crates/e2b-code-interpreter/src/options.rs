//! Options of [`run_code`](crate::CodeInterpreter::run_code) and
//! [`create_code_context`](crate::CodeInterpreter::create_code_context).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::models::{ExecutionError, ExecutionResult, OutputMessage};

/// The default deadline of a whole execution: 300 s, the official Python SDK's (the
/// JavaScript SDK uses 60 s).
pub const DEFAULT_EXECUTION_TIMEOUT: Duration = Duration::from_secs(300);

/// Languages the code-interpreter template runs. Any other name is passed to the server,
/// which answers with an error if it has no such kernel.
pub mod language {
    /// Python (the default), with pandas, matplotlib and the chart extractor.
    pub const PYTHON: &str = "python";
    /// JavaScript (`js` works too).
    pub const JAVASCRIPT: &str = "javascript";
    /// TypeScript (`ts` works too).
    pub const TYPESCRIPT: &str = "typescript";
    /// R.
    pub const R: &str = "r";
    /// Java.
    pub const JAVA: &str = "java";
    /// Bash.
    pub const BASH: &str = "bash";
}

pub(crate) type Callback<T> = Arc<dyn Fn(&T) + Send + Sync>;

/// Options of [`run_code`](crate::CodeInterpreter::run_code) and
/// [`run_code_stream`](crate::CodeInterpreter::run_code_stream).
///
/// ```
/// use std::time::Duration;
/// use e2b_code_interpreter::{RunCodeOptions, language};
///
/// let options = RunCodeOptions::new()
///     .language(language::PYTHON)
///     .envs([("MODE", "test")])
///     .timeout(Duration::from_secs(30))
///     .on_stdout(|m| print!("{}", m.line))
///     .on_error(|e| eprintln!("{}: {}", e.name, e.value));
/// ```
///
/// Deadlines:
/// - [`timeout`](Self::timeout) (default [`DEFAULT_EXECUTION_TIMEOUT`], `Duration::ZERO`:
///   none) bounds the whole execution; when it passes the connection is closed, which makes
///   the server interrupt the kernel (the context's state survives);
/// - [`request_timeout`](Self::request_timeout) (default: the sandbox's request timeout)
///   bounds the wait for the server's answer to begin;
/// - [`stream_idle_timeout`](Self::stream_idle_timeout) (default none) bounds the silence
///   of the stream; the server sends a keepalive line every 5 s, so a few times that
///   detects a dead connection early.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct RunCodeOptions {
    pub(crate) language: Option<String>,
    pub(crate) context_id: Option<String>,
    pub(crate) envs: Vec<(String, String)>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) stream_idle_timeout: Option<Duration>,
    pub(crate) on_stdout: Option<Callback<OutputMessage>>,
    pub(crate) on_stderr: Option<Callback<OutputMessage>>,
    pub(crate) on_result: Option<Callback<ExecutionResult>>,
    pub(crate) on_error: Option<Callback<ExecutionError>>,
}

impl RunCodeOptions {
    /// The defaults: Python's default context, 300 s execution timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Run in the default context of this language (see [`language`]); mutually exclusive
    /// with [`context`](Self::context).
    #[must_use]
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// Run in this context (a [`Context`](crate::Context) or its id); mutually exclusive
    /// with [`language`](Self::language).
    #[must_use]
    pub fn context(mut self, context: impl AsRef<str>) -> Self {
        self.context_id = Some(context.as_ref().to_owned());
        self
    }

    /// Environment variables set for this execution only.
    #[must_use]
    pub fn envs<K, V>(mut self, envs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.envs
            .extend(envs.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// The deadline of the whole execution; `Duration::ZERO` for none. Default
    /// [`DEFAULT_EXECUTION_TIMEOUT`].
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The deadline for the server's answer to begin; `Duration::ZERO` for none. Default:
    /// the sandbox's request timeout.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// The longest silence allowed on the output stream (keepalives count); `Duration::ZERO`
    /// for none, the default.
    #[must_use]
    pub fn stream_idle_timeout(mut self, timeout: Duration) -> Self {
        self.stream_idle_timeout = Some(timeout).filter(|t| !t.is_zero());
        self
    }

    /// Called with each chunk of standard output, as it arrives.
    #[must_use]
    pub fn on_stdout(mut self, f: impl Fn(&OutputMessage) + Send + Sync + 'static) -> Self {
        self.on_stdout = Some(Arc::new(f));
        self
    }

    /// Called with each chunk of standard error, as it arrives.
    #[must_use]
    pub fn on_stderr(mut self, f: impl Fn(&OutputMessage) + Send + Sync + 'static) -> Self {
        self.on_stderr = Some(Arc::new(f));
        self
    }

    /// Called with each result (displayed objects and the cell's value), as it arrives.
    #[must_use]
    pub fn on_result(mut self, f: impl Fn(&ExecutionResult) + Send + Sync + 'static) -> Self {
        self.on_result = Some(Arc::new(f));
        self
    }

    /// Called with the error the code raised.
    #[must_use]
    pub fn on_error(mut self, f: impl Fn(&ExecutionError) + Send + Sync + 'static) -> Self {
        self.on_error = Some(Arc::new(f));
        self
    }

    /// The execution deadline in effect (`None`: none).
    pub(crate) fn execution_timeout(&self) -> Option<Duration> {
        match self.timeout {
            None => Some(DEFAULT_EXECUTION_TIMEOUT),
            Some(t) if t.is_zero() => None,
            Some(t) => Some(t),
        }
    }
}

impl fmt::Debug for RunCodeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunCodeOptions")
            .field("language", &self.language)
            .field("context_id", &self.context_id)
            .field(
                "envs",
                &self.envs.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .field("request_timeout", &self.request_timeout)
            .field("stream_idle_timeout", &self.stream_idle_timeout)
            .field("on_stdout", &self.on_stdout.is_some())
            .field("on_stderr", &self.on_stderr.is_some())
            .field("on_result", &self.on_result.is_some())
            .field("on_error", &self.on_error.is_some())
            .finish()
    }
}

/// Options of [`create_code_context`](crate::CodeInterpreter::create_code_context).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContextOptions {
    pub(crate) cwd: Option<String>,
    pub(crate) language: Option<String>,
    pub(crate) request_timeout: Option<Duration>,
}

impl ContextOptions {
    /// The defaults: Python, working directory `/home/user` (chosen by the server).
    pub fn new() -> Self {
        Self::default()
    }

    /// The context's working directory.
    #[must_use]
    pub fn cwd(mut self, cwd: impl Into<String>) -> Self {
        self.cwd = Some(cwd.into());
        self
    }

    /// The context's language (see [`language`]).
    #[must_use]
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// The deadline of the request; `Duration::ZERO` for none. Default: the sandbox's
    /// request timeout.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_timeout_defaults_and_zero() {
        assert_eq!(
            RunCodeOptions::new().execution_timeout(),
            Some(DEFAULT_EXECUTION_TIMEOUT)
        );
        assert_eq!(
            RunCodeOptions::new()
                .timeout(Duration::ZERO)
                .execution_timeout(),
            None
        );
        assert_eq!(
            RunCodeOptions::new()
                .timeout(Duration::from_secs(2))
                .execution_timeout(),
            Some(Duration::from_secs(2))
        );
        let debug = format!("{:?}", RunCodeOptions::new().envs([("K", "secret")]));
        assert!(!debug.contains("secret"), "{debug}");
    }
}
