//! The part of an OCI image configuration a sandbox runs with.

use serde::{Deserialize, Serialize};

use super::ImageError;

/// How an image says its processes run: environment, working directory,
/// user, entrypoint and command (the `config` object of the OCI image
/// configuration), plus the platform it was built for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ImageConfig {
    /// `KEY=value` pairs, in the image's order (`Env`).
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// The working directory (`WorkingDir`), when set.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// The user (`User`: a name or uid, optionally `:group`), when set.
    #[serde(default)]
    pub user: Option<String>,
    /// `Entrypoint`.
    #[serde(default)]
    pub entrypoint: Vec<String>,
    /// `Cmd`.
    #[serde(default)]
    pub cmd: Vec<String>,
    /// `ExposedPorts` keys, e.g. `8080/tcp`, sorted.
    #[serde(default)]
    pub exposed_ports: Vec<String>,
    /// `architecture`, e.g. `amd64`.
    #[serde(default)]
    pub architecture: Option<String>,
    /// `os`, e.g. `linux`.
    #[serde(default)]
    pub os: Option<String>,
}

impl ImageConfig {
    /// The value of `key` in [`env`](Self::env) (the last one wins, as in a shell).
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Parse the JSON of an OCI (or Docker v2) image configuration blob.
    pub(crate) fn parse(json: &[u8]) -> Result<Self, ImageError> {
        let raw: RawImage = serde_json::from_slice(json).map_err(|e| ImageError::Unsupported {
            what: "image configuration",
            detail: e.to_string(),
        })?;
        let config = raw.config.unwrap_or_default();
        let env = config
            .env
            .unwrap_or_default()
            .into_iter()
            .map(|entry| match entry.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (entry, String::new()),
            })
            .collect();
        let mut exposed_ports: Vec<String> = config
            .exposed_ports
            .map(|ports| ports.into_keys().collect())
            .unwrap_or_default();
        exposed_ports.sort();
        Ok(Self {
            env,
            working_dir: config.working_dir.filter(|d| !d.is_empty()),
            user: config.user.filter(|u| !u.is_empty()),
            entrypoint: config.entrypoint.unwrap_or_default(),
            cmd: config.cmd.unwrap_or_default(),
            exposed_ports,
            architecture: raw.architecture,
            os: raw.os,
        })
    }
}

#[derive(Deserialize)]
struct RawImage {
    architecture: Option<String>,
    os: Option<String>,
    config: Option<RawConfig>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct RawConfig {
    env: Option<Vec<String>>,
    working_dir: Option<String>,
    user: Option<String>,
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    exposed_ports: Option<std::collections::BTreeMap<String, serde_json::Value>>,
}

#[cfg(test)]
mod tests {
    use super::ImageConfig;

    #[test]
    fn reads_the_fields_a_sandbox_runs_with() {
        let config = ImageConfig::parse(
            br#"{"architecture":"amd64","os":"linux","config":{
                "Env":["PATH=/usr/bin:/bin","EMPTY=","A=b=c","BARE"],
                "WorkingDir":"/app","User":"1000:1000",
                "Entrypoint":["/bin/sh","-c"],"Cmd":["echo hi"],
                "ExposedPorts":{"8080/tcp":{},"53/udp":{}},
                "Labels":{"x":"y"}},
                "rootfs":{"type":"layers","diff_ids":[]}}"#,
        )
        .unwrap();
        assert_eq!(config.env_var("PATH"), Some("/usr/bin:/bin"));
        assert_eq!(config.env_var("EMPTY"), Some(""));
        assert_eq!(config.env_var("A"), Some("b=c"));
        assert_eq!(config.env_var("BARE"), Some(""));
        assert_eq!(config.working_dir.as_deref(), Some("/app"));
        assert_eq!(config.user.as_deref(), Some("1000:1000"));
        assert_eq!(config.entrypoint, ["/bin/sh", "-c"]);
        assert_eq!(config.cmd, ["echo hi"]);
        assert_eq!(config.exposed_ports, ["53/udp", "8080/tcp"]);
        assert_eq!(config.architecture.as_deref(), Some("amd64"));
    }

    #[test]
    fn a_config_without_a_config_object_is_empty() {
        let config = ImageConfig::parse(br#"{"architecture":"arm64","os":"linux"}"#).unwrap();
        assert!(config.env.is_empty() && config.user.is_none() && config.cmd.is_empty());
    }

    #[test]
    fn garbage_is_a_typed_error() {
        assert!(ImageConfig::parse(b"not json").is_err());
        assert!(ImageConfig::parse(br#"{"config":{"Env":"PATH=/bin"}}"#).is_err());
    }
}
