//! Printing: tables sized to the terminal, colour only on a terminal, JSON for scripts.

use std::io::{IsTerminal as _, Write as _};
use std::time::SystemTime;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::cli::Format;
use crate::error::CliError;

/// Where and how results are printed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Out {
    pub(crate) format: Format,
    /// Colours and styles on standard output.
    colour: bool,
    /// Colours on standard error.
    colour_err: bool,
    /// The terminal's width when standard output is one.
    width: Option<usize>,
}

impl Out {
    pub(crate) fn new(format: Format) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let stdout_tty = std::io::stdout().is_terminal();
        let width = stdout_tty
            .then(|| crossterm::terminal::size().ok())
            .flatten()
            .map(|(cols, _)| usize::from(cols))
            .filter(|w| *w > 0);
        Out {
            format,
            colour: stdout_tty && !no_color,
            colour_err: std::io::stderr().is_terminal() && !no_color,
            width,
        }
    }

    pub(crate) fn json(&self) -> bool {
        self.format == Format::Json
    }

    /// Print a JSON document (pretty) on standard output.
    pub(crate) fn print_json(&self, value: &Value) -> Result<(), CliError> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| CliError::failed(format!("cannot print JSON: {e}")))?;
        self.line(&text)
    }

    /// Print one JSON line (for streams) on standard output.
    pub(crate) fn print_json_line(&self, value: &Value) -> Result<(), CliError> {
        self.line(&value.to_string())
    }

    /// Print a line on standard output; a closed pipe is not an error to report.
    pub(crate) fn line(&self, text: &str) -> Result<(), CliError> {
        let mut stdout = std::io::stdout().lock();
        match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            Err(e) => Err(CliError::io("cannot write to standard output", e)),
        }
    }

    /// A message for people on standard error (never mixed with results).
    pub(crate) fn note(&self, text: &str) {
        eprintln!("{text}");
    }

    pub(crate) fn bold(&self, text: &str) -> String {
        self.style(text, "1")
    }

    pub(crate) fn dim(&self, text: &str) -> String {
        self.style(text, "2")
    }

    pub(crate) fn green(&self, text: &str) -> String {
        self.style(text, "32")
    }

    pub(crate) fn yellow(&self, text: &str) -> String {
        self.style(text, "33")
    }

    pub(crate) fn red(&self, text: &str) -> String {
        self.style(text, "31")
    }

    fn style(&self, text: &str, sgr: &str) -> String {
        if self.colour {
            format!("\x1b[{sgr}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// `error: message` on standard error.
    pub(crate) fn error(&self, e: &CliError) {
        let label = if self.colour_err {
            "\x1b[1;31merror\x1b[0m"
        } else {
            "error"
        };
        eprintln!("{label}: {e}");
    }

    /// A table: a header and rows, each column as wide as its widest cell; on a terminal,
    /// the widest columns are cut (with `…`) until the table fits. `style` colours a cell
    /// after layout (column index, text).
    pub(crate) fn table(
        &self,
        headers: &[&str],
        rows: &[Vec<String>],
        style: impl Fn(usize, &str) -> String,
    ) -> Result<(), CliError> {
        let widths = fit(headers, rows, self.width);
        let render = |cells: &mut dyn Iterator<Item = (usize, String)>, header: bool| {
            let mut line = String::new();
            for (i, cell) in cells {
                let cut = truncate(&cell, widths[i]);
                let pad = widths[i].saturating_sub(cut.chars().count());
                let styled = if header {
                    self.bold(&cut)
                } else {
                    style(i, &cut)
                };
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(&styled);
                if i + 1 < widths.len() {
                    line.push_str(&" ".repeat(pad));
                }
            }
            line
        };
        let header = render(&mut headers.iter().map(|h| h.to_string()).enumerate(), true);
        self.line(&header)?;
        for row in rows {
            self.line(&render(&mut row.iter().cloned().enumerate(), false))?;
        }
        Ok(())
    }

    /// `label: value` lines, labels aligned.
    pub(crate) fn fields(&self, fields: &[(&str, String)]) -> Result<(), CliError> {
        let width = fields.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 1;
        for (label, value) in fields {
            let label = format!("{label}:");
            let pad = " ".repeat(width.saturating_sub(label.len()));
            self.line(&format!("{}{pad} {value}", self.bold(&label)))?;
        }
        Ok(())
    }
}

/// Column widths: the widest cell of each, then, while the total exceeds `limit`, the
/// widest column loses a character (never below its header or 8).
fn fit(headers: &[&str], rows: &[Vec<String>], limit: Option<usize>) -> Vec<usize> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(widths.len()) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let Some(limit) = limit else {
        return widths;
    };
    let floor: Vec<usize> = headers.iter().map(|h| h.chars().count().max(8)).collect();
    let gaps = 2 * widths.len().saturating_sub(1);
    while widths.iter().sum::<usize>() + gaps > limit {
        let Some((i, _)) = widths
            .iter()
            .enumerate()
            .filter(|(i, w)| **w > floor[*i])
            .max_by_key(|(_, w)| **w)
        else {
            break;
        };
        widths[i] -= 1;
    }
    widths
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// RFC 3339 in UTC, to the second.
pub(crate) fn time(t: SystemTime) -> String {
    DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// RFC 3339 in UTC, to the millisecond (JSON).
pub(crate) fn time_json(t: SystemTime) -> Value {
    json!(DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// `1.5 GiB`.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `key=value, …`, sorted by key.
pub(crate) fn pairs(map: &std::collections::HashMap<String, String>) -> String {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort();
    entries
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_shrink_their_widest_column_to_fit() {
        let rows = vec![vec!["a".repeat(50), "b".into()]];
        assert_eq!(fit(&["ID", "STATE"], &rows, None), vec![50, 5]);
        let widths = fit(&["ID", "STATE"], &rows, Some(30));
        assert_eq!(widths.iter().sum::<usize>() + 2, 30);
        assert_eq!(
            truncate(&"a".repeat(50), widths[0]).chars().count(),
            widths[0]
        );
        assert!(truncate(&"a".repeat(50), widths[0]).ends_with('…'));
        // Never below the floor, even when the terminal is narrower.
        assert_eq!(fit(&["ID", "STATE"], &rows, Some(4)), vec![8, 5]);
    }

    #[test]
    fn sizes_are_human() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(1 << 30), "1.0 GiB");
    }
}
