//! Log output of the binary: `RUST_LOG`-style filtering, `info` by default.

use std::ffi::OsStr;
use std::io::IsTerminal as _;

/// Install the global subscriber (idempotent; later calls are ignored).
///
/// Logs go to stderr, coloured only when stderr is a terminal and
/// `NO_COLOR` is unset or empty (<https://no-color.org>).
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = use_colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

/// Whether log lines carry ANSI colours: only on a terminal, and never when
/// `NO_COLOR` holds a non-empty value.
fn use_colour(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(OsStr::is_empty)
}

#[cfg(test)]
mod tests {
    use super::use_colour;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some(OsStr::new(""))));
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(!use_colour(true, Some(OsStr::new("0"))));
        assert!(!use_colour(false, None));
        assert!(!use_colour(false, Some(OsStr::new(""))));
        assert!(!use_colour(false, Some(OsStr::new("1"))));
    }
}
