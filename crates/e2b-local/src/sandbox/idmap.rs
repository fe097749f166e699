//! Idmapped bind mounts: a host directory shown with its owners shifted into
//! the sandboxes' user namespace.
//!
//! Files of the host's `/usr` and `/etc` belong to host root (uid 0), an id
//! the sandboxes' namespace does not map: inside they would belong to
//! `nobody`, and in-sandbox root could not write through an overlay on them.
//! An idmapped mount of such a directory (`open_tree` + `mount_setattr` with
//! `MOUNT_ATTR_IDMAP` + `move_mount`, Linux 5.12 and later) shows host uid
//! `n` as host uid `HOST_ID_BASE + n`, which is `n` inside: host root's files
//! are in-sandbox root's. The host's files themselves never change; overlays
//! stacked on such mounts copy a file up before it is modified.

#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_EMPTY_PATH: libc::c_uint = 0x1000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;

/// Attach a read-only, idmapped copy of the mount tree at `source` (not its
/// submounts) at `target`, an existing directory. `userns` is the user
/// namespace whose id map applies.
///
/// # Safety
/// Async-signal-safe (runs in a forked child before exec); the strings are
/// NUL-terminated.
pub(crate) unsafe fn bind_idmapped(
    source: &CString,
    target: &CString,
    userns: RawFd,
) -> io::Result<()> {
    // SAFETY: system calls on NUL-terminated strings and a stack struct.
    unsafe {
        let tree = libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            source.as_ptr(),
            (OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint) as libc::c_ulong,
        );
        if tree < 0 {
            return Err(io::Error::last_os_error());
        }
        let tree = tree as libc::c_int;
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
            attr_clr: 0,
            propagation: 0,
            userns_fd: userns as u64,
        };
        let set = libc::syscall(
            libc::SYS_mount_setattr,
            tree,
            c"".as_ptr(),
            AT_EMPTY_PATH as libc::c_ulong,
            &raw const attr,
            std::mem::size_of::<MountAttr>(),
        );
        let moved = if set == 0 {
            libc::syscall(
                libc::SYS_move_mount,
                tree,
                c"".as_ptr(),
                libc::AT_FDCWD,
                target.as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH as libc::c_ulong,
            )
        } else {
            set
        };
        let err = (moved < 0).then(io::Error::last_os_error);
        libc::close(tree);
        match err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Whether this host can make idmapped mounts of `source` into `userns`:
/// tried in a child with a mount namespace of its own, so nothing changes
/// on the host.
pub(crate) fn probe(source: &std::path::Path, userns: RawFd) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::process::CommandExt as _;
    let target = tempfile::tempdir()?;
    let source = CString::new(source.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let target_c = CString::new(target.path().as_os_str().as_bytes()).map_err(io::Error::other)?;
    let mut child = std::process::Command::new("/bin/true");
    // SAFETY: the hook only makes async-signal-safe system calls on strings
    // prepared before the fork.
    unsafe {
        child.pre_exec(move || {
            if libc::unshare(libc::CLONE_NEWNS) != 0
                || libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            bind_idmapped(&source, &target_c, userns)
        });
    }
    let status = child.status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("the probe exited with {status}")))
    }
}
