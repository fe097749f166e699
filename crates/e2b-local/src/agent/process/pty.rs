//! Pseudo-terminals for interactive processes.
//!
//! The agent keeps the master side; the child gets the slave side as its
//! stdin, stdout and stderr, in a new session whose controlling terminal it
//! is. This is the only place in the agent with `unsafe` code: the hook that
//! runs in the forked child before `exec`, and registering the master with
//! the reactor.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{Mode, OFlags};
use rustix::pty::OpenptFlags;
use rustix::termios::Winsize;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// A terminal size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Size {
    pub(crate) cols: u16,
    pub(crate) rows: u16,
}

impl Size {
    fn winsize(self) -> Winsize {
        Winsize {
            ws_row: self.rows,
            ws_col: self.cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        }
    }
}

/// Open a new pseudo-terminal of `size`: `(master, slave)`, both close-on-exec.
/// When `owner` is given the slave device is handed to that uid, as a login
/// would.
pub(crate) fn open(size: Size, owner: Option<u32>) -> io::Result<(OwnedFd, OwnedFd)> {
    let master =
        rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    rustix::pty::grantpt(&master)?;
    rustix::pty::unlockpt(&master)?;
    let name = rustix::pty::ptsname(&master, Vec::new())?;
    let slave = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    rustix::termios::tcsetwinsize(&master, size.winsize())?;
    if let Some(uid) = owner {
        std::os::unix::fs::fchown(&slave, Some(uid), None)?;
    }
    Ok((master, slave))
}

/// Make the child a session leader whose controlling terminal is its stdin
/// (the slave side, already in place when the hook runs).
pub(crate) fn make_controlling_terminal(command: &mut tokio::process::Command) {
    // SAFETY: the closure runs in the forked child between `fork` and `exec`,
    // where only async-signal-safe operations are allowed. It makes exactly
    // two system calls (`setsid`, `ioctl(TIOCSCTTY)`), captures nothing,
    // does not allocate (rustix errors convert to `io::Error` without
    // allocating) and touches no locks.
    unsafe {
        command.pre_exec(|| {
            rustix::process::setsid()?;
            // SAFETY: descriptor 0 is open: the spawner has just made it the
            // terminal's slave side.
            let stdin = BorrowedFd::borrow_raw(0);
            rustix::process::ioctl_tiocsctty(stdin)?;
            Ok(())
        });
    }
}

/// The agent's end of a terminal, readable and writable asynchronously.
#[derive(Debug)]
pub(crate) struct Master {
    fd: AsyncFd<OwnedFd>,
}

impl Master {
    pub(crate) fn new(fd: OwnedFd) -> io::Result<Self> {
        rustix::io::ioctl_fionbio(&fd, true)?;
        // SAFETY: `fd` is an `OwnedFd` moved into the `AsyncFd`: it stays open
        // and is the same descriptor until the `AsyncFd` is dropped, and
        // `as_raw_fd` always returns it.
        let fd = unsafe { AsyncFd::register(fd) }?;
        Ok(Master { fd })
    }

    /// Read output; `Ok(0)` once no process has the terminal open any more
    /// (Linux reports that as `EIO`).
    pub(crate) async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let result = self
            .fd
            .async_io(Interest::READABLE, |fd| {
                rustix::io::read(fd, &mut *buf).map_err(io::Error::from)
            })
            .await;
        match result {
            Err(e) if e.raw_os_error() == Some(libc::EIO) => Ok(0),
            other => other,
        }
    }

    /// Write all of `data` as terminal input.
    pub(crate) async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = self
                .fd
                .async_io(Interest::WRITABLE, |fd| {
                    rustix::io::write(fd, data).map_err(io::Error::from)
                })
                .await?;
            data = &data[n..];
        }
        Ok(())
    }

    /// Change the terminal size (the foreground process gets `SIGWINCH`).
    pub(crate) fn resize(&self, size: Size) -> io::Result<()> {
        rustix::termios::tcsetwinsize(self.fd.get_ref().as_fd(), size.winsize())?;
        Ok(())
    }
}
