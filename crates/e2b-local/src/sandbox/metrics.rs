//! Resource usage of a sandbox: CPU and memory from its processes, disk from its files.

use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::host::HostInfo;

use super::cgroup::SandboxCgroup;
use super::procs::ProcStat;

/// How long a disk usage walk may take; a huge home yields a partial (lower) count.
const DISK_WALK_BUDGET: Duration = Duration::from_secs(2);

/// CPU time of a sandbox at an instant, the base of the next CPU percentage.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CpuSample {
    ticks: u64,
    at: Instant,
}

impl CpuSample {
    /// A sample of zero CPU time now (a sandbox that just started).
    pub(crate) fn start() -> Self {
        Self {
            ticks: 0,
            at: Instant::now(),
        }
    }
}

/// One measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Usage {
    /// CPUs available.
    pub(crate) cpu_count: u32,
    /// CPU used since the previous sample, percent of all CPUs.
    pub(crate) cpu_used_pct: f32,
    /// Resident memory of the sandbox's processes, bytes.
    pub(crate) mem_used: u64,
    /// Memory available to the sandbox (its limit or the host's memory), bytes.
    pub(crate) mem_total: u64,
    /// Page cache charged to the sandbox (0 without a memory cgroup), bytes.
    pub(crate) mem_cache: u64,
    /// Bytes used by the sandbox's files.
    pub(crate) disk_used: u64,
    /// Size of the filesystem holding them, bytes.
    pub(crate) disk_total: u64,
}

/// Inputs of a measurement.
#[derive(Debug)]
pub(crate) struct Probe<'a> {
    /// The sandbox's processes (empty when it has none).
    pub(crate) processes: &'a [ProcStat],
    /// Its cgroups, if any.
    pub(crate) cgroup: Option<&'a SandboxCgroup>,
    /// Where its files are.
    pub(crate) disk: DiskProbe,
    /// The host.
    pub(crate) host: &'a HostInfo,
}

/// Where a sandbox's files are, for their usage.
#[derive(Debug)]
pub(crate) enum DiskProbe {
    /// Its writable directories on the host's filesystem.
    Dirs(Vec<PathBuf>),
    /// The root of its mounted disk.
    Mounted(PathBuf),
    /// Its disk image, not mounted.
    Image(PathBuf),
}

impl DiskProbe {
    /// (used, total) bytes.
    fn usage(&self) -> (u64, u64) {
        match self {
            Self::Dirs(dirs) => {
                let deadline = Instant::now() + DISK_WALK_BUDGET;
                let used = dirs.iter().map(|d| disk_usage(d, deadline)).sum();
                let total = dirs
                    .first()
                    .and_then(|d| crate::host::filesystem_size(d))
                    .map_or(0, |(total, _)| total);
                (used, total)
            }
            Self::Mounted(root) => super::disk::usage(root).unwrap_or_default(),
            Self::Image(image) => super::disk::image_usage(image).unwrap_or_default(),
        }
    }
}

/// Measure, updating `previous` to now.
pub(crate) fn measure(probe: &Probe<'_>, previous: &mut CpuSample) -> Usage {
    let now = CpuSample {
        ticks: probe.processes.iter().map(|p| p.cpu_ticks).sum(),
        at: Instant::now(),
    };
    let elapsed = now.at.duration_since(previous.at).as_secs_f64();
    let cpu_secs = now.ticks.saturating_sub(previous.ticks) as f64 / probe.host.clock_ticks as f64;
    let cpu_used_pct = if elapsed > 0.0 {
        (cpu_secs / elapsed / f64::from(probe.host.cpu_count.max(1)) * 100.0).clamp(0.0, 100.0)
    } else {
        0.0
    };
    *previous = now;
    let mem_used = probe.processes.iter().map(|p| p.rss_pages).sum::<u64>() * probe.host.page_size;
    let mem_total = probe
        .cgroup
        .and_then(SandboxCgroup::memory_limit)
        .unwrap_or(probe.host.mem_total);
    let mem_cache = probe
        .cgroup
        .and_then(SandboxCgroup::memory_cache)
        .unwrap_or(0);
    let (disk_used, disk_total) = probe.disk.usage();
    Usage {
        cpu_count: probe.host.cpu_count,
        cpu_used_pct: ((cpu_used_pct * 100.0).round() / 100.0) as f32,
        mem_used,
        mem_total,
        mem_cache,
        disk_used,
        disk_total,
    }
}

/// Allocated bytes under `root` (like `du -s`), symlinks not followed, until `deadline`.
pub(crate) fn disk_usage(root: &Path, deadline: Instant) -> u64 {
    let mut total = 0u64;
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        if Instant::now() > deadline {
            break;
        }
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        total += meta.blocks() * 512;
        if meta.is_dir()
            && let Ok(entries) = fs::read_dir(&path)
        {
            stack.extend(entries.flatten().map(|e| e.path()));
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostInfo {
        HostInfo {
            cpu_count: 2,
            mem_total: 1 << 30,
            is_root: false,
            page_size: 4096,
            clock_ticks: 100,
        }
    }

    #[test]
    fn cpu_percentage_is_relative_to_all_cpus() {
        let host = host();
        let procs = [ProcStat {
            pid: 1,
            ppid: 0,
            cpu_ticks: 100,
            rss_pages: 10,
        }];
        let mut prev = CpuSample {
            ticks: 0,
            at: Instant::now() - Duration::from_secs(1),
        };
        let usage = measure(
            &Probe {
                processes: &procs,
                cgroup: None,
                disk: DiskProbe::Dirs(vec![]),
                host: &host,
            },
            &mut prev,
        );
        // 1 s of CPU over ~1 s on 2 CPUs: about 50 %.
        assert!(
            (40.0..=50.0).contains(&usage.cpu_used_pct),
            "{}",
            usage.cpu_used_pct
        );
        assert_eq!(usage.mem_used, 10 * 4096);
        assert_eq!(usage.mem_total, 1 << 30);
        assert_eq!(usage.cpu_count, 2);
    }

    #[test]
    fn disk_usage_counts_allocated_bytes() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("f"), vec![1u8; 64 * 1024]).unwrap();
        let used = disk_usage(dir.path(), Instant::now() + Duration::from_secs(5));
        assert!(used >= 64 * 1024, "{used}");
        assert_eq!(
            disk_usage(
                &dir.path().join("missing"),
                Instant::now() + Duration::from_secs(5)
            ),
            0
        );
    }
}
