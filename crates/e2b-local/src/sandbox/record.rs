//! What the server remembers about sandboxes and snapshots (persisted as JSON).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use e2b_api::control::types::{SandboxNetworkConfig, SandboxVolumeMount};
use serde::{Deserialize, Serialize};

/// What happens when a sandbox's timeout expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum OnTimeout {
    /// Kill it (the default).
    Kill,
    /// Pause it.
    Pause,
}

/// Lifecycle settings chosen at create.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Lifecycle {
    /// Action at timeout.
    pub(crate) on_timeout: OnTimeout,
    /// Whether traffic to a paused sandbox resumes it.
    pub(crate) auto_resume: bool,
    /// Whether the timeout pause keeps memory (processes) or only files.
    pub(crate) pause_keeps_memory: bool,
}

/// Persisted state of a sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum State {
    /// Processes are running.
    Running,
    /// Paused: frozen processes, or only files when `memory` is false.
    Paused,
}

/// One sandbox.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SandboxRecord {
    /// Sandbox id.
    pub(crate) id: String,
    /// Template it was created from (`base` or a snapshot template id).
    pub(crate) template_id: String,
    /// Template alias (name), if any.
    pub(crate) alias: Option<String>,
    /// Creation time.
    pub(crate) started_at: DateTime<Utc>,
    /// When the timeout fires (meaningful while running).
    pub(crate) end_at: DateTime<Utc>,
    /// The last timeout requested, in seconds (used again on resume).
    pub(crate) timeout_secs: u32,
    /// User metadata.
    pub(crate) metadata: BTreeMap<String, String>,
    /// Environment variables of every process.
    pub(crate) env_vars: BTreeMap<String, String>,
    /// `X-Access-Token` required by envd when the sandbox is secure.
    pub(crate) envd_access_token: Option<String>,
    /// `e2b-traffic-access-token` required on other ports when public traffic is off.
    pub(crate) traffic_access_token: Option<String>,
    /// `allow_internet_access` as requested (None = not set).
    pub(crate) allow_internet_access: Option<bool>,
    /// Whether the sandbox has its own network namespace (no internet).
    pub(crate) isolated_network: bool,
    /// Network settings as requested / last updated.
    pub(crate) network: Option<SandboxNetworkConfig>,
    /// Lifecycle settings.
    pub(crate) lifecycle: Lifecycle,
    /// Volume mounts as requested (recorded; volumes are not mounted).
    pub(crate) volume_mounts: Vec<SandboxVolumeMount>,
    /// MCP configuration as requested (recorded).
    pub(crate) mcp: Option<serde_json::Value>,
    /// Running or paused.
    pub(crate) state: State,
    /// When paused: whether processes were kept (false = files only, cold boot on resume).
    pub(crate) paused_with_memory: bool,
    /// Whether it runs the code interpreter (`code-interpreter-v1` and what
    /// was snapshotted or forked from it).
    #[serde(default)]
    pub(crate) code_interpreter: bool,
}

impl std::fmt::Debug for SandboxRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Access tokens stay out of logs.
        f.debug_struct("SandboxRecord")
            .field("id", &self.id)
            .field("template_id", &self.template_id)
            .field("alias", &self.alias)
            .field("started_at", &self.started_at)
            .field("end_at", &self.end_at)
            .field("timeout_secs", &self.timeout_secs)
            .field("metadata", &self.metadata)
            .field("env_vars", &self.env_vars)
            .field(
                "envd_access_token",
                &crate::ids::redacted(self.envd_access_token.as_deref()),
            )
            .field(
                "traffic_access_token",
                &crate::ids::redacted(self.traffic_access_token.as_deref()),
            )
            .field("allow_internet_access", &self.allow_internet_access)
            .field("isolated_network", &self.isolated_network)
            .field("network", &self.network)
            .field("lifecycle", &self.lifecycle)
            .field("volume_mounts", &self.volume_mounts)
            .field("mcp", &self.mcp)
            .field("state", &self.state)
            .field("paused_with_memory", &self.paused_with_memory)
            .finish()
    }
}

