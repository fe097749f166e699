//! An E2B-compatible sandbox server for one Linux machine.
//!
//! It serves, on one listener, what the E2B cloud serves: the control plane
//! (`/sandboxes`, `/v2/sandboxes`, `/snapshots`, `/templates`), envd for every
//! sandbox (Connect `process.Process` and `filesystem.Filesystem`, `/files`,
//! `/health`, `/metrics`, `/envs`) reached through the `E2b-Sandbox-Id` and
//! `E2b-Sandbox-Port` headers or the `<port>-<id>.<domain>` host, and any other
//! port inside a sandbox by proxy.
//!
//! Each sandbox is a bubblewrap-isolated process tree with private pid, ipc, uts
//! and mount namespaces (and a network namespace unless internet access is
//! allowed), a `user` account (uid 1000) with its home at `/home/user`, a
//! private `/tmp` and the host's `/usr` read-only. Inside runs an agent — this
//! same binary in `envd` mode — that owns processes, PTYs, files and watches and
//! talks to the server over a Unix socket.
//!
//! This is a development and test backend, not a security boundary equal to
//! E2B's Firecracker microVMs. Running sandboxes end when the server stops;
//! their metadata, snapshots and homes stay in the data directory.
//!
//! ```text
//! let server = e2b_local::Server::start(e2b_local::ServerOptions::default()).await?;
//! println!("E2B_API_URL={}", server.api_url());
//! println!("E2B_SANDBOX_URL={}", server.sandbox_url());
//! println!("E2B_API_KEY={}", server.api_key());
//! ```

pub mod agent;
pub mod cli;
pub mod logging;
