//! Image references, registry credentials and where a pull goes.

use std::net::IpAddr;
use std::str::FromStr as _;

use oci_client::Reference;

use super::ImageError;

/// How to authenticate to a registry (E2B's `fromImageRegistry`).
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum RegistryAuth {
    /// No credentials (public images).
    #[default]
    Anonymous,
    /// Username and password (E2B's type `registry`): HTTP basic, or the
    /// registry's token service.
    Basic {
        /// The username.
        username: String,
        /// The password or access token.
        password: String,
    },
    /// AWS ECR credentials (E2B's type `aws`): refused, not supported yet.
    Aws {
        /// `awsAccessKeyId`.
        access_key_id: String,
        /// `awsSecretAccessKey`.
        secret_access_key: String,
        /// `awsRegion`.
        region: String,
    },
    /// A GCP service account (E2B's type `gcp`, for GAR/GCR): refused, not
    /// supported yet.
    Gcp {
        /// `serviceAccountJson`.
        service_account_json: String,
    },
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets stay out of logs.
        match self {
            Self::Anonymous => f.write_str("Anonymous"),
            Self::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Self::Aws { region, .. } => f.debug_struct("Aws").field("region", region).finish(),
            Self::Gcp { .. } => f.write_str("Gcp"),
        }
    }
}

impl RegistryAuth {
    /// Username and password.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The client's form, or the refusal of a type not supported yet.
    pub(crate) fn to_client(&self) -> Result<oci_client::secrets::RegistryAuth, ImageError> {
        match self {
            Self::Anonymous => Ok(oci_client::secrets::RegistryAuth::Anonymous),
            Self::Basic { username, password } => Ok(oci_client::secrets::RegistryAuth::Basic(
                username.clone(),
                password.clone(),
            )),
            Self::Aws { .. } => Err(ImageError::UnsupportedRegistryType { kind: "AWS (ECR)" }),
            Self::Gcp { .. } => Err(ImageError::UnsupportedRegistryType {
                kind: "GCP (Artifact Registry / Container Registry)",
            }),
        }
    }
}

/// Parse `reference` the way container engines do (`ubuntu` is
/// `docker.io/library/ubuntu:latest`).
pub(crate) fn parse(reference: &str) -> Result<Reference, ImageError> {
    let trimmed = reference.trim();
    if trimmed.is_empty() {
        return Err(ImageError::InvalidReference {
            reference: reference.to_owned(),
            reason: "empty".into(),
        });
    }
    Reference::from_str(trimmed).map_err(|e| ImageError::InvalidReference {
        reference: reference.to_owned(),
        reason: e.to_string(),
    })
}

/// The canonical form of `reference`: what records are keyed by.
pub(crate) fn canonical(reference: &str) -> Result<String, ImageError> {
    Ok(parse(reference)?.whole())
}

/// Whether `host` (`name[:port]`, `[v6]:port`) is this machine's loopback,
/// where plain HTTP is allowed without `insecure`.
pub(crate) fn is_loopback(host: &str) -> bool {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ip.is_loopback();
    }
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A registry mirror: where `docker.io` pulls go first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mirror {
    /// `host[:port]`.
    pub(crate) host: String,
    /// `http://` (plain) rather than `https://`.
    pub(crate) plain_http: bool,
}

impl Mirror {
    /// Parse a mirror URL (`https://mirror.example`, `http://127.0.0.1:5000`);
    /// a bare `host[:port]` means HTTPS.
    pub(crate) fn parse(url: &str) -> Result<Self, ImageError> {
        let invalid =
            |why: &str| ImageError::InvalidOption(format!("registry mirror {url:?}: {why}"));
        let (plain_http, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (false, rest)
        } else if url.contains("://") {
            return Err(invalid("the scheme must be http or https"));
        } else {
            (false, url)
        };
        let host = rest.trim_end_matches('/');
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        if host.contains(['/', '?', '#', '@']) || host.chars().any(char::is_whitespace) {
            return Err(invalid(
                "only scheme://host[:port] is supported (no path, query or user)",
            ));
        }
        Ok(Self {
            host: host.to_owned(),
            plain_http,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_docker_hub_library_images() {
        assert_eq!(
            canonical("ubuntu").unwrap(),
            "docker.io/library/ubuntu:latest"
        );
        assert_eq!(
            canonical("127.0.0.1:5000/a/b:t").unwrap(),
            "127.0.0.1:5000/a/b:t"
        );
        assert!(parse("").unwrap_err().is_invalid_argument());
        assert!(parse("a b").unwrap_err().is_invalid_argument());
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.9.9.9",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "docker.io",
            "10.0.0.1:5000",
            "localhost.example:5000",
            "[::2]:1",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn mirrors() {
        assert_eq!(
            Mirror::parse("http://127.0.0.1:5000/").unwrap(),
            Mirror {
                host: "127.0.0.1:5000".into(),
                plain_http: true
            }
        );
        assert_eq!(
            Mirror::parse("mirror.gcr.io").unwrap(),
            Mirror {
                host: "mirror.gcr.io".into(),
                plain_http: false
            }
        );
        for bad in [
            "ftp://x",
            "https://",
            "https://m.example/v2/path",
            "http://u@m",
        ] {
            assert!(
                Mirror::parse(bad).unwrap_err().is_invalid_argument(),
                "{bad}"
            );
        }
    }

    #[test]
    fn aws_and_gcp_are_refused_by_name_and_secrets_stay_out_of_debug() {
        let aws = RegistryAuth::Aws {
            access_key_id: "AKIA".into(),
            secret_access_key: "s3cret".into(),
            region: "eu-west-1".into(),
        };
        let err = aws.to_client().unwrap_err();
        assert!(err.is_unsupported_registry_type());
        assert!(err.to_string().contains("AWS (ECR)"), "{err}");
        assert!(!format!("{aws:?}").contains("s3cret"));
        let gcp = RegistryAuth::Gcp {
            service_account_json: "{}".into(),
        };
        assert!(gcp.to_client().unwrap_err().to_string().contains("GCP"));
        let basic = RegistryAuth::basic("me", "hunter2");
        assert!(!format!("{basic:?}").contains("hunter2"));
    }
}
