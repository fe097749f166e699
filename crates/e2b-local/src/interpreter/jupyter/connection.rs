//! Kernel connection files: five sockets (TCP ports on loopback, or Unix
//! sockets through ZMQ's `ipc` transport) and the signing key.

use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;

use serde::Serialize;

/// The contents of a kernel's `-f` connection file.
#[derive(Clone, Debug, Serialize)]
pub struct ConnectionInfo {
    /// `tcp` or `ipc`.
    pub transport: &'static str,
    /// Loopback for `tcp`; for `ipc` the path prefix of the socket files
    /// (`<ip>-<port>`).
    pub ip: String,
    /// ROUTER: requests and replies.
    pub shell_port: u16,
    /// PUB: outputs and status.
    pub iopub_port: u16,
    /// ROUTER: input requests.
    pub stdin_port: u16,
    /// ROUTER: interrupt and shutdown.
    pub control_port: u16,
    /// REP: heartbeat.
    pub hb_port: u16,
    /// What joins an `ipc` prefix and a port into a socket path: `-` for
    /// ipykernel and jupyter_client, `:` for kernels that build endpoints as
    /// `<transport>://<ip>:<port>` whatever the transport (tslab).
    #[serde(skip)]
    pub ipc_separator: char,
    /// The HMAC key (hex).
    #[serde(skip_serializing_if = "str::is_empty")]
    pub key: String,
    /// Always `hmac-sha256`.
    pub signature_scheme: &'static str,
}

impl ConnectionInfo {
    /// Five free loopback ports (held together while chosen) and a fresh random key.
    pub fn allocate() -> io::Result<Self> {
        let listeners = (0..5)
            .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
            .collect::<io::Result<Vec<_>>>()?;
        let ports = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<io::Result<Vec<_>>>()?;
        let key = crate::ids::hex(&crate::ids::random_bytes(32)?);
        Ok(Self {
            transport: "tcp",
            ip: Ipv4Addr::LOCALHOST.to_string(),
            shell_port: ports[0],
            iopub_port: ports[1],
            stdin_port: ports[2],
            control_port: ports[3],
            hb_port: ports[4],
            ipc_separator: '-',
            key,
            signature_scheme: "hmac-sha256",
        })
    }

    /// Unix sockets at `<prefix>-1` … `<prefix>-5` (no TCP port is taken, so
    /// kernels of sandboxes sharing the host network never collide) and a
    /// fresh random key.
    pub fn ipc(prefix: &Path) -> io::Result<Self> {
        let key = crate::ids::hex(&crate::ids::random_bytes(32)?);
        Ok(Self {
            transport: "ipc",
            ip: prefix.to_string_lossy().into_owned(),
            shell_port: 1,
            iopub_port: 2,
            stdin_port: 3,
            control_port: 4,
            hb_port: 5,
            ipc_separator: '-',
            key,
            signature_scheme: "hmac-sha256",
        })
    }

    /// Write the connection file (mode 0600: the key signs code execution).
    pub fn write(&self, path: &Path) -> io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        file.write_all(&json)
    }

    /// `tcp://127.0.0.1:<port>` or `ipc://<prefix>-<port>`.
    pub fn endpoint(&self, port: u16) -> String {
        match self.transport {
            "ipc" => format!("ipc://{}{}{port}", self.ip, self.ipc_separator),
            transport => format!("{transport}://{}:{port}", self.ip),
        }
    }

    /// The socket files of an `ipc` connection (none for `tcp`).
    pub fn socket_files(&self) -> Vec<std::path::PathBuf> {
        if self.transport != "ipc" {
            return Vec::new();
        }
        [
            self.shell_port,
            self.iopub_port,
            self.stdin_port,
            self.control_port,
            self.hb_port,
        ]
        .iter()
        .map(|port| format!("{}{}{port}", self.ip, self.ipc_separator).into())
        .collect()
    }
}
