//! A sandbox's logs, as the control plane keeps them: [`Client::sandbox_logs`].

use std::collections::HashMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use e2b_api::control::types;
use e2b_core::{Error, Result};
use tracing::Instrument as _;

use crate::client::Client;
use crate::sandbox::{Sandbox, sandbox_not_found};

/// The most entries one request returns (the control plane's limit).
pub const MAX_LOG_ENTRIES: u32 = 1000;

/// The severity of a [`SandboxLogEntry`].
///
/// ```
/// use e2b_sandbox::LogLevel;
///
/// assert_eq!("warn".parse::<LogLevel>().unwrap(), LogLevel::Warn);
/// assert_eq!(LogLevel::Error.to_string(), "error");
/// assert!(LogLevel::Warn > LogLevel::Info);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum LogLevel {
    /// `debug`.
    Debug,
    /// `info`.
    Info,
    /// `warn`.
    Warn,
    /// `error`.
    Error,
    /// A level this crate does not know, as the control plane sent it.
    Unknown(String),
}

impl LogLevel {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::Unknown(level) => level,
        }
    }

    fn from_wire(level: types::LogLevel) -> Self {
        match level {
            types::LogLevel::Debug => LogLevel::Debug,
            types::LogLevel::Info => LogLevel::Info,
            types::LogLevel::Warn => LogLevel::Warn,
            types::LogLevel::Error => LogLevel::Error,
            other => LogLevel::Unknown(other.as_str().to_owned()),
        }
    }

    fn to_wire(&self) -> types::LogLevel {
        match self {
            LogLevel::Debug => types::LogLevel::Debug,
            LogLevel::Info => types::LogLevel::Info,
            LogLevel::Warn => types::LogLevel::Warn,
            LogLevel::Error => types::LogLevel::Error,
            LogLevel::Unknown(level) => types::LogLevel::UnknownValue(level.clone()),
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LogLevel {
    type Err = Error;

    /// Parse `debug`, `info`, `warn` or `error` (any case).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "debug" => Ok(LogLevel::Debug),
            "info" => Ok(LogLevel::Info),
            "warn" | "warning" => Ok(LogLevel::Warn),
            "error" => Ok(LogLevel::Error),
            _ => Err(Error::invalid_argument(format!(
                "invalid log level `{}`: expected debug, info, warn or error",
                s.escape_debug()
            ))),
        }
    }
}

/// One entry of a sandbox's logs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SandboxLogEntry {
    /// When it was logged.
    pub timestamp: SystemTime,
    /// Its severity.
    pub level: LogLevel,
    /// The message.
    pub message: String,
    /// Structured fields (the logger, the process, …).
    pub fields: HashMap<String, String>,
}

impl From<types::SandboxLogEntry> for SandboxLogEntry {
    fn from(e: types::SandboxLogEntry) -> Self {
        SandboxLogEntry {
            timestamp: SystemTime::from(e.timestamp),
            level: LogLevel::from_wire(e.level),
            message: e.message,
            fields: e.fields,
        }
    }
}

/// Options of [`Client::sandbox_logs_with`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
#[must_use]
pub struct LogsOptions {
    /// Only entries logged at or after this time.
    pub start: Option<SystemTime>,
    /// At most this many entries (the control plane returns at most
    /// [`MAX_LOG_ENTRIES`]).
    pub limit: Option<u32>,
    /// Only entries of this level or above.
    pub level: Option<LogLevel>,
    /// Only entries whose message contains this text (case-sensitive).
    pub search: Option<String>,
}

impl LogsOptions {
    /// Every entry the control plane returns, oldest first.
    pub fn new() -> Self {
        LogsOptions::default()
    }

    /// Only entries logged at or after `start`.
    pub fn start(mut self, start: SystemTime) -> Self {
        self.start = Some(start);
        self
    }

    /// At most `limit` entries.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Only entries of `level` or above.
    pub fn level(mut self, level: LogLevel) -> Self {
        self.level = Some(level);
        self
    }

