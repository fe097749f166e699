//! Conversions between the generated control-plane types and this crate's public types.
//! Generated types never leave this crate; this is the only module that maps them.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use e2b_api::control::types;
use e2b_core::{Error, ExposeSecret, Result};

use crate::iam::IamToken;
use crate::info::{
    LifecycleInfo, SandboxInfo, SandboxMetrics, SandboxState, SnapshotInfo, VolumeMount,
};
use crate::lifecycle::OnTimeoutAction;
use crate::network::{
    EgressProxy, EgressProxyInfo, NetworkConfig, NetworkInfo, NetworkRule, NetworkTransform,
    NetworkUpdate,
};

/// What create, connect and fork return about one sandbox.
#[derive(Clone, Debug)]
pub(crate) struct SandboxCreated {
    pub(crate) sandbox_id: String,
    pub(crate) template_id: String,
    pub(crate) alias: Option<String>,
    pub(crate) domain: Option<String>,
    pub(crate) envd_version: String,
    pub(crate) envd_access_token: Option<String>,
    pub(crate) traffic_access_token: Option<String>,
}

impl From<types::Sandbox> for SandboxCreated {
    fn from(s: types::Sandbox) -> Self {
        SandboxCreated {
            sandbox_id: s.sandbox_id,
            template_id: s.template_id,
            alias: s.alias,
            domain: s.domain.filter(|d| !d.is_empty()),
            envd_version: s.envd_version.0,
            envd_access_token: s.envd_access_token.filter(|t| !t.is_empty()),
            traffic_access_token: s.traffic_access_token.filter(|t| !t.is_empty()),
        }
    }
}

fn state(s: types::SandboxState) -> SandboxState {
    match s {
        types::SandboxState::Running => SandboxState::Running,
        types::SandboxState::Paused => SandboxState::Paused,
        other => SandboxState::Unknown(other.to_string()),
    }
}

pub(crate) fn state_to_wire(s: &SandboxState) -> types::SandboxState {
    match s {
        SandboxState::Running => types::SandboxState::Running,
        SandboxState::Paused => types::SandboxState::Paused,
        SandboxState::Unknown(state) => types::SandboxState::from(state.as_str()),
    }
}

fn on_timeout(action: types::SandboxOnTimeout) -> OnTimeoutAction {
    match action {
        types::SandboxOnTimeout::Kill => OnTimeoutAction::Kill,
        types::SandboxOnTimeout::Pause => OnTimeoutAction::Pause,
        other => OnTimeoutAction::Unknown(other.to_string()),
    }
}

