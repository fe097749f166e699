//! Processes in a sandbox: how to name one ([`ProcessSelector`]), what envd reports about
//! them ([`ProcessInfo`]) and how a command ended ([`CommandResult`]).

use std::collections::HashMap;
use std::fmt;

use e2b_core::CommandExit;
use e2b_envd::process::{self as pb, process_selector::Selector};

/// Names a running process: by pid, or by the tag it was started with.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProcessSelector {
    /// The process id.
    Pid(u32),
    /// The tag given with [`CommandOptions::tag`](crate::CommandOptions::tag).
    Tag(String),
}

impl From<u32> for ProcessSelector {
    fn from(pid: u32) -> Self {
        ProcessSelector::Pid(pid)
    }
}

impl From<&str> for ProcessSelector {
    fn from(tag: &str) -> Self {
        ProcessSelector::Tag(tag.to_owned())
    }
}

impl From<String> for ProcessSelector {
    fn from(tag: String) -> Self {
        ProcessSelector::Tag(tag)
    }
}

impl fmt::Display for ProcessSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessSelector::Pid(pid) => write!(f, "pid {pid}"),
            ProcessSelector::Tag(tag) => write!(f, "tag `{tag}`"),
        }
    }
}

impl ProcessSelector {
    pub(crate) fn to_wire(&self) -> pb::ProcessSelector {
        pb::ProcessSelector {
            selector: Some(match self {
                ProcessSelector::Pid(pid) => Selector::Pid(*pid),
                ProcessSelector::Tag(tag) => Selector::Tag(tag.clone()),
            }),
        }
    }
}

/// A process running in a sandbox, as [`Commands::list`](crate::Commands::list) reports it
/// (commands, pseudo-terminals and the template's start command).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessInfo {
    /// The process id.
    pub pid: u32,
    /// The tag it was started with, if any.
    pub tag: Option<String>,
    /// The executable.
    pub cmd: String,
    /// The arguments.
    pub args: Vec<String>,
    /// The environment variables it was started with.
    pub envs: HashMap<String, String>,
    /// Its working directory, if one was given.
    pub cwd: Option<String>,
}

impl fmt::Debug for ProcessInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Environment values may be secrets: names only.
        f.debug_struct("ProcessInfo")
            .field("pid", &self.pid)
            .field("tag", &self.tag)
            .field("cmd", &self.cmd)
            .field("args", &self.args)
            .field("envs", &self.envs.keys().collect::<Vec<_>>())
            .field("cwd", &self.cwd)
            .finish()
    }
}

impl From<pb::ProcessInfo> for ProcessInfo {
    fn from(p: pb::ProcessInfo) -> Self {
        let config = p.config.unwrap_or_default();
        ProcessInfo {
            pid: p.pid,
            tag: p.tag,
            cmd: config.cmd,
            args: config.args,
            envs: config.envs,
            cwd: config.cwd,
        }
    }
}

/// How a command ended: its exit code and everything it wrote.
///
/// [`Commands::run`](crate::Commands::run) and [`CommandHandle::wait`](crate::CommandHandle::wait)
/// return it for exit code 0; any other exit code is an error of kind
/// [`ErrorKind::CommandExit`](crate::ErrorKind::CommandExit) carrying the same fields
/// (see [`Error::command_exit_result`](crate::Error::command_exit_result)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommandResult {
    /// The exit code (`-1` when killed by a signal).
    pub exit_code: i32,
    /// Everything written to standard output.
    pub stdout: String,
    /// Everything written to standard error.
    pub stderr: String,
    /// envd's description of how the process ended (e.g. `signal: killed`), if any.
    pub error: Option<String>,
}

impl CommandResult {
    /// Whether the command exited with code 0.
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }
}

impl From<CommandExit> for CommandResult {
    fn from(e: CommandExit) -> Self {
        CommandResult {
            exit_code: e.exit_code,
            stdout: e.stdout,
            stderr: e.stderr,
            error: e.error,
        }
    }
}

impl From<CommandResult> for CommandExit {
    fn from(r: CommandResult) -> Self {
        CommandExit::new(r.exit_code, r.stdout, r.stderr, r.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        assert_eq!(ProcessSelector::from(7), ProcessSelector::Pid(7));
        assert_eq!(
            ProcessSelector::from("web"),
            ProcessSelector::Tag("web".into())
        );
        assert_eq!(
            ProcessSelector::from(7).to_wire().selector,
            Some(Selector::Pid(7))
        );
        assert_eq!(ProcessSelector::from("t").to_string(), "tag `t`");
    }

    #[test]
    fn process_info_from_wire_and_debug_hides_env_values() {
        let p = ProcessInfo::from(pb::ProcessInfo {
            config: Some(pb::ProcessConfig {
                cmd: "/bin/bash".into(),
                args: vec!["-l".into()],
                envs: [("SECRET".to_owned(), "hunter2".to_owned())].into(),
                cwd: None,
            }),
            pid: 3,
            tag: Some("t".into()),
        });
        assert_eq!(p.pid, 3);
        assert_eq!(p.cmd, "/bin/bash");
        assert_eq!(p.envs["SECRET"], "hunter2");
        assert!(!format!("{p:?}").contains("hunter2"));
        let empty = ProcessInfo::from(pb::ProcessInfo {
            config: None,
            pid: 1,
            tag: None,
        });
        assert_eq!(empty.cmd, "");
    }

    #[test]
    fn result_round_trips_through_command_exit() {
        let r = CommandResult {
            exit_code: 2,
            stdout: "o".into(),
            stderr: "e".into(),
            error: Some("exit status 2".into()),
        };
        assert!(!r.success());
        assert_eq!(CommandResult::from(CommandExit::from(r.clone())), r);
    }
}
