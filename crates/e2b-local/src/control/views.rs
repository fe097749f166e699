//! Sandbox records as the spec's response types.

use std::num::NonZeroU32;

use e2b_api::control::types::{
    self, CpuCount, DiskSizeMb, EnvdVersion, ListedSandbox, MemoryMb, SandboxDetail,
    SandboxLifecycle, SandboxMetadata, SandboxOnTimeout, SandboxState,
};

use crate::host::HostInfo;
use crate::sandbox::record::{OnTimeout, SandboxRecord, State};

/// `clientID` is deprecated but required by the SDKs' parsers.
const CLIENT_ID: &str = "e2b-local";

/// Resources reported for every sandbox (`cpuCount`, `memoryMB`, `diskSizeMB`).
#[derive(Clone, Debug)]
pub(crate) struct Sizes {
    cpu_count: CpuCount,
    memory_mb: MemoryMb,
    disk_size_mb: DiskSizeMb,
}

impl Sizes {
    /// The configured CPU and memory limits (at most the host's) and the data dir's filesystem.
    pub(crate) fn new(
        host: &HostInfo,
        memory_limit: Option<u64>,
        cpu_limit: Option<u32>,
        disk_total: u64,
    ) -> Self {
        let mib = |bytes: u64| i32::try_from(bytes / (1024 * 1024)).unwrap_or(i32::MAX);
        let cpus = cpu_limit.map_or(host.cpu_count, |n| n.min(host.cpu_count));
        Self {
            cpu_count: CpuCount(NonZeroU32::new(cpus).unwrap_or(NonZeroU32::MIN)),
            memory_mb: MemoryMb(mib(memory_limit.unwrap_or(host.mem_total)).max(128)),
            disk_size_mb: DiskSizeMb(mib(disk_total)),
        }
    }
}

impl Sizes {
    /// `cpuCount`.
    pub(crate) fn cpu_count(&self) -> CpuCount {
        self.cpu_count.clone()
    }

    /// `memoryMB`.
    pub(crate) fn memory_mb(&self) -> MemoryMb {
        self.memory_mb.clone()
    }

    /// `diskSizeMB`.
    pub(crate) fn disk_size_mb(&self) -> DiskSizeMb {
        self.disk_size_mb.clone()
    }
}

fn state(s: State) -> SandboxState {
    match s {
        State::Running => SandboxState::Running,
        State::Paused => SandboxState::Paused,
    }
}

fn metadata(r: &SandboxRecord) -> Option<SandboxMetadata> {
    Some(SandboxMetadata(
        r.metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    ))
}

/// `Sandbox` (create, connect, resume, fork).
pub(crate) fn sandbox(r: &SandboxRecord, envd_version: &str) -> types::Sandbox {
    types::Sandbox {
        alias: r.alias.clone(),
        client_id: CLIENT_ID.to_owned(),
        domain: None,
        envd_access_token: r.envd_access_token.clone(),
        envd_version: EnvdVersion(envd_version.to_owned()),
        sandbox_id: r.id.clone(),
        template_id: r.template_id.clone(),
        traffic_access_token: r.traffic_access_token.clone(),
    }
}

/// `SandboxDetail` (get info).
pub(crate) fn detail(r: &SandboxRecord, envd_version: &str, sizes: &Sizes) -> SandboxDetail {
    SandboxDetail {
        alias: r.alias.clone(),
        allow_internet_access: r.allow_internet_access,
        client_id: CLIENT_ID.to_owned(),
        cpu_count: sizes.cpu_count.clone(),
        disk_size_mb: sizes.disk_size_mb.clone(),
        domain: None,
        end_at: r.end_at,
        envd_access_token: r.envd_access_token.clone(),
        envd_version: EnvdVersion(envd_version.to_owned()),
        lifecycle: Some(SandboxLifecycle {
            auto_resume: r.lifecycle.auto_resume,
            on_timeout: match r.lifecycle.on_timeout {
                OnTimeout::Kill => SandboxOnTimeout::Kill,
                OnTimeout::Pause => SandboxOnTimeout::Pause,
            },
        }),
        memory_mb: sizes.memory_mb.clone(),
        metadata: metadata(r),
        network: r.network.as_ref().map(super::wire::network_config),
        sandbox_id: r.id.clone(),
        started_at: r.started_at,
        state: state(r.state),
        template_id: r.template_id.clone(),
        volume_mounts: r
            .volume_mounts
            .iter()
            .map(super::wire::volume_mount_view)
            .collect(),
    }
}

/// `ListedSandbox` (list).
pub(crate) fn listed(r: &SandboxRecord, envd_version: &str, sizes: &Sizes) -> ListedSandbox {
    ListedSandbox {
        alias: r.alias.clone(),
        client_id: CLIENT_ID.to_owned(),
        cpu_count: sizes.cpu_count.clone(),
        disk_size_mb: sizes.disk_size_mb.clone(),
        end_at: r.end_at,
        envd_version: EnvdVersion(envd_version.to_owned()),
        memory_mb: sizes.memory_mb.clone(),
        metadata: metadata(r),
        sandbox_id: r.id.clone(),
        started_at: r.started_at,
        state: state(r.state),
        template_id: r.template_id.clone(),
        volume_mounts: r
            .volume_mounts
            .iter()
            .map(super::wire::volume_mount_view)
            .collect(),
    }
}
