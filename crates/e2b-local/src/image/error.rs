//! What can go wrong pulling, unpacking and keeping images.

use std::io;
use std::path::{Path, PathBuf};

/// Why an image operation failed.
///
/// Match with the predicates ([`is_not_found`](Self::is_not_found), …): the
/// variants may grow.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The reference is not a valid image reference.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference {
        /// The reference as given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A registry option (mirror URL, …) is not usable.
    #[error("invalid registry option: {0}")]
    InvalidOption(String),
    /// The image (or its manifest for this host's platform, or one of its
    /// blobs) does not exist, in the registry or in the local store.
    #[error("image {reference} not found: {detail}")]
    NotFound {
        /// The reference.
        reference: String,
        /// Where and what was missing.
        detail: String,
    },
    /// The registry refused the credentials (or asked for some).
    #[error(
        "registry {registry} refused access to {reference}: {detail}; check the username and password"
    )]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// The reference.
        reference: String,
        /// The registry's answer.
        detail: String,
    },
    /// A registry authentication type this server does not implement.
    #[error(
        "{kind} registry authentication is not supported yet; use a username and password (type `registry`) or pull anonymously"
    )]
    UnsupportedRegistryType {
        /// `aws` (ECR) or `gcp` (GAR/GCR).
        kind: &'static str,
    },
    /// A downloaded blob does not have the digest the manifest names.
    #[error("blob digest mismatch: expected {expected}, got {actual}")]
    BadDigest {
        /// The digest the manifest names.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// A layer or config has a media type or form this server cannot read.
    #[error("unsupported {what}: {detail}")]
    Unsupported {
        /// What it is (`layer media type`, `manifest`, …).
        what: &'static str,
        /// The offending value.
        detail: String,
    },
    /// A layer archive tried to write outside its directory (`..`, an
    /// absolute path, a path through a symbolic link, a hard link to
    /// outside). Nothing outside the layer was written.
    #[error("unsafe path {path:?} in layer {layer}: {reason}")]
    UnsafePath {
        /// The layer's digest.
        layer: String,
        /// The path in the archive.
        path: PathBuf,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A layer archive is malformed.
    #[error("corrupt layer {layer}: {detail}")]
    CorruptLayer {
        /// The layer's digest.
        layer: String,
        /// What is wrong.
        detail: String,
    },
    /// Overlay whiteouts (character devices 0:0) cannot be created by this
    /// user on this kernel (unprivileged creation needs Linux 5.8 or later).
    #[error(
        "cannot create the overlay whiteout {path}: {source}; run the server as root or on Linux 5.8 or later"
    )]
    WhiteoutUnsupported {
        /// The whiteout's path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Talking to the registry failed (connection, TLS, protocol).
    #[error("registry {registry}: {detail}")]
    Registry {
        /// The registry host (or mirror) that failed.
        registry: String,
        /// What happened.
        detail: String,
    },
    /// A local file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A stored image record could not be parsed.
    #[error("corrupt image record {path}: {detail}")]
    CorruptRecord {
        /// The record.
        path: PathBuf,
        /// The parse error.
        detail: String,
    },
}

impl ImageError {
    /// The image, its platform manifest or a blob does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// The registry refused the credentials.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Self::Unauthorized { .. })
    }

    /// AWS or GCP registry authentication, which is not supported yet.
    pub fn is_unsupported_registry_type(&self) -> bool {
        matches!(self, Self::UnsupportedRegistryType { .. })
    }

    /// A blob did not match its digest.
    pub fn is_bad_digest(&self) -> bool {
        matches!(self, Self::BadDigest { .. })
    }

    /// A layer tried to write outside its directory.
    pub fn is_unsafe_path(&self) -> bool {
        matches!(self, Self::UnsafePath { .. })
    }

    /// A local file operation failed.
    pub fn is_io(&self) -> bool {
        matches!(self, Self::Io { .. } | Self::WhiteoutUnsupported { .. })
    }

    /// The reference or an option was invalid.
    pub fn is_invalid_argument(&self) -> bool {
        matches!(self, Self::InvalidReference { .. } | Self::InvalidOption(_))
    }
}

/// `map_err` helper: an [`ImageError::Io`] naming the action and the path.
pub(crate) fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> ImageError + 'a {
    move |source| ImageError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}
