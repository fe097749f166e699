//! Persistent volumes: named directories kept under the data directory,
//! mounted read-write into sandboxes and served by the volume content API.
//!
//! ```text
//! volumes/<id>.json     one volume: id, name, content token, creation time
//! volumes/<id>/         its content (the directory sandboxes mount)
//! ```
//!
//! Each volume has its own random bearer token for the content API, stored
//! here (the directory is private to the server) and handed out by the
//! control plane's `GET /volumes/{id}`; it is never logged. Deleting a volume
//! removes its record first (its token stops working), then its content.

pub(crate) mod content;
pub(crate) mod ids;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sandbox::layout::{Ownership, USER_ID};
use crate::sandbox::userns::UserNamespace;
use crate::store::{StoreError, read_json, write_json_atomic};
use content::Content;
use ids::IdMap;

/// Longest volume name accepted.
pub(crate) const MAX_NAME_LEN: usize = 128;

/// Errors of the volume store.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VolumeError {
    /// No volume with that id.
    #[error("Volume not found")]
    NotFound,
    /// Bad input (upstream answers 400 for a taken name too).
    #[error("{0}")]
    Invalid(String),
    /// The records or directories could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the control plane shows of a volume.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct VolumeView {
    /// A UUID.
    pub(crate) volume_id: String,
    /// Unique name.
    pub(crate) name: String,
    /// The content API's bearer token.
    pub(crate) token: String,
}

impl std::fmt::Debug for VolumeView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeView")
            .field("volume_id", &self.volume_id)
            .field("name", &self.name)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// The record of `volumes/<id>.json`.
#[derive(Clone, Serialize, Deserialize)]
struct Record {
    volume_id: String,
    name: String,
    token: String,
    created_at: DateTime<Utc>,
}

impl Record {
    fn view(&self) -> VolumeView {
        VolumeView {
            volume_id: self.volume_id.clone(),
            name: self.name.clone(),
            token: self.token.clone(),
        }
    }
}

/// Who a content token lets in.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// The token of this volume.
    Granted,
    /// A valid token, of another volume.
    OtherVolume,
    /// No volume has this token.
    Denied,
}

/// The volumes of one data directory.
pub(crate) struct VolumeStore {
    dir: PathBuf,
    trash: PathBuf,
    ownership: Ownership,
    /// Every volume by id.
    records: Mutex<BTreeMap<String, Record>>,
}

impl std::fmt::Debug for VolumeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeStore")
            .field("dir", &self.dir)
            .field("ownership", &self.ownership)
            .finish_non_exhaustive()
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_owned();
    move |source| StoreError::Io {
        action,
        path,
        source,
    }
}

