//! Descriptors handed to a child process at fixed numbers.
//!
//! bubblewrap reads its arguments, seccomp programs and the agent's listening
//! socket and configuration from inherited descriptors, so that nothing the
//! sandbox can see or write (a path, a command line) carries them.

#![allow(unsafe_code)]

use std::fs::File;
use std::io::{self, Seek as _, Write as _};
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd, RawFd};

/// Descriptors to install in a child, each at its chosen number.
#[derive(Debug, Default)]
pub(crate) struct ChildFds {
    fds: Vec<(OwnedFd, RawFd)>,
    next: RawFd,
}

/// The first number handed out (0–2 are the standard streams).
const FIRST: RawFd = 3;

impl ChildFds {
    /// An empty set.
    pub(crate) fn new() -> Self {
        Self {
            fds: Vec::new(),
            next: FIRST,
        }
    }

    /// Hand `fd` to the child; returns the number it will have there.
    pub(crate) fn add(&mut self, fd: OwnedFd) -> RawFd {
        let target = self.next;
        self.next += 1;
        self.fds.push((fd, target));
        target
    }

    /// A `pre_exec` hook installing every descriptor at its number (without
    /// close-on-exec). It only makes async-signal-safe system calls.
    ///
    /// The descriptors stay owned by `self`: keep it alive until the child
    /// has been spawned, then drop it to close the parent's copies.
    pub(crate) fn install_hook(&self) -> impl FnMut() -> io::Result<()> + Send + Sync + 'static {
        let pairs: Vec<(RawFd, RawFd)> = self
            .fds
            .iter()
            .map(|(fd, target)| (fd.as_raw_fd(), *target))
            .collect();
        // Sources are first moved above every target, so that installing
        // one never overwrites another's source.
        let high = pairs
            .iter()
            .flat_map(|&(a, b)| [a, b])
            .max()
            .unwrap_or(FIRST)
            + 1;
        move || {
            let mut moved = Vec::with_capacity(pairs.len());
            for &(source, target) in &pairs {
                // SAFETY: duplicating a descriptor this process owns.
                let copy = unsafe { libc::fcntl(source, libc::F_DUPFD_CLOEXEC, high) };
                if copy < 0 {
                    return Err(io::Error::last_os_error());
                }
                moved.push((copy, target));
            }
            for (copy, target) in moved {
                // SAFETY: dup2 onto a number reserved for this descriptor;
                // the new descriptor does not have close-on-exec.
                if unsafe { libc::dup2(copy, target) } < 0 {
                    return Err(io::Error::last_os_error());
                }
                // SAFETY: closing our own temporary copy.
                unsafe { libc::close(copy) };
            }
            Ok(())
        }
    }
}

/// A fresh pipe as (read end, write end), both close-on-exec.
pub(crate) fn pipe() -> io::Result<(File, File)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors are fresh and owned by nobody else.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

/// An anonymous in-memory file holding `bytes`, positioned at its start
/// (read by the child to its end; any size).
pub(crate) fn file_with(bytes: &[u8]) -> io::Result<OwnedFd> {
    let fd = rustix::fs::memfd_create("e2b-local", rustix::fs::MemfdFlags::CLOEXEC)?;
    let mut file = File::from(fd);
    file.write_all(bytes)?;
    file.rewind()?;
    Ok(OwnedFd::from(file))
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;
    use std::os::unix::process::CommandExt as _;

    use super::*;

    #[test]
    fn a_child_reads_its_descriptors_at_their_numbers() {
        let mut fds = ChildFds::new();
        let a = fds.add(file_with(b"first").unwrap());
        let b = fds.add(file_with(b"second").unwrap());
        assert_eq!((a, b), (3, 4));
        let hook = fds.install_hook();
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", "cat <&3; echo; cat <&4"]);
        // SAFETY: the hook only makes async-signal-safe calls.
        unsafe { cmd.pre_exec(hook) };
        let out = cmd.output().unwrap();
        drop(fds);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "first\nsecond");
    }

    #[test]
    fn files_carry_their_bytes() {
        let rx = file_with(b"hello").unwrap();
        let mut s = String::new();
        File::from(rx).read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
    }
}
