//! OCI images from registries, kept as content-addressed layers.
//!
//! [`ImageStore::pull`] fetches an image's manifest (a multi-platform index
//! is resolved for this host), its configuration and every layer not
//! already present, verifies each blob's digest and unpacks each layer into
//! its own directory, ready to be an overlayfs `lowerdir`
//! ([`ImageStore::layer_dir`]). Layers are shared between images: a pull
//! whose layers are all present downloads only the manifest and the
//! configuration.
//!
//! Layout under the data directory:
//!
//! ```text
//! layers/sha256/<hex>/rootfs/      a layer, unpacked (the lowerdir)
//! layers/sha256/<hex>/layer.json   its media type, size and unpack counts
//! layers/tmp/                      downloads and unpacks in progress
//! layers/lock                      shared by pulls, exclusive for gc
//! images/<sha256 of the reference>.json   an image record
//! ```
//!
//! # Ownership and privileges
//!
//! A root server keeps the ownership the layer archives say (true uid and
//! gid, root = 0); sandboxes are expected to mount the layers idmapped into
//! their user namespace. An unprivileged server cannot chown: every file
//! belongs to the server's user, and opaque directories carry only
//! `user.overlay.opaque` (for overlay mounts with `userxattr`, as in a user
//! namespace); whiteouts need Linux 5.8 or later there, else the pull fails
//! with [`ImageError::WhiteoutUnsupported`] rather than leave a wrong tree.

mod config;
mod error;
mod reference;
mod registry;
mod store;
mod unpack;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use config::ImageConfig;
pub use error::ImageError;
pub use reference::RegistryAuth;
pub use store::ImageStore;
pub(crate) use store::{OWNERS_FILE, owners_list};

/// A layer's identity: the digest of its (compressed) blob, `sha256:<hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LayerId(String);

impl LayerId {
    /// Validate `digest` (`sha256:` and 64 lower-case hex digits).
    ///
    /// # Errors
    ///
    /// [`ImageError::Unsupported`] for another algorithm or a malformed digest.
    pub fn parse(digest: &str) -> Result<Self, ImageError> {
        let hex = digest
            .strip_prefix("sha256:")
            .ok_or_else(|| ImageError::Unsupported {
                what: "digest algorithm",
                detail: digest.to_owned(),
            })?;
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(ImageError::Unsupported {
                what: "digest",
                detail: digest.to_owned(),
            });
        }
        Ok(Self(digest.to_owned()))
    }

    /// `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hex part.
    fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }
}

impl std::fmt::Display for LayerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A pulled image: what a sandbox's root is made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Image {
    /// The canonical reference (`docker.io/library/alpine:3`).
    pub reference: String,
    /// The digest of the image manifest for this host's platform.
    pub digest: String,
    /// The digest of the multi-platform index the reference named, if any.
    #[serde(default)]
    pub index_digest: Option<String>,
    /// Layers, lowest first (overlayfs wants them highest first in `lowerdir`).
    pub layers: Vec<LayerId>,
    /// Environment, working directory, user, entrypoint, command.
    pub config: ImageConfig,
    /// Compressed size of the layers, in bytes.
    pub size: u64,
    /// When it was pulled.
    pub pulled_at: chrono::DateTime<chrono::Utc>,
}

/// Options of [`ImageStore::pull`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PullOptions {
    /// Allow plain HTTP (and only that) for the image's registry. Loopback
    /// registries (`localhost`, `127.0.0.0/8`, `::1`) always may use it.
    pub insecure: bool,
    /// A mirror of Docker Hub (`https://mirror.example`,
    /// `http://127.0.0.1:5000`), asked first (anonymously) for `docker.io`
    /// images, like a container engine's registry mirrors; Docker Hub is
    /// asked when the mirror fails.
    pub registry_mirror: Option<String>,
    /// Layers downloaded at the same time. Default (0) means 3.
    pub concurrency: usize,
}

impl PullOptions {
    /// Set [`PullOptions::insecure`].
    #[must_use]
    pub fn with_insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// Set [`PullOptions::registry_mirror`].
    #[must_use]
    pub fn with_registry_mirror(mut self, url: impl Into<String>) -> Self {
        self.registry_mirror = Some(url.into());
        self
    }

    /// Check the options without pulling (a malformed mirror URL).
    ///
    /// # Errors
    ///
    /// [`ImageError::InvalidOption`] naming what is wrong.
    pub fn validate(&self) -> Result<(), ImageError> {
        if let Some(url) = &self.registry_mirror {
            reference::Mirror::parse(url)?;
        }
        Ok(())
    }

    /// Set [`PullOptions::concurrency`].
    #[must_use]
    pub fn with_concurrency(mut self, layers: usize) -> Self {
        self.concurrency = layers;
        self
    }
}

/// What a pull did, besides the image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PullStats {
    /// The registry (or mirror) host the image came from.
    pub source: String,
    /// Layers downloaded and unpacked by this pull.
    pub layers_downloaded: usize,
    /// Layers already present.
    pub layers_cached: usize,
    /// Compressed bytes downloaded.
    pub bytes_downloaded: u64,
    /// Device nodes and FIFOs skipped while unpacking.
    pub skipped_special: u64,
    /// Wall time of the whole pull.
    pub elapsed: Duration,
}
