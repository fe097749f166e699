//! Settings of [`Server`](crate::Server).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Memory of a sandbox when nothing else is configured, in MiB (E2B's default `memoryMB`).
pub const DEFAULT_MEMORY_MB: u64 = 1024;
/// CPUs of a sandbox when nothing else is configured (E2B's default `cpuCount`).
pub const DEFAULT_CPU_COUNT: u32 = 2;
/// Disk of a sandbox when nothing else is configured, in MiB.
pub const DEFAULT_DISK_MB: u64 = 10 * 1024;

/// How to run a [`Server`](crate::Server).
///
/// Fields are public; construct with [`ServerOptions::default`] and the
/// `with_*` methods (the struct is `#[non_exhaustive]`, so literals outside
/// this crate are not possible).
///
/// ```
/// let options = e2b_local::ServerOptions::default()
///     .with_listen("127.0.0.1:3000".parse().unwrap())
///     .with_api_key("e2b_0123456789abcdef0123456789abcdef");
/// assert_eq!(options.listen.port(), 3000);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct ServerOptions {
    /// Address of the one listener (control plane and sandbox traffic). Default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// API key clients must send; `None` generates `e2b_<32 hex>`.
    pub api_key: Option<String>,
    /// Where sandbox state, homes and snapshots live; `None` uses a fresh
    /// temporary directory removed when the server is dropped.
    pub data_dir: Option<PathBuf>,
    /// The binary run inside each sandbox as `<binary> envd --socket … --config …`.
    /// `None`: `$E2B_LOCAL_BIN`, else `e2b-local` next to the current executable
    /// or in its parent directory (test executables live in `target/*/deps`).
    pub agent_binary: Option<PathBuf>,
    /// The `bwrap` binary; `None` searches `PATH`.
    pub bwrap: Option<PathBuf>,
    /// Domain for `E2B_DOMAIN`; `None` means `localhost:<port>`, so that
    /// `<port>-<sandboxID>.localhost:<port>` hosts reach this server.
    pub domain: Option<String>,
    /// How long a sandbox's agent may take to start. Default 10 s.
    pub agent_ready_timeout: Duration,
    /// Longest sandbox timeout accepted. Default 24 h.
    pub max_sandbox_timeout: Duration,
    /// Memory limit per sandbox in bytes (cgroups; ignored where unavailable).
    /// Default 1 GiB, E2B's default `memoryMB` (1024).
    pub sandbox_memory_limit: Option<u64>,
    /// CPU limit per sandbox, in CPUs (cgroup CPU quota; ignored where
    /// unavailable). Default 2, E2B's default `cpuCount`.
    pub sandbox_cpu_limit: Option<u32>,
    /// How long a request body to a sandbox may send nothing before the
    /// request is answered 408 and dropped. Default 60 s.
    pub request_body_idle_timeout: Duration,
    /// Process limit per sandbox (cgroups; ignored where unavailable). Default 4096.
    pub sandbox_pids_limit: Option<u64>,
    /// Disk size per sandbox in bytes: a root server on a host with loop
    /// devices and `mkfs.ext4` gives every new sandbox an ext4 disk of this
    /// size for everything it writes (sparse: only what is written takes
    /// space). Elsewhere, or with `None`, sandboxes write to the data
    /// directory's filesystem without a cap. Default 10 GiB
    /// ([`DEFAULT_DISK_MB`]); at least 16 MiB.
    pub sandbox_disk_limit: Option<u64>,
    /// Use cgroups when the host allows (freezer for pause, limits). Default true.
    pub use_cgroups: bool,
    /// The code-interpreter kernel environment (`e2b-local kernel-env
    /// install`, or `make kernel-env` in a checkout), shown
    /// read-only at `/run/e2b-kernel` inside `code-interpreter-v1` sandboxes,
    /// which are refused without it. Default none.
    pub kernel_env: Option<PathBuf>,
    /// The envd version sandboxes report (`envdVersion` in the control
    /// plane's answers, and in the agents' own configuration); `None` means
    /// [`ENVD_VERSION`](crate::ENVD_VERSION). An older version makes clients
    /// take their fallbacks for old templates, and the agents refuse what
    /// that envd refused (`application/octet-stream` uploads before 0.5.7).
    /// For testing clients; the agents' other behaviour does not change.
    pub envd_version: Option<String>,
    /// Give sandboxes a writable root filesystem (root servers whose
    /// sandboxes have disks, on kernels with idmapped mounts): every path is
    /// writable by in-sandbox root, changes go to the sandbox's disk and
    /// `sudo` works for `user`. With `false`, or where the host cannot, the
    /// host's system is shown read-only and only `/home/user` and `/tmp` are
    /// writable. Default true.
    pub writable_root: bool,
    /// Where layers shared by every server of this host are kept (the base
    /// layer built from the host's OS); `None` means [`default_cache_dir`].
    pub cache_dir: Option<PathBuf>,
    /// A mirror of Docker Hub for image pulls (`https://mirror.example`,
    /// `http://127.0.0.1:5000`): `docker.io` images are asked there first,
    /// like a container engine's registry mirrors. Default none.
    pub registry_mirror: Option<String>,
    /// Warm pools: for each template reference (an id, alias or
    /// `name:tag` the server knows), how many sandboxes of it to keep
    /// started and ready for create to hand out (for `code-interpreter-v1`,
    /// with their kernels started and idle). A pool serves creates that ask
    /// for nothing a started sandbox cannot take (no volume mounts, network
    /// settings or `allow_internet_access: false`); the caller's metadata,
    /// environment variables, timeout, lifecycle and a new access token are
    /// applied before create answers, and the pool refills in the background.
    /// Each member costs an idle sandbox's memory (a Python kernel's, for
    /// the code interpreter). Default none; `e2b-local serve` keeps one
    /// `code-interpreter-v1` sandbox warm unless told otherwise.
    pub warm_pools: BTreeMap<String, usize>,
}

