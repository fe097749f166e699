//! Files inside a volume, reached only through a descriptor of its root.
//!
//! A volume's directory is mounted read-write into sandboxes, so everything in
//! it may have been made by a hostile root: symlinks to `/etc` or `/`, FIFOs,
//! directories swapped for links between two calls. Every path is resolved by
//! the kernel with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
//! RESOLVE_NO_XDEV)` from the root's descriptor: `..` and absolute symlinks
//! stop at the volume's root, as if it were `/` (upstream chroots into the
//! volume the same way), and no step can leave it. Entries are then created,
//! changed and removed relative to a directory descriptor, never by a host
//! path; ownership and modes are set on the opened file, not by name.
//!
//! All of it blocks: callers run it on a blocking thread.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd as _, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;

use chrono::{DateTime, TimeZone as _, Utc};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};

use super::ids::IdMap;

/// Owner of files and directories the API creates without one (upstream's default).
pub(crate) const DEFAULT_OWNER: u32 = 9090;
/// Mode of directories the API creates without one.
pub(crate) const DEFAULT_DIR_MODE: u32 = 0o777;
/// Mode of files the API creates without one.
pub(crate) const DEFAULT_FILE_MODE: u32 = 0o666;
/// Deepest listing (`depth`), as upstream.
pub(crate) const MAX_DEPTH: u32 = 10;

/// How every path in a volume is resolved.
fn resolve_flags() -> ResolveFlags {
    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS | ResolveFlags::NO_XDEV
}

/// Why a content operation failed; each maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ContentError {
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409.
    #[error("{0}")]
    Exists(String),
    /// 400.
    #[error("{0}")]
    Invalid(String),
    /// 500.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: io::Error,
    },
}

impl ContentError {
    /// Map an OS error of `what` on `path`.
    fn os(what: &str, path: &VolumePath, e: impl Into<io::Error>) -> Self {
        let e: io::Error = e.into();
        match e.raw_os_error() {
            Some(libc::ENOENT) => Self::NotFound(format!("{what}: '{path}' not found")),
            Some(libc::EEXIST) => Self::Exists(format!("{what}: '{path}' already exists")),
            Some(libc::ENOTDIR) => Self::Invalid(format!(
                "{what}: a component of '{path}' is a file, but must be a directory"
            )),
            Some(libc::EISDIR) => Self::Invalid(format!("{what}: '{path}' is a directory")),
            Some(libc::ELOOP) => {
                Self::Invalid(format!("{what}: too many symbolic links in '{path}'"))
            }
            Some(libc::EXDEV) => Self::Invalid(format!("{what}: '{path}' leaves the volume")),
            Some(libc::ENAMETOOLONG) => Self::Invalid(format!("{what}: '{path}' is too long")),
            Some(libc::ENOTEMPTY) => Self::Exists(format!("{what}: '{path}' is not empty")),
            Some(libc::ENXIO) => {
                Self::Invalid(format!("{what}: '{path}' is not a file or directory"))
            }
            _ => Self::Io {
                what: format!("{what} '{path}'"),
                source: e,
            },
        }
    }
}

/// A path inside a volume, made absolute and clean like upstream's
/// (`filepath.Clean("/" + path)`): `.` dropped, `..` applied lexically and
/// never above the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VolumePath(Vec<Vec<u8>>);

impl VolumePath {
    /// Parse a request's `path`.
    pub(crate) fn parse(raw: &str) -> Result<Self, ContentError> {
        if raw.is_empty() {
            return Err(ContentError::Invalid("path must not be empty".to_owned()));
        }
        if raw.contains('\0') {
            return Err(ContentError::Invalid(
                "path must not contain NUL".to_owned(),
            ));
        }
        let mut parts: Vec<Vec<u8>> = Vec::new();
        for part in raw.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                name => parts.push(name.as_bytes().to_vec()),
            }
        }
        Ok(Self(parts))
    }

    /// The root itself.
    pub(crate) fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The last component (`""` for the root).
    fn name(&self) -> &OsStr {
        OsStr::from_bytes(self.0.last().map_or(&[][..], Vec::as_slice))
    }

    /// The parent (the root's parent is the root).
    fn parent(&self) -> Self {
        let mut parts = self.0.clone();
        parts.pop();
        Self(parts)
    }

    /// `self/name`.
    fn join(&self, name: &[u8]) -> Self {
        let mut parts = self.0.clone();
        parts.push(name.to_vec());
        Self(parts)
    }

    /// The path relative to the root, for `openat2` (`.` for the root).
    fn relative(&self) -> Vec<u8> {
        if self.0.is_empty() {
            return b".".to_vec();
        }
        self.0.join(&b'/')
    }
}

