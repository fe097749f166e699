//! Mount sources staged where a sandbox's user namespace can reach them.
//!
//! A root server runs every sandbox in a user namespace whose root is an
//! unprivileged host id (see [`userns`](super::userns)). bubblewrap sets the
//! sandbox's mounts up from inside that namespace, so it cannot traverse host
//! directories only host root may enter: the server's data directory, or a
//! checkout and an interpreter under `/root`. Loosening those directories'
//! permissions would open them to every host user.
//!
//! Instead, the child that becomes bubblewrap first (still host root, in its
//! own new mount namespace, before it joins the user namespace) mounts a
//! private tmpfs on the stage directory and bind-mounts each source into it
//! under a number. bubblewrap is given those staged paths. The staging lives
//! and dies with that child's mount namespace: nothing changes on the host,
//! concurrent launches never see each other's stage, and nothing is left
//! behind when the sandbox ends.

#![allow(unsafe_code)]

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

/// Where a root server stages mount sources (created empty at start; only
/// ever mounted on inside a launching child's private mount namespace).
pub(crate) const STAGE_DIR: &str = "/run/e2b-local-stage";

/// One source and where it is staged.
#[derive(Debug)]
struct Entry {
    source: CString,
    staged: CString,
    is_dir: bool,
}

/// The sources of one launch, staged by [`Stage::hook`].
#[derive(Debug)]
pub(crate) struct Stage {
    dir: CString,
    entries: Vec<Entry>,
}

impl Stage {
    /// Plan to stage `sources` under `dir`; returns the plan and each
    /// source's staged path.
    pub(crate) fn plan(
        dir: &Path,
        sources: &[PathBuf],
    ) -> io::Result<(Self, HashMap<PathBuf, PathBuf>)> {
        let mut entries = Vec::with_capacity(sources.len());
        let mut staged_paths = HashMap::with_capacity(sources.len());
        for (n, source) in sources.iter().enumerate() {
            let staged = dir.join(n.to_string());
            let is_dir = std::fs::metadata(source)?.is_dir();
            entries.push(Entry {
                source: cstring(source)?,
                staged: cstring(&staged)?,
                is_dir,
            });
            staged_paths.insert(source.clone(), staged);
        }
        Ok((
            Self {
                dir: cstring(dir)?,
                entries,
            },
            staged_paths,
        ))
    }

    /// A `pre_exec` hook that stages every source. Run it in the forked
    /// child while it is still host root, before it joins the sandbox's user
    /// namespace. It only makes async-signal-safe system calls.
    pub(crate) fn hook(self) -> impl FnMut() -> io::Result<()> + Send + Sync + 'static {
        move || {
            // SAFETY: plain system calls on NUL-terminated strings prepared
            // before the fork; nothing is allocated here.
            unsafe {
                check(libc::unshare(libc::CLONE_NEWNS))?;
                check(libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ))?;
                check(libc::mount(
                    c"e2b-stage".as_ptr(),
                    self.dir.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    c"mode=0755,size=64k".as_ptr().cast(),
                ))?;
                for entry in &self.entries {
                    if entry.is_dir {
                        check(libc::mkdir(entry.staged.as_ptr(), 0o755))?;
                    } else {
                        let fd = libc::open(
                            entry.staged.as_ptr(),
                            libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                            0o644,
                        );
                        check(fd)?;
                        libc::close(fd);
                    }
                    check(libc::mount(
                        entry.source.as_ptr(),
                        entry.staged.as_ptr(),
                        std::ptr::null(),
                        libc::MS_BIND | libc::MS_REC,
                        std::ptr::null(),
                    ))?;
                }
            }
            Ok(())
        }
    }
}

/// Create the stage directory (as root, at server start).
pub(crate) fn prepare_dir(dir: &Path) -> io::Result<()> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt as _;

    use super::*;

    #[test]
    fn a_child_sees_private_sources_at_their_staged_paths() {
        if !rustix::process::geteuid().is_root() {
            return; // Staging mounts is root's; unprivileged servers never stage.
        }
        let tmp = tempfile::tempdir().unwrap();
        let private = tmp.path().join("private");
        std::fs::create_dir(&private).unwrap();
        std::fs::write(private.join("file"), "hello").unwrap();
        let stage_dir = tmp.path().join("stage");
        prepare_dir(&stage_dir).unwrap();
        let (stage, paths) =
            Stage::plan(&stage_dir, &[private.clone(), private.join("file")]).unwrap();
        let dir = paths[&private].clone();
        let file = paths[&private.join("file")].clone();
        let hook = stage.hook();
        let mut cmd = std::process::Command::new("cat");
        cmd.arg(dir.join("file")).arg(&file);
        // SAFETY: the hook only makes async-signal-safe calls.
        unsafe { cmd.pre_exec(hook) };
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hellohello");
        // Nothing was mounted in the server's own namespace.
        assert_eq!(std::fs::read_dir(&stage_dir).unwrap().count(), 0);
    }
}