/// The cache directory servers use unless told otherwise:
/// `$XDG_CACHE_HOME/e2b-local`, else `~/.cache/e2b-local`, else `cache/` in
/// the data directory.
pub fn default_cache_dir(data_dir: &std::path::Path) -> PathBuf {
    dirs::cache_dir().map_or_else(|| data_dir.join("cache"), |d| d.join("e2b-local"))
}

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The API key stays out of logs.
        f.debug_struct("ServerOptions")
            .field("listen", &self.listen)
            .field("api_key", &crate::ids::redacted(self.api_key.as_deref()))
            .field("data_dir", &self.data_dir)
            .field("agent_binary", &self.agent_binary)
            .field("bwrap", &self.bwrap)
            .field("domain", &self.domain)
            .field("agent_ready_timeout", &self.agent_ready_timeout)
            .field("max_sandbox_timeout", &self.max_sandbox_timeout)
            .field("sandbox_memory_limit", &self.sandbox_memory_limit)
            .field("sandbox_pids_limit", &self.sandbox_pids_limit)
            .field("sandbox_cpu_limit", &self.sandbox_cpu_limit)
            .field("sandbox_disk_limit", &self.sandbox_disk_limit)
            .field("request_body_idle_timeout", &self.request_body_idle_timeout)
            .field("use_cgroups", &self.use_cgroups)
            .field("kernel_env", &self.kernel_env)
            .field("envd_version", &self.envd_version)
            .field("writable_root", &self.writable_root)
            .field("cache_dir", &self.cache_dir)
            .field("registry_mirror", &self.registry_mirror)
            .field("warm_pools", &self.warm_pools)
            .finish()
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            api_key: None,
            data_dir: None,
            agent_binary: None,
            bwrap: None,
            domain: None,
            agent_ready_timeout: Duration::from_secs(10),
            max_sandbox_timeout: Duration::from_secs(24 * 3600),
            sandbox_memory_limit: Some(DEFAULT_MEMORY_MB * 1024 * 1024),
            sandbox_cpu_limit: Some(DEFAULT_CPU_COUNT),
            request_body_idle_timeout: Duration::from_secs(60),
            sandbox_pids_limit: Some(4096),
            sandbox_disk_limit: Some(DEFAULT_DISK_MB * 1024 * 1024),
            use_cgroups: true,
            kernel_env: None,
            envd_version: None,
            writable_root: true,
            cache_dir: None,
            registry_mirror: None,
            warm_pools: BTreeMap::new(),
        }
    }
}

