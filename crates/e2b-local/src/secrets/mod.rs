//! The project's secrets: write-only values kept encrypted under the data directory.
//!
//! ```text
//! secrets.key           the 32-byte key (mode 0600), created on first start
//! secrets/<id>.json     one secret: name, metadata, versions (each value sealed)
//! ```
//!
//! Names are canonical lower case and unique; a secret is addressed by its id
//! (`sec_…`) or its name. Nothing here ever hands a value back: reads return
//! [`SecretView`]s, which have no value field.

mod cipher;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub(crate) use cipher::CipherError;
use cipher::{Cipher, Sealed};

use crate::store::{StoreError, read_json, write_json_atomic};

/// Longest name accepted (bytes; names are ASCII).
pub(crate) const MAX_NAME_LEN: usize = 128;
/// Largest value accepted.
pub(crate) const MAX_VALUE_LEN: usize = 64 * 1024;
/// Metadata limits of the spec's `SecretMetadata`.
pub(crate) const MAX_METADATA_ENTRIES: usize = 32;
const MAX_METADATA_KEY: usize = 128;
const MAX_METADATA_VALUE: usize = 1024;
const MAX_METADATA_TOTAL: usize = 8192;
/// The prefix of secret ids, reserved: no name may start with it.
pub(crate) const ID_PREFIX: &str = "sec_";

/// Errors of the secret store. Messages never contain a value.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SecretError {
    /// No secret with that id or name.
    #[error("secret '{0}' not found")]
    NotFound(String),
    /// A secret with that name exists.
    #[error("a secret named '{0}' already exists")]
    Conflict(String),
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
    /// The records could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key file or a seal failed.
    #[error(transparent)]
    Cipher(#[from] CipherError),
}

/// What clients see of a secret: metadata only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SecretView {
    /// `sec_…`.
    pub(crate) secret_id: String,
    /// The canonical (lower-case) name.
    pub(crate) name: String,
    /// The newest version.
    pub(crate) current_version: i64,
    /// Customer metadata.
    pub(crate) metadata: BTreeMap<String, String>,
    /// Creation time.
    pub(crate) created_at: DateTime<Utc>,
    /// Last update.
    pub(crate) updated_at: DateTime<Utc>,
}

/// One stored version.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Version {
    version: i64,
    created_at: DateTime<Utc>,
    sealed: Sealed,
}

/// The record of `secrets/<id>.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Record {
    secret_id: String,
    name: String,
    metadata: BTreeMap<String, String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    versions: Vec<Version>,
}

impl Record {
    fn current_version(&self) -> i64 {
        self.versions.last().map_or(0, |v| v.version)
    }

