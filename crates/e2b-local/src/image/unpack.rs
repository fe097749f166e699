//! Unpacking one layer archive into a directory usable as an overlayfs `lowerdir`.
//!
//! * OCI whiteouts become overlay whiteouts: `.wh.NAME` a character device
//!   0:0 named `NAME`, `.wh..wh..opq` the xattr `overlay.opaque=y` on its
//!   directory (`trusted.` and `user.` when the server is root, so both a
//!   mount in the host's namespace and one with `userxattr` in a user
//!   namespace see it; `user.` only otherwise).
//! * Regular files, directories, symbolic links (never followed) and hard
//!   links (inside the layer only) are created with their modes and mtimes;
//!   `user.*` xattrs (and `security.capability` as root) are kept, other
//!   namespaces (above all `trusted.overlay.*`) are dropped.
//! * Ownership is the archive's uid/gid when the server is root; otherwise
//!   everything belongs to the server's user, which cannot chown.
//! * Device nodes and FIFOs are skipped (counted and logged).
//! * An absolute path, a `..` component, a path through a symbolic link or
//!   a hard link to anything outside the layer is refused with
//!   [`ImageError::UnsafePath`]; nothing is ever written outside `dest`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::ImageError;
use super::error::io_err;

/// The name prefix of OCI whiteout files.
const WHITEOUT_PREFIX: &str = ".wh.";
/// The name of an OCI opaque-directory marker.
const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// How to unpack.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnpackOptions {
    /// Keep the archive's ownership (needs root) and `security.capability`.
    pub(crate) privileged: bool,
}

impl UnpackOptions {
    /// For this process: privileged when it runs as root.
    pub(crate) fn for_this_process() -> Self {
        Self {
            privileged: rustix::process::geteuid().is_root(),
        }
    }

    fn opaque_xattrs(self) -> &'static [&'static str] {
        if self.privileged {
            &["trusted.overlay.opaque", "user.overlay.opaque"]
        } else {
            &["user.overlay.opaque"]
        }
    }
}

/// What an unpack did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct UnpackReport {
    /// Entries written (files, directories, links, whiteouts).
    pub(crate) entries: u64,
    /// Device nodes and FIFOs skipped.
    pub(crate) skipped_special: u64,
    /// Bytes of regular-file content written.
    pub(crate) bytes: u64,
    /// Unprivileged: the entries (relative paths) the archive gives owners
    /// other than root, with those owners, for a later change of owners in
    /// a user namespace (see [`crate::sandbox::rootless`]).
    pub(crate) owners: Vec<(u32, u32, PathBuf)>,
}

/// Decompress a layer blob by its magic number: gzip, zstd, else a plain tar.
pub(crate) fn decompress(mut file: File) -> io::Result<Box<dyn Read + Send>> {
    use std::io::{Seek as _, SeekFrom};
    let mut magic = [0u8; 4];
    let mut read = 0;
    while read < magic.len() {
        match file.read(&mut magic[read..])? {
            0 => break,
            n => read += n,
        }
    }
    file.seek(SeekFrom::Start(0))?;
    let file = io::BufReader::with_capacity(256 * 1024, file);
    Ok(match &magic[..read] {
        [0x1f, 0x8b, ..] => Box::new(flate2::bufread::MultiGzDecoder::new(file)),
        [0x28, 0xb5, 0x2f, 0xfd] => Box::new(
            ruzstd::decoding::StreamingDecoder::new(file)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?,
        ),
        _ => Box::new(file),
    })
}

/// Unpack the tar stream `archive` into the existing, empty directory `dest`.
/// `layer` names the layer in errors.
pub(crate) fn unpack(
    archive: impl Read,
    dest: &Path,
    layer: &str,
    options: UnpackOptions,
) -> Result<UnpackReport, ImageError> {
    let mut unpacker = Unpacker {
        dest,
        layer,
        options,
        report: UnpackReport::default(),
        dirs: Vec::new(),
        owners: std::collections::BTreeMap::new(),
    };
    let mut archive = tar::Archive::new(archive);
    let entries = archive.entries().map_err(|e| unpacker.corrupt(e))?;
    for entry in entries {
        let entry = entry.map_err(|e| unpacker.corrupt(e))?;
        unpacker.entry(entry)?;
    }
    unpacker.finish_dirs()?;
    unpacker.finish_owners();
    Ok(unpacker.report)
}

