//! Encryption at rest of secret values: XChaCha20-Poly1305 under a key the server keeps
//! in the data directory (`secrets.key`, 32 random bytes, mode 0600).
//!
//! Every value gets a fresh random 192-bit nonce; the secret's id and version are bound
//! in as associated data, so a ciphertext copied into another record (or another
//! version) fails to decrypt instead of yielding the wrong value.

use std::fs::{self, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Errors of the key file and of decryption; none carries key or value bytes.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CipherError {
    /// The key file could not be created or read.
    #[error("secrets key {path}: {source}")]
    KeyFile {
        /// The key file.
        path: std::path::PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The key file exists but does not hold a key.
    #[error("secrets key {0}: not a {KEY_LEN}-byte key (was it replaced?)")]
    BadKey(std::path::PathBuf),
    /// Random bytes for a nonce could not be drawn.
    #[error("drawing a nonce: {0}")]
    Random(io::Error),
    /// Encryption failed (only possible for absurdly large values).
    #[error("encrypting a secret value failed")]
    Encrypt,
}

/// A sealed value as stored in a record: base64 nonce and ciphertext (with tag).
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Sealed {
    /// The nonce, base64.
    pub(crate) nonce: String,
    /// The ciphertext followed by the Poly1305 tag, base64.
    pub(crate) ciphertext: String,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealed(..)")
    }
}

/// The server's secret-value cipher.
pub(crate) struct Cipher {
    aead: XChaCha20Poly1305,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(<redacted>)")
    }
}

impl Cipher {
    /// Load the key at `path`, creating it (mode 0600, never readable by others even
    /// briefly) when it does not exist yet.
    pub(crate) fn open_or_create(path: &Path) -> Result<Self, CipherError> {
        let key_err = |source| CipherError::KeyFile {
            path: path.to_owned(),
            source,
        };
        let key = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(mut file) => {
                let key = crate::ids::random_bytes(KEY_LEN).map_err(key_err)?;
                file.write_all(&key).map_err(key_err)?;
                file.sync_all().map_err(key_err)?;
                if let Some(dir) = path.parent() {
                    fs::File::open(dir)
                        .and_then(|d| d.sync_all())
                        .map_err(key_err)?;
                }
                key
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let mut file = fs::File::open(path).map_err(key_err)?;
                // A key others can read is no longer a secret: tighten it.
                let mode = file.metadata().map_err(key_err)?.permissions().mode();
                if mode & 0o077 != 0 {
                    tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "secrets key readable by others; setting mode 0600");
                    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
                        .map_err(key_err)?;
                }
                let mut key = Vec::with_capacity(KEY_LEN + 1);
                io::Read::by_ref(&mut file)
                    .take(KEY_LEN as u64 + 1)
                    .read_to_end(&mut key)
                    .map_err(key_err)?;
                if key.len() != KEY_LEN {
                    return Err(CipherError::BadKey(path.to_owned()));
                }
                key
            }
            Err(e) => return Err(key_err(e)),
        };
        Ok(Self {
            aead: XChaCha20Poly1305::new(Key::from_slice(&key)),
        })
    }

    /// Seal `value`, bound to `context` (the secret's id and version).
    pub(crate) fn seal(&self, value: &str, context: &str) -> Result<Sealed, CipherError> {
        let nonce = crate::ids::random_bytes(NONCE_LEN).map_err(CipherError::Random)?;
        let ciphertext = self
            .aead
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: value.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CipherError::Encrypt)?;
        Ok(Sealed {
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(ciphertext),
        })
    }

    /// Open a sealed value bound to `context`; `None` when it was not sealed by this key
    /// for this context (or was tampered with).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn open(&self, sealed: &Sealed, context: &str) -> Option<String> {
        let nonce = B64.decode(&sealed.nonce).ok()?;
        if nonce.len() != NONCE_LEN {
            return None;
        }
        let ciphertext = B64.decode(&sealed.ciphertext).ok()?;
        let plain = self
            .aead
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_binding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.key");
        let cipher = Cipher::open_or_create(&path).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let sealed = cipher.seal("hunter2", "sec_a:1").unwrap();
        assert!(!sealed.ciphertext.contains("hunter2"));
        assert_eq!(cipher.open(&sealed, "sec_a:1").as_deref(), Some("hunter2"));
        assert_eq!(cipher.open(&sealed, "sec_a:2"), None);
        assert_eq!(cipher.open(&sealed, "sec_b:1"), None);
        // Two seals of one value differ (fresh nonces).
        assert_ne!(cipher.seal("hunter2", "sec_a:1").unwrap(), sealed);
        // The same key is loaded again; a different key cannot open it.
        let again = Cipher::open_or_create(&path).unwrap();
        assert_eq!(again.open(&sealed, "sec_a:1").as_deref(), Some("hunter2"));
        let other = Cipher::open_or_create(&dir.path().join("other.key")).unwrap();
        assert_eq!(other.open(&sealed, "sec_a:1"), None);
        assert!(!format!("{sealed:?}{cipher:?}").contains("hunter2"));
    }

    #[test]
    fn a_short_key_file_is_refused_and_a_loose_one_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.key");
        fs::write(&path, b"short").unwrap();
        assert!(matches!(
            Cipher::open_or_create(&path),
            Err(CipherError::BadKey(_))
        ));
        fs::write(&path, [7u8; KEY_LEN]).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        Cipher::open_or_create(&path).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
