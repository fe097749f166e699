//! What the APIs report about volumes and their files, and the options of each operation.

use std::fmt;
use std::time::{Duration, SystemTime};

use e2b_api::volume_content::types as wire;
use e2b_core::{ExposeSecret as _, SecretString};

/// How long a transfer of a whole file may take by default (upstream's file timeout).
pub const DEFAULT_FILE_TIMEOUT: Duration = Duration::from_secs(3600);
/// The longest silence allowed between two chunks of a download by default.
pub const DEFAULT_STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A volume as [`Volume::list`](crate::Volume::list) reports it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct VolumeInfo {
    /// The volume's id.
    pub volume_id: String,
    /// Its name, unique in the team.
    pub name: String,
}

/// A volume with the credential of its content, as
/// [`Volume::get_info`](crate::Volume::get_info) reports it. The token is never printed.
#[derive(Clone)]
#[non_exhaustive]
pub struct VolumeAndToken {
    /// The volume's id.
    pub volume_id: String,
    /// Its name.
    pub name: String,
    /// The bearer token of the volume content API.
    pub token: SecretString,
    /// The domain of the content API when the volume lives on a custom cluster
    /// (`https://api.<domain>`); `None` for the default.
    pub domain: Option<String>,
}

impl fmt::Debug for VolumeAndToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VolumeAndToken")
            .field("volume_id", &self.volume_id)
            .field("name", &self.name)
            .field("token", &"[REDACTED]")
            .field("domain", &self.domain)
            .finish()
    }
}

impl VolumeAndToken {
    /// A volume known by id, name and token (no request is made).
    pub fn new(
        volume_id: impl Into<String>,
        name: impl Into<String>,
        token: impl Into<String>,
    ) -> Self {
        VolumeAndToken {
            volume_id: volume_id.into(),
            name: name.into(),
            token: SecretString::from(token.into()),
            domain: None,
        }
    }

    /// The content API's domain (a custom cluster's).
    #[must_use]
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    pub(crate) fn token_str(&self) -> &str {
        self.token.expose_secret()
    }
}

/// The type of an entry in a volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VolumeFileType {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link (reported, not followed).
    Symlink,
    /// Anything else (a FIFO, a socket), or a type this SDK does not know.
    Unknown,
}

impl VolumeFileType {
    /// The name on the wire (`file`, `directory`, `symlink`, `unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeFileType::File => "file",
            VolumeFileType::Directory => "directory",
            VolumeFileType::Symlink => "symlink",
            VolumeFileType::Unknown => "unknown",
        }
    }
}

/// A file, directory or link in a volume (`VolumeEntryStat`). Owners are the ids
/// sandboxes see (`user` is 1000).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VolumeEntry {
    /// The entry's name.
    pub name: String,
    /// Its type.
    pub file_type: VolumeFileType,
    /// Its absolute path in the volume.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its permission bits (e.g. `0o644`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Last access.
    pub atime: SystemTime,
    /// Last modification.
    pub mtime: SystemTime,
    /// Last status change.
    pub ctime: SystemTime,
    /// A symlink's target.
    pub target: Option<String>,
}

impl From<wire::VolumeEntryStat> for VolumeEntry {
    fn from(e: wire::VolumeEntryStat) -> Self {
        let file_type = match e.type_ {
            wire::VolumeEntryStatType::File => VolumeFileType::File,
            wire::VolumeEntryStatType::Directory => VolumeFileType::Directory,
            wire::VolumeEntryStatType::Symlink => VolumeFileType::Symlink,
            _ => VolumeFileType::Unknown,
        };
        VolumeEntry {
            name: e.name,
            file_type,
            path: e.path,
            size: u64::try_from(e.size).unwrap_or(0),
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            atime: e.atime.into(),
            mtime: e.mtime.into(),
            ctime: e.ctime.into(),
            target: e.target,
        }
    }
}

/// Options of [`Volume::list_dir_with`](crate::Volume::list_dir_with).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListDirOptions {
    /// How many levels to descend (1 to 10; the server's default is 1).
    pub depth: Option<u32>,
}

impl ListDirOptions {
    /// The defaults (one level).
    pub fn new() -> Self {
        Self::default()
    }

    /// Descend `depth` levels (1 to 10).
    #[must_use]
    pub fn depth(mut self, depth: u32) -> Self {
        self.depth = Some(depth);
        self
    }
}

/// Owner, group and mode of an entry: what [`Volume::update_metadata`](crate::Volume::update_metadata)
/// changes (unset fields are left as they are).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Metadata {
    /// Owner (as sandboxes see it).
    pub uid: Option<u32>,
    /// Group.
    pub gid: Option<u32>,
    /// Permission bits (e.g. `0o640`).
    pub mode: Option<u32>,
}