    fn view(&self) -> SecretView {
        SecretView {
            secret_id: self.secret_id.clone(),
            name: self.name.clone(),
            current_version: self.current_version(),
            metadata: self.metadata.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// The secrets of one data directory.
#[derive(Debug)]
pub(crate) struct SecretStore {
    dir: PathBuf,
    cipher: Cipher,
    /// Every secret by canonical name (the listing order).
    records: Mutex<BTreeMap<String, Record>>,
}

impl SecretStore {
    /// Open the store of the data directory `root`: create `secrets/` and the key on
    /// first use, load every record.
    pub(crate) fn open(root: &Path) -> Result<Self, SecretError> {
        use std::os::unix::fs::DirBuilderExt as _;
        let dir = root.join("secrets");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|source| StoreError::Io {
                action: "create directory",
                path: dir.clone(),
                source,
            })?;
        let cipher = Cipher::open_or_create(&root.join("secrets.key"))?;
        let mut records = BTreeMap::new();
        let entries = fs::read_dir(&dir).map_err(|source| StoreError::Io {
            action: "list",
            path: dir.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            let file_name = entry.file_name();
            let file_name = file_name.to_string_lossy();
            if file_name.starts_with('.') || !file_name.ends_with(".json") {
                continue;
            }
            if let Some(record) = read_json::<Record>(&path)? {
                records.insert(record.name.clone(), record);
            }
        }
        tracing::debug!(count = records.len(), "secrets loaded");
        Ok(Self {
            dir,
            cipher,
            records: Mutex::new(records),
        })
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Record>> {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Create a secret with `value` as version 1.
    pub(crate) fn create(
        &self,
        name: &str,
        value: &str,
        metadata: BTreeMap<String, String>,
    ) -> Result<SecretView, SecretError> {
        let name = canonical_name(name)?;
        check_value(value)?;
        check_metadata(&metadata)?;
        let mut records = self.lock();
        if records.contains_key(&name) {
            return Err(SecretError::Conflict(name));
        }
        let secret_id = format!(
            "{ID_PREFIX}{}",
            crate::ids::hex(&crate::ids::random_bytes(12).map_err(CipherError::Random)?)
        );
        let now = Utc::now();
        let record = Record {
            secret_id: secret_id.clone(),
            name: name.clone(),
            metadata,
            created_at: now,
            updated_at: now,
            versions: vec![Version {
                version: 1,
                created_at: now,
                sealed: self.cipher.seal(value, &context(&secret_id, 1))?,
            }],
        };
        write_json_atomic(&self.path(&secret_id), &record)?;
        let view = record.view();
        records.insert(name, record);
        Ok(view)
    }

    /// Append `value` as the secret's next version; `metadata`, when given, replaces the
    /// stored metadata.
    pub(crate) fn update(
        &self,
        reference: &str,
        value: &str,
        metadata: Option<BTreeMap<String, String>>,
    ) -> Result<SecretView, SecretError> {
        check_value(value)?;
        if let Some(metadata) = &metadata {
            check_metadata(metadata)?;
        }
        let mut records = self.lock();
        let name = find(&records, reference)?;
        let mut record = records[&name].clone();
        let version = record.current_version() + 1;
        let now = Utc::now();
        record.versions.push(Version {
            version,
            created_at: now,
            sealed: self
                .cipher
                .seal(value, &context(&record.secret_id, version))?,
        });
        if let Some(metadata) = metadata {
            record.metadata = metadata;
        }
        record.updated_at = now;
        write_json_atomic(&self.path(&record.secret_id), &record)?;
        let view = record.view();
        records.insert(name, record);
        Ok(view)
    }

    /// The secret with this id or name.
    pub(crate) fn get(&self, reference: &str) -> Result<SecretView, SecretError> {
        let records = self.lock();
        let name = find(&records, reference)?;
        Ok(records[&name].view())
    }

    /// Up to `limit` secrets in name order, after the name `after`; the cursor of the
    /// next page when more follow.
    pub(crate) fn list(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<SecretView>, Option<String>) {
        use std::ops::Bound;
        let records = self.lock();
        let start = after.map_or(Bound::Unbounded, |a| Bound::Excluded(a.to_owned()));
        let mut range = records.range((start, Bound::Unbounded));
        let page: Vec<SecretView> = range.by_ref().take(limit).map(|(_, r)| r.view()).collect();
        let next = match (range.next(), page.last()) {
            (Some(_), Some(last)) => Some(last.name.clone()),
            _ => None,
        };
        (page, next)
    }

    /// Delete the secret and every version of it.
    pub(crate) fn delete(&self, reference: &str) -> Result<(), SecretError> {
        let mut records = self.lock();
        let name = find(&records, reference)?;
        let path = self.path(&records[&name].secret_id);
        fs::remove_file(&path).map_err(|source| StoreError::Io {
            action: "remove",
            path: path.clone(),
            source,
        })?;
        if let Err(source) = fs::File::open(&self.dir).and_then(|d| d.sync_all()) {
            return Err(StoreError::Io {
                action: "sync directory",
                path: self.dir.clone(),
                source,
            }
            .into());
        }
        records.remove(&name);
        Ok(())
    }

    /// The current value of a secret (the runtime's side; never served by the API).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn reveal(&self, reference: &str) -> Result<Option<String>, SecretError> {
        let records = self.lock();
        let name = find(&records, reference)?;
        let record = &records[&name];
        Ok(record.versions.last().and_then(|v| {
            self.cipher
                .open(&v.sealed, &context(&record.secret_id, v.version))
        }))
    }
}

/// The associated data binding a sealed value to its secret and version.
fn context(secret_id: &str, version: i64) -> String {
    format!("{secret_id}:{version}")
}

/// The name of the secret `reference` (an id or a name, any case) points at.
fn find(records: &BTreeMap<String, Record>, reference: &str) -> Result<String, SecretError> {
    let lower = reference.to_ascii_lowercase();
    if records.contains_key(&lower) {
        return Ok(lower);
    }
    records
        .values()
        .find(|r| r.secret_id == reference)
        .map(|r| r.name.clone())
        .ok_or_else(|| SecretError::NotFound(reference.to_owned()))
}

/// The canonical form of a new secret's name: 1–128 of `[a-zA-Z0-9_-]`, lower-cased,
/// not starting with the id prefix.
pub(crate) fn canonical_name(name: &str) -> Result<String, SecretError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(SecretError::Invalid(format!(
            "secret name must be 1 to {MAX_NAME_LEN} characters long, got {}",
            name.len()
        )));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(SecretError::Invalid(format!(
            "secret name '{}' may only contain letters, digits, '_' and '-'",
            name.escape_debug()
        )));
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with(ID_PREFIX) {
        return Err(SecretError::Invalid(format!(
            "secret name '{name}' cannot start with '{ID_PREFIX}': the prefix is reserved for secret ids"
        )));
    }
    Ok(lower)
}

fn check_value(value: &str) -> Result<(), SecretError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(SecretError::Invalid(format!(
            "secret value is {} bytes, more than the {MAX_VALUE_LEN} allowed",
            value.len()
        )));
    }
    Ok(())
}

fn check_metadata(metadata: &BTreeMap<String, String>) -> Result<(), SecretError> {
    if metadata.len() > MAX_METADATA_ENTRIES {
        return Err(SecretError::Invalid(format!(
            "metadata has {} entries, more than the {MAX_METADATA_ENTRIES} allowed",
            metadata.len()
        )));
    }
    let mut total = 0;
    for (key, value) in metadata {
        if key.len() > MAX_METADATA_KEY {
            return Err(SecretError::Invalid(format!(
                "metadata key '{key}' is longer than {MAX_METADATA_KEY} bytes"
            )));
        }
        if value.len() > MAX_METADATA_VALUE {
            return Err(SecretError::Invalid(format!(
                "metadata value of '{key}' is longer than {MAX_METADATA_VALUE} bytes"
            )));
        }
        total += key.len() + value.len();
    }
    if total > MAX_METADATA_TOTAL {
        return Err(SecretError::Invalid(format!(
            "metadata is {total} bytes, more than the {MAX_METADATA_TOTAL} allowed"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_canonical_and_validated() {
        assert_eq!(canonical_name("My_Key-1").unwrap(), "my_key-1");
        for bad in ["", "a b", "a.b", "é", "SEC_x", "sec_x", &"a".repeat(129)] {
            assert!(
                matches!(canonical_name(bad), Err(SecretError::Invalid(_))),
                "{bad:?}"
            );
        }
        assert!(canonical_name(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn versions_and_values_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = SecretStore::open(dir.path()).unwrap();
        let created = store.create("Token", "v1-value", BTreeMap::new()).unwrap();
        assert_eq!(created.name, "token");
        assert_eq!(created.current_version, 1);
        let updated = store.update("TOKEN", "v2-value", None).unwrap();
        assert_eq!(updated.current_version, 2);
        drop(store);
        let store = SecretStore::open(dir.path()).unwrap();
        assert_eq!(
            store.reveal(&created.secret_id).unwrap().as_deref(),
            Some("v2-value")
        );
        assert!(matches!(
            store.create("token", "x", BTreeMap::new()),
            Err(SecretError::Conflict(_))
        ));
        store.delete("token").unwrap();
        assert!(matches!(store.get("token"), Err(SecretError::NotFound(_))));
        assert!(matches!(
            store.get(&created.secret_id),
            Err(SecretError::NotFound(_))
        ));
    }

    #[test]
    fn metadata_limits() {
        let many: BTreeMap<_, _> = (0..33).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(check_metadata(&many).is_err());
        let big: BTreeMap<_, _> = (0..10)
            .map(|i| (format!("k{i}"), "v".repeat(1000)))
            .collect();
        assert!(check_metadata(&big).is_err());
        let fine: BTreeMap<_, _> = [("a".to_owned(), "b".to_owned())].into();
        assert!(check_metadata(&fine).is_ok());
    }
}
