//! Durable metadata: JSON files written atomically.
//!
//! Every write goes to a temporary file in the same directory, is flushed to
//! disk (`fsync`), renamed over the target and the directory is synced, so a
//! crash leaves either the old or the new content, never a torn file.
//!
//! Layout under the data directory:
//!
//! ```text
//! sandboxes/<id>/sandbox.json   the sandbox's record
//! sandboxes/<id>/home/          its /home/user
//! sandboxes/<id>/tmp/           its /tmp
//! sandboxes/<id>/run/           agent socket, agent.json, passwd, group, ...
//! snapshots/<id>/snapshot.json  a snapshot template's record
//! snapshots/<id>/fs/{home,tmp}  its copy of the sandbox's writable state
//! secrets/<id>.json             a secret's record (values sealed, see `secrets`)
//! secrets.key                   the key sealing secret values (mode 0600)
//! trash/                        directories being deleted
//! ```

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Errors of the durable store.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A record could not be parsed.
    #[error("corrupt record {path}: {source}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Write `value` as JSON to `path` atomically (temp file + fsync + rename + dir fsync).
pub(crate) fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| StoreError::Corrupt {
        path: path.to_owned(),
        source,
    })?;
    let suffix =
        crate::ids::hex(&crate::ids::random_bytes(6).map_err(io_err("generate name for", path))?);
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("record");
    let tmp = dir.join(format!(".{file_name}.{suffix}.tmp"));
    let result = (|| {
        let mut file = File::create(&tmp).map_err(io_err("create", &tmp))?;
        file.write_all(&bytes).map_err(io_err("write", &tmp))?;
        file.sync_all().map_err(io_err("sync", &tmp))?;
        drop(file);
        fs::rename(&tmp, path).map_err(io_err("rename into", path))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("sync directory", dir))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Read a JSON record; `Ok(None)` when the file does not exist.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("read", path)(e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| StoreError::Corrupt {
            path: path.to_owned(),
            source,
        })
}

/// The directories of one data dir.
#[derive(Clone, Debug)]
pub(crate) struct DataDirs {
    root: PathBuf,
}

impl DataDirs {
    /// Create the layout under `root`. Directories it creates are mode 0700
    /// (other users of the host have no business there); an existing `root`
    /// keeps its permissions.
    pub(crate) fn create(root: &Path) -> Result<Self, StoreError> {
        use std::os::unix::fs::DirBuilderExt as _;
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true).mode(0o700);
        for dir in [
            root.to_owned(),
            root.join("sandboxes"),
            root.join("snapshots"),
            root.join("trash"),
        ] {
            builder
                .create(&dir)
                .map_err(io_err("create directory", &dir))?;
        }
        Ok(Self {
            root: root.to_owned(),
        })
    }

    /// The data directory itself.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// `sandboxes/`.
    pub(crate) fn sandboxes(&self) -> PathBuf {
        self.root.join("sandboxes")
    }

    /// `snapshots/`.
    pub(crate) fn snapshots(&self) -> PathBuf {
        self.root.join("snapshots")
    }

    /// `sandboxes/<id>/`.
    pub(crate) fn sandbox(&self, id: &str) -> PathBuf {
        self.sandboxes().join(id)
    }

    /// `snapshots/<id>/`.
    pub(crate) fn snapshot(&self, id: &str) -> PathBuf {
        self.snapshots().join(id)
    }

    /// Move `dir` into `trash/` (atomic) and delete it there; a crash in between
    /// leaves it in the trash, which [`DataDirs::empty_trash`] clears at start.
    pub(crate) fn remove_dir(&self, dir: &Path) -> Result<(), StoreError> {
        let suffix = crate::ids::hex(
            &crate::ids::random_bytes(6).map_err(io_err("generate name for", dir))?,
        );
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("dir");
        let target = self.root.join("trash").join(format!("{name}-{suffix}"));
        match fs::rename(dir, &target) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("move to trash", dir)(e)),
        }
        fs::remove_dir_all(&target).map_err(io_err("delete", &target))
    }

    /// Delete whatever a previous run left in `trash/`.
    pub(crate) fn empty_trash(&self) -> Result<(), StoreError> {
        let trash = self.root.join("trash");
        for entry in fs::read_dir(&trash).map_err(io_err("list", &trash))? {
            let path = entry.map_err(io_err("list", &trash))?.path();
            let result = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            result.map_err(io_err("delete", &path))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Rec {
        a: u32,
        b: String,
    }

    #[test]
    fn atomic_write_round_trips_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.json");
        assert_eq!(read_json::<Rec>(&path).unwrap(), None);
        write_json_atomic(
            &path,
            &Rec {
                a: 1,
                b: "x".into(),
            },
        )
        .unwrap();
        write_json_atomic(
            &path,
            &Rec {
                a: 2,
                b: "y".into(),
            },
        )
        .unwrap();
        assert_eq!(
            read_json::<Rec>(&path).unwrap(),
            Some(Rec {
                a: 2,
                b: "y".into()
            })
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("rec.json")]);
    }

    #[test]
    fn corrupt_records_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.json");
        fs::write(&path, b"{not json").unwrap();
        let err = read_json::<Rec>(&path).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn remove_dir_goes_through_the_trash() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = DataDirs::create(dir.path()).unwrap();
        let victim = dirs.sandbox("abc");
        fs::create_dir_all(victim.join("home/sub")).unwrap();
        fs::write(victim.join("home/sub/f"), b"x").unwrap();
        dirs.remove_dir(&victim).unwrap();
        assert!(!victim.exists());
        assert_eq!(fs::read_dir(dir.path().join("trash")).unwrap().count(), 0);
        // Removing a missing directory is not an error.
        dirs.remove_dir(&victim).unwrap();
    }
}
