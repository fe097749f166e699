//! Internet access for sandboxes that have it: a user-mode network.
//!
//! Every sandbox has its own network namespace. Without internet access it
//! holds only loopback. With it, `slirp4netns` (Debian package
//! `slirp4netns`) gives the namespace a `tap0` interface (10.0.2.100/24,
//! gateway 10.0.2.2, DNS 10.0.2.3) and carries its traffic out through
//! ordinary sockets of the host. `--disable-host-loopback` refuses
//! connections to the host's loopback (where the server and the other local
//! services listen); other sandboxes have no address the host can route to,
//! so they are unreachable too. Services the host exposes on its other
//! addresses are reachable as from any machine on the network.
//!
//! One slirp4netns process serves one sandbox and ends with it: when the
//! sandbox's processes are killed, or when the server goes away (its exit
//! descriptor closes).

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt as _;
use tokio::process::{Child, Command};

use super::child_fds::{ChildFds, pipe};
use super::spawner::Spawner;

/// Where slirp4netns lives, if it is installed and can work for this user;
/// otherwise why sandboxes cannot have internet access.
pub(crate) fn find_slirp4netns() -> Result<PathBuf, String> {
    let path = crate::edge::server::find_in_path("slirp4netns")
        .ok_or_else(|| "slirp4netns is not installed (apt-get install slirp4netns)".to_owned())?;
    // It opens the TUN device inside the sandbox's namespaces as this user.
    rustix::fs::access(
        "/dev/net/tun",
        rustix::fs::Access::READ_OK | rustix::fs::Access::WRITE_OK,
    )
    .map_err(|e| format!("/dev/net/tun cannot be opened by this user ({e})"))?;
    Ok(path)
}

/// The user namespace owning the network namespace of process `pid`
/// (`ioctl(NS_GET_USERNS)`).
#[allow(unsafe_code)]
fn net_namespace_owner(pid: u32) -> io::Result<OwnedFd> {
    use std::os::fd::{AsRawFd as _, FromRawFd as _};
    /// `_IO(0xb7, 0x1)`.
    const NS_GET_USERNS: libc::c_ulong = 0xb701;
    let net = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
    // SAFETY: an ioctl on a descriptor we own; on success it returns a new
    // descriptor, owned from here on.
    let fd = unsafe { libc::ioctl(net.as_raw_fd(), NS_GET_USERNS) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned to us and is not owned elsewhere.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Why a sandbox's network could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NetworkError {
    /// The host lacks the user-mode network (the reason).
    #[error(
        "this server cannot give sandboxes internet access: {0}; \
         create the sandbox without internet access"
    )]
    Unavailable(String),
    /// slirp4netns failed.
    #[error("could not connect the sandbox's network (slirp4netns): {0}")]
    Failed(String),
}

/// A running user-mode network of one sandbox.
#[derive(Debug)]
pub(crate) struct UserNet {
    child: Child,
    /// Closing it (dropping) tells slirp4netns to exit.
    _exit: OwnedFd,
}

impl UserNet {
    /// Connect the network namespace of `pid` (a process inside the sandbox,
    /// seen from the host) to the internet; resolves once the interface is up.
    ///
    /// `own_user_namespace`: the sandbox's namespaces belong to a user
    /// namespace slirp4netns must join first (unprivileged server).
    #[allow(unsafe_code)]
    pub(crate) async fn start(
        spawner: &Spawner,
        slirp: &Path,
        pid: u32,
        own_user_namespace: bool,
        timeout: Duration,
    ) -> Result<Self, NetworkError> {
        let failed = |e: io::Error| NetworkError::Failed(e.to_string());
        let (ready_rx, ready_tx) = pipe().map_err(failed)?;
        let (exit_rx, exit_tx) = pipe().map_err(failed)?;
        let mut fds = ChildFds::new();
        let ready_fd = fds.add(OwnedFd::from(ready_tx));
        let exit_fd = fds.add(OwnedFd::from(exit_rx));
        let mut cmd = Command::new(slirp);
        cmd.args([
            "--configure",
            "--mtu=65520",
            "--disable-host-loopback",
            "--enable-seccomp",
        ])
        .arg(format!("--ready-fd={ready_fd}"))
        .arg(format!("--exit-fd={exit_fd}"));
        if own_user_namespace {
            // The namespace that owns the sandbox's network namespace: the
            // process's own may be one nested in it (bubblewrap maps `user`
            // in a second namespace), whose capabilities do not reach it.
            match net_namespace_owner(pid) {
                Ok(owner) => {
                    let n = fds.add(owner);
                    cmd.arg(format!("--userns-path=/proc/self/fd/{n}"));
                }
                Err(_) => {
                    cmd.arg(format!("--userns-path=/proc/{pid}/ns/user"));
                }
            }
        }
        cmd.arg(pid.to_string())
            .arg("tap0")
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let install = fds.install_hook();
        // SAFETY: the hook only makes async-signal-safe calls.
        unsafe { cmd.pre_exec(install) };
        let mut child = spawner.spawn(cmd).await.map_err(failed)?;
        drop(fds);
        let mut ready = tokio::fs::File::from_std(ready_rx);
        let mut byte = [0u8; 1];
        let outcome = tokio::time::timeout(timeout, ready.read(&mut byte)).await;
        match outcome {
            Ok(Ok(1)) if byte[0] == b'1' => Ok(Self {
                child,
                _exit: OwnedFd::from(exit_tx),
            }),
            Ok(_) => {
                let _ = child.start_kill();
                let mut stderr = String::new();
                if let Some(mut err) = child.stderr.take() {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(1),
                        err.read_to_string(&mut stderr),
                    )
                    .await;
                }
                let _ = child.wait().await;
                Err(NetworkError::Failed(if stderr.trim().is_empty() {
                    "slirp4netns exited before the network was up".to_owned()
                } else {
                    stderr.trim().to_owned()
                }))
            }
            Err(_) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                Err(NetworkError::Failed(format!(
                    "the network was not up within {timeout:?}"
                )))
            }
        }
    }

    /// Stop the network (the sandbox is gone or going).
    pub(crate) async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}