impl ServerOptions {
    /// Set [`ServerOptions::listen`].
    #[must_use]
    pub fn with_listen(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }

    /// Set [`ServerOptions::api_key`].
    #[must_use]
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Set [`ServerOptions::data_dir`].
    #[must_use]
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Set [`ServerOptions::agent_binary`].
    #[must_use]
    pub fn with_agent_binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.agent_binary = Some(path.into());
        self
    }

    /// Set [`ServerOptions::bwrap`].
    #[must_use]
    pub fn with_bwrap(mut self, path: impl Into<PathBuf>) -> Self {
        self.bwrap = Some(path.into());
        self
    }

    /// Set [`ServerOptions::domain`].
    #[must_use]
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Set [`ServerOptions::agent_ready_timeout`].
    #[must_use]
    pub fn with_agent_ready_timeout(mut self, timeout: Duration) -> Self {
        self.agent_ready_timeout = timeout;
        self
    }

    /// Set [`ServerOptions::sandbox_memory_limit`] (bytes).
    #[must_use]
    pub fn with_sandbox_memory_limit(mut self, bytes: Option<u64>) -> Self {
        self.sandbox_memory_limit = bytes;
        self
    }

    /// Set [`ServerOptions::sandbox_cpu_limit`] (CPUs).
    #[must_use]
    pub fn with_sandbox_cpu_limit(mut self, cpus: Option<u32>) -> Self {
        self.sandbox_cpu_limit = cpus;
        self
    }

    /// Set [`ServerOptions::request_body_idle_timeout`].
    #[must_use]
    pub fn with_request_body_idle_timeout(mut self, idle: Duration) -> Self {
        self.request_body_idle_timeout = idle;
        self
    }

    /// Set [`ServerOptions::sandbox_pids_limit`].
    #[must_use]
    pub fn with_sandbox_pids_limit(mut self, pids: Option<u64>) -> Self {
        self.sandbox_pids_limit = pids;
        self
    }

    /// Set [`ServerOptions::sandbox_disk_limit`] (bytes).
    #[must_use]
    pub fn with_sandbox_disk_limit(mut self, bytes: Option<u64>) -> Self {
        self.sandbox_disk_limit = bytes;
        self
    }

    /// Set [`ServerOptions::kernel_env`].
    #[must_use]
    pub fn with_kernel_env(mut self, dir: Option<PathBuf>) -> Self {
        self.kernel_env = dir;
        self
    }

    /// Set [`ServerOptions::envd_version`] (e.g. `"0.5.6"`).
    #[must_use]
    pub fn with_envd_version(mut self, version: impl Into<String>) -> Self {
        self.envd_version = Some(version.into());
        self
    }

    /// Set [`ServerOptions::writable_root`].
    #[must_use]
    pub fn with_writable_root(mut self, enabled: bool) -> Self {
        self.writable_root = enabled;
        self
    }

    /// Set [`ServerOptions::cache_dir`].
    #[must_use]
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Set [`ServerOptions::registry_mirror`].
    #[must_use]
    pub fn with_registry_mirror(mut self, url: impl Into<String>) -> Self {
        self.registry_mirror = Some(url.into());
        self
    }

    /// Keep `size` started sandboxes of `template` ready (see
    /// [`ServerOptions::warm_pools`]); 0 removes the template's pool.
    #[must_use]
    pub fn with_warm_pool(mut self, template: impl Into<String>, size: usize) -> Self {
        let template = template.into();
        if size == 0 {
            self.warm_pools.remove(&template);
        } else {
            self.warm_pools.insert(template, size);
        }
        self
    }

    /// Set [`ServerOptions::use_cgroups`].
    #[must_use]
    pub fn with_cgroups(mut self, enabled: bool) -> Self {
        self.use_cgroups = enabled;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_api_key() {
        let key = "e2b_0123456789abcdef0123456789abcdef";
        let shown = format!("{:?}", ServerOptions::default().with_api_key(key));
        assert!(!shown.contains(key), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(format!("{:?}", ServerOptions::default()).contains("api_key: None"));
    }
}
