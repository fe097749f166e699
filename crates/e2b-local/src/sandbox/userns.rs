//! The user namespace sandboxes run in when the server is root.
//!
//! In-sandbox root must have capabilities only inside the sandbox, never in
//! the host's namespaces, so a root server still puts every sandbox in a user
//! namespace. Ids `0..65536` inside map to an unprivileged host range
//! ([`HOST_ID_BASE`]..): in-sandbox root is host uid 1 000 000 000, `user`
//! (1000) is host uid 1 000 001 000. Host files owned by ids outside the range
//! (the host's `/usr`, `/etc`) show as `nobody` inside and are out of reach of
//! in-sandbox root's capabilities, which only apply to ids of its own
//! namespace.
//!
//! The namespace is made once per server (a short-lived child unshares it, the
//! server writes its id maps and keeps a handle to it), and every sandbox's
//! `bwrap` joins it before it starts. Sandboxes sharing it share the id
//! mapping only: each has its own pid, mount, network, IPC and UTS
//! namespaces, so they cannot see or signal one another.

#![allow(unsafe_code)]

use std::fs::File;
use std::io::{self, Read as _};
use std::os::fd::{AsRawFd as _, OwnedFd, RawFd};

use super::child_fds::pipe;

/// First host id of the range sandbox ids map to.
pub(crate) const HOST_ID_BASE: u32 = 1_000_000_000;
/// How many ids the range covers (all of `0..65536` inside, `nobody` included).
pub(crate) const ID_COUNT: u32 = 65_536;

/// The subordinate id ranges of an unprivileged server's user, and the
/// helpers that map them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SubordinateIds {
    /// First subordinate uid (`ID_COUNT` of them).
    pub(crate) sub_uid: u32,
    /// First subordinate gid (`ID_COUNT` of them).
    pub(crate) sub_gid: u32,
    pub(crate) newuidmap: std::path::PathBuf,
    pub(crate) newgidmap: std::path::PathBuf,
}

/// A user namespace whose ids `0..ID_COUNT` map to `HOST_ID_BASE..`.
#[derive(Debug)]
pub(crate) struct UserNamespace {
    handle: OwnedFd,
}

impl UserNamespace {
    /// Create the namespace (needs root: writing a map of other ids needs
    /// `CAP_SETUID`/`CAP_SETGID` in the host's namespace).
    pub(crate) fn create() -> io::Result<Self> {
        Self::with_map(&format!("0 {HOST_ID_BASE} {ID_COUNT}\n"))
    }

    /// A namespace mapping the host range back onto ids `0..ID_COUNT`: as
    /// the map of an idmapped mount, it shows a sandbox's files with the
    /// owners they have inside (needs root).
    pub(crate) fn inverse() -> io::Result<Self> {
        Self::with_map(&format!("{HOST_ID_BASE} 0 {ID_COUNT}\n"))
    }

    /// A namespace with the uid and gid map `map`.
    fn with_map(map: &str) -> io::Result<Self> {
        Self::made_with(|pid| {
            std::fs::write(format!("/proc/{pid}/uid_map"), map)?;
            std::fs::write(format!("/proc/{pid}/gid_map"), map)
        })
    }

    /// A namespace of an unprivileged server (see
    /// [`rootless`](super::rootless)): its root is the server's own user and
    /// group, ids `1..=ID_COUNT` the subordinate ranges starting at
    /// `sub_uid` and `sub_gid`. The maps are written by the set-id helpers
    /// `newuidmap` and `newgidmap`, which check the ranges against
    /// `/etc/subuid` and `/etc/subgid`.
    pub(crate) fn subordinate(ids: &SubordinateIds) -> io::Result<Self> {
        Self::made_with(|pid| {
            for (helper, own, sub) in [
                (
                    &ids.newuidmap,
                    rustix::process::getuid().as_raw(),
                    ids.sub_uid,
                ),
                (
                    &ids.newgidmap,
                    rustix::process::getgid().as_raw(),
                    ids.sub_gid,
                ),
            ] {
                let out = std::process::Command::new(helper)
                    .args([pid.to_string(), "0".into(), own.to_string(), "1".into()])
                    .args(["1".into(), sub.to_string(), ID_COUNT.to_string()])
                    .stdin(std::process::Stdio::null())
                    .output()?;
                if !out.status.success() {
                    return Err(io::Error::other(format!(
                        "{} failed: {}",
                        helper.display(),
                        String::from_utf8_lossy(&out.stderr).trim()
                    )));
                }
            }
            Ok(())
        })
    }

