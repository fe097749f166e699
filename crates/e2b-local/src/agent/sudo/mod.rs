//! `sudo` inside sandboxes, served by the agent.
//!
//! E2B's sandboxes let `user` run anything as root with `sudo` and no
//! password. A set-user-id `sudo` cannot work here: bubblewrap starts every
//! sandbox with `no_new_privs`, so no program gains privileges by being
//! executed. Instead `/usr/bin/sudo` is the agent's own executable: run
//! under that name it is a client that hands its command line, environment,
//! working directory and standard descriptors to the agent (which is
//! in-sandbox root) over a Unix socket, and the agent starts the command as
//! the target user with those descriptors. The caller is identified by the
//! kernel (`SO_PEERCRED`), never by what it says: root, `user` and members
//! of group `sudo` may use it, as E2B's image allows.
//!
//! The client forwards the signals a terminal or a supervisor sends it
//! (`SIGINT`, `SIGTERM`, `SIGHUP`, `SIGQUIT`, `SIGUSR1`, `SIGUSR2`) to the
//! command's process group and exits with the command's status (128 + the
//! signal number when a signal ended it). When the client goes away first,
//! the command gets `SIGHUP`, as on a terminal hang-up.
//!
//! Protocol, client to agent: one byte `R` carrying descriptors 0, 1 and 2,
//! then the [`Request`] as one JSON line, then any number of
//! `{"signal":N}` lines. Agent to client: one [`Reply`] JSON line.

pub(crate) mod accounts;
mod args;
pub(crate) mod client;
pub(crate) mod server;

use serde::{Deserialize, Serialize};

pub(crate) use args::Invocation;

/// The message byte that carries the caller's standard descriptors.
const REQUEST: u8 = b'R';
/// The longest request line the agent reads.
const MAX_REQUEST: usize = 1 << 20;

/// What the client asks the agent to run.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    invocation: Invocation,
    /// The caller's environment.
    env: Vec<(String, String)>,
    /// The caller's working directory.
    cwd: String,
}

/// A signal to forward, sent by the client after its request.
#[derive(Debug, Serialize, Deserialize)]
struct Forward {
    signal: i32,
}

/// How the command ended, or why it did not run.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Reply {
    /// The exit status the client exits with.
    Exit(i32),
    /// A refusal or failure, printed by the client, which exits with 1.
    Error(String),
}
