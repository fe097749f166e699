//! Acting as a request's user on the file system.
//!
//! The agent runs as the sandbox's root, but the files API and the
//! filesystem RPCs must touch files with the permissions of the user a
//! request names. Linux keeps a file-system uid and gid for every thread,
//! apart from the process's credentials: permission checks of path walks,
//! `open`, `mkdir`, `rename`, `unlink`, `inotify_add_watch`… use them, new
//! files belong to them, and while the file-system uid is not 0 the thread
//! has none of the file capabilities (`CAP_DAC_OVERRIDE`, `CAP_CHOWN`, …).
//! Supplementary groups are per thread too (the C library's `setgroups`
//! changes them for every thread; the raw system call only for the caller).
//!
//! [`FsUser::enter`] switches the calling thread to the user — supplementary
//! groups cleared, as for the user's processes — and the returned guard
//! switches it back when dropped. The guard cannot leave its thread, and it
//! must not be held across an `.await` (a task may continue on another
//! thread, and another task may run on this one): use [`FsUser::run`],
//! which runs a closure as the user on a blocking thread, or hold the guard
//! in synchronous code only. A thread started while the guard is held
//! inherits the user's identity for good: start none.
//!
//! Requests acting as root, and every request of an agent that is not root
//! itself (it cannot switch, and acts as itself), run without switching.

#![allow(unsafe_code)]

use std::io;
use std::marker::PhantomData;

/// Who file operations of a request act as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FsUser {
    /// `(uid, gid)` to switch to; `None` acts as the agent.
    ids: Option<(u32, u32)>,
}

/// The thread could not act as the user, or the work did not finish.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FsUserError {
    #[error("cannot act as uid {uid} on the file system: {source}")]
    Switch {
        uid: u32,
        #[source]
        source: io::Error,
    },
    #[error("file-system task failed: {0}")]
    Task(String),
}

impl FsUser {
    /// Act as the agent itself.
    pub(crate) const AGENT: FsUser = FsUser { ids: None };

    /// Act as `(uid, gid)`; uid 0 acts as the agent (root needs no switch).
    pub(crate) fn new(uid: u32, gid: u32) -> Self {
        FsUser {
            ids: (uid != 0).then_some((uid, gid)),
        }
    }

    /// Whether operations switch identity (the user is not the agent).
    pub(crate) fn switches(&self) -> bool {
        self.ids.is_some()
    }

    /// Switch the calling thread to the user until the guard is dropped.
    pub(crate) fn enter(&self) -> Result<FsUserGuard, FsUserError> {
        let Some((uid, gid)) = self.ids else {
            return Ok(FsUserGuard {
                saved: None,
                _thread: PhantomData,
            });
        };
        let switch = |source| FsUserError::Switch { uid, source };
        let groups = current_groups().map_err(switch)?;
        set_thread_groups(&[]).map_err(switch)?;
        let old_gid = match set_fsgid(gid) {
            Ok(old) => old,
            Err(e) => {
                restore_or_abort(set_thread_groups(&groups));
                return Err(switch(e));
            }
        };
        let old_uid = match set_fsuid(uid) {
            Ok(old) => old,
            Err(e) => {
                restore_or_abort(set_fsgid(old_gid).map(drop));
                restore_or_abort(set_thread_groups(&groups));
                return Err(switch(e));
            }
        };
        Ok(FsUserGuard {
            saved: Some(Saved {
                uid: old_uid,
                gid: old_gid,
                groups,
            }),
            _thread: PhantomData,
        })
    }