/// One snapshot: a template made from a sandbox's files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SnapshotRecord {
    /// Template id (directory name).
    pub(crate) template_id: String,
    /// Name given at creation, if any.
    pub(crate) name: Option<String>,
    /// The sandbox it was taken from.
    pub(crate) source_sandbox_id: String,
    /// The template the source sandbox was created from.
    pub(crate) source_template_id: String,
    /// Creation time.
    pub(crate) created_at: DateTime<Utc>,
    /// Environment variables of the source sandbox (inherited by sandboxes made from it).
    pub(crate) env_vars: BTreeMap<String, String>,
    /// Whether sandboxes made from it run the code interpreter.
    #[serde(default)]
    pub(crate) code_interpreter: bool,
}

impl SnapshotRecord {
    /// The id the API shows: `<name or template id>:default`.
    pub(crate) fn snapshot_id(&self) -> String {
        format!(
            "{}:default",
            self.name.as_deref().unwrap_or(&self.template_id)
        )
    }

    /// The names the API shows.
    pub(crate) fn names(&self) -> Vec<String> {
        self.name.iter().map(|n| format!("{n}:default")).collect()
    }

    /// Whether a template reference (`id`, `name`, either with `:tag`, optionally
    /// `namespace/`-prefixed) denotes this snapshot.
    pub(crate) fn matches(&self, reference: &str) -> bool {
        let without_tag = reference
            .rsplit_once(':')
            .map_or(reference, |(name, _)| name);
        let bare = without_tag
            .rsplit_once('/')
            .map_or(without_tag, |(_, name)| name);
        bare == self.template_id || self.name.as_deref() == Some(bare)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(name: Option<&str>) -> SnapshotRecord {
        SnapshotRecord {
            template_id: "abc123".into(),
            name: name.map(str::to_owned),
            source_sandbox_id: "i1".into(),
            source_template_id: "base".into(),
            created_at: Utc::now(),
            env_vars: BTreeMap::new(),
            code_interpreter: false,
        }
    }

    #[test]
    fn snapshot_ids_and_references() {
        let unnamed = snapshot(None);
        assert_eq!(unnamed.snapshot_id(), "abc123:default");
        assert!(unnamed.names().is_empty());
        assert!(unnamed.matches("abc123"));
        assert!(unnamed.matches("abc123:default"));
        assert!(!unnamed.matches("abc12"));

        let named = snapshot(Some("my-snap"));
        assert_eq!(named.snapshot_id(), "my-snap:default");
        assert_eq!(named.names(), vec!["my-snap:default".to_owned()]);
        assert!(named.matches("my-snap"));
        assert!(named.matches("team/my-snap:v1"));
        assert!(named.matches("abc123"));
    }

    #[test]
    fn debug_output_hides_access_tokens() {
        let now = Utc::now();
        let record = SandboxRecord {
            id: "iabc".into(),
            template_id: "base".into(),
            alias: None,
            started_at: now,
            end_at: now,
            timeout_secs: 1,
            metadata: BTreeMap::new(),
            env_vars: BTreeMap::new(),
            envd_access_token: Some("envd-secret-token".into()),
            traffic_access_token: Some("traffic-secret-token".into()),
            allow_internet_access: None,
            isolated_network: false,
            network: None,
            lifecycle: Lifecycle {
                on_timeout: OnTimeout::Kill,
                auto_resume: false,
                pause_keeps_memory: true,
            },
            volume_mounts: vec![],
            mcp: None,
            state: State::Running,
            paused_with_memory: false,
            code_interpreter: false,
        };
        let shown = format!("{record:?}");
        assert!(!shown.contains("secret-token"), "{shown}");
        assert!(
            shown.contains("iabc") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn records_round_trip_through_json() {
        let rec = snapshot(Some("x"));
        let json = serde_json::to_string(&rec).unwrap();
        assert_eq!(serde_json::from_str::<SnapshotRecord>(&json).unwrap(), rec);
    }
}
