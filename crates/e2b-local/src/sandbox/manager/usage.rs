//! A sandbox's resource usage (its metrics).

use super::*;

impl Manager {
    /// Current resource usage of a sandbox.
    pub(crate) async fn metrics(&self, id: &str) -> Result<Usage, SandboxError> {
        let sandbox = self.shared.find(id)?;
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || {
            let (instance, mut cpu) = {
                let live = sandbox.live();
                (live.instance.clone(), live.cpu)
            };
            let processes = instance.as_ref().map(|i| i.processes()).unwrap_or_default();
            let disk = if sandbox.paths.has_disk() {
                match &instance {
                    Some(i) => metrics::DiskProbe::Mounted(disk_mount(i)),
                    None => metrics::DiskProbe::Image(sandbox.paths.image.clone()),
                }
            } else {
                metrics::DiskProbe::Dirs(
                    sandbox
                        .paths
                        .writable()
                        .iter()
                        .map(|(_, p)| p.to_path_buf())
                        .collect(),
                )
            };
            let probe = metrics::Probe {
                processes: &processes,
                cgroup: instance.as_ref().and_then(|i| i.cgroup()),
                disk,
                host: &shared.host,
            };
            let usage = metrics::measure(&probe, &mut cpu);
            sandbox.live().cpu = cpu;
            usage
        })
        .await
        .map_err(|e| SandboxError::Io {
            context: "measure the sandbox".to_owned(),
            source: std::io::Error::other(e),
        })
    }
}
