//! The API's wire types and the server's own records, converted both ways
//! at the edge (the records' shape on disk never follows the spec).

use e2b_api::control::types::{
    SandboxNetworkConfig, SandboxNetworkUpdateConfig, SandboxVolumeMount,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::sandbox::record::{NetworkSettings, NetworkUpdate, VolumeMount};

/// The network settings of a create request.
pub(crate) fn network_settings(n: SandboxNetworkConfig) -> NetworkSettings {
    NetworkSettings {
        allow_out: n.allow_out,
        deny_out: n.deny_out,
        allow_public_traffic: n.allow_public_traffic,
        mask_request_host: n.mask_request_host,
        rules: as_map(&n.rules),
        egress_proxy: n.egress_proxy.as_ref().and_then(as_value),
    }
}

/// A network update request.
pub(crate) fn network_update(u: SandboxNetworkUpdateConfig) -> NetworkUpdate {
    NetworkUpdate {
        allow_internet_access: u.allow_internet_access,
        allow_out: u.allow_out,
        deny_out: u.deny_out,
        rules: as_map(&u.rules),
        egress_proxy: u.egress_proxy.as_ref().and_then(as_value),
    }
}

/// Recorded network settings as the API shows them.
pub(crate) fn network_config(n: &NetworkSettings) -> SandboxNetworkConfig {
    SandboxNetworkConfig {
        allow_out: n.allow_out.clone(),
        deny_out: n.deny_out.clone(),
        allow_public_traffic: n.allow_public_traffic,
        mask_request_host: n.mask_request_host.clone(),
        rules: from_value(Value::Object(n.rules.clone())).unwrap_or_default(),
        egress_proxy: n.egress_proxy.clone().and_then(from_value),
    }
}

/// A requested volume mount, unresolved.
#[cfg(test)]
pub(crate) fn volume_mount(v: SandboxVolumeMount) -> VolumeMount {
    VolumeMount {
        name: v.name,
        path: v.path,
        volume_id: None,
    }
}

/// A recorded volume mount as the API shows it.
pub(crate) fn volume_mount_view(v: &VolumeMount) -> SandboxVolumeMount {
    SandboxVolumeMount {
        name: v.name.clone(),
        path: v.path.clone(),
    }
}

fn as_value<T: Serialize>(value: &T) -> Option<Value> {
    serde_json::to_value(value).ok()
}

fn as_map<T: Serialize>(value: &T) -> Map<String, Value> {
    match as_value(value) {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// A recorded value in the current spec's type; `None` when it no longer
/// fits (recorded by an older version, and only ever reported).
fn from_value<T: DeserializeOwned>(value: Value) -> Option<T> {
    serde_json::from_value(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_settings_round_trip_through_the_wire_types() {
        let wire: SandboxNetworkConfig = serde_json::from_value(serde_json::json!({
            "allowOut": ["1.1.1.1"],
            "denyOut": ["0.0.0.0/0"],
            "allowPublicTraffic": false,
            "maskRequestHost": "example.com",
            "rules": {"api.example.com": [{"transform": {"headers": {"X-Key": "v"}}}]}
        }))
        .unwrap();
        let settings = network_settings(wire.clone());
        assert_eq!(settings.deny_out, ["0.0.0.0/0"]);
        assert!(settings.rules.contains_key("api.example.com"));
        assert_eq!(network_config(&settings), wire);
        let mount = SandboxVolumeMount {
            name: "data".into(),
            path: "/mnt/data".into(),
        };
        assert_eq!(volume_mount_view(&volume_mount(mount.clone())), mount);
    }
}
