//! Starting a child process as a sandbox user, with pipes or a terminal.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::process::Stdio;

use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

use super::pty;
use crate::agent::UserAccount;

/// `PATH` for children when the agent itself has none.
const FALLBACK_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything needed to start one process.
#[derive(Debug)]
pub(crate) struct Spec {
    pub(crate) cmd: String,
    pub(crate) args: Vec<String>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) cwd: PathBuf,
    /// `(uid, gid)` to switch to; `None` keeps the agent's identity.
    pub(crate) credentials: Option<(u32, u32)>,
    pub(crate) io: IoMode,
}

/// How the process is connected to the agent.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IoMode {
    /// Pipes for stdout and stderr; stdin is a pipe or `/dev/null`.
    Pipes { stdin: bool },
    /// A terminal of this size for all three.
    Pty(pty::Size),
}

/// The agent's ends of a started process's I/O.
#[derive(Debug)]
pub(crate) enum ChildIo {
    Pipes {
        stdin: Option<ChildStdin>,
        stdout: ChildStdout,
        stderr: ChildStderr,
    },
    Pty(pty::Master),
}

/// The environment of a process, later entries overriding earlier ones:
/// the agent's `PATH`, `HOME`, `USER`, `LOGNAME`, the sandbox variables, then
/// the request's. Terminal processes get `TERM` and `LANG` defaults unless
/// one of those sets them.
pub(crate) fn environment<'a>(
    user: &UserAccount,
    sandbox_env: &BTreeMap<String, String>,
    request_env: impl IntoIterator<Item = (&'a String, &'a String)>,
    terminal: bool,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    if terminal {
        env.insert("TERM".to_owned(), "xterm-256color".to_owned());
        env.insert("LANG".to_owned(), "C.UTF-8".to_owned());
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| FALLBACK_PATH.to_owned());
    env.insert("PATH".to_owned(), path);
    env.insert("HOME".to_owned(), user.home.clone());
    env.insert("USER".to_owned(), user.name.clone());
    env.insert("LOGNAME".to_owned(), user.name.clone());
    for (k, v) in sandbox_env {
        env.insert(k.clone(), v.clone());
    }
    for (k, v) in request_env {
        env.insert(k.clone(), v.clone());
    }
    env
}

/// Start the process in its own process group (a new session when it has a
/// terminal). Switching users clears supplementary groups.
pub(crate) fn spawn(spec: &Spec) -> io::Result<(Child, ChildIo)> {
    let mut command = Command::new(&spec.cmd);
    command
        .args(&spec.args)
        .env_clear()
        .envs(&spec.env)
        .current_dir(&spec.cwd)
        .kill_on_drop(false);
    if let Some((uid, gid)) = spec.credentials {
        // std drops supplementary groups when a root parent sets a uid.
        command.uid(uid).gid(gid);
    }
    match spec.io {
        IoMode::Pipes { stdin } => {
            command
                .process_group(0)
                .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = command.spawn()?;
            let io = ChildIo::Pipes {
                stdin: child.stdin.take(),
                stdout: child.stdout.take().ok_or_else(|| missing("stdout"))?,
                stderr: child.stderr.take().ok_or_else(|| missing("stderr"))?,
            };
            Ok((child, io))
        }
        IoMode::Pty(size) => {
            let owner = spec.credentials.map(|(uid, _)| uid);
            let (master, slave) = pty::open(size, owner)?;
            command
                .stdin(Stdio::from(slave.try_clone()?))
                .stdout(Stdio::from(slave.try_clone()?))
                .stderr(Stdio::from(slave));
            pty::make_controlling_terminal(&mut command);
            let child = command.spawn()?;
            // Close the agent's copies of the slave side, so reading the
            // master ends when the last process using the terminal exits.
            drop(command);
            Ok((child, ChildIo::Pty(pty::Master::new(master)?)))
        }
    }
}

fn missing(what: &str) -> io::Error {
    io::Error::other(format!("the child's {what} pipe is missing"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_precedence() {
        let user = UserAccount {
            name: "user".into(),
            uid: 1000,
            gid: 1000,
            home: "/home/user".into(),
        };
        let sandbox = BTreeMap::from([
            ("A".to_owned(), "sandbox".to_owned()),
            ("HOME".to_owned(), "/elsewhere".to_owned()),
        ]);
        let request = [("A".to_owned(), "request".to_owned())];
        let env = environment(&user, &sandbox, request.iter().map(|(k, v)| (k, v)), false);
        assert_eq!(env["A"], "request");
        assert_eq!(env["HOME"], "/elsewhere");
        assert_eq!(env["USER"], "user");
        assert_eq!(env["LOGNAME"], "user");
        assert!(env.contains_key("PATH"));
        assert!(!env.contains_key("TERM"));
        let term = [("TERM".to_owned(), "dumb".to_owned())];
        let env = environment(&user, &sandbox, term.iter().map(|(k, v)| (k, v)), true);
        assert_eq!(env["TERM"], "dumb");
        assert_eq!(env["LANG"], "C.UTF-8");
    }
}
