//! What the control plane reports about sandboxes: [`SandboxInfo`], [`SandboxMetrics`],
//! [`SnapshotInfo`].

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use crate::lifecycle::OnTimeoutAction;
use crate::network::NetworkInfo;

/// Whether a sandbox is running or paused.
///
/// A control plane newer than this crate may report a state it does not know yet; that
/// arrives as [`SandboxState::Unknown`] with the state as sent, so a listing or an info
/// call never fails because of it.
///
/// ```
/// use e2b_sandbox::SandboxState;
///
/// let state = SandboxState::Unknown("hibernating".to_owned());
/// assert_eq!(state.as_str(), "hibernating");
/// assert_eq!(SandboxState::Paused.to_string(), "paused");
/// // Parsing is for the states this crate knows, so that a typo is caught.
/// assert!("hibernating".parse::<SandboxState>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SandboxState {
    /// The sandbox is running.
    Running,
    /// The sandbox is paused; [`Sandbox::connect`](crate::Sandbox::connect) resumes it.
    Paused,
    /// A state this crate does not know, as the control plane sent it. Filtering a
    /// listing by it ([`ListOptions::state`](crate::ListOptions::state)) sends it as is.
    Unknown(String),
}

impl SandboxState {
    /// The wire name: `running`, `paused`, or an unknown state as sent.
    pub fn as_str(&self) -> &str {
        match self {
            SandboxState::Running => "running",
            SandboxState::Paused => "paused",
            SandboxState::Unknown(state) => state,
        }
    }
}

impl fmt::Display for SandboxState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SandboxState {
    type Err = e2b_core::Error;

    /// Parse `running` or `paused` (any case). Any other text is an error rather than
    /// [`SandboxState::Unknown`]: parsing is for input, where an unknown word is a typo.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "running" => Ok(SandboxState::Running),
            "paused" => Ok(SandboxState::Paused),
            _ => Err(e2b_core::Error::invalid_argument(format!(
                "invalid sandbox state `{}`: expected `running` or `paused`",
                s.escape_debug()
            ))),
        }
    }
}

/// A volume mounted into a sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct VolumeMount {
    /// The volume's name.
    pub name: String,
    /// Where it is mounted inside the sandbox.
    pub path: String,
}

impl VolumeMount {
    /// A mount of volume `name` at `path`.
    pub fn new(name: impl Into<String>, path: impl Into<String>) -> Self {
        VolumeMount {
            name: name.into(),
            path: path.into(),
        }
    }
}

/// The lifecycle a sandbox was created with, as the control plane reports it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct LifecycleInfo {
    /// What happens when the sandbox's timeout is reached.
    pub on_timeout: OnTimeoutAction,
    /// Whether traffic to a paused sandbox resumes it.
    pub auto_resume: bool,
}

/// Information about a sandbox, from [`Sandbox::info`](crate::Sandbox::info) or a listing.
///
/// Listings ([`Client::list_sandboxes`](crate::Client::list_sandboxes)) do not report
/// `allow_internet_access`, `network`, `lifecycle` or `sandbox_domain`; those are `None` there.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SandboxInfo {
    /// The sandbox id.
    pub sandbox_id: String,
    /// The id of the template the sandbox was created from.
    pub template_id: String,
    /// The template's name (alias), if it has one.
    pub name: Option<String>,
    /// The metadata given at creation.
    pub metadata: HashMap<String, String>,
    /// When the sandbox started.
    pub started_at: SystemTime,
    /// When the sandbox will time out (be killed or paused).
    pub end_at: SystemTime,
    /// Running or paused (or a state this crate does not know).
    pub state: SandboxState,
    /// Number of vCPUs.
    pub cpu_count: u32,
    /// Memory in MiB.
    pub memory_mb: u32,
    /// Disk size in MiB.
    pub disk_size_mb: u32,
    /// The version of envd (the daemon inside the sandbox).
    pub envd_version: String,
    /// Whether internet access was explicitly allowed or denied at creation.
    pub allow_internet_access: Option<bool>,
    /// The network configuration.
    pub network: Option<NetworkInfo>,
    /// The lifecycle configuration.
    pub lifecycle: Option<LifecycleInfo>,
    /// The volumes mounted into the sandbox.
    pub volume_mounts: Vec<VolumeMount>,
    /// The domain the sandbox is served under, when it differs from the configured one.
    pub sandbox_domain: Option<String>,
}

/// One sample of a sandbox's resource usage.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SandboxMetrics {
    /// When the sample was taken.
    pub timestamp: SystemTime,
    /// CPU usage in percent (of all vCPUs).
    pub cpu_used_pct: f32,
    /// Number of vCPUs.
    pub cpu_count: u32,
    /// Memory in use, in bytes.
    pub mem_used: u64,
    /// Total memory, in bytes.
    pub mem_total: u64,
    /// Memory used as cache, in bytes.
    pub mem_cache: u64,
    /// Disk in use, in bytes.
    pub disk_used: u64,
    /// Total disk, in bytes.
    pub disk_total: u64,
}

/// A snapshot of a sandbox, usable as a template to create new sandboxes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SnapshotInfo {
    /// The snapshot id; pass it to [`SandboxBuilder::template`](crate::SandboxBuilder::template).
    pub snapshot_id: String,
    /// The names the snapshot can also be referred to by.
    pub names: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_parses_and_prints() {
        assert_eq!(
            "Running".parse::<SandboxState>().unwrap(),
            SandboxState::Running
        );
        assert_eq!(
            " paused ".parse::<SandboxState>().unwrap(),
            SandboxState::Paused
        );
        let err = "stopped".parse::<SandboxState>().unwrap_err();
        assert!(err.is_invalid_argument());
        assert!(err.to_string().contains("stopped"), "{err}");
        assert_eq!(SandboxState::Paused.to_string(), "paused");
        let unknown = SandboxState::Unknown("hibernating".to_owned());
        assert_eq!(unknown.as_str(), "hibernating");
        assert_eq!(unknown.to_string(), "hibernating");
    }
}