/// The metadata of one entry, PAX extensions applied.
struct Meta {
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: SystemTime,
    xattrs: Vec<(String, Vec<u8>)>,
}

struct Unpacker<'a> {
    dest: &'a Path,
    layer: &'a str,
    options: UnpackOptions,
    report: UnpackReport,
    /// Directories whose final mode and mtime are set at the end (children
    /// would change the mtime; a read-only mode would stop the children).
    dirs: Vec<(PathBuf, Meta)>,
    /// Unprivileged: the owners not set, by path (the last entry for a
    /// path wins).
    owners: std::collections::BTreeMap<PathBuf, (u32, u32)>,
}

impl Unpacker<'_> {
    fn corrupt(&self, e: io::Error) -> ImageError {
        ImageError::CorruptLayer {
            layer: self.layer.to_owned(),
            detail: e.to_string(),
        }
    }

    fn unsafe_path(&self, path: &Path, reason: &'static str) -> ImageError {
        ImageError::UnsafePath {
            layer: self.layer.to_owned(),
            path: path.to_owned(),
            reason,
        }
    }

    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), ImageError> {
        use tar::EntryType;
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            return Ok(());
        }
        let raw_path = entry.path().map_err(|e| self.corrupt(e))?.into_owned();
        let rel = self.normalize(&raw_path)?;
        let meta = self.meta(&mut entry)?;

        let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            let parent = self.parent_dir(&rel, &raw_path)?;
            return if name == OPAQUE_MARKER {
                self.mark_opaque(&parent)
            } else {
                self.whiteout(&parent, hidden, &raw_path)
            };
        }

        if rel.as_os_str().is_empty() {
            // The layer's root itself (`./`): only its metadata.
            if kind == EntryType::Directory {
                self.dirs.push((self.dest.to_owned(), meta));
            }
            return Ok(());
        }

        let parent = self.parent_dir(&rel, &raw_path)?;
        let target = parent.join(rel.file_name().unwrap_or_default());
        match kind {
            EntryType::Directory => {
                self.make_dir(&target)?;
                self.dirs.push((target, meta));
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.clear(&target, false)?;
                let written = self.write_file(&target, &mut entry, &meta)?;
                self.report.bytes += written;
            }
            EntryType::Symlink => {
                let link = entry
                    .link_name()
                    .map_err(|e| self.corrupt(e))?
                    .ok_or_else(|| {
                        self.corrupt(io::Error::other("symbolic link without a target"))
                    })?
                    .into_owned();
                self.clear(&target, false)?;
                std::os::unix::fs::symlink(&link, &target)
                    .map_err(io_err("create symlink", &target))?;
                self.own(&target, &meta)?;
                set_mtime_nofollow(&target, meta.mtime)?;
            }
            EntryType::Link => {
                let link = entry
                    .link_name()
                    .map_err(|e| self.corrupt(e))?
                    .ok_or_else(|| self.corrupt(io::Error::other("hard link without a target")))?
                    .into_owned();
                let source = self.existing_inside(&link)?;
                self.clear(&target, false)?;
                fs::hard_link(&source, &target).map_err(io_err("create hard link", &target))?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                tracing::debug!(layer = self.layer, path = %raw_path.display(), ?kind, "skipping a device node or FIFO");
                self.report.skipped_special += 1;
                return Ok(());
            }
            other => {
                tracing::debug!(layer = self.layer, path = %raw_path.display(), kind = ?other, "skipping an unknown tar entry type");
                self.report.skipped_special += 1;
                return Ok(());
            }
        }
        self.report.entries += 1;
        Ok(())
    }

    /// The archive path as a relative path of plain components.
    fn normalize(&self, raw: &Path) -> Result<PathBuf, ImageError> {
        let mut rel = PathBuf::new();
        for component in raw.components() {
            match component {
                Component::Normal(part) => rel.push(part),
                Component::CurDir => {}
                Component::RootDir | Component::Prefix(_) => {
                    return Err(self.unsafe_path(raw, "absolute path"));
                }
                Component::ParentDir => return Err(self.unsafe_path(raw, "`..` component")),
            }
        }
        Ok(rel)
    }

    /// The directory `rel`'s parent names, created (as plain directories)
    /// where missing; every existing component must be a real directory.
    fn parent_dir(&self, rel: &Path, raw: &Path) -> Result<PathBuf, ImageError> {
        let mut dir = self.dest.to_owned();
        let Some(parent) = rel.parent() else {
            return Ok(dir);
        };
        for part in parent.components() {
            dir.push(part);
            match fs::symlink_metadata(&dir) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(self.unsafe_path(raw, "path through a symbolic link"));
                }
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(self.unsafe_path(raw, "path through a non-directory")),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::DirBuilder::new()
                        .mode(0o755)
                        .create(&dir)
                        .map_err(io_err("create directory", &dir))?;
                }
                Err(e) => return Err(io_err("inspect", &dir)(e)),
            }
        }
        Ok(dir)
    }

    /// The path of an existing non-directory inside the layer that a hard
    /// link may point at.
    fn existing_inside(&self, link: &Path) -> Result<PathBuf, ImageError> {
        let rel = self.normalize(link)?;
        let mut path = self.dest.to_owned();
        let mut parts = rel.components().peekable();
        while let Some(part) = parts.next() {
            path.push(part);
            let meta = fs::symlink_metadata(&path)
                .map_err(|_| self.unsafe_path(link, "hard link to a file not in this layer"))?;
            let last = parts.peek().is_none();
            if !last && !meta.is_dir() {
                return Err(self.unsafe_path(link, "hard link through a symbolic link or file"));
            }
            if last && meta.is_dir() {
                return Err(self.unsafe_path(link, "hard link to a directory"));
            }
        }
        if rel.as_os_str().is_empty() {
            return Err(self.unsafe_path(link, "hard link to the layer's root"));
        }
        Ok(path)
    }

    /// Remove whatever is at `path` (a later entry replaces an earlier one);
    /// a directory stays when `keep_dir`.
    fn clear(&self, path: &Path, keep_dir: bool) -> Result<(), ImageError> {
        match fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() && keep_dir => Ok(()),
            Ok(m) if m.is_dir() => fs::remove_dir_all(path).map_err(io_err("replace", path)),
            Ok(_) => fs::remove_file(path).map_err(io_err("replace", path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("inspect", path)(e)),
        }
    }

    fn make_dir(&self, path: &Path) -> Result<(), ImageError> {
        self.clear(path, true)?;
        match fs::DirBuilder::new().mode(0o755).create(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(io_err("create directory", path)(e)),
        }
    }

    fn write_file(
        &mut self,
        path: &Path,
        content: &mut impl Read,
        meta: &Meta,
    ) -> Result<u64, ImageError> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(io_err("create", path))?;
        let written = io::copy(content, &mut file).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof || e.kind() == io::ErrorKind::InvalidData {
                self.corrupt(e)
            } else {
                io_err("write", path)(e)
            }
        })?;
        if self.options.privileged {
            std::os::unix::fs::fchown(&file, Some(id(meta.uid)), Some(id(meta.gid)))
                .map_err(io_err("set the owner of", path))?;
        } else {
            self.note_owner(path, meta);
        }
        self.set_xattrs(path, meta);
        // After chown, which clears set-id bits.
        file.set_permissions(fs::Permissions::from_mode(meta.mode))
            .map_err(io_err("set the mode of", path))?;
        file.set_times(
            fs::FileTimes::new()
                .set_accessed(meta.mtime)
                .set_modified(meta.mtime),
        )
        .map_err(io_err("set the mtime of", path))?;
        Ok(written)
    }

    fn own(&mut self, path: &Path, meta: &Meta) -> Result<(), ImageError> {
        if self.options.privileged {
            std::os::unix::fs::lchown(path, Some(id(meta.uid)), Some(id(meta.gid)))
                .map_err(io_err("set the owner of", path))?;
        } else {
            self.note_owner(path, meta);
        }
        Ok(())
    }

    /// Remember the owner an entry should have, when it could not be set.
    fn note_owner(&mut self, path: &Path, meta: &Meta) {
        if let Ok(relative) = path.strip_prefix(self.dest) {
            if (meta.uid, meta.gid) == (0, 0) {
                self.owners.remove(relative);
            } else {
                self.owners
                    .insert(relative.to_path_buf(), (id(meta.uid), id(meta.gid)));
            }
        }
    }

    /// The owners to set later, of the entries still in place (a later
    /// entry may have replaced one, or a directory above it with a symbolic
    /// link that a later change of owner would follow).
    fn finish_owners(&mut self) {
        let owners = std::mem::take(&mut self.owners);
        self.report.owners = owners
            .into_iter()
            .filter(|(rel, _)| self.in_place(&self.dest.join(rel), false))
            .map(|(rel, (uid, gid))| (uid, gid, rel))
            .collect();
    }

    /// Whether `path` is still reached through real directories only (and
    /// is one itself, with `dir`).
    fn in_place(&self, path: &Path, dir: bool) -> bool {
        let Ok(rel) = path.strip_prefix(self.dest) else {
            return false;
        };
        let mut at = self.dest.to_owned();
        let parts: Vec<_> = rel.components().collect();
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            let Ok(meta) = fs::symlink_metadata(&at) else {
                return false;
            };
            let last = i + 1 == parts.len();
            if (!last || dir) && !meta.is_dir() {
                return false;
            }
        }
        true
    }

    fn set_xattrs(&self, path: &Path, meta: &Meta) {
        for (name, value) in &meta.xattrs {
            let allowed = (name.starts_with("user.") && !name.starts_with("user.overlay."))
                || (self.options.privileged && name == "security.capability");
            if !allowed {
                tracing::debug!(layer = self.layer, path = %path.display(), name, "dropping an xattr");
                continue;
            }
            if let Err(e) = xattr::set(path, name, value) {
                // Filesystems without xattrs (tmpfs without user xattrs) lose them: not fatal.
                tracing::debug!(layer = self.layer, path = %path.display(), name, "cannot set xattr: {e}");
            }
        }
    }

    fn mark_opaque(&self, dir: &Path) -> Result<(), ImageError> {
        for name in self.options.opaque_xattrs() {
            xattr::set(dir, name, b"y").map_err(io_err("mark opaque", dir))?;
        }
        Ok(())
    }

    fn whiteout(&mut self, parent: &Path, hidden: &str, raw: &Path) -> Result<(), ImageError> {
        if hidden.is_empty() || hidden == "." || hidden == ".." || hidden.starts_with(".wh.") {
            return Err(self.unsafe_path(raw, "malformed whiteout name"));
        }
        let path = parent.join(hidden);
        self.clear(&path, false)?;
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &path,
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::empty(),
            rustix::fs::makedev(0, 0),
        )
        .map_err(|e| ImageError::WhiteoutUnsupported {
            path: path.clone(),
            source: e.into(),
        })?;
        self.report.entries += 1;
        Ok(())
    }

    fn meta<R: Read>(&self, entry: &mut tar::Entry<'_, R>) -> Result<Meta, ImageError> {
        let header = entry.header();
        let mut meta = Meta {
            mode: header.mode().map_err(|e| self.corrupt(e))? & 0o7777,
            uid: header.uid().map_err(|e| self.corrupt(e))?,
            gid: header.gid().map_err(|e| self.corrupt(e))?,
            mtime: SystemTime::UNIX_EPOCH
                + Duration::from_secs(header.mtime().map_err(|e| self.corrupt(e))?),
            xattrs: Vec::new(),
        };
        if let Some(extensions) = entry.pax_extensions().map_err(|e| self.corrupt(e))? {
            for extension in extensions {
                let extension = extension.map_err(|e| self.corrupt(e))?;
                let Ok(key) = extension.key() else { continue };
                let value = extension.value_bytes();
                let number = || {
                    std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.parse::<u64>().ok())
                };
                match key {
                    "uid" => meta.uid = number().unwrap_or(meta.uid),
                    "gid" => meta.gid = number().unwrap_or(meta.gid),
                    "mtime" => {
                        let secs = std::str::from_utf8(value)
                            .ok()
                            .and_then(|v| v.split('.').next()?.parse::<u64>().ok());
                        if let Some(secs) = secs {
                            meta.mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
                        }
                    }
                    _ => {
                        if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                            meta.xattrs.push((name.to_owned(), value.to_vec()));
                        }
                    }
                }
            }
        }
        Ok(meta)
    }

    /// Give directories their owner, xattrs, mode and mtime, deepest first.
    fn finish_dirs(&mut self) -> Result<(), ImageError> {
        let mut dirs = std::mem::take(&mut self.dirs);
        dirs.sort_by_key(|(path, _)| std::cmp::Reverse(path.components().count()));
        for (path, meta) in &dirs {
            // A later entry replaced it (with a file or a symbolic link, which
            // changing its mode would follow).
            if !self.in_place(path, true) {
                continue;
            }
            self.own(path, meta)?;
            self.set_xattrs(path, meta);
            fs::set_permissions(path, fs::Permissions::from_mode(meta.mode))
                .map_err(io_err("set the mode of", path))?;
            set_mtime_nofollow(path, meta.mtime)?;
        }
        Ok(())
    }
}

