//! User metadata of files, stored as `user.e2b.<key>` extended attributes.
//!
//! Uploads set it from `X-Metadata-<key>` headers (replacing the whole set);
//! entry infos report it. Keys and values are printable ASCII, a key is at
//! most 246 bytes (the xattr name limit of 255 less the prefix) and the whole
//! set at most 4096 bytes (what ext4 keeps in one inode block).

use std::collections::HashMap;
use std::io;
use std::path::Path;

use http::HeaderMap;

/// Prefix of the extended attributes holding metadata.
pub(crate) const XATTR_PREFIX: &str = "user.e2b.";
/// Prefix of the upload headers carrying metadata.
const HEADER_PREFIX: &str = "x-metadata-";
/// Longest key.
pub(crate) const MAX_KEY_LEN: usize = 255 - XATTR_PREFIX.len();
/// Largest set (prefixed names plus values).
pub(crate) const MAX_TOTAL_LEN: usize = 4096;

/// A metadata set that cannot be stored.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InvalidMetadata {
    #[error("metadata key must not be empty")]
    EmptyKey,
    #[error("metadata key {0:?} exceeds {MAX_KEY_LEN} bytes")]
    KeyTooLong(String),
    #[error("metadata {what} contains non-printable-ASCII byte 0x{byte:02x} at offset {offset}")]
    NotPrintable {
        what: String,
        byte: u8,
        offset: usize,
    },
    #[error("total metadata size {0} exceeds {MAX_TOTAL_LEN} bytes")]
    TooLarge(usize),
}

/// The metadata carried by `X-Metadata-*` headers, keys lowercased. The first
/// value of a repeated header wins.
pub(crate) fn from_headers(
    headers: &HeaderMap,
) -> Result<HashMap<String, String>, InvalidMetadata> {
    let mut metadata = HashMap::new();
    for (name, value) in headers {
        let Some(key) = name.as_str().strip_prefix(HEADER_PREFIX) else {
            continue;
        };
        if key.is_empty() || metadata.contains_key(key) {
            continue;
        }
        let bytes = value.as_bytes();
        check_printable(&format!("value for key {key:?}"), bytes)?;
        // Printable ASCII is valid UTF-8.
        let value = String::from_utf8_lossy(bytes).into_owned();
        metadata.insert(key.to_owned(), value);
    }
    validate(&metadata)?;
    Ok(metadata)
}

fn check_printable(what: &str, bytes: &[u8]) -> Result<(), InvalidMetadata> {
    match bytes.iter().position(|b| !(0x20..=0x7e).contains(b)) {
        None => Ok(()),
        Some(offset) => Err(InvalidMetadata::NotPrintable {
            what: what.to_owned(),
            byte: bytes[offset],
            offset,
        }),
    }
}

/// Check a set against the limits.
pub(crate) fn validate(metadata: &HashMap<String, String>) -> Result<(), InvalidMetadata> {
    let mut total = 0;
    for (key, value) in metadata {
        if key.is_empty() {
            return Err(InvalidMetadata::EmptyKey);
        }
        if key.len() > MAX_KEY_LEN {
            return Err(InvalidMetadata::KeyTooLong(key.clone()));
        }
        check_printable("key", key.as_bytes())?;
        check_printable(&format!("value for key {key:?}"), value.as_bytes())?;
        total += XATTR_PREFIX.len() + key.len() + value.len();
    }
    if total > MAX_TOTAL_LEN {
        return Err(InvalidMetadata::TooLarge(total));
    }
    Ok(())
}

/// Whether `err` means the filesystem has no extended attributes.
pub(crate) fn is_unsupported(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::ENOTSUP) || err.raw_os_error() == Some(libc::EOPNOTSUPP)
}

/// The metadata of the file at `path` (following symlinks). Entries whose key
/// or value is not UTF-8 (set by other tools) are skipped; a filesystem
/// without xattrs has none.
pub(crate) fn read(path: &Path) -> io::Result<HashMap<String, String>> {
    let mut metadata = HashMap::new();
    let names = match xattr::list_deref(path) {
        Ok(names) => names,
        Err(e) if is_unsupported(&e) => return Ok(metadata),
        Err(e) => return Err(e),
    };
    for name in names {
        let Some(key) = name.to_str().and_then(|n| n.strip_prefix(XATTR_PREFIX)) else {
            continue;
        };
        let Some(value) = xattr::get_deref(path, &name)? else {
            continue;
        };
        if let Ok(value) = String::from_utf8(value) {
            metadata.insert(key.to_owned(), value);
        }
    }
    Ok(metadata)
}

/// Replace the metadata of an open file with `metadata`: keys not in it are
/// removed, so rewriting a file never keeps stale metadata.
pub(crate) fn write(file: &std::fs::File, metadata: &HashMap<String, String>) -> io::Result<()> {
    use xattr::FileExt;
    for name in file.list_xattr()? {
        let Some(key) = name.to_str().and_then(|n| n.strip_prefix(XATTR_PREFIX)) else {
            continue;
        };
        if metadata.contains_key(key) {
            continue;
        }
        match file.remove_xattr(&name) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENODATA) => {}
            Err(e) => return Err(e),
        }
    }
    for (key, value) in metadata {
        file.set_xattr(format!("{XATTR_PREFIX}{key}"), value.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_become_lowercase_keys() {
        let mut h = HeaderMap::new();
        h.insert("X-Metadata-Owner", "Alice".parse().unwrap());
        h.insert("x-other", "ignored".parse().unwrap());
        let m = from_headers(&h).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m["owner"], "Alice");
    }

    #[test]
    fn limits() {
        let mut m = HashMap::new();
        m.insert("k".repeat(MAX_KEY_LEN + 1), "v".into());
        assert!(matches!(validate(&m), Err(InvalidMetadata::KeyTooLong(_))));
        let mut m = HashMap::new();
        m.insert("k".into(), "v".repeat(MAX_TOTAL_LEN));
        assert!(matches!(validate(&m), Err(InvalidMetadata::TooLarge(_))));
        let mut m = HashMap::new();
        m.insert("k".into(), "tab\there".into());
        let err = validate(&m).unwrap_err();
        assert!(err.to_string().contains("0x09 at offset 3"), "{err}");
    }

    #[test]
    fn write_replaces_the_set() {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        let file = tmp.as_file();
        let first = HashMap::from([
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ]);
        write(file, &first).unwrap();
        assert_eq!(read(tmp.path()).unwrap(), first);
        let second = HashMap::from([("b".to_owned(), "3".to_owned())]);
        write(file, &second).unwrap();
        assert_eq!(read(tmp.path()).unwrap(), second);
        write(file, &HashMap::new()).unwrap();
        assert!(read(tmp.path()).unwrap().is_empty());
    }
}
