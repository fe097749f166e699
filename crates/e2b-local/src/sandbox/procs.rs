//! The processes of a sandbox, read from `/proc`.
//!
//! A sandbox's processes are the descendants of its `bwrap` process (with
//! `--unshare-pid`, orphans are re-parented to the sandbox's own init, which
//! is itself a descendant), so walking parent links finds all of them without
//! cgroups.

use std::collections::HashMap;
use std::fs;

/// One line of `/proc/<pid>/stat`, the fields we use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// Process id.
    pub(crate) pid: u32,
    /// Parent process id.
    pub(crate) ppid: u32,
    /// `utime + stime + cutime + cstime` in clock ticks: CPU of the process
    /// and of its reaped children (so exited processes still count).
    pub(crate) cpu_ticks: u64,
    /// Resident set size in pages.
    pub(crate) rss_pages: u64,
}

/// Parse the content of `/proc/<pid>/stat`.
pub(crate) fn parse_stat(pid: u32, text: &str) -> Option<ProcStat> {
    // The command name is in parentheses and may contain spaces and ')'.
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let num = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let ppid = u32::try_from(num(1)?).ok()?;
    let cpu_ticks = num(11)? + num(12)? + num(13)? + num(14)?;
    Some(ProcStat {
        pid,
        ppid,
        cpu_ticks,
        rss_pages: num(21)?,
    })
}

/// Every process on the machine (those that vanish while reading are skipped).
pub(crate) fn all_processes() -> Vec<ProcStat> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let entry = entry.ok()?;
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let text = fs::read_to_string(entry.path().join("stat")).ok()?;
        parse_stat(pid, &text)
    })
    .collect()
}

/// The descendants of `root` (not `root` itself) among `procs`.
pub(crate) fn descendants_of(root: u32, procs: &[ProcStat]) -> Vec<ProcStat> {
    let mut children: HashMap<u32, Vec<&ProcStat>> = HashMap::new();
    for p in procs {
        children.entry(p.ppid).or_default().push(p);
    }
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        for child in children.get(&pid).map(Vec::as_slice).unwrap_or_default() {
            // Guard against cycles from pid reuse while reading.
            if child.pid != root && !out.iter().any(|p: &ProcStat| p.pid == child.pid) {
                out.push(**child);
                stack.push(child.pid);
            }
        }
    }
    out
}

/// The current descendants of `root`.
pub(crate) fn descendants(root: u32) -> Vec<ProcStat> {
    descendants_of(root, &all_processes())
}

/// Whether `pid` exists and is not a zombie.
pub(crate) fn is_alive(pid: u32) -> bool {
    let Ok(text) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    text.rfind(')')
        .and_then(|i| text[i + 1..].split_whitespace().next())
        .is_some_and(|state| state != "Z" && state != "X")
}

/// The stat of one process, if it exists.
#[cfg(test)]
pub(crate) fn stat_of(pid: u32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(pid, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let text = "1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 1 0 100 1000000 250 18446744073709551615";
        let st = parse_stat(1234, text).unwrap();
        assert_eq!(st.ppid, 1);
        assert_eq!(st.cpu_ticks, 7 + 3 + 2 + 1);
        assert_eq!(st.rss_pages, 250);
        assert_eq!(parse_stat(1, "garbage"), None);
    }

    #[test]
    fn finds_descendants_transitively() {
        let p = |pid, ppid| ProcStat {
            pid,
            ppid,
            cpu_ticks: 0,
            rss_pages: 0,
        };
        let procs = [p(1, 0), p(10, 1), p(11, 10), p(12, 11), p(20, 1), p(13, 10)];
        let mut pids: Vec<u32> = descendants_of(10, &procs).iter().map(|p| p.pid).collect();
        pids.sort_unstable();
        assert_eq!(pids, vec![11, 12, 13]);
        assert!(descendants_of(99, &procs).is_empty());
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(is_alive(me));
        assert!(!is_alive(u32::MAX));
        let st = stat_of(me).unwrap();
        assert_eq!(st.pid, me);
        assert!(st.rss_pages > 0);
        assert!(all_processes().iter().any(|p| p.pid == me));
    }
}