fn id(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX - 1)
}

fn set_mtime_nofollow(path: &Path, mtime: SystemTime) -> Result<(), ImageError> {
    let since = mtime
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let stamp = rustix::fs::Timespec {
        tv_sec: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: 0,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &rustix::fs::Timestamps {
            last_access: stamp,
            last_modification: stamp,
        },
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| io_err("set the mtime of", path)(e.into()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};

    use super::*;

    fn header(kind: tar::EntryType, name: &str, link: Option<&str>, size: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_600_000_000);
        header.set_size(size);
        // Names are written raw: hostile archives are what is tested.
        let old = header.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_cksum();
        header
    }

    /// Kind, name, link target, content.
    type Entry<'a> = (tar::EntryType, &'a str, Option<&'a str>, &'a [u8]);

    fn archive(entries: &[Entry<'_>]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (kind, name, link, content) in entries {
            let header = header(*kind, name, *link, content.len() as u64);
            builder.append(&header, *content).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn unpack_into(dest: &Path, entries: &[Entry<'_>]) -> Result<UnpackReport, ImageError> {
        unpack(
            archive(entries).as_slice(),
            dest,
            "sha256:test",
            UnpackOptions::for_this_process(),
        )
    }

    use tar::EntryType::{Char, Directory, Fifo, Link, Regular, Symlink};

    #[test]
    fn whiteouts_opaque_dirs_links_and_later_entries_win() {
        let dir = tempfile::tempdir().unwrap();
        let report = unpack_into(
            dir.path(),
            &[
                (Directory, "./etc/", None, b""),
                (Regular, "./etc/.wh.gone", None, b""),
                (Regular, "etc/a", None, b"first"),
                (Regular, "etc/a", None, b"second"),
                (Directory, "opt/", None, b""),
                (Regular, "opt/.wh..wh..opq", None, b""),
                (Symlink, "etc/abs-link", Some("/etc/shadow"), b""),
                (Link, "etc/b", Some("etc/a"), b""),
                (Regular, "deep/er/file", None, b"parents are created"),
                (Fifo, "etc/fifo", None, b""),
                (Char, "etc/null", None, b""),
            ],
        )
        .unwrap();
        let root = dir.path();
        let gone = fs::symlink_metadata(root.join("etc/gone")).unwrap();
        assert!(gone.file_type().is_char_device() && gone.rdev() == 0);
        assert_eq!(fs::read_to_string(root.join("etc/a")).unwrap(), "second");
        assert_eq!(
            fs::metadata(root.join("etc/b")).unwrap().ino(),
            fs::metadata(root.join("etc/a")).unwrap().ino()
        );
        assert_eq!(
            xattr::get(root.join("opt"), "user.overlay.opaque").unwrap(),
            Some(b"y".to_vec())
        );
        assert_eq!(
            fs::read_link(root.join("etc/abs-link")).unwrap(),
            Path::new("/etc/shadow")
        );
        assert_eq!(
            fs::read_to_string(root.join("deep/er/file")).unwrap(),
            "parents are created"
        );
        assert!(!root.join("etc/fifo").exists() && !root.join("etc/null").exists());
        assert_eq!(report.skipped_special, 2);
        assert_eq!(
            fs::metadata(root.join("etc/a")).unwrap().mtime(),
            1_600_000_000
        );
        assert_eq!(
            fs::metadata(root.join("etc")).unwrap().mtime(),
            1_600_000_000
        );
    }

    #[test]
    fn a_directory_replaced_by_a_symlink_keeps_its_mode_to_itself() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir_all(outside.join("e")).unwrap();
        for dir in [&outside, &outside.join("e")] {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
        }
        let dest = tmp.path().join("layer");
        fs::create_dir(&dest).unwrap();
        let target = outside.to_str().unwrap();
        unpack_into(
            &dest,
            &[
                (tar::EntryType::Directory, "d/", None, b""),
                (tar::EntryType::Directory, "d/e/", None, b""),
                (tar::EntryType::Symlink, "d", Some(target), b""),
            ],
        )
        .unwrap();
        assert!(
            fs::symlink_metadata(dest.join("d"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // The directories' deferred modes (0644 in the archive) were not
        // applied through the link.
        for dir in [&outside, &outside.join("e")] {
            assert_eq!(
                fs::metadata(dir).unwrap().mode() & 0o7777,
                0o700,
                "{}",
                dir.display()
            );
        }
    }

    #[test]
    fn escapes_are_refused_and_nothing_lands_outside() {
        let parent = tempfile::tempdir().unwrap();
        let dest = parent.path().join("layer");
        fs::create_dir(&dest).unwrap();
        let outside = parent.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let outside_file = outside.join("file");
        fs::write(&outside_file, "keep").unwrap();
        let abs = format!("{}/abs", outside.display());
        let link_target = outside.to_str().unwrap();
        let hostile: Vec<Vec<Entry<'_>>> = vec![
            vec![(Regular, "../outside/x", None, b"x")],
            vec![(Regular, "a/../../outside/x", None, b"x")],
            vec![(Regular, &abs, None, b"x")],
            vec![
                (Symlink, "s", Some(link_target), b""),
                (Regular, "s/x", None, b"x"),
            ],
            vec![
                (Symlink, "s", Some(link_target), b""),
                (Regular, "s/.wh.file", None, b""),
            ],
            vec![
                (Symlink, "s", Some(link_target), b""),
                (Link, "h", Some("s/file"), b""),
            ],
            vec![(Link, "h", Some("../outside/file"), b"")],
            vec![(Directory, "d/", None, b""), (Link, "h", Some("d"), b"")],
            vec![(Link, "h", Some("missing"), b"")],
            vec![(Regular, ".wh...", None, b"")],
        ];
        for entries in hostile {
            let err = unpack_into(&dest, &entries).unwrap_err();
            assert!(err.is_unsafe_path(), "{entries:?}: {err:?}");
            let names: Vec<_> = fs::read_dir(&outside)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names, ["file"], "{entries:?}");
            assert_eq!(fs::read_to_string(&outside_file).unwrap(), "keep");
            assert!(
                fs::symlink_metadata(&outside_file)
                    .unwrap()
                    .file_type()
                    .is_file()
            );
        }
    }

    #[test]
    fn a_truncated_archive_is_a_corrupt_layer() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = archive(&[(Regular, "big", None, &[7u8; 4096])]);
        bytes.truncate(1024);
        let err = unpack(
            bytes.as_slice(),
            dir.path(),
            "sha256:t",
            UnpackOptions::for_this_process(),
        )
        .unwrap_err();
        assert!(matches!(err, ImageError::CorruptLayer { .. }), "{err:?}");
    }

    #[test]
    fn gzip_zstd_and_plain_archives_are_recognised() {
        use std::io::Write as _;
        let tar = archive(&[(Regular, "f", None, b"content")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [("plain", tar.clone()), ("gzip", gz)] {
            let path = dir.path().join(name);
            fs::write(&path, &bytes).unwrap();
            let dest = dir.path().join(format!("{name}-out"));
            fs::create_dir(&dest).unwrap();
            let reader = decompress(File::open(&path).unwrap()).unwrap();
            unpack(reader, &dest, "sha256:t", UnpackOptions::for_this_process()).unwrap();
            assert_eq!(
                fs::read_to_string(dest.join("f")).unwrap(),
                "content",
                "{name}"
            );
        }
        // A zstd frame header is recognised (and bad zstd data is an error, not a panic).
        let path = dir.path().join("zstd");
        fs::write(&path, [0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]).unwrap();
        let dest = dir.path().join("zstd-out");
        fs::create_dir(&dest).unwrap();
        let result = decompress(File::open(&path).unwrap())
            .map_err(|e| ImageError::CorruptLayer {
                layer: "t".into(),
                detail: e.to_string(),
            })
            .and_then(|r| unpack(r, &dest, "sha256:t", UnpackOptions::for_this_process()));
        assert!(result.is_err());
    }
}