    /// Only entries whose message contains `text`.
    pub fn search(mut self, text: impl Into<String>) -> Self {
        self.search = Some(text.into());
        self
    }
}

fn unix_millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Client {
    /// A sandbox's logs, oldest first (`GET /v2/sandboxes/{id}/logs`). Empty in debug mode.
    ///
    /// # Errors
    ///
    /// Not found if no such sandbox exists; other control-plane errors.
    pub async fn sandbox_logs(&self, sandbox_id: &str) -> Result<Vec<SandboxLogEntry>> {
        self.sandbox_logs_with(sandbox_id, LogsOptions::new()).await
    }

    /// [`sandbox_logs`](Self::sandbox_logs) with options.
    ///
    /// # Errors
    ///
    /// Invalid argument for a search text longer than 256 bytes or a limit above
    /// [`MAX_LOG_ENTRIES`]; the errors of [`sandbox_logs`](Self::sandbox_logs).
    pub async fn sandbox_logs_with(
        &self,
        sandbox_id: &str,
        options: LogsOptions,
    ) -> Result<Vec<SandboxLogEntry>> {
        crate::sandbox::control::check_id(sandbox_id, "sandbox id")?;
        if let Some(limit) = options.limit
            && limit > MAX_LOG_ENTRIES
        {
            return Err(Error::invalid_argument(format!(
                "a log request returns at most {MAX_LOG_ENTRIES} entries, not {limit}"
            )));
        }
        if self.is_debug() {
            return Ok(Vec::new());
        }
        let span = tracing::info_span!("e2b.sandbox.logs", sandbox_id);
        let mut request = self
            .api()
            .get_v2_sandboxes_sandbox_id_logs()
            .sandbox_id(sandbox_id)
            .direction(types::LogsDirection::Forward);
        if let Some(start) = options.start {
            request = request.cursor(unix_millis(start));
        }
        if let Some(limit) = options.limit {
            request = request.limit(i32::try_from(limit).unwrap_or(i32::MAX));
        }
        if let Some(level) = &options.level {
            request = request.level(level.to_wire());
        }
        if let Some(search) = options.search {
            let search = types::GetV2SandboxesSandboxIdLogsSearch::try_from(search)
                .map_err(|e| Error::invalid_argument(format!("invalid log search: {e}")))?;
            request = request.search(search);
        }
        let logs = self
            .call("getting the sandbox logs", request.send())
            .instrument(span)
            .await
            .map_err(sandbox_not_found)?;
        Ok(logs
            .into_inner()
            .logs
            .into_iter()
            .map(SandboxLogEntry::from)
            .collect())
    }
}

impl Sandbox {
    /// This sandbox's logs (see [`Client::sandbox_logs`]).
    ///
    /// # Errors
    ///
    /// The errors of [`Client::sandbox_logs`].
    pub async fn logs(&self) -> Result<Vec<SandboxLogEntry>> {
        self.client().sandbox_logs(self.id()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_order_and_print() {
        assert_eq!("INFO".parse::<LogLevel>().unwrap(), LogLevel::Info);
        assert_eq!("warning".parse::<LogLevel>().unwrap(), LogLevel::Warn);
        assert!(
            "loud"
                .parse::<LogLevel>()
                .unwrap_err()
                .is_invalid_argument()
        );
        assert!(LogLevel::Debug < LogLevel::Info && LogLevel::Warn < LogLevel::Error);
        assert_eq!(LogLevel::Unknown("trace".into()).to_string(), "trace");
    }

    #[test]
    fn entries_convert_from_the_wire() {
        let wire = types::SandboxLogEntry {
            fields: HashMap::from([("logger".to_owned(), "envd".to_owned())]),
            level: types::LogLevel::Warn,
            message: "disk almost full".to_owned(),
            timestamp: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        };
        let entry = SandboxLogEntry::from(wire);
        assert_eq!(entry.level, LogLevel::Warn);
        assert_eq!(entry.message, "disk almost full");
        assert_eq!(entry.fields["logger"], "envd");
        assert_eq!(unix_millis(entry.timestamp), 1_700_000_000_000);
    }
}
