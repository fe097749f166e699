//! Registry access: manifests (indexes resolved for this host's platform),
//! configurations and blobs, through `oci-client`.

use std::path::Path;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::{Client, Reference};

use super::reference::{Mirror, is_loopback};
use super::{ImageError, PullOptions, RegistryAuth};

/// The registry host Docker Hub references name.
const DOCKER_HUB: &str = "docker.io";

/// One place to pull an image from: its registry, or a mirror of it.
pub(crate) struct Remote {
    client: Client,
    reference: Reference,
    auth: oci_client::secrets::RegistryAuth,
    /// `host[:port]` actually contacted (for messages).
    pub(crate) host: String,
}

/// A manifest for this host's platform and the image configuration.
pub(crate) struct Fetched {
    pub(crate) manifest: OciImageManifest,
    /// The platform manifest's digest.
    pub(crate) digest: String,
    /// The index's digest, when the reference named a multi-platform index.
    pub(crate) index_digest: Option<String>,
    /// The configuration blob (JSON).
    pub(crate) config: String,
}

impl Remote {
    /// Where to try, in order: for a `docker.io` image with a mirror
    /// configured, the mirror (anonymously) and then Docker Hub; else the
    /// image's registry.
    pub(crate) fn candidates(
        reference: &Reference,
        auth: &RegistryAuth,
        options: &PullOptions,
    ) -> Result<Vec<Self>, ImageError> {
        let auth = auth.to_client()?;
        let mirror = options
            .registry_mirror
            .as_deref()
            .map(Mirror::parse)
            .transpose()?;
        let mut remotes = Vec::new();
        if let Some(mirror) = mirror.filter(|_| reference.registry() == DOCKER_HUB) {
            let mut mirrored = reference.clone();
            mirrored.set_mirror_registry(mirror.host.clone());
            let plain = mirror.plain_http || is_loopback(&mirror.host);
            remotes.push(Self::new(
                mirrored,
                oci_client::secrets::RegistryAuth::Anonymous,
                &mirror.host,
                plain,
            ));
        }
        let host = reference.resolve_registry().to_owned();
        let plain = options.insecure || is_loopback(&host);
        remotes.push(Self::new(reference.clone(), auth, &host, plain));
        Ok(remotes)
    }

