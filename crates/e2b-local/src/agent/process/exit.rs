//! The `end` event of a process, worded as envd (Go's `os/exec`) words it.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use e2b_envd::process::process_event::EndEvent;

/// Go's name of a Linux signal (`syscall.Signal.String()`).
fn signal_name(signal: i32) -> String {
    let name = match signal {
        1 => "hangup",
        2 => "interrupt",
        3 => "quit",
        4 => "illegal instruction",
        5 => "trace/breakpoint trap",
        6 => "aborted",
        7 => "bus error",
        8 => "floating point exception",
        9 => "killed",
        10 => "user defined signal 1",
        11 => "segmentation fault",
        12 => "user defined signal 2",
        13 => "broken pipe",
        14 => "alarm clock",
        15 => "terminated",
        16 => "stack fault",
        17 => "child exited",
        18 => "continued",
        19 => "stopped (signal)",
        20 => "stopped",
        21 => "stopped (tty input)",
        22 => "stopped (tty output)",
        23 => "urgent I/O condition",
        24 => "CPU time limit exceeded",
        25 => "file size limit exceeded",
        26 => "virtual timer expired",
        27 => "profiling timer expired",
        28 => "window changed",
        29 => "I/O possible",
        30 => "power failure",
        31 => "bad system call",
        other => return format!("signal {other}"),
    };
    name.to_owned()
}

/// `ProcessState.String()`: `exit status N` or `signal: NAME`, plus
/// ` (core dumped)`.
fn describe(status: &ExitStatus) -> String {
    let mut text = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("signal: {}", signal_name(signal)),
        (None, None) => "unknown status".to_owned(),
    };
    if status.core_dumped() {
        text.push_str(" (core dumped)");
    }
    text
}

/// The end event of a process that finished with `status`: exit code (−1
/// when killed by a signal), whether it exited by itself, the status text,
/// and the same text as `error` unless it succeeded.
pub(crate) fn end_event(status: &ExitStatus) -> EndEvent {
    let text = describe(status);
    EndEvent {
        exit_code: status.code().unwrap_or(-1),
        exited: status.code().is_some(),
        error: (!status.success()).then(|| text.clone()),
        status: text,
    }
}

/// The end event when waiting for the process failed.
pub(crate) fn wait_failed(error: &std::io::Error) -> EndEvent {
    EndEvent {
        exit_code: -1,
        exited: false,
        status: "unknown status".to_owned(),
        error: Some(format!("error waiting for the process: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wording() {
        // Raw wait statuses: exit code in the high byte, signal in the low bits.
        let ok = end_event(&ExitStatus::from_raw(0));
        assert_eq!(
            (ok.exit_code, ok.exited, ok.status.as_str(), ok.error),
            (0, true, "exit status 0", None)
        );
        let failed = end_event(&ExitStatus::from_raw(3 << 8));
        assert_eq!(failed.exit_code, 3);
        assert_eq!(failed.error.as_deref(), Some("exit status 3"));
        let killed = end_event(&ExitStatus::from_raw(9));
        assert_eq!((killed.exit_code, killed.exited), (-1, false));
        assert_eq!(killed.status, "signal: killed");
        assert_eq!(killed.error.as_deref(), Some("signal: killed"));
        let dumped = end_event(&ExitStatus::from_raw(11 | 0x80));
        assert_eq!(dumped.status, "signal: segmentation fault (core dumped)");
        assert_eq!(signal_name(64), "signal 64");
    }
}
