//! [`CliError`]: one line for the user, saying what to do, and the exit code.

use std::fmt;

use e2b_sandbox::ConfigError;

/// Exit codes (the crate docs and `--help` list them).
pub(crate) mod code {
    pub(crate) const FAILURE: u8 = 1;
    pub(crate) const CONFIG: u8 = 3;
    pub(crate) const NOT_FOUND: u8 = 4;
    pub(crate) const AUTH: u8 = 5;
    pub(crate) const TIMEOUT: u8 = 6;
    pub(crate) const INTERRUPTED: u8 = 130;
    /// `exec` and `connect`: e2b's own failure, as distinct from the remote command's code.
    pub(crate) const REMOTE_PROXY_FAILURE: u8 = 255;
}

/// A failure of a command: its message (one line) and exit code.
#[derive(Debug)]
pub(crate) struct CliError {
    message: String,
    code: u8,
}

impl CliError {
    /// A failure with exit code 1.
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        CliError::with_code(code::FAILURE, message)
    }

    pub(crate) fn with_code(code: u8, message: impl Into<String>) -> Self {
        CliError {
            message: one_line(&message.into()),
            code,
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        CliError::with_code(code::NOT_FOUND, message)
    }

    /// A local I/O failure while doing `what`.
    pub(crate) fn io(what: impl fmt::Display, e: std::io::Error) -> Self {
        CliError::failed(format!("{what}: {e}"))
    }

    /// A configuration problem, in terms of the variables and flags of this program.
    pub(crate) fn config(e: ConfigError) -> Self {
        let message = match &e {
            ConfigError::MissingApiKey => "E2B_API_KEY is not set: export your key (create one at \
                 https://e2b.dev/dashboard?tab=keys) or pass --api-key; for a local server, export \
                 the variables `e2b local serve` prints"
                .to_owned(),
            ConfigError::InvalidApiKey => "E2B_API_KEY (or --api-key) is malformed: E2B keys are \
                 `e2b_` followed by lowercase hex digits; set E2B_VALIDATE_API_KEY=false for keys \
                 of another format"
                .to_owned(),
            other => match other.variable() {
                Some(variable) => format!("{other} (set {variable} or the matching flag)"),
                None => other.to_string(),
            },
        };
        CliError::with_code(code::CONFIG, message)
    }

    /// The same failure, its message after `prefix: `.
    pub(crate) fn prefixed(mut self, prefix: &str) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }

    /// The same failure with another exit code.
    pub(crate) fn recode(mut self, code: u8) -> Self {
        self.code = code;
        self
    }

    pub(crate) fn code(&self) -> u8 {
        self.code
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<e2b_sandbox::Error> for CliError {
    fn from(e: e2b_sandbox::Error) -> Self {
        if let Some(config) = e.config_error() {
            return CliError::config(config.clone());
        }
        let code = if e.is_not_found() {
            code::NOT_FOUND
        } else if e.is_authentication() {
            code::AUTH
        } else if e.is_timeout() {
            code::TIMEOUT
        } else {
            code::FAILURE
        };
        let mut message = with_sources(&e);
        if e.is_authentication() {
            message
                .push_str(" (check E2B_API_KEY or --api-key, and that it belongs to this server)");
        } else if e.is_transport() {
            message.push_str(
                " (check the network and E2B_API_URL / E2B_DOMAIN, or --api-url / --domain)",
            );
        }
        CliError::with_code(code, message)
    }
}

/// An error and its sources, each once, separated by `: `.
fn with_sources(e: &(dyn std::error::Error + 'static)) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !text.is_empty() && !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message
}

/// Newlines and runs of spaces folded, so that an error is one line.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_key_names_the_variable_and_the_flag() {
        let e = CliError::config(ConfigError::MissingApiKey);
        assert_eq!(e.code(), code::CONFIG);
        let text = e.to_string();
        assert!(text.starts_with("E2B_API_KEY is not set: "), "{text}");
        assert!(text.contains("--api-key"), "{text}");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn sdk_errors_map_to_documented_codes() {
        let not_found = e2b_sandbox::Error::not_found(e2b_sandbox::NotFoundKind::Sandbox, "gone");
        assert_eq!(CliError::from(not_found).code(), code::NOT_FOUND);
        let timeout = e2b_sandbox::Error::timeout(e2b_sandbox::TimeoutKind::Request, "slow");
        assert_eq!(CliError::from(timeout).code(), code::TIMEOUT);
        let invalid = e2b_sandbox::Error::invalid_argument("bad\nthing");
        let e = CliError::from(invalid);
        assert_eq!(e.code(), code::FAILURE);
        assert!(!e.to_string().contains('\n'));
    }
}
