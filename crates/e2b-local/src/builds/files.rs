//! The files of `COPY` steps: uploaded archives, stored by their files
//! hash under `build-files/` in the data directory.
//!
//! The SDKs ask `GET /templates/{id}/files/{hash}` whether the server has
//! the archive; when it does not, the answer carries a URL to `PUT` it to,
//! signed for that hash (an HMAC under a key the server draws at start, the
//! role a presigned storage URL plays in E2B's cloud). The archive is a tar
//! (gzip-compressed or not) of the matched files, and the hash covers the
//! step's source and destination, every path, mode and size and every
//! file's bytes: a step whose archive does not give its hash fails.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;

/// Where uploads are kept, and the key that signs their URLs.
#[derive(Debug)]
pub(crate) struct FileStore {
    dir: PathBuf,
    key: [u8; 32],
}

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UploadError {
    /// The URL's signature does not fit the hash.
    #[error("the upload URL is not valid for this hash")]
    BadToken,
    /// The body is longer or shorter than its `Content-Length`.
    #[error("the upload ended after {got} of {expected} bytes")]
    Length { got: u64, expected: u64 },
    /// No `Content-Length` was given.
    #[error("uploads need a Content-Length")]
    NoLength,
    /// The body failed mid-way.
    #[error("the upload failed: {0}")]
    Body(String),
    /// Storing it failed.
    #[error("storing the upload failed: {0}")]
    Io(#[from] io::Error),
}

impl FileStore {
    /// Open (creating) the store of `data_dir`.
    pub(crate) fn open(data_dir: &Path) -> io::Result<Self> {
        let dir = data_dir.join("build-files");
        std::fs::create_dir_all(&dir)?;
        let mut key = [0u8; 32];
        key.copy_from_slice(&crate::ids::random_bytes(32)?);
        Ok(Self { dir, key })
    }

    /// The archive of `hash`, when uploaded.
    pub(crate) fn get(&self, hash: &str) -> Option<PathBuf> {
        let path = self.dir.join(hash);
        path.is_file().then_some(path)
    }

    /// The signature of the upload URL of `hash`.
    pub(crate) fn token(&self, hash: &str) -> String {
        crate::ids::hex(&hmac_sha256(&self.key, hash.as_bytes()))
    }

    /// Store the body of an upload for `hash`, checking the URL's token and
    /// the body's length.
    pub(crate) async fn put(
        &self,
        hash: &str,
        token: &str,
        length: Option<u64>,
        body: axum::body::Body,
    ) -> Result<(), UploadError> {
        use subtle::ConstantTimeEq as _;
        let expected = self.token(hash);
        if !super::spec::is_files_hash(hash)
            || !bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
        {
            return Err(UploadError::BadToken);
        }
        let length = length.ok_or(UploadError::NoLength)?;
        let partial = self.dir.join(format!(
            ".{hash}.{}",
            crate::ids::hex(&crate::ids::random_bytes(6)?)
        ));
        let written = async {
            let mut file = tokio::fs::File::create(&partial).await?;
            let mut got = 0u64;
            let mut stream = body.into_data_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| UploadError::Body(e.to_string()))?;
                got += chunk.len() as u64;
                if got > length {
                    return Err(UploadError::Length {
                        got,
                        expected: length,
                    });
                }
                file.write_all(&chunk).await?;
            }
            if got != length {
                return Err(UploadError::Length {
                    got,
                    expected: length,
                });
            }
            file.sync_all().await?;
            Ok(())
        }
        .await;
        match written {
            Ok(()) => {
                tokio::fs::rename(&partial, self.dir.join(hash)).await?;
                Ok(())
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&partial).await;
                Err(e)
            }
        }
    }
}

/// HMAC-SHA-256 (RFC 2104) of `message` under a 32-byte key.
fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for (i, byte) in key.iter().enumerate() {
        ipad[i] ^= byte;
        opad[i] ^= byte;
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize()
        .into()
}

