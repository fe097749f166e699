//! Build logs: [`LogEntry`], its [`LogLevel`], and [`default_build_logger`].

use std::fmt;
use std::io::{IsTerminal as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Local, Utc};

/// How severe a log entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[non_exhaustive]
pub enum LogLevel {
    /// Details.
    Debug,
    /// Progress (the default minimum of [`default_build_logger`]).
    #[default]
    Info,
    /// Something to look at.
    Warn,
    /// A failure.
    Error,
}

impl LogLevel {
    /// `debug`, `info`, `warn` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a log entry marks, besides its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum LogEntryKind {
    /// An ordinary line.
    #[default]
    Line,
    /// The build started (level debug; upstream's `LogEntryStart`).
    Start,
    /// The build ended, either way (level debug; upstream's `LogEntryEnd`).
    End,
}

/// One line of a build's log: from the build service, or from the SDK's own progress
/// (requesting the build, uploads, …).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogEntry {
    /// When it was written.
    pub timestamp: DateTime<Utc>,
    /// How severe it is.
    pub level: LogLevel,
    /// The text, without ANSI escape sequences.
    pub message: String,
    /// The build step it belongs to, when the service says.
    pub step: Option<String>,
    /// A start or end marker, or an ordinary line.
    pub kind: LogEntryKind,
}

impl LogEntry {
    /// An entry written now.
    pub fn new(level: LogLevel, message: impl Into<String>) -> Self {
        LogEntry {
            timestamp: Utc::now(),
            level,
            message: strip_ansi(&message.into()),
            step: None,
            kind: LogEntryKind::Line,
        }
    }

    pub(crate) fn marker(kind: LogEntryKind, message: &str) -> Self {
        LogEntry {
            kind,
            ..LogEntry::new(LogLevel::Debug, message)
        }
    }

    pub(crate) fn from_wire(entry: e2b_api::control::types::BuildLogEntry) -> Self {
        use e2b_api::control::types::LogLevel as Wire;
        let level = match entry.level {
            Wire::Debug => LogLevel::Debug,
            Wire::Warn => LogLevel::Warn,
            Wire::Error => LogLevel::Error,
            _ => LogLevel::Info,
        };
        LogEntry {
            timestamp: entry.timestamp,
            level,
            message: strip_ansi(&entry.message),
            step: entry.step,
            kind: LogEntryKind::Line,
        }
    }
}

impl fmt::Display for LogEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] [{}] {}",
            self.timestamp.to_rfc3339(),
            self.level,
            self.message
        )
    }
}

/// `text` without ANSI escape sequences (CSI and the string controls OSC, DCS, …), as
/// the official SDKs strip them.
pub(crate) fn strip_ansi(text: &str) -> String {
    if !text.contains(['\u{1b}', '\u{9b}', '\u{9c}']) {
        return text.to_owned();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\u{1b}' && matches!(chars.get(i + 1), Some(']' | 'P' | 'X' | '^' | '_')) {
            // A string control: up to the first terminator (BEL, ESC \, ST).
            let mut j = i + 2;
            let mut end = None;
            while j < chars.len() {
                match chars[j] {
                    '\u{7}' | '\u{9c}' => {
                        end = Some(j + 1);
                        break;
                    }
                    '\u{1b}' if chars.get(j + 1) == Some(&'\\') => {
                        end = Some(j + 2);
                        break;
                    }
                    _ => j += 1,
                }
            }
            if let Some(end) = end {
                i = end;
                continue;
            }
        }
        if c == '\u{1b}' || c == '\u{9b}' {
            // CSI and friends: intermediates, parameters, one final byte.
            let mut j = i + 1;
            while j < chars.len() && "[]()#;?".contains(chars[j]) {
                j += 1;
            }
            let mut digits = 0;
            while j < chars.len() && chars[j].is_ascii_digit() && digits < 4 {
                j += 1;
                digits += 1;
            }
            if digits > 0 {
                while j < chars.len() && (chars[j] == ';' || chars[j] == ':') {
                    j += 1;
                    let mut more = 0;
                    while j < chars.len() && chars[j].is_ascii_digit() && more < 4 {
                        j += 1;
                        more += 1;
                    }
                }
            }
            if let Some(&f) = chars.get(j) {
                let is_final = f.is_ascii_digit()
                    || ('A'..='P').contains(&f)
                    || ('R'..='T').contains(&f)
                    || f == 'Z'
                    || f == 'c'
                    || ('f'..='n').contains(&f)
                    || ('q'..='u').contains(&f)
                    || f == 'y'
                    || "=><~".contains(f);
                if is_final {
                    i = j + 1;
                    continue;
                }
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// A callback receiving build log entries.
pub type LogCallback = Arc<dyn Fn(&LogEntry) + Send + Sync>;

/// A logger for [`BuildOptions::on_build_logs`](crate::BuildOptions::on_build_logs) that
/// prints entries of `min_level` and above to standard error, one per line: seconds since
/// the build started, the local time, the level (colored on a terminal) and the message.
///
/// ```text
/// 12.3s | 14:02:11 INFO  Building step 3/7: RUN apt-get update
/// ```
pub fn default_build_logger(min_level: LogLevel) -> impl Fn(&LogEntry) + Send + Sync + 'static {
    let started = Arc::new(Mutex::new(Instant::now()));
    let color = std::io::stderr().is_terminal();
    move |entry: &LogEntry| {
        let mut started = started.lock().unwrap_or_else(|p| p.into_inner());
        match entry.kind {
            LogEntryKind::Start => {
                *started = Instant::now();
                return;
            }
            LogEntryKind::End => return,
            LogEntryKind::Line => {}
        }
        if entry.level < min_level {
            return;
        }
        let line = format_line(entry, started.elapsed().as_secs_f64(), color);
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

fn format_line(entry: &LogEntry, elapsed: f64, color: bool) -> String {
    let (label, code) = match entry.level {
        LogLevel::Error => ("ERROR", "31"),
        LogLevel::Warn => ("WARN ", "38;5;202"),
        LogLevel::Info => ("INFO ", "38;5;208"),
        LogLevel::Debug => ("DEBUG", "90"),
    };
    let timer = format!("{elapsed:.1}s");
    let time = entry.timestamp.with_timezone(&Local).format("%H:%M:%S");
    if color {
        format!(
            "{timer:<5} | \u{1b}[2m{time}\u{1b}[0m \u{1b}[{code}m{label}\u{1b}[0m {}",
            entry.message
        )
    } else {
        format!("{timer:<5} | {time} {label} {}", entry.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_sequences_are_stripped() {
        assert_eq!(strip_ansi("\u{1b}[31mred\u{1b}[0m plain"), "red plain");
        assert_eq!(
            strip_ansi("\u{1b}]8;;http://x\u{7}link\u{1b}]8;;\u{7}"),
            "link"
        );
        assert_eq!(strip_ansi("a\u{1b}[1;32;40mb"), "ab");
        assert_eq!(strip_ansi("no escapes"), "no escapes");
    }

    #[test]
    fn lines_have_timer_time_level_and_message() {
        let entry = LogEntry::new(LogLevel::Warn, "careful");
        let line = format_line(&entry, 1.25, false);
        assert!(
            line.starts_with("1.2s  | ") || line.starts_with("1.3s  | "),
            "{line}"
        );
        assert!(line.ends_with(" WARN  careful"), "{line}");
        assert!(LogLevel::Debug < LogLevel::Info && LogLevel::Warn < LogLevel::Error);
    }
}
