//! What the server remembers about sandboxes and snapshots (persisted as JSON).
//!
//! These are e2b-local's own types: the control plane converts the API's
//! wire types into them and back (see `control::wire`), so that a new
//! upstream spec never changes what is on disk.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

/// A sandbox's network settings as requested or last updated (recorded;
/// see the crate docs for what is enforced). Stored in the API's field names.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NetworkSettings {
    /// Destinations egress may reach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) allow_out: Vec<String>,
    /// Destinations egress may not reach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) deny_out: Vec<String>,
    /// Whether ports other than envd's are reachable without the traffic token.
    #[serde(default = "yes")]
    pub(crate) allow_public_traffic: bool,
    /// The host header sandbox requests are sent with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mask_request_host: Option<String>,
    /// Per-domain transform rules, as sent (they may carry credentials).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub(crate) rules: Map<String, Value>,
    /// The egress proxy, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) egress_proxy: Option<Value>,
}

fn yes() -> bool {
    true
}

impl Default for NetworkSettings {
    fn default() -> Self {
        Self {
            allow_out: Vec::new(),
            deny_out: Vec::new(),
            allow_public_traffic: true,
            mask_request_host: None,
            rules: Map::new(),
            egress_proxy: None,
        }
    }
}

impl std::fmt::Debug for NetworkSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Rules and proxies can carry credentials: only their shape is shown.
        f.debug_struct("NetworkSettings")
            .field("allow_out", &self.allow_out)
            .field("deny_out", &self.deny_out)
            .field("allow_public_traffic", &self.allow_public_traffic)
            .field("mask_request_host", &self.mask_request_host)
            .field("rules_for", &self.rules.keys().collect::<Vec<_>>())
            .field(
                "egress_proxy",
                &self.egress_proxy.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A change of the network settings (`PUT /sandboxes/{id}/network`).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct NetworkUpdate {
    /// New `allow_internet_access`, if given.
    pub(crate) allow_internet_access: Option<bool>,
    /// Replaces [`NetworkSettings::allow_out`].
    pub(crate) allow_out: Vec<String>,
    /// Replaces [`NetworkSettings::deny_out`].
    pub(crate) deny_out: Vec<String>,
    /// Replaces [`NetworkSettings::rules`].
    pub(crate) rules: Map<String, Value>,
    /// Replaces [`NetworkSettings::egress_proxy`].
    pub(crate) egress_proxy: Option<Value>,
}

/// A volume mounted into the sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct VolumeMount {
    /// The volume's name.
    pub(crate) name: String,
    /// Where it is mounted.
    pub(crate) path: String,
    /// The volume, resolved from its name at create (absent in records of
    /// versions that only recorded mounts: those are not mounted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) volume_id: Option<String>,
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
    pub(crate) network: Option<NetworkSettings>,
    /// Lifecycle settings.
    pub(crate) lifecycle: Lifecycle,
    /// Volume mounts.
    pub(crate) volume_mounts: Vec<VolumeMount>,
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
    /// The image template whose layers are its root filesystem (its own, or
    /// that of the snapshot it was made from); `None`: the host's system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) image_template: Option<String>,
    /// A sandbox the server runs for itself (a template build's step):
    /// listed nowhere.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) internal: bool,
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
    /// The image template under the source sandbox's files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) image_template: Option<String>,
    /// A snapshot kept as a layer: the (hidden) template whose layers are
    /// the source's template's plus the source's changes; its sandboxes
    /// start on them with an empty disk. `None`: the snapshot is a copy of
    /// the source's files under `fs/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) layered: Option<String>,
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
            image_template: None,
            layered: None,
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
            image_template: None,
            internal: false,
        };
        let shown = format!("{record:?}");
        assert!(!shown.contains("secret-token"), "{shown}");
        assert!(
            shown.contains("iabc") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn network_settings_read_what_earlier_versions_wrote() {
        // The API's own shape, as the wire type serialised it.
        let stored = serde_json::json!({
            "allowOut": ["example.com"],
            "allowPublicTraffic": false,
            "rules": {"api.example.com": [{"transform": {"headers": {"Authorization": "Bearer s3cret"}}}]}
        });
        let settings: NetworkSettings = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(settings.allow_out, ["example.com"]);
        assert!(!settings.allow_public_traffic);
        assert_eq!(serde_json::to_value(&settings).unwrap(), stored);
        assert!(!format!("{settings:?}").contains("s3cret"));
        let defaults: NetworkSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(defaults, NetworkSettings::default());
    }

    #[test]
    fn records_round_trip_through_json() {
        let rec = snapshot(Some("x"));
        let json = serde_json::to_string(&rec).unwrap();
        assert_eq!(serde_json::from_str::<SnapshotRecord>(&json).unwrap(), rec);
    }
}