/// What recomputing a files hash from an archive gives.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ArchiveHash {
    /// The hash as current SDKs compute it.
    Hash {
        hash: String,
        /// The archive holds directories: SDKs before 2.46 also hashed
        /// their sizes on the client's filesystem, which the archive does
        /// not record, so their hashes cannot be recomputed.
        has_dirs: bool,
    },
    /// The archive holds hard links, whose hash needs the linked file's
    /// bytes again: not recomputed.
    Unchecked,
}

/// The files hash the SDKs compute for `COPY src dest`, recomputed from the
/// archive that was uploaded for it.
pub(crate) fn archive_hash(src: &str, dest: &str, archive: &Path) -> io::Result<ArchiveHash> {
    let mut file = std::fs::File::open(archive)?;
    let mut magic = [0u8; 2];
    let gzip = file.read(&mut magic)? == 2 && magic == [0x1f, 0x8b];
    let file = std::fs::File::open(archive)?;
    let reader: Box<dyn Read> = if gzip {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut tar = tar::Archive::new(reader);
    let mut hash = Sha256::new();
    hash.update(format!("COPY {src} {dest}").as_bytes());
    let mut has_dirs = false;
    for entry in tar.entries()? {
        let mut entry = entry?;
        let header = entry.header();
        let perm = header.mode()? & 0o7777;
        let kind = header.entry_type();
        let raw_path = entry.path_bytes().into_owned();
        let path = String::from_utf8_lossy(&raw_path);
        let path = path.trim_end_matches('/');
        let path = path.strip_prefix("./").unwrap_or(path);
        hash.update(path.as_bytes());
        if kind.is_dir() {
            has_dirs = true;
            hash.update((0o040000 | perm).to_string().as_bytes());
        } else if kind.is_symlink() {
            let target = entry
                .link_name_bytes()
                .map(|t| t.into_owned())
                .unwrap_or_default();
            hash.update((0o120000 | perm).to_string().as_bytes());
            hash.update(target.len().to_string().as_bytes());
            hash.update(&target);
        } else if kind.is_file() {
            hash.update((0o100000 | perm).to_string().as_bytes());
            hash.update(entry.size().to_string().as_bytes());
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = entry.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hash.update(&buf[..n]);
            }
        } else if kind.is_hard_link() {
            return Ok(ArchiveHash::Unchecked);
        }
    }
    Ok(ArchiveHash::Hash {
        hash: crate::ids::hex(&hash.finalize()),
        has_dirs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_the_rfc_4231_vector() {
        // RFC 4231 test case 2 uses a 4-byte key; pad ours the same way HMAC
        // pads short keys (zeros to the block size).
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let mac = hmac_sha256(&key, b"what do ya want for nothing?");
        assert_eq!(
            crate::ids::hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn archive_hash_covers_paths_modes_sizes_and_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let archive = tmp.path().join("a.tar");
        let make = |content: &[u8]| {
            let mut builder = tar::Builder::new(std::fs::File::create(&archive).unwrap());
            let mut dir = tar::Header::new_gnu();
            dir.set_entry_type(tar::EntryType::Directory);
            dir.set_mode(0o755);
            dir.set_size(0);
            builder.append_data(&mut dir, "app/", io::empty()).unwrap();
            let mut file = tar::Header::new_gnu();
            file.set_mode(0o644);
            file.set_size(content.len() as u64);
            builder
                .append_data(&mut file, "app/x.txt", content)
                .unwrap();
            builder.finish().unwrap();
        };
        make(b"hello");
        let mut expected = Sha256::new();
        expected.update(b"COPY app /app");
        expected.update(b"app");
        expected.update((0o040755u32).to_string().as_bytes());
        expected.update(b"app/x.txt");
        expected.update((0o100644u32).to_string().as_bytes());
        expected.update(b"5");
        expected.update(b"hello");
        let expected = crate::ids::hex(&expected.finalize());
        let hashed = |hash: &str| ArchiveHash::Hash {
            hash: hash.to_owned(),
            has_dirs: true,
        };
        assert_eq!(
            archive_hash("app", "/app", &archive).unwrap(),
            hashed(&expected)
        );
        make(b"hellO");
        assert_ne!(
            archive_hash("app", "/app", &archive).unwrap(),
            hashed(&expected)
        );
    }
}
