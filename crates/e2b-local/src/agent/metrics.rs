//! `GET /metrics`: CPU, memory and disk usage of the sandbox, in envd's
//! JSON shape.
//!
//! CPU usage is the busy share of all CPUs since the previous request (or
//! since the agent started, for the first one), from `/proc/stat`. Memory
//! follows gopsutil (used = total − free − buffers − cache, cache including
//! reclaimable slab). Disk is `statvfs` of the default user's home.

use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;

/// The answer of `/metrics`.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct Metrics {
    ts: i64,
    cpu_count: u32,
    cpu_used_pct: f32,
    mem_total_mib: u64,
    mem_used_mib: u64,
    mem_total: u64,
    mem_used: u64,
    mem_cache: u64,
    disk_used: u64,
    disk_total: u64,
}

/// Cumulative CPU time counters (jiffies) from the `cpu` line of `/proc/stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CpuTimes {
    busy: u64,
    total: u64,
}

fn parse_cpu_times(stat: &str) -> Option<CpuTimes> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal [guest guest_nice]; guest
    // time is already counted in user and nice.
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    Some(CpuTimes {
        busy: total.saturating_sub(idle),
        total,
    })
}

fn cpu_count(stat: &str) -> u32 {
    let n = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    u32::try_from(n).unwrap_or(u32::MAX).max(1)
}

/// Memory figures in bytes.
#[derive(Debug, Default, PartialEq, Eq)]
struct Memory {
    total: u64,
    used: u64,
    cache: u64,
}

fn parse_meminfo(meminfo: &str) -> Memory {
    let field = |name: &str| -> u64 {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    let total = field("MemTotal");
    let cache = field("Cached") + field("SReclaimable");
    let used = total
        .saturating_sub(field("MemFree"))
        .saturating_sub(field("Buffers"))
        .saturating_sub(cache);
    Memory { total, used, cache }
}

/// Usage busy/total between two samples, in percent rounded to two places.
fn cpu_percent(before: CpuTimes, now: CpuTimes) -> f32 {
    let total = now.total.saturating_sub(before.total);
    if total == 0 {
        return 0.0;
    }
    let busy = now.busy.saturating_sub(before.busy);
    let pct = busy as f64 * 100.0 / total as f64;
    ((pct * 100.0).round() / 100.0) as f32
}

/// The collector, remembering the previous CPU sample.
#[derive(Debug)]
pub(crate) struct Collector {
    disk: PathBuf,
    previous: Mutex<CpuTimes>,
}

impl Collector {
    /// A collector measuring the disk holding `disk`.
    pub(crate) fn new(disk: PathBuf) -> Self {
        let now = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| parse_cpu_times(&s))
            .unwrap_or_default();
        Collector {
            disk,
            previous: Mutex::new(now),
        }
    }

    /// Take a sample.
    pub(crate) fn collect(&self) -> std::io::Result<Metrics> {
        let stat = std::fs::read_to_string("/proc/stat")?;
        let now = parse_cpu_times(&stat).unwrap_or_default();
        let cpu_used_pct = {
            let mut previous = self.previous.lock().unwrap_or_else(|p| p.into_inner());
            let pct = cpu_percent(*previous, now);
            *previous = now;
            pct
        };
        let memory = parse_meminfo(&std::fs::read_to_string("/proc/meminfo")?);
        let disk = rustix::fs::statvfs(&self.disk)
            .or_else(|_| rustix::fs::statvfs("/"))
            .map_err(std::io::Error::from)?;
        let block = disk.f_frsize.max(1);
        let disk_total = disk.f_blocks * block;
        let disk_free = disk.f_bavail * block;
        Ok(Metrics {
            ts: chrono::Utc::now().timestamp(),
            cpu_count: cpu_count(&stat),
            cpu_used_pct,
            mem_total_mib: memory.total / 1024 / 1024,
            mem_used_mib: memory.used / 1024 / 1024,
            mem_total: memory.total,
            mem_used: memory.used,
            mem_cache: memory.cache,
            disk_used: disk_total.saturating_sub(disk_free),
            disk_total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_parsing() {
        let stat = "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 50 0 50 350 50 0 0 0 0 0\ncpu1 50 0 50 350 50 0 0 0 0 0\nintr 1\n";
        let t = parse_cpu_times(stat).unwrap();
        assert_eq!(
            t,
            CpuTimes {
                busy: 200,
                total: 1000
            }
        );
        assert_eq!(cpu_count(stat), 2);
        let later = CpuTimes {
            busy: 300,
            total: 1400,
        };
        assert_eq!(cpu_percent(t, later), 25.0);
        assert_eq!(cpu_percent(t, t), 0.0);

        let meminfo = "MemTotal: 1000 kB\nMemFree: 200 kB\nBuffers: 100 kB\nCached: 300 kB\nSReclaimable: 100 kB\n";
        let m = parse_meminfo(meminfo);
        assert_eq!(m.total, 1000 * 1024);
        assert_eq!(m.cache, 400 * 1024);
        assert_eq!(m.used, 300 * 1024);
    }

    #[test]
    fn live_sample() {
        let m = Collector::new(PathBuf::from("/")).collect().unwrap();
        assert!(m.cpu_count >= 1);
        assert!(m.mem_total > 0 && m.mem_used <= m.mem_total);
        assert!(m.disk_total > 0 && m.disk_used <= m.disk_total);
        assert!((0.0..=100.0).contains(&m.cpu_used_pct));
    }
}