    /// Run `f` as the user on a blocking thread.
    pub(crate) async fn run<T, E>(
        self,
        f: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<FsUserError> + Send + 'static,
    {
        tokio::task::spawn_blocking(move || {
            let _guard = self.enter()?;
            f()
        })
        .await
        .map_err(|e| E::from(FsUserError::Task(e.to_string())))?
    }
}

/// The identity a thread had before [`FsUser::enter`].
#[derive(Debug)]
struct Saved {
    uid: u32,
    gid: u32,
    groups: Vec<libc::gid_t>,
}

/// The calling thread acts as a user until this is dropped.
#[derive(Debug)]
#[must_use = "the identity is restored when the guard is dropped"]
pub(crate) struct FsUserGuard {
    saved: Option<Saved>,
    /// Not `Send`: the identity belongs to the thread that switched.
    _thread: PhantomData<*const ()>,
}

impl Drop for FsUserGuard {
    fn drop(&mut self) {
        if let Some(saved) = self.saved.take() {
            // The order of `enter`, reversed: the uid first gives back the
            // capabilities needed to restore the rest.
            restore_or_abort(set_fsuid(saved.uid).map(drop));
            restore_or_abort(set_fsgid(saved.gid).map(drop));
            restore_or_abort(set_thread_groups(&saved.groups));
        }
    }
}

/// A thread that cannot get its identity back must not serve anything else.
fn restore_or_abort(result: io::Result<()>) {
    if let Err(e) = result {
        tracing::error!("cannot restore the agent's file-system identity: {e}");
        std::process::abort();
    }
}

/// Set the thread's file-system uid; the previous one.
fn set_fsuid(uid: u32) -> io::Result<u32> {
    // SAFETY: setfsuid only changes the calling thread's credentials.
    // It reports no error: it returns the previous value either way, and a
    // second call with an invalid id (-1) changes nothing and tells the
    // current one.
    let (old, now) = unsafe { (libc::setfsuid(uid), libc::setfsuid(u32::MAX)) };
    if now as u32 == uid {
        Ok(old as u32)
    } else {
        Err(io::Error::from_raw_os_error(libc::EPERM))
    }
}

/// Set the thread's file-system gid; the previous one.
fn set_fsgid(gid: u32) -> io::Result<u32> {
    // SAFETY: as for setfsuid.
    let (old, now) = unsafe { (libc::setfsgid(gid), libc::setfsgid(u32::MAX)) };
    if now as u32 == gid {
        Ok(old as u32)
    } else {
        Err(io::Error::from_raw_os_error(libc::EPERM))
    }
}

/// The calling thread's supplementary groups.
fn current_groups() -> io::Result<Vec<libc::gid_t>> {
    loop {
        // SAFETY: with a size of 0 getgroups only counts the groups.
        let count = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
        let Ok(len) = usize::try_from(count) else {
            return Err(io::Error::last_os_error());
        };
        let mut groups: Vec<libc::gid_t> = vec![0; len];
        // SAFETY: `groups` has room for `count` entries.
        let got = unsafe { libc::getgroups(count, groups.as_mut_ptr()) };
        match usize::try_from(got) {
            Ok(n) => {
                groups.truncate(n);
                return Ok(groups);
            }
            // The list grew in between: count again.
            Err(_) if io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) => {}
            Err(_) => return Err(io::Error::last_os_error()),
        }
    }
}

/// `setgroups` with 32-bit group ids, for the calling thread only.
#[cfg(any(target_arch = "x86", target_arch = "arm"))]
const SYS_SETGROUPS: libc::c_long = libc::SYS_setgroups32;
#[cfg(not(any(target_arch = "x86", target_arch = "arm")))]
const SYS_SETGROUPS: libc::c_long = libc::SYS_setgroups;

/// Replace the calling thread's supplementary groups (the raw system call:
/// the C library's wrapper would change every thread of the process).
fn set_thread_groups(groups: &[libc::gid_t]) -> io::Result<()> {
    let ptr = if groups.is_empty() {
        std::ptr::null()
    } else {
        groups.as_ptr()
    };
    // SAFETY: the kernel reads `groups.len()` ids from `ptr`, which points
    // into `groups` (or is unused for an empty list).
    let rc = unsafe { libc::syscall(SYS_SETGROUPS, groups.len(), ptr) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn is_root() -> bool {
        rustix::process::geteuid().is_root()
    }

    #[test]
    fn root_and_the_agent_do_not_switch() {
        assert!(!FsUser::new(0, 0).switches());
        assert!(!FsUser::AGENT.switches());
        assert!(FsUser::new(1000, 1000).switches());
        // Entering without a switch changes nothing, even unprivileged.
        let guard = FsUser::new(0, 5).enter().unwrap();
        drop(guard);
    }

    #[test]
    fn acts_as_the_user_on_this_thread_only() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let locked = dir.path().join("locked");
        std::fs::write(&locked, b"secret").unwrap();
        std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let open = dir.path().to_path_buf();
        std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        let groups_before = current_groups().unwrap();

        // The two threads meet while one acts as the user; neither panics
        // before both have passed the barriers.
        let switched = std::sync::Barrier::new(2);
        let checked = std::sync::Barrier::new(2);
        let mine = open.join("mine");
        let (as_user, meanwhile) = std::thread::scope(|s| {
            let user = s.spawn(|| {
                let guard = FsUser::new(1000, 1000).enter();
                switched.wait();
                let read = std::fs::read(&locked).map_err(|e| e.kind());
                let wrote = std::fs::write(&mine, b"x").map_err(|e| e.kind());
                let groups = current_groups().ok();
                checked.wait();
                let entered = guard.is_ok();
                drop(guard);
                let read_after = std::fs::read(&locked).ok();
                let groups_after = current_groups().ok();
                (entered, read, wrote, groups, read_after, groups_after)
            });
            switched.wait();
            let meanwhile = (std::fs::read(&locked).ok(), current_groups().ok());
            checked.wait();
            (user.join().unwrap(), meanwhile)
        });
        let (entered, read, wrote, groups, read_after, groups_after) = as_user;
        assert!(entered);
        assert_eq!(read, Err(io::ErrorKind::PermissionDenied));
        assert_eq!(wrote, Ok(()));
        let meta = std::fs::metadata(&mine).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (1000, 1000));
        assert_eq!(groups, Some(vec![]));
        // Back to the agent's identity afterwards.
        assert_eq!(read_after.as_deref(), Some(&b"secret"[..]));
        assert_eq!(groups_after.as_ref(), Some(&groups_before));
        // The other thread kept the agent's identity meanwhile.
        assert_eq!(
            meanwhile,
            (Some(b"secret".to_vec()), Some(groups_before.clone()))
        );
    }
}