impl std::fmt::Display for VolumePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("/");
        }
        for part in &self.0 {
            write!(f, "/{}", String::from_utf8_lossy(part))?;
        }
        Ok(())
    }
}

/// What the API reports of an entry (`VolumeEntryStat`), ids as seen inside sandboxes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) kind: EntryKind,
    pub(crate) path: String,
    pub(crate) size: i64,
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) atime: DateTime<Utc>,
    pub(crate) mtime: DateTime<Utc>,
    pub(crate) ctime: DateTime<Utc>,
    pub(crate) target: Option<String>,
}

/// `VolumeEntryStat.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EntryKind {
    File,
    Directory,
    Symlink,
    Unknown,
}

impl EntryKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Directory => "directory",
            Self::Symlink => "symlink",
            Self::Unknown => "unknown",
        }
    }
}

/// Ownership and mode to give a new entry or an existing one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Attrs {
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) mode: Option<u32>,
}

/// One volume's content: its root descriptor and how ids map.
#[derive(Debug)]
pub(crate) struct Content {
    root: OwnedFd,
    ids: IdMap,
}

fn time(secs: i64, nanos: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, u32::try_from(nanos).unwrap_or(0))
        .single()
        .unwrap_or_default()
}

impl Content {
    /// Open the volume whose root directory is `dir` (a path the server owns).
    pub(crate) fn open(dir: &std::path::Path, ids: IdMap) -> io::Result<Self> {
        let root = rustix::fs::open(
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self { root, ids })
    }

    /// Open `path` (following symlinks, inside the volume).
    fn resolve(&self, path: &VolumePath, flags: OFlags, mode: Mode) -> rustix::io::Result<OwnedFd> {
        rustix::fs::openat2(
            &self.root,
            path.relative(),
            flags | OFlags::CLOEXEC,
            mode,
            resolve_flags(),
        )
    }

    /// The directory holding `path`'s last component.
    fn parent_dir(&self, path: &VolumePath) -> Result<OwnedFd, ContentError> {
        let parent = path.parent();
        self.resolve(&parent, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())
            .map_err(|e| ContentError::os("failed to open the parent directory", path, e))
    }