    /// A namespace whose maps `write_maps` writes for the pid of a child
    /// that made it.
    fn made_with(write_maps: impl FnOnce(i32) -> io::Result<()>) -> io::Result<Self> {
        let (mut ready_rx, ready_tx) = pipe()?;
        let keep = ready_tx.as_raw_fd() as libc::c_uint;
        // SAFETY: the child only makes async-signal-safe calls (close_range,
        // unshare, write, pause, _exit) and never returns into Rust code.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: see above.
            unsafe {
                // Hold no descriptor but the one it reports on, so no other
                // pipe of this process waits on this child to close it.
                libc::syscall(libc::SYS_close_range, 3u32, keep - 1, 0u32);
                libc::syscall(libc::SYS_close_range, keep + 1, u32::MAX, 0u32);
                let ok = libc::unshare(libc::CLONE_NEWUSER) == 0;
                let byte = [u8::from(ok)];
                libc::write(keep as libc::c_int, byte.as_ptr().cast(), 1);
                // Wait to be killed once the parent holds the namespace.
                loop {
                    libc::pause();
                }
            }
        }
        drop(ready_tx);
        let result = (|| {
            let mut byte = [0u8; 1];
            ready_rx.read_exact(&mut byte)?;
            if byte[0] != 1 {
                return Err(io::Error::other(
                    "unshare(CLONE_NEWUSER) failed: user namespaces are disabled on this host",
                ));
            }
            write_maps(pid)?;
            let ns = File::open(format!("/proc/{pid}/ns/user"))?;
            Ok(OwnedFd::from(ns))
        })();
        let mut status = 0;
        // SAFETY: ending and reaping our own child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, &mut status, 0);
        }
        Ok(Self { handle: result? })
    }

    /// The namespace's descriptor (for idmapped mounts).
    pub(crate) fn fd(&self) -> RawFd {
        self.handle.as_raw_fd()
    }

    /// The host id of an id inside.
    pub(crate) fn host_id(inside: u32) -> u32 {
        HOST_ID_BASE + inside
    }

    /// A `pre_exec` hook that moves the child into the namespace as its root.
    ///
    /// The returned closure only makes async-signal-safe system calls.
    pub(crate) fn enter_hook(&self) -> impl FnMut() -> io::Result<()> + Send + Sync + 'static {
        let fd: RawFd = self.handle.as_raw_fd();
        move || {
            // SAFETY: plain system calls on a descriptor this process owns;
            // run in the forked child before exec.
            unsafe {
                if libc::setns(fd, libc::CLONE_NEWUSER) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::setresgid(0, 0, 0) != 0
                    || libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setresuid(0, 0, 0) != 0
                {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_creates_a_mapped_namespace() {
        if !rustix::process::geteuid().is_root() {
            // Creating a multi-id map is root's privilege; the unprivileged
            // refusal is what `create` must report.
            assert!(UserNamespace::create().is_err());
            return;
        }
        let ns = UserNamespace::create().unwrap();
        let hook = ns.enter_hook();
        let out = unsafe {
            use std::os::unix::process::CommandExt as _;
            std::process::Command::new("cat")
                .arg("/proc/self/uid_map")
                .pre_exec(hook)
                .output()
                .unwrap()
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let fields: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(fields, ["0", "1000000000", "65536"], "{text}");
        assert_eq!(UserNamespace::host_id(1000), 1_000_001_000);
    }
}