fn non_negative(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn bytes(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn metadata(m: Option<types::SandboxMetadata>) -> HashMap<String, String> {
    m.map(|m| m.0).unwrap_or_default()
}

fn mounts(m: Vec<types::SandboxVolumeMount>) -> Vec<VolumeMount> {
    m.into_iter()
        .map(|m| VolumeMount::new(m.name, m.path))
        .collect()
}

impl From<types::SandboxDetail> for SandboxInfo {
    fn from(d: types::SandboxDetail) -> Self {
        SandboxInfo {
            sandbox_id: d.sandbox_id,
            template_id: d.template_id,
            name: d.alias,
            metadata: metadata(d.metadata),
            started_at: SystemTime::from(d.started_at),
            end_at: SystemTime::from(d.end_at),
            state: state(d.state),
            cpu_count: d.cpu_count.0.get(),
            memory_mb: non_negative(d.memory_mb.0),
            disk_size_mb: non_negative(d.disk_size_mb.0),
            envd_version: d.envd_version.0,
            allow_internet_access: d.allow_internet_access,
            network: d.network.map(NetworkInfo::from),
            lifecycle: d.lifecycle.map(|l| LifecycleInfo {
                on_timeout: on_timeout(l.on_timeout),
                auto_resume: l.auto_resume,
            }),
            volume_mounts: mounts(d.volume_mounts),
            sandbox_domain: d.domain.filter(|d| !d.is_empty()),
        }
    }
}

impl From<types::ListedSandbox> for SandboxInfo {
    fn from(l: types::ListedSandbox) -> Self {
        SandboxInfo {
            sandbox_id: l.sandbox_id,
            template_id: l.template_id,
            name: l.alias,
            metadata: metadata(l.metadata),
            started_at: SystemTime::from(l.started_at),
            end_at: SystemTime::from(l.end_at),
            state: state(l.state),
            cpu_count: l.cpu_count.0.get(),
            memory_mb: non_negative(l.memory_mb.0),
            disk_size_mb: non_negative(l.disk_size_mb.0),
            envd_version: l.envd_version.0,
            allow_internet_access: None,
            network: None,
            lifecycle: None,
            volume_mounts: mounts(l.volume_mounts),
            sandbox_domain: None,
        }
    }
}

impl From<types::SandboxMetric> for SandboxMetrics {
    fn from(m: types::SandboxMetric) -> Self {
        SandboxMetrics {
            timestamp: SystemTime::from(m.timestamp),
            cpu_used_pct: m.cpu_used_pct,
            cpu_count: non_negative(m.cpu_count),
            mem_used: bytes(m.mem_used),
            mem_total: bytes(m.mem_total),
            mem_cache: bytes(m.mem_cache),
            disk_used: bytes(m.disk_used),
            disk_total: bytes(m.disk_total),
        }
    }
}

impl From<types::SnapshotInfo> for SnapshotInfo {
    fn from(s: types::SnapshotInfo) -> Self {
        SnapshotInfo {
            snapshot_id: s.snapshot_id,
            names: s.names,
        }
    }
}

fn rules_from_wire(
    rules: HashMap<String, Vec<types::SandboxNetworkRule>>,
) -> BTreeMap<String, Vec<NetworkRule>> {
    rules
        .into_iter()
        .map(|(host, rules)| {
            let rules = rules
                .into_iter()
                .map(|r| NetworkRule {
                    transform: r.transform.map(|t| NetworkTransform {
                        headers: t.headers.into_iter().collect(),
                    }),
                })
                .collect();
            (host, rules)
        })
        .collect()
}

fn rules_to_wire(
    rules: &BTreeMap<String, Vec<NetworkRule>>,
) -> HashMap<String, Vec<types::SandboxNetworkRule>> {
    rules
        .iter()
        .map(|(host, rules)| {
            let rules = rules
                .iter()
                .map(|r| types::SandboxNetworkRule {
                    transform: r
                        .transform
                        .as_ref()
                        .map(|t| types::SandboxNetworkTransform {
                            headers: t
                                .headers
                                .iter()
                                .map(|(k, v)| (k.clone(), v.clone()))
                                .collect(),
                        }),
                })
                .collect();
            (host.clone(), rules)
        })
        .collect()
}

impl From<types::SandboxNetworkConfig> for NetworkInfo {
    fn from(n: types::SandboxNetworkConfig) -> Self {
        NetworkInfo {
            allow_out: n.allow_out,
            deny_out: n.deny_out,
            rules: rules_from_wire(n.rules),
            egress_proxy: n.egress_proxy.and_then(|p| p.0).map(|p| EgressProxyInfo {
                address: p.address,
                username: p.username.map(String::from),
            }),
            allow_public_traffic: n.allow_public_traffic,
            mask_request_host: n.mask_request_host,
        }
    }
}

fn proxy_to_wire(p: &EgressProxy) -> Result<types::SandboxEgressProxyConfig> {
    if p.address.trim().is_empty() {
        return Err(Error::invalid_argument(
            "the egress proxy needs an address in host:port form (e.g. proxy.example.com:1080)",
        ));
    }
    let too_long = |what: &str| {
        Error::invalid_argument(format!(
            "the egress proxy {what} is longer than 255 characters"
        ))
    };
    let username = p
        .username
        .as_deref()
        .map(types::SandboxEgressProxyConfigInnerUsername::try_from)
        .transpose()
        .map_err(|_| too_long("username"))?;
    let password = p
        .password
        .as_ref()
        .map(|s| types::SandboxEgressProxyConfigInnerPassword::try_from(s.expose_secret()))
        .transpose()
        .map_err(|_| too_long("password"))?;
    if password.is_some() && username.is_none() {
        return Err(Error::invalid_argument(
            "the egress proxy password is only valid together with a username",
        ));
    }
    Ok(types::SandboxEgressProxyConfig(Some(
        types::SandboxEgressProxyConfigInner {
            address: p.address.clone(),
            password,
            username,
        },
    )))
}

pub(crate) fn network_to_wire(n: &NetworkConfig) -> Result<types::SandboxNetworkConfig> {
    Ok(types::SandboxNetworkConfig {
        allow_out: n.allow_out.clone().unwrap_or_default(),
        allow_public_traffic: n.allow_public_traffic.unwrap_or(true),
        deny_out: n.deny_out.clone().unwrap_or_default(),
        egress_proxy: n.egress_proxy.as_ref().map(proxy_to_wire).transpose()?,
        mask_request_host: n.mask_request_host.clone(),
        rules: rules_to_wire(&n.rules),
    })
}

pub(crate) fn network_update_to_wire(
    n: &NetworkUpdate,
) -> Result<types::SandboxNetworkUpdateConfig> {
    Ok(types::SandboxNetworkUpdateConfig {
        allow_internet_access: n.allow_internet_access,
        allow_out: n.allow_out.clone(),
        deny_out: n.deny_out.clone(),
        egress_proxy: n.egress_proxy.as_ref().map(proxy_to_wire).transpose()?,
        rules: rules_to_wire(&n.rules),
    })
}

pub(crate) fn iam_to_wire(tokens: &BTreeMap<String, IamToken>) -> Option<types::SandboxIam> {
    if tokens.is_empty() {
        return None;
    }
    Some(types::SandboxIam {
        tokens: Some(types::SandboxIamTokens(
            tokens
                .iter()
                .map(|(name, t)| {
                    (
                        name.clone(),
                        types::SandboxIamToken {
                            audience: t.audience.clone(),
                            token_type: t.token_type.clone(),
                        },
                    )
                })
                .collect(),
        )),
    })
}

pub(crate) fn mounts_to_wire(m: &[VolumeMount]) -> Vec<types::SandboxVolumeMount> {
    m.iter()
        .map(|m| types::SandboxVolumeMount {
            name: m.name.clone(),
            path: m.path.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn detail_converts_every_field() {
        let detail: types::SandboxDetail = serde_json::from_value(json!({
            "templateID": "tpl", "sandboxID": "sbx", "alias": "base", "clientID": "c",
            "startedAt": "2025-01-02T03:04:05Z", "endAt": "2025-01-02T03:09:05Z",
            "cpuCount": 2, "memoryMB": 512, "diskSizeMB": 1024, "state": "paused",
            "envdVersion": "0.6.13", "allowInternetAccess": false, "domain": "d.dev",
            "metadata": {"k": "v"},
            "lifecycle": {"autoResume": true, "onTimeout": "pause"},
            "network": {"allowOut": ["1.1.1.1"], "denyOut": ["0.0.0.0/0"],
                        "allowPublicTraffic": false, "maskRequestHost": "${PORT}-x.dev",
                        "egressProxy": {"address": "p:1080", "username": "u"},
                        "rules": {"a.com": [{"transform": {"headers": {"X": "1"}}}]}},
            "volumeMounts": [{"name": "vol", "path": "/mnt"}]
        }))
        .unwrap();
        let info = SandboxInfo::from(detail);
        assert_eq!(info.sandbox_id, "sbx");
        assert_eq!(info.template_id, "tpl");
        assert_eq!(info.name.as_deref(), Some("base"));
        assert_eq!(info.metadata["k"], "v");
        assert_eq!(
            info.end_at.duration_since(info.started_at).unwrap(),
            std::time::Duration::from_secs(300)
        );
        assert_eq!(info.state, SandboxState::Paused);
        assert_eq!(
            (info.cpu_count, info.memory_mb, info.disk_size_mb),
            (2, 512, 1024)
        );
        assert_eq!(info.envd_version, "0.6.13");
        assert_eq!(info.allow_internet_access, Some(false));
        assert_eq!(info.sandbox_domain.as_deref(), Some("d.dev"));
        assert_eq!(
            info.lifecycle,
            Some(LifecycleInfo {
                on_timeout: OnTimeoutAction::Pause,
                auto_resume: true
            })
        );
        let net = info.network.unwrap();
        assert_eq!(net.allow_out, ["1.1.1.1"]);
        assert_eq!(net.deny_out, ["0.0.0.0/0"]);
        assert!(!net.allow_public_traffic);
        assert_eq!(net.mask_request_host.as_deref(), Some("${PORT}-x.dev"));
        assert_eq!(
            net.egress_proxy,
            Some(EgressProxyInfo {
                address: "p:1080".into(),
                username: Some("u".into())
            })
        );
        assert_eq!(
            net.rules["a.com"][0].transform.as_ref().unwrap().headers["X"],
            "1"
        );
        assert_eq!(info.volume_mounts, [VolumeMount::new("vol", "/mnt")]);
    }

    #[test]
    fn states_and_actions_newer_than_the_crate_are_kept() {
        let wire = types::SandboxState::from("hibernating");
        assert_eq!(state(wire), SandboxState::Unknown("hibernating".to_owned()));
        assert_eq!(
            on_timeout(types::SandboxOnTimeout::from("hibernate")),
            OnTimeoutAction::Unknown("hibernate".to_owned())
        );
        // A filter by an unknown state is sent as given; a known one spelled as unknown
        // is sent as the known one.
        let unknown = SandboxState::Unknown("hibernating".to_owned());
        assert_eq!(state_to_wire(&unknown).as_str(), "hibernating");
        assert_eq!(
            state_to_wire(&SandboxState::Unknown("paused".to_owned())),
            types::SandboxState::Paused
        );
    }

    #[test]
    fn network_round_trips_through_the_wire_form() {
        let config = NetworkConfig::new()
            .allow_out(["1.1.1.1"])
            .deny_out([crate::ALL_TRAFFIC])
            .rule(
                "a.com",
                NetworkRule::transform(NetworkTransform::new().header("X", "1")),
            )
            .egress_proxy(EgressProxy::new("p:1080").credentials("u", "pw"))
            .allow_public_traffic(false)
            .mask_request_host("${PORT}-m.dev");
        let wire = network_to_wire(&config).unwrap();
        let json = serde_json::to_value(&wire).unwrap();
        assert_eq!(
            json,
            json!({"allowOut": ["1.1.1.1"], "denyOut": ["0.0.0.0/0"], "allowPublicTraffic": false,
                   "maskRequestHost": "${PORT}-m.dev",
                   "egressProxy": {"address": "p:1080", "username": "u", "password": "pw"},
                   "rules": {"a.com": [{"transform": {"headers": {"X": "1"}}}]}})
        );
        let info = NetworkInfo::from(wire);
        assert_eq!(info.rules, config.rules);
        assert_eq!(info.egress_proxy.unwrap().username.as_deref(), Some("u"));
    }

    #[test]
    fn proxy_validation() {
        let long = "x".repeat(256);
        for proxy in [
            EgressProxy::new(""),
            EgressProxy::new("p:1").credentials(long.clone(), "pw"),
            EgressProxy::new("p:1").credentials("u", long),
            EgressProxy {
                password: Some("pw".to_owned().into()),
                ..EgressProxy::new("p:1")
            },
        ] {
            let err = network_to_wire(&NetworkConfig::new().egress_proxy(proxy)).unwrap_err();
            assert!(err.is_invalid_argument(), "{err}");
        }
    }

    #[test]
    fn update_clears_what_is_left_out() {
        let wire = network_update_to_wire(&NetworkUpdate::new()).unwrap();
        assert_eq!(serde_json::to_value(&wire).unwrap(), json!({}));
        let wire =
            network_update_to_wire(&NetworkUpdate::new().allow_internet_access(false)).unwrap();
        assert_eq!(
            serde_json::to_value(&wire).unwrap(),
            json!({"allow_internet_access": false})
        );
    }

    #[test]
    fn metrics_and_snapshots() {
        let m: types::SandboxMetric = serde_json::from_value(json!({
            "timestamp": "2025-01-02T03:04:05Z", "timestampUnix": 1735787045,
            "cpuCount": 2, "cpuUsedPct": 12.5, "memUsed": 10, "memTotal": 20,
            "memCache": 3, "diskUsed": -1, "diskTotal": 40
        }))
        .unwrap();
        let m = SandboxMetrics::from(m);
        assert_eq!(m.cpu_used_pct, 12.5);
        assert_eq!((m.mem_used, m.mem_total, m.mem_cache), (10, 20, 3));
        assert_eq!((m.disk_used, m.disk_total), (0, 40));
        let s = SnapshotInfo::from(types::SnapshotInfo {
            names: vec!["n".into()],
            snapshot_id: "s".into(),
        });
        assert_eq!(s.snapshot_id, "s");
        assert_eq!(s.names, ["n"]);
    }
}