impl VolumeStore {
    /// Open the volumes of the data directory `root` (`volumes/` is created
    /// on first use); `ownership` says how ids map.
    pub(crate) fn open(root: &Path, ownership: Ownership) -> Result<Self, VolumeError> {
        use std::os::unix::fs::DirBuilderExt as _;
        let dir = root.join("volumes");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io_error("create directory", &dir))?;
        let trash = root.join("trash");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&trash)
            .map_err(io_error("create directory", &trash))?;
        let mut records = BTreeMap::new();
        for entry in fs::read_dir(&dir)
            .map_err(io_error("list", &dir))?
            .flatten()
        {
            let path = entry.path();
            let file_name = entry.file_name();
            let file_name = file_name.to_string_lossy();
            if file_name.starts_with('.') || !file_name.ends_with(".json") {
                continue;
            }
            if let Some(record) = read_json::<Record>(&path)? {
                records.insert(record.volume_id.clone(), record);
            }
        }
        tracing::debug!(count = records.len(), "volumes loaded");
        Ok(Self {
            dir,
            trash,
            ownership,
            records: Mutex::new(records),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Record>> {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// The host directory of a volume's content (only the server's own
    /// paths: an id is a UUID the store made).
    pub(crate) fn content_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// How ids map between the content API and the host.
    pub(crate) fn id_map(&self) -> IdMap {
        IdMap::of(self.ownership)
    }

    /// Create the volume `name` with an empty directory owned by `user`.
    pub(crate) fn create(&self, name: &str) -> Result<VolumeView, VolumeError> {
        check_name(name)?;
        let mut records = self.lock();
        if records.values().any(|r| r.name == name) {
            return Err(VolumeError::Invalid(format!(
                "Volume with name '{name}' already exists"
            )));
        }
        let random = |n| {
            crate::ids::random_bytes(n).map_err(|source| StoreError::Io {
                action: "generate an id for",
                path: self.dir.clone(),
                source,
            })
        };
        let volume_id = crate::ids::uuid_v4().map_err(|source| StoreError::Io {
            action: "generate an id for",
            path: self.dir.clone(),
            source,
        })?;
        let token = format!("e2bvol_{}", crate::ids::hex(&random(32)?));
        let content = self.content_dir(&volume_id);
        fs::create_dir(&content).map_err(io_error("create directory", &content))?;
        let prepared = (|| {
            use std::os::unix::fs::PermissionsExt as _;
            if self.ownership == Ownership::Root {
                let id = UserNamespace::host_id(USER_ID);
                std::os::unix::fs::chown(&content, Some(id), Some(id))?;
            }
            fs::set_permissions(&content, fs::Permissions::from_mode(0o755))
        })();
        if let Err(e) = prepared {
            let _ = fs::remove_dir(&content);
            return Err(io_error("prepare", &content)(e).into());
        }
        let record = Record {
            volume_id: volume_id.clone(),
            name: name.to_owned(),
            token,
            created_at: Utc::now(),
        };
        if let Err(e) = write_json_atomic(&self.record_path(&volume_id), &record) {
            let _ = fs::remove_dir(&content);
            return Err(e.into());
        }
        let view = record.view();
        records.insert(volume_id, record);
        Ok(view)
    }

    /// The volume `id`.
    pub(crate) fn get(&self, id: &str) -> Result<VolumeView, VolumeError> {
        self.lock()
            .get(id)
            .map(Record::view)
            .ok_or(VolumeError::NotFound)
    }

    /// The volume named `name`.
    pub(crate) fn by_name(&self, name: &str) -> Option<VolumeView> {
        self.lock()
            .values()
            .find(|r| r.name == name)
            .map(Record::view)
    }

    /// Every volume, in creation order.
    pub(crate) fn list(&self) -> Vec<VolumeView> {
        let records = self.lock();
        let mut all: Vec<&Record> = records.values().collect();
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.name.cmp(&b.name)));
        all.into_iter().map(Record::view).collect()
    }

    /// Delete the volume: its record (and so its token) at once, its content
    /// after (moved out of the way first, so a restart finishes the job).
    pub(crate) fn delete(&self, id: &str) -> Result<(), VolumeError> {
        let mut records = self.lock();
        if !records.contains_key(id) {
            return Err(VolumeError::NotFound);
        }
        let path = self.record_path(id);
        fs::remove_file(&path).map_err(io_error("remove", &path))?;
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_error("sync directory", &self.dir))?;
        records.remove(id);
        drop(records);
        let content = self.content_dir(id);
        let suffix = crate::ids::random_bytes(6)
            .map(|b| crate::ids::hex(&b))
            .unwrap_or_default();
        let trashed = self.trash.join(format!("volume-{id}-{suffix}"));
        match fs::rename(&content, &trashed) {
            Ok(()) => {
                if let Err(e) = fs::remove_dir_all(&trashed) {
                    tracing::warn!(volume = id, error = %e, "could not delete a volume's content; it stays in the trash");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("move to trash", &content)(e).into()),
        }
        Ok(())
    }

    /// Who `token` lets into the content of volume `id`. Tokens are compared
    /// in constant time.
    pub(crate) fn authorize(&self, id: &str, token: &str) -> Access {
        let records = self.lock();
        let mut access = Access::Denied;
        for record in records.values() {
            if crate::edge::signature::secure_eq(token, &record.token) {
                access = if record.volume_id == id {
                    Access::Granted
                } else {
                    Access::OtherVolume
                };
            }
        }
        access
    }

    /// The content of volume `id`.
    pub(crate) fn content(&self, id: &str) -> Result<Content, VolumeError> {
        if !self.lock().contains_key(id) {
            return Err(VolumeError::NotFound);
        }
        let dir = self.content_dir(id);
        Content::open(&dir, self.id_map())
            .map_err(|e| VolumeError::Store(io_error("open", &dir)(e)))
    }
}

/// Upstream's rule for names: `^[a-zA-Z0-9_-]+$`.
pub(crate) fn check_name(name: &str) -> Result<(), VolumeError> {
    if name.is_empty()
        || name.len() > MAX_NAME_LEN
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(VolumeError::Invalid("Invalid volume name".to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_upstream() {
        assert!(check_name("data_1-x").is_ok());
        for bad in ["", "a b", "a/b", "..", "é", &"a".repeat(129)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn volumes_and_tokens_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let ownership = Ownership::ServerUser;
        let store = VolumeStore::open(dir.path(), ownership).unwrap();
        let a = store.create("alpha").unwrap();
        let b = store.create("beta").unwrap();
        assert!(matches!(
            store.create("alpha"),
            Err(VolumeError::Invalid(_))
        ));
        assert_ne!(a.token, b.token);
        assert!(store.content_dir(&a.volume_id).is_dir());
        drop(store);
        let store = VolumeStore::open(dir.path(), ownership).unwrap();
        assert_eq!(store.get(&a.volume_id).unwrap(), a);
        assert_eq!(store.by_name("beta").unwrap(), b);
        assert_eq!(store.list(), vec![a.clone(), b.clone()]);
        assert_eq!(store.authorize(&a.volume_id, &a.token), Access::Granted);
        assert_eq!(store.authorize(&a.volume_id, &b.token), Access::OtherVolume);
        assert_eq!(store.authorize(&a.volume_id, "nope"), Access::Denied);
        store.delete(&a.volume_id).unwrap();
        assert!(matches!(
            store.get(&a.volume_id),
            Err(VolumeError::NotFound)
        ));
        assert!(!store.content_dir(&a.volume_id).exists());
        assert_eq!(store.authorize(&a.volume_id, &a.token), Access::Denied);
        assert!(matches!(
            store.delete(&a.volume_id),
            Err(VolumeError::NotFound)
        ));
    }

    #[test]
    fn debug_hides_tokens() {
        let view = VolumeView {
            volume_id: "v".into(),
            name: "n".into(),
            token: "e2bvol_secret".into(),
        };
        assert!(!format!("{view:?}").contains("secret"));
    }
}
