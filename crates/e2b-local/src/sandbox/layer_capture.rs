//! A sandbox's changes, copied out as a read-only layer.
//!
//! The upper layers of a sandbox's writable trees live on its disk under
//! `upper/<tree>`, its home and `/tmp` (when they are not trees of their
//! own) under `home` and `tmp`, all owned by host ids of the sandboxes'
//! range. A child process mounts the disk in a mount namespace of its own
//! (sharing the filesystem with the sandbox's mount when it runs: the
//! caller keeps it frozen), shows it through a read-only idmapped mount
//! that maps the range back to the ids the files have inside (see
//! [`UserNamespace::inverse`]) and copies it with `cp -a`: the layer holds
//! one directory per tree (`home` and `tmp` among them), its files owned as
//! in the sandbox, with the overlay's whiteouts and opaque directories
//! kept, ready to be a lower layer of later sandboxes (idmapped like every
//! other layer).

#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};

use super::stage::UPPER;
use super::userns::UserNamespace;

/// Copy the upper layers on the ext4 filesystem of `device` (not mounted
/// anywhere else) into `dest` (created; must not exist). `work` is an empty
/// directory for the mount points.
pub(crate) fn capture(device: &Path, work: &Path, dest: &Path) -> io::Result<()> {
    let inverse = UserNamespace::inverse()?;
    let disk_dir = work.join("disk");
    let shown = work.join("shown");
    std::fs::create_dir_all(&disk_dir)?;
    std::fs::create_dir_all(&shown)?;
    std::fs::create_dir(dest)?;
    let device_c = cstring(device)?;
    let disk_c = cstring(&disk_dir)?;
    let disk_root_c = cstring(&disk_dir)?;
    let shown_c = cstring(&shown)?;
    let userns = inverse.fd();
    // The home and /tmp first: a tree of the same name in `upper` (built
    // templates keep them as trees) merges over them.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(
            r#"set -e
for dir in home tmp; do
  if [ -d "$1/$dir" ]; then cp -a --sparse=always --no-target-directory "$1/$dir" "$2/$dir"; fi
done
if [ -d "$1/$3" ]; then cp -a --sparse=always --no-target-directory "$1/$3" "$2"; fi"#,
        )
        .arg("capture")
        .arg(&shown)
        .arg(dest)
        .arg(UPPER)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let hook = move || -> io::Result<()> {
        // SAFETY: plain system calls on NUL-terminated strings prepared
        // before the fork.
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
                device_c.as_ptr(),
                disk_c.as_ptr(),
                c"ext4".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            ))?;
            super::idmap::bind_idmapped(&disk_root_c, &shown_c, userns)?;
        }
        Ok(())
    };
    // SAFETY: the hook only makes async-signal-safe system calls.
    unsafe { cmd.pre_exec(hook) };
    let out = cmd.output()?;
    drop(inverse);
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(dest);
        return Err(io::Error::other(format!(
            "copying the sandbox's changes failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    // `cp` gave the layer's root the mode of `upper`; layers are read by
    // in-sandbox root only through their idmapped view.
    std::fs::set_permissions(dest, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    Ok(())
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
