//! Copying a sandbox's writable state (snapshots, forks, creating from a snapshot).
//!
//! A faithful tree copy: regular files (the kernel may share extents with
//! `copy_file_range`/reflinks), directories, symlinks (not followed),
//! permissions, ownership (when the server may set it), modification times
//! and `user.*` extended attributes (envd keeps file metadata there).
//! Sockets, FIFOs and devices are skipped. Bounded by a deadline.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::time::Instant;

/// Copy the tree at `src` to `dst` (which must not exist), giving up at `deadline`.
pub(crate) fn copy_tree(src: &Path, dst: &Path, deadline: Instant) -> io::Result<()> {
    let meta = fs::symlink_metadata(src)?;
    if !meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a directory", src.display()),
        ));
    }
    let can_chown = rustix::process::geteuid().is_root();
    copy_dir(src, dst, &meta, deadline, can_chown, &|_| true)
}

/// [`copy_tree`] of only the entries `keep` accepts (a directory it refuses
/// is skipped with everything below it).
pub(crate) fn copy_tree_where(
    src: &Path,
    dst: &Path,
    deadline: Instant,
    keep: &dyn Fn(&fs::Metadata) -> bool,
) -> io::Result<()> {
    let meta = fs::symlink_metadata(src)?;
    let can_chown = rustix::process::geteuid().is_root();
    copy_dir(src, dst, &meta, deadline, can_chown, keep)
}

fn check_deadline(deadline: Instant) -> io::Result<()> {
    if Instant::now() > deadline {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "copying the sandbox's files took too long",
        ));
    }
    Ok(())
}

fn copy_dir(
    src: &Path,
    dst: &Path,
    meta: &fs::Metadata,
    deadline: Instant,
    can_chown: bool,
    keep: &dyn Fn(&fs::Metadata) -> bool,
) -> io::Result<()> {
    fs::create_dir(dst)?;
    for entry in fs::read_dir(src)? {
        check_deadline(deadline)?;
        let entry = entry?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let m = fs::symlink_metadata(&from)?;
        if !keep(&m) {
            continue;
        }
        let ft = m.file_type();
        if ft.is_dir() {
            copy_dir(&from, &to, &m, deadline, can_chown, keep)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from)?, &to)?;
            if can_chown {
                std::os::unix::fs::lchown(&to, Some(m.uid()), Some(m.gid()))?;
            }
        } else if ft.is_file() {
            fs::copy(&from, &to)?;
            finish(&from, &to, &m, can_chown)?;
        }
        // Sockets, FIFOs and device nodes are not state worth copying.
    }
    finish(src, dst, meta, can_chown)
}

/// Ownership, xattrs, mode and mtime of a copied file or directory.
fn finish(src: &Path, dst: &Path, meta: &fs::Metadata, can_chown: bool) -> io::Result<()> {
    if can_chown {
        std::os::unix::fs::chown(dst, Some(meta.uid()), Some(meta.gid()))?;
    }
    copy_user_xattrs(src, dst);
    // After chown, which clears set-id bits.
    fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    let stamp = |sec: i64, nsec: i64| rustix::fs::Timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    };
    let times = rustix::fs::Timestamps {
        last_access: stamp(meta.atime(), meta.atime_nsec()),
        last_modification: stamp(meta.mtime(), meta.mtime_nsec()),
    };
    rustix::fs::utimensat(rustix::fs::CWD, dst, &times, rustix::fs::AtFlags::empty())?;
    Ok(())
}

/// Copy `user.*` extended attributes (best effort: filesystems without xattrs just skip).
fn copy_user_xattrs(src: &Path, dst: &Path) {
    let mut names = vec![0u8; 4096];
    let Ok(n) = rustix::fs::llistxattr(src, &mut names[..]) else {
        return;
    };
    for name in names[..n]
        .split(|&b| b == 0)
        .filter(|n| n.starts_with(b"user."))
    {
        let mut value = vec![0u8; 4096];
        if let Ok(len) = rustix::fs::lgetxattr(src, name, &mut value[..]) {
            let _ =
                rustix::fs::lsetxattr(dst, name, &value[..len], rustix::fs::XattrFlags::empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn copies_files_dirs_symlinks_modes_and_xattrs() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir_all(src.join("a/b")).unwrap();
        fs::write(src.join("a/b/file.txt"), b"hello").unwrap();
        fs::set_permissions(src.join("a/b/file.txt"), fs::Permissions::from_mode(0o640)).unwrap();
        fs::set_permissions(src.join("a"), fs::Permissions::from_mode(0o711)).unwrap();
        std::os::unix::fs::symlink("../../outside", src.join("a/link")).unwrap();
        let xattr_ok = rustix::fs::lsetxattr(
            src.join("a/b/file.txt"),
            "user.e2b.k",
            b"v",
            rustix::fs::XattrFlags::empty(),
        )
        .is_ok();
        let dst = dir.path().join("dst");
        copy_tree(&src, &dst, Instant::now() + Duration::from_secs(10)).unwrap();

        assert_eq!(fs::read(dst.join("a/b/file.txt")).unwrap(), b"hello");
        assert_eq!(
            fs::metadata(dst.join("a/b/file.txt"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o640
        );
        assert_eq!(
            fs::metadata(dst.join("a")).unwrap().permissions().mode() & 0o777,
            0o711
        );
        // Symlinks are copied as links, never followed.
        assert_eq!(
            fs::read_link(dst.join("a/link")).unwrap(),
            Path::new("../../outside")
        );
        if xattr_ok {
            let mut buf = [0u8; 16];
            let n = rustix::fs::lgetxattr(dst.join("a/b/file.txt"), "user.e2b.k", &mut buf[..])
                .unwrap();
            assert_eq!(&buf[..n], b"v");
        }
    }

    #[test]
    fn refuses_non_directories_and_respects_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("f"), b"x").unwrap();
        assert!(
            copy_tree(
                &dir.path().join("f"),
                &dir.path().join("g"),
                Instant::now() + Duration::from_secs(1)
            )
            .is_err()
        );
        fs::create_dir(dir.path().join("d")).unwrap();
        fs::write(dir.path().join("d/f"), b"x").unwrap();
        let err = copy_tree(
            &dir.path().join("d"),
            &dir.path().join("e"),
            Instant::now() - Duration::from_secs(1),
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