impl Metadata {
    /// Nothing set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the owner.
    #[must_use]
    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = Some(uid);
        self
    }

    /// Set the group.
    #[must_use]
    pub fn gid(mut self, gid: u32) -> Self {
        self.gid = Some(gid);
        self
    }

    /// Set the permission bits.
    #[must_use]
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }
}

/// Options of [`Volume::make_dir_with`](crate::Volume::make_dir_with).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct MakeDirOptions {
    /// Owner, group and mode of the new directory (the server's defaults: owner 9090,
    /// mode `0o777`).
    pub metadata: Metadata,
    /// Create missing parents, and accept an existing directory.
    pub force: bool,
}

impl MakeDirOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Owner of the directory (and of parents made with `force`).
    #[must_use]
    pub fn uid(mut self, uid: u32) -> Self {
        self.metadata.uid = Some(uid);
        self
    }

    /// Group of the directory.
    #[must_use]
    pub fn gid(mut self, gid: u32) -> Self {
        self.metadata.gid = Some(gid);
        self
    }

    /// Permission bits of the directory.
    #[must_use]
    pub fn mode(mut self, mode: u32) -> Self {
        self.metadata.mode = Some(mode);
        self
    }

    /// Create missing parents, and accept an existing directory.
    #[must_use]
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }
}

/// Options of the `write…_with` operations of [`Volume`](crate::Volume).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct WriteOptions {
    /// Owner, group and mode of the file (the server's defaults: owner 9090, mode `0o666`).
    pub metadata: Metadata,
    /// Create missing parents and replace an existing file; without it, writing to an
    /// existing path is a conflict.
    pub force: bool,
    /// How long the whole upload may take (default 1 h); `Duration::ZERO` means no limit.
    pub timeout: Duration,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            metadata: Metadata::default(),
            force: false,
            timeout: DEFAULT_FILE_TIMEOUT,
        }
    }
}

impl WriteOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Owner of the file.
    #[must_use]
    pub fn uid(mut self, uid: u32) -> Self {
        self.metadata.uid = Some(uid);
        self
    }

    /// Group of the file.
    #[must_use]
    pub fn gid(mut self, gid: u32) -> Self {
        self.metadata.gid = Some(gid);
        self
    }

    /// Permission bits of the file.
    #[must_use]
    pub fn mode(mut self, mode: u32) -> Self {
        self.metadata.mode = Some(mode);
        self
    }

    /// Create missing parents and replace an existing file.
    #[must_use]
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// How long the whole upload may take; `Duration::ZERO` means no limit.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Options of the `read…_with` operations of [`Volume`](crate::Volume).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ReadOptions {
    /// The longest silence allowed between two chunks (default 60 s); `Duration::ZERO`
    /// means no limit.
    pub idle_timeout: Duration,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            idle_timeout: DEFAULT_STREAM_IDLE_TIMEOUT,
        }
    }
}

impl ReadOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The longest silence allowed between two chunks; `Duration::ZERO` means no limit.
    #[must_use]
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_never_printed() {
        let info = VolumeAndToken::new("vol-1", "data", "very-secret-token").domain("byoc.example");
        let shown = format!("{info:?}");
        assert!(!shown.contains("very-secret-token"), "{shown}");
        assert!(
            shown.contains("vol-1") && shown.contains("byoc.example"),
            "{shown}"
        );
        assert_eq!(info.token_str(), "very-secret-token");
    }

    #[test]
    fn entries_convert_from_the_wire() {
        let stat: wire::VolumeEntryStat = serde_json_like();
        let entry = VolumeEntry::from(stat);
        assert_eq!(entry.file_type, VolumeFileType::Symlink);
        assert_eq!(entry.target.as_deref(), Some("/etc"));
        assert_eq!(
            (entry.size, entry.mode, entry.uid, entry.gid),
            (4, 0o777, 1000, 1000)
        );
        assert_eq!(
            entry.mtime,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
        );
    }

    fn serde_json_like() -> wire::VolumeEntryStat {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        wire::VolumeEntryStat {
            atime: at,
            ctime: at,
            gid: 1000,
            mode: 0o777,
            mtime: at,
            name: "link".into(),
            path: "/link".into(),
            size: 4,
            target: Some("/etc".into()),
            type_: wire::VolumeEntryStatType::Symlink,
            uid: 1000,
        }
    }

    #[test]
    fn options_chain() {
        let o = WriteOptions::new()
            .uid(1000)
            .gid(1000)
            .mode(0o640)
            .force(true);
        assert_eq!(o.metadata, Metadata::new().uid(1000).gid(1000).mode(0o640));
        assert!(o.force);
        assert_eq!(o.timeout, DEFAULT_FILE_TIMEOUT);
        let d = MakeDirOptions::new().mode(0o750).force(true);
        assert_eq!(d.metadata.mode, Some(0o750));
        assert_eq!(ListDirOptions::new().depth(3).depth, Some(3));
        assert_eq!(ReadOptions::new().idle_timeout, DEFAULT_STREAM_IDLE_TIMEOUT);
    }
}