    fn entry(&self, path: &VolumePath, stat: &Stat, target: Option<String>) -> Entry {
        let kind = match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => EntryKind::File,
            FileType::Directory => EntryKind::Directory,
            FileType::Symlink => EntryKind::Symlink,
            _ => EntryKind::Unknown,
        };
        Entry {
            name: if path.is_root() {
                "/".to_owned()
            } else {
                path.name().to_string_lossy().into_owned()
            },
            kind,
            path: path.to_string(),
            size: stat.st_size,
            mode: stat.st_mode & 0o777,
            uid: self.ids.uid_inside(stat.st_uid),
            gid: self.ids.gid_inside(stat.st_gid),
            atime: time(stat.st_atime, stat.st_atime_nsec as i64),
            mtime: time(stat.st_mtime, stat.st_mtime_nsec as i64),
            ctime: time(stat.st_ctime, stat.st_ctime_nsec as i64),
            target,
        }
    }

    /// The entry `name` of the directory `dir`, not following a symlink.
    fn entry_at(
        &self,
        dir: impl AsFd,
        name: &OsStr,
        path: &VolumePath,
    ) -> Result<Entry, ContentError> {
        let stat = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| ContentError::os("failed to stat", path, e))?;
        let target = if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink {
            rustix::fs::readlinkat(&dir, name, Vec::new())
                .ok()
                .map(|t| String::from_utf8_lossy(t.as_bytes()).into_owned())
        } else {
            None
        };
        Ok(self.entry(path, &stat, target))
    }

    /// `GET …/path`: the entry at `path` (a symlink is reported, not followed).
    pub(crate) fn stat(&self, path: &VolumePath) -> Result<Entry, ContentError> {
        if path.is_root() {
            let stat = rustix::fs::fstat(&self.root)
                .map_err(|e| ContentError::os("failed to stat", path, e))?;
            return Ok(self.entry(path, &stat, None));
        }
        let dir = self.parent_dir(path)?;
        self.entry_at(&dir, path.name(), path)
    }

    /// `GET …/dir`: the entries under `path` (a directory, symlinks to one
    /// followed), `depth` levels deep, each directory's entries in name order
    /// followed by its subdirectories' (upstream's order).
    pub(crate) fn list(&self, path: &VolumePath, depth: u32) -> Result<Vec<Entry>, ContentError> {
        let depth = depth.max(1);
        if depth > MAX_DEPTH {
            return Err(ContentError::Invalid(format!(
                "depth must be between 1 and {MAX_DEPTH}"
            )));
        }
        let dir = self
            .resolve(path, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())
            .map_err(|e| ContentError::os("failed to read", path, e))?;
        let mut out = Vec::new();
        self.list_into(dir, path, depth, &mut out)?;
        Ok(out)
    }

    fn list_into(
        &self,
        dir: OwnedFd,
        path: &VolumePath,
        depth: u32,
        out: &mut Vec<Entry>,
    ) -> Result<(), ContentError> {
        let mut names: Vec<Vec<u8>> = Vec::new();
        let entries = rustix::fs::Dir::read_from(&dir)
            .map_err(|e| ContentError::os("failed to read", path, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| ContentError::os("failed to read", path, e))?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                names.push(name.to_vec());
            }
        }
        names.sort();
        for name in names {
            let child = path.join(&name);
            let entry = match self.entry_at(&dir, OsStr::from_bytes(&name), &child) {
                Ok(entry) => entry,
                // Removed while listing (a sandbox is working in it).
                Err(ContentError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            let descend = depth > 1 && entry.kind == EntryKind::Directory;
            out.push(entry);
            if descend {
                let sub = rustix::fs::openat(
                    &dir,
                    OsStr::from_bytes(&name),
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                );
                match sub {
                    Ok(sub) => self.list_into(sub, &child, depth - 1, out)?,
                    // Gone, or swapped for a link, since it was listed.
                    Err(e)
                        if matches!(
                            e.raw_os_error(),
                            libc::ENOENT | libc::ENOTDIR | libc::ELOOP
                        ) => {}
                    Err(e) => return Err(ContentError::os("failed to read", &child, e)),
                }
            }
        }
        Ok(())
    }

    /// Give an opened entry its owner and mode.
    fn set_attrs(&self, fd: &OwnedFd, path: &VolumePath, attrs: Attrs) -> Result<(), ContentError> {
        let (uid, gid) = self.ids.to_host(attrs.uid, attrs.gid)?;
        if uid.is_some() || gid.is_some() {
            rustix::fs::chownat(
                fd,
                "",
                uid.map(uid_of),
                gid.map(gid_of),
                AtFlags::EMPTY_PATH,
            )
            .map_err(|e| ContentError::os("failed to change the owner of", path, e))?;
        }
        if let Some(mode) = attrs.mode {
            // An `O_PATH` descriptor cannot be `fchmod`ed; its /proc link
            // names the very inode it holds.
            let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
            std::fs::set_permissions(
                link,
                std::os::unix::fs::PermissionsExt::from_mode(mode & 0o777),
            )
            .map_err(|e| ContentError::os("failed to change the mode of", path, e))?;
        }
        Ok(())
    }

    /// Create the missing directories of `path` itself (not its last
    /// component's parent: the caller passes the directory to ensure), owned
    /// by `attrs`' ids with upstream's directory mode.
    fn ensure_dirs(&self, path: &VolumePath, attrs: Attrs) -> Result<(), ContentError> {
        let mut at = VolumePath(Vec::new());
        for part in &path.0 {
            let dir = self
                .resolve(&at, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())
                .map_err(|e| ContentError::os("failed to create the parents of", path, e))?;
            at = at.join(part);
            match rustix::fs::mkdirat(&dir, OsStr::from_bytes(part), Mode::from_raw_mode(0o700)) {
                Ok(()) => {
                    let made = rustix::fs::openat(
                        &dir,
                        OsStr::from_bytes(part),
                        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(|e| ContentError::os("failed to create", &at, e))?;
                    self.set_attrs(
                        &made,
                        &at,
                        Attrs {
                            mode: Some(DEFAULT_DIR_MODE),
                            ..attrs
                        },
                    )?;
                }
                Err(e) if e == rustix::io::Errno::EXIST => {}
                Err(e) => return Err(ContentError::os("failed to create", &at, e)),
            }
        }
        Ok(())
    }

    /// `POST …/dir`: make a directory (with its parents when `force`; an
    /// existing directory is then fine and left as it is).
    pub(crate) fn make_dir(
        &self,
        path: &VolumePath,
        attrs: Attrs,
        force: bool,
    ) -> Result<Entry, ContentError> {
        let attrs = with_defaults(attrs, DEFAULT_DIR_MODE);
        if force {
            self.ensure_dirs(&path.parent(), attrs)?;
        }
        if path.is_root() {
            return if force {
                self.stat(path)
            } else {
                Err(ContentError::Exists("'/' already exists".to_owned()))
            };
        }
        let dir = self.parent_dir(path)?;
        match rustix::fs::mkdirat(&dir, path.name(), Mode::from_raw_mode(0o700)) {
            Ok(()) => {
                let made = rustix::fs::openat(
                    &dir,
                    path.name(),
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| ContentError::os("failed to create directory", path, e))?;
                self.set_attrs(&made, path, attrs)?;
                let stat = rustix::fs::fstat(&made)
                    .map_err(|e| ContentError::os("failed to stat", path, e))?;
                Ok(self.entry(path, &stat, None))
            }
            Err(e) if e == rustix::io::Errno::EXIST && force => {
                let entry = self.entry_at(&dir, path.name(), path)?;
                if entry.kind == EntryKind::Directory {
                    Ok(entry)
                } else {
                    Err(ContentError::os("failed to create directory", path, e))
                }
            }
            Err(e) => Err(ContentError::os("failed to create directory", path, e)),
        }
    }

    /// Open `path` for writing a new file (`force`: its parents are made and
    /// an existing file is truncated; otherwise it must not exist). Anything
    /// but a regular file is refused.
    pub(crate) fn create_file(
        &self,
        path: &VolumePath,
        attrs: Attrs,
        force: bool,
    ) -> Result<(File, Attrs), ContentError> {
        if path.is_root() {
            return Err(ContentError::Invalid("'/' is a directory".to_owned()));
        }
        let attrs = with_defaults(attrs, DEFAULT_FILE_MODE);
        // Ids are checked before anything is made.
        self.ids.to_host(attrs.uid, attrs.gid)?;
        if force {
            self.ensure_dirs(&path.parent(), attrs)?;
        }
        let mut flags = OFlags::WRONLY | OFlags::CREATE | OFlags::NONBLOCK | OFlags::NOCTTY;
        flags |= if force { OFlags::TRUNC } else { OFlags::EXCL };
        // Created private; owner and mode are set once the content is in.
        let fd = self
            .resolve(path, flags, Mode::from_raw_mode(0o600))
            .map_err(|e| ContentError::os("failed to open file for create", path, e))?;
        let stat =
            rustix::fs::fstat(&fd).map_err(|e| ContentError::os("failed to stat", path, e))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(ContentError::Invalid(format!(
                "'{path}' is not a regular file"
            )));
        }
        Ok((File::from(fd), attrs))
    }

    /// After the content of a [`create_file`](Self::create_file) is written:
    /// sync it, set owner and mode, report it.
    pub(crate) fn finish_file(
        &self,
        file: File,
        path: &VolumePath,
        attrs: Attrs,
    ) -> Result<Entry, ContentError> {
        file.sync_all()
            .map_err(|e| ContentError::os("failed to sync", path, e))?;
        let fd = OwnedFd::from(file);
        let (uid, gid) = self.ids.to_host(attrs.uid, attrs.gid)?;
        rustix::fs::fchown(&fd, uid.map(uid_of), gid.map(gid_of))
            .map_err(|e| ContentError::os("failed to change the owner of", path, e))?;
        if let Some(mode) = attrs.mode {
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode & 0o777))
                .map_err(|e| ContentError::os("failed to change the mode of", path, e))?;
        }
        let stat =
            rustix::fs::fstat(&fd).map_err(|e| ContentError::os("failed to stat", path, e))?;
        Ok(self.entry(path, &stat, None))
    }

    /// `GET …/file`: open a regular file for reading (symlinks followed,
    /// inside the volume); its size.
    pub(crate) fn open_file(&self, path: &VolumePath) -> Result<(File, u64), ContentError> {
        let fd = self
            .resolve(
                path,
                OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY,
                Mode::empty(),
            )
            .map_err(|e| ContentError::os("failed to open file", path, e))?;
        let stat =
            rustix::fs::fstat(&fd).map_err(|e| ContentError::os("failed to stat", path, e))?;
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => {}
            FileType::Directory => {
                return Err(ContentError::Invalid(format!("'{path}' is a directory")));
            }
            _ => {
                return Err(ContentError::Invalid(format!(
                    "'{path}' is not a regular file"
                )));
            }
        }
        Ok((File::from(fd), u64::try_from(stat.st_size).unwrap_or(0)))
    }

    /// `PATCH …/path`: change the owner and mode of `path` (symlinks
    /// followed, inside the volume).
    pub(crate) fn update(&self, path: &VolumePath, attrs: Attrs) -> Result<Entry, ContentError> {
        let fd = self
            .resolve(path, OFlags::PATH, Mode::empty())
            .map_err(|e| ContentError::os("failed to update", path, e))?;
        self.set_attrs(&fd, path, attrs)?;
        let stat =
            rustix::fs::fstat(&fd).map_err(|e| ContentError::os("failed to stat", path, e))?;
        Ok(self.entry(path, &stat, None))
    }

    /// `DELETE …/path`: remove `path` (a directory with everything in it; a
    /// symlink itself, never what it points at).
    pub(crate) fn remove(&self, path: &VolumePath) -> Result<(), ContentError> {
        if path.is_root() {
            return Err(ContentError::Invalid("cannot delete root".to_owned()));
        }
        let dir = self.parent_dir(path)?;
        let stat = rustix::fs::statat(&dir, path.name(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| ContentError::os("failed to delete", path, e))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::Directory {
            return rustix::fs::unlinkat(&dir, path.name(), AtFlags::empty())
                .map_err(|e| ContentError::os("failed to delete", path, e));
        }
        // The standard library's recursive removal works from descriptors and
        // never follows a symlink; the /proc link pins the parent directory.
        let at =
            std::path::Path::new(&format!("/proc/self/fd/{}", dir.as_raw_fd())).join(path.name());
        std::fs::remove_dir_all(&at).map_err(|e| ContentError::os("failed to delete", path, e))
    }
}

fn with_defaults(attrs: Attrs, mode: u32) -> Attrs {
    Attrs {
        uid: Some(attrs.uid.unwrap_or(DEFAULT_OWNER)),
        gid: Some(attrs.gid.unwrap_or(DEFAULT_OWNER)),
        mode: Some(attrs.mode.unwrap_or(mode)),
    }
}

fn uid_of(id: u32) -> rustix::fs::Uid {
    rustix::fs::Uid::from_raw(id)
}

fn gid_of(id: u32) -> rustix::fs::Gid {
    rustix::fs::Gid::from_raw(id)
}
