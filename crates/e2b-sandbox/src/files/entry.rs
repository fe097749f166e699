//! What envd reports about files: [`EntryInfo`], [`FileType`] and [`WriteInfo`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use e2b_envd::filesystem as pb;
use serde::Deserialize;

/// The type of a filesystem entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileType {
    /// A regular file (or a symlink to one).
    File,
    /// A directory (or a symlink to one).
    Directory,
    /// A symbolic link whose target type is unknown.
    Symlink,
}

impl FileType {
    pub(crate) fn from_wire(value: i32) -> Option<FileType> {
        match pb::FileType::try_from(value).ok()? {
            pb::FileType::File => Some(FileType::File),
            pb::FileType::Directory => Some(FileType::Directory),
            pb::FileType::Symlink => Some(FileType::Symlink),
            pb::FileType::Unspecified => None,
        }
    }
}

/// Everything envd reports about a file or directory.
///
/// ```no_run
/// # async fn f(sandbox: &e2b_sandbox::Sandbox) -> e2b_sandbox::Result<()> {
/// let info = sandbox.files().info("/etc/hosts").await?;
/// println!("{} bytes, {} owned by {}", info.size, info.permissions, info.owner);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntryInfo {
    /// The base name.
    pub name: String,
    /// The type; `None` for a dangling symlink, or for a type this crate does not know
    /// (reported by an envd newer than it).
    pub file_type: Option<FileType>,
    /// The path, under the path that was asked for.
    pub path: String,
    /// The size in bytes.
    pub size: u64,
    /// The permission bits (e.g. `0o644`).
    pub mode: u32,
    /// The permissions as `ls -l` shows them (e.g. `-rw-r--r--`).
    pub permissions: String,
    /// The owning user.
    pub owner: String,
    /// The owning group.
    pub group: String,
    /// The last modification time.
    pub modified_time: Option<DateTime<Utc>>,
    /// The target, when the entry is a symbolic link.
    pub symlink_target: Option<String>,
    /// User metadata set at upload (envd 0.6.2 or newer).
    pub metadata: HashMap<String, String>,
}

impl From<pb::EntryInfo> for EntryInfo {
    fn from(e: pb::EntryInfo) -> Self {
        EntryInfo {
            file_type: FileType::from_wire(e.r#type),
            name: e.name,
            path: e.path,
            size: u64::try_from(e.size).unwrap_or(0),
            mode: e.mode,
            permissions: e.permissions,
            owner: e.owner,
            group: e.group,
            modified_time: e.modified_time.and_then(|t| {
                DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
            }),
            symlink_target: e.symlink_target,
            metadata: e.metadata,
        }
    }
}

/// What envd reports about a file it wrote.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct WriteInfo {
    /// The absolute path written.
    pub path: String,
    /// The base name.
    pub name: String,
    /// `file` or `dir`, as envd says.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// The metadata stored with the file.
    #[serde(default)]
    pub metadata: Option<HashMap<String, String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_types_newer_than_the_proto_read_as_none() {
        assert_eq!(
            FileType::from_wire(pb::FileType::Directory as i32),
            Some(FileType::Directory)
        );
        assert_eq!(FileType::from_wire(pb::FileType::Unspecified as i32), None);
        assert_eq!(FileType::from_wire(42), None);
        assert_eq!(FileType::from_wire(-1), None);
    }
}
