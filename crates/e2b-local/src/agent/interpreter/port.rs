//! Port 49999 inside the sandbox, held by a supervised process of its own.
//!
//! Code in the sandbox finds the interpreter's port the way it would in an
//! E2B sandbox: a process listens on it, and root may kill that process. The
//! listening socket therefore belongs to a small relay process (`e2b-local
//! interpreter-port`, started from the agent's own executable), not to the
//! agent: the relay accepts connections and passes each one to the agent
//! over a Unix socket pair (`SCM_RIGHTS`), and the agent serves them. When
//! the relay dies, the agent starts a new one; the contexts and their
//! kernels live in the agent and outlast it.
//!
//! Protocol on the pair, relay to agent: one byte `b'L'` once the port is
//! bound, then one byte `b'C'` carrying each accepted connection.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::Interest;
use tokio::net::{TcpStream, UnixStream};
use tokio::process::{Child, Command};

use super::PORT;

/// The subcommand of `e2b-local` that runs the relay.
pub const RELAY_SUBCOMMAND: &str = "interpreter-port";

const LISTENING: u8 = b'L';
const CONNECTION: u8 = b'C';
/// How long the relay may take to bind the port.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Restart delays after a relay ends: the first restart is immediate, then
/// the delay doubles up to the last value, and resets once a relay has
/// passed on a connection.
const BACKOFF: [Duration; 5] = [
    Duration::ZERO,
    Duration::from_millis(100),
    Duration::from_millis(400),
    Duration::from_secs(1),
    Duration::from_secs(3),
];

fn address() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, PORT))
}

/// The agent's side: an [`axum::serve::Listener`] whose connections come
/// from the relay, which it starts and restarts.
pub(crate) struct RelayListener {
    relay: Option<Relay>,
    failures: usize,
}

struct Relay {
    child: Child,
    channel: UnixStream,
}

impl RelayListener {
    /// Start the relay and wait until it listens.
    pub(crate) async fn start() -> io::Result<RelayListener> {
        let relay = Relay::start().await?;
        Ok(RelayListener {
            relay: Some(relay),
            failures: 0,
        })
    }
}

impl Relay {
    async fn start() -> io::Result<Relay> {
        let (ours, theirs) = StdUnixStream::pair()?;
        ours.set_nonblocking(true)?;
        let child = Command::new("/proc/self/exe")
            .arg(RELAY_SUBCOMMAND)
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let mut relay = Relay {
            child,
            channel: UnixStream::from_std(ours)?,
        };
        match tokio::time::timeout(START_TIMEOUT, relay.receive()).await {
            Ok(Ok((LISTENING, None))) => Ok(relay),
            Ok(Ok(_)) => Err(io::Error::other("the relay spoke out of turn")),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::other(format!(
                "the relay did not bind port {PORT} within {START_TIMEOUT:?}"
            ))),
        }
    }

    /// The next message: its byte and the descriptor it carries. End of
    /// stream (the relay exited) is an error.
    async fn receive(&mut self) -> io::Result<(u8, Option<OwnedFd>)> {
        loop {
            self.channel.readable().await?;
            match self
                .channel
                .try_io(Interest::READABLE, || receive_one(&self.channel))
            {
                Ok(message) => return message,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Stop the relay (if it still runs) and reap it.
    async fn end(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// One message from a non-blocking socket.
fn receive_one(socket: &UnixStream) -> io::Result<io::Result<(u8, Option<OwnedFd>)>> {
    match crate::agent::fd_passing::receive(socket)? {
        // More than one descriptor is a broken relay; keep the first.
        Some((byte, fds)) => Ok(Ok((byte, fds.into_iter().next()))),
        None => Ok(Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the relay exited",
        ))),
    }
}

impl axum::serve::Listener for RelayListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let Some(relay) = self.relay.as_mut() else {
                let delay = BACKOFF[self.failures.min(BACKOFF.len() - 1)];
                tokio::time::sleep(delay).await;
                self.failures += 1;
                match Relay::start().await {
                    Ok(relay) => self.relay = Some(relay),
                    Err(e) => tracing::warn!("restarting the port-{PORT} relay failed: {e}"),
                }
                continue;
            };
            match relay.receive().await {
                Ok((CONNECTION, Some(fd))) => match into_tcp(fd) {
                    Ok(stream) => {
                        self.failures = 0;
                        let peer = stream.peer_addr().unwrap_or_else(|_| address());
                        return (stream, peer);
                    }
                    Err(e) => tracing::debug!("a relayed connection was unusable: {e}"),
                },
                Ok(_) => tracing::debug!("ignored a malformed message from the relay"),
                Err(e) => {
                    tracing::warn!("the port-{PORT} relay ended ({e}); starting another");
                    if let Some(relay) = self.relay.take() {
                        relay.end().await;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(address())
    }
}

fn into_tcp(fd: OwnedFd) -> io::Result<TcpStream> {
    let stream = std::net::TcpStream::from(fd);
    stream.set_nonblocking(true)?;
    TcpStream::from_std(stream)
}

/// The relay's side (`e2b-local interpreter-port`): the socket pair to the
/// agent is standard input. Binds the port, says so, then passes on every
/// connection until the agent goes away.
pub fn relay_main() -> anyhow::Result<()> {
    use anyhow::Context as _;
    // The relay has no use once its agent is gone.
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .context("asking to end with the agent")?;
    let channel = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .context("taking the channel to the agent")?;
    let listener = TcpListener::bind(address()).with_context(|| format!("binding port {PORT}"))?;
    send(&channel, LISTENING, None).context("telling the agent")?;
    loop {
        let (connection, _) = match listener.accept() {
            Ok(accepted) => accepted,
            // A client that gave up before it was accepted.
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) => return Err(e).context("accepting a connection"),
        };
        send(&channel, CONNECTION, Some(connection.as_fd()))
            .context("passing a connection to the agent")?;
    }
}

fn send(channel: &OwnedFd, byte: u8, fd: Option<std::os::fd::BorrowedFd<'_>>) -> io::Result<()> {
    let fds: Vec<_> = fd.into_iter().collect();
    crate::agent::fd_passing::send(channel, byte, &fds)
}
