//! Facts about the host machine the server runs on.

use std::path::Path;

/// What the server needs to know about the machine, read once at start.
#[derive(Clone, Debug)]
pub(crate) struct HostInfo {
    /// Logical CPUs available to this process.
    pub(crate) cpu_count: u32,
    /// Physical memory in bytes (`MemTotal`).
    pub(crate) mem_total: u64,
    /// Whether the server runs as root (no user namespace needed).
    pub(crate) is_root: bool,
    /// Bytes per memory page.
    pub(crate) page_size: u64,
    /// Clock ticks per second (`USER_HZ`) of `/proc/<pid>/stat` times.
    pub(crate) clock_ticks: u64,
}

impl HostInfo {
    /// Read the host facts.
    pub(crate) fn detect() -> Self {
        Self {
            cpu_count: std::thread::available_parallelism()
                .map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX)),
            mem_total: mem_total_bytes(Path::new("/proc/meminfo")).unwrap_or(0),
            is_root: rustix::process::geteuid().is_root(),
            page_size: u64::try_from(rustix::param::page_size()).unwrap_or(4096),
            clock_ticks: rustix::param::clock_ticks_per_second().max(1),
        }
    }
}

/// `MemTotal` from a meminfo file, in bytes.
fn mem_total_bytes(meminfo: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(meminfo).ok()?;
    parse_mem_total(&text)
}

fn parse_mem_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Total and available bytes of the filesystem holding `path`.
pub(crate) fn filesystem_size(path: &Path) -> Option<(u64, u64)> {
    let st = rustix::fs::statvfs(path).ok()?;
    Some((
        st.f_blocks.saturating_mul(st.f_frsize),
        st.f_bavail.saturating_mul(st.f_frsize),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mem_total() {
        let text = "MemTotal:       24684532 kB\nMemFree:        17174512 kB\n";
        assert_eq!(parse_mem_total(text), Some(24_684_532 * 1024));
        assert_eq!(parse_mem_total("nothing"), None);
    }

    #[test]
    fn detects_this_host() {
        let host = HostInfo::detect();
        assert!(host.cpu_count >= 1);
        assert!(host.mem_total > 0);
        assert!(host.page_size >= 4096);
        assert!(filesystem_size(Path::new("/")).is_some_and(|(total, _)| total > 0));
    }
}