    fn new(
        reference: Reference,
        auth: oci_client::secrets::RegistryAuth,
        host: &str,
        plain_http: bool,
    ) -> Self {
        let protocol = if plain_http {
            ClientProtocol::HttpsExcept(vec![host.to_owned()])
        } else {
            ClientProtocol::Https
        };
        let config = ClientConfig {
            protocol,
            platform_resolver: Some(Box::new(host_platform)),
            connect_timeout: Some(std::time::Duration::from_secs(30)),
            read_timeout: Some(std::time::Duration::from_secs(120)),
            user_agent: concat!("e2b-local/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        Self {
            client: Client::new(config),
            reference,
            auth,
            host: host.to_owned(),
        }
    }

    /// The platform manifest and the configuration.
    pub(crate) async fn fetch_manifest(&self) -> Result<Fetched, ImageError> {
        let (manifest, digest, config, index_digest) = self
            .client
            .pull_manifest_and_config_and_list_digest(&self.reference, &self.auth)
            .await
            .map_err(|e| self.error(e))?;
        Ok(Fetched {
            manifest,
            digest,
            index_digest,
            config,
        })
    }

    /// Download the blob `descriptor` names into `path`, verifying its digest.
    pub(crate) async fn fetch_blob(
        &self,
        descriptor: &OciDescriptor,
        path: &Path,
    ) -> Result<(), ImageError> {
        let file = tokio::fs::File::create(path)
            .await
            .map_err(super::error::io_err("create", path))?;
        let out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
        self.client
            .pull_blob(&self.reference, descriptor, out)
            .await
            .map_err(|e| self.error(e))
    }

    /// The typed form of a client error.
    fn error(&self, error: OciDistributionError) -> ImageError {
        let reference = self.reference.whole();
        let unauthorized = |detail: String| ImageError::Unauthorized {
            registry: self.host.clone(),
            reference: reference.clone(),
            detail,
        };
        let not_found = |detail: String| ImageError::NotFound {
            reference: reference.clone(),
            detail: format!("{detail} (registry {})", self.host),
        };
        match error {
            OciDistributionError::UnauthorizedError { url } => {
                unauthorized(format!("401 Unauthorized for {url}"))
            }
            OciDistributionError::AuthenticationFailure(detail) => unauthorized(detail),
            OciDistributionError::RegistryError { envelope, url } => {
                let codes = |wanted: &[OciErrorCode]| {
                    envelope.errors.iter().any(|e| wanted.contains(&e.code))
                };
                let detail = format!("{envelope} ({url})");
                if codes(&[OciErrorCode::Unauthorized, OciErrorCode::Denied]) {
                    unauthorized(detail)
                } else if codes(&[
                    OciErrorCode::ManifestUnknown,
                    OciErrorCode::NameUnknown,
                    OciErrorCode::BlobUnknown,
                    OciErrorCode::NotFound,
                ]) {
                    not_found(detail)
                } else {
                    ImageError::Registry {
                        registry: self.host.clone(),
                        detail,
                    }
                }
            }
            OciDistributionError::ServerError {
                code: 401 | 403,
                url,
                message,
            } => unauthorized(format!("{message} ({url})")),
            OciDistributionError::ServerError { code: 404, url, .. } => {
                not_found(format!("404 for {url}"))
            }
            OciDistributionError::ImageManifestNotFoundError(detail) => not_found(format!(
                "{detail} (this host is {}/{})",
                std::env::consts::OS,
                oci_arch()
            )),
            OciDistributionError::DigestError(
                oci_client::errors::DigestError::VerificationError { expected, actual },
            ) => ImageError::BadDigest { expected, actual },
            OciDistributionError::IoError(source) => ImageError::Io {
                action: "write a blob from",
                path: self.host.clone().into(),
                source,
            },
            OciDistributionError::UnsupportedMediaTypeError(detail) => ImageError::Unsupported {
                what: "manifest media type",
                detail,
            },
            OciDistributionError::UnsupportedSchemaVersionError(version) => {
                ImageError::Unsupported {
                    what: "manifest schema version",
                    detail: version.to_string(),
                }
            }
            other => ImageError::Registry {
                registry: self.host.clone(),
                detail: error_chain(&other),
            },
        }
    }
}

/// `error: cause: cause`, so transport failures say what failed (refused, TLS, …).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// This host's architecture as OCI names it.
pub(crate) fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// Pick the index entry for this host: `linux` and its architecture (an
/// `arm` host prefers its variant, then any).
fn host_platform(entries: &[oci_client::manifest::ImageIndexEntry]) -> Option<String> {
    let arch = oci_arch();
    entries
        .iter()
        .find(|entry| {
            entry.platform.as_ref().is_some_and(|p| {
                p.os.to_string() == std::env::consts::OS && p.architecture.to_string() == arch
            })
        })
        .map(|entry| entry.digest.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_images_go_to_the_mirror_first_and_others_do_not() {
        let options = PullOptions::default().with_registry_mirror("http://127.0.0.1:5999");
        let hub = super::super::reference::parse("alpine:3").unwrap();
        let hosts: Vec<String> = Remote::candidates(&hub, &RegistryAuth::Anonymous, &options)
            .unwrap()
            .into_iter()
            .map(|r| r.host)
            .collect();
        assert_eq!(hosts, ["127.0.0.1:5999", "index.docker.io"]);
        let other = super::super::reference::parse("ghcr.io/a/b:1").unwrap();
        let hosts: Vec<String> = Remote::candidates(&other, &RegistryAuth::Anonymous, &options)
            .unwrap()
            .into_iter()
            .map(|r| r.host)
            .collect();
        assert_eq!(hosts, ["ghcr.io"]);
    }

    #[test]
    fn oci_names_of_this_architecture() {
        assert!(!oci_arch().is_empty());
        if cfg!(target_arch = "x86_64") {
            assert_eq!(oci_arch(), "amd64");
        }
    }
}
