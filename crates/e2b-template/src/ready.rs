//! Ready commands: how the platform knows a sandbox's start command is up.

use std::fmt;
use std::time::Duration;

use crate::quote::quote;

/// A command the platform runs until it succeeds, to know that a template's start
/// command is ready. Build one with the helpers ([`wait_for_port`], [`wait_for_url`],
/// [`wait_for_process`], [`wait_for_file`], [`wait_for_timeout`]) or from any shell
/// command (`ReadyCmd::from("test -S /tmp/app.sock")`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReadyCmd(String);

impl ReadyCmd {
    /// A ready command running `command` in a shell.
    pub fn new(command: impl Into<String>) -> Self {
        ReadyCmd(command.into())
    }

    /// The shell command.
    pub fn command(&self) -> &str {
        &self.0
    }
}

impl From<&str> for ReadyCmd {
    fn from(command: &str) -> Self {
        ReadyCmd::new(command)
    }
}

impl From<String> for ReadyCmd {
    fn from(command: String) -> Self {
        ReadyCmd(command)
    }
}

impl fmt::Display for ReadyCmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Ready when something listens on TCP or UDP `port` (exactly that port: 80 does not
/// match 8080).
pub fn wait_for_port(port: u16) -> ReadyCmd {
    ReadyCmd(format!("[ -n \"$(ss -Htuln sport = :{port})\" ]"))
}

/// Ready when `url` answers with HTTP 200.
pub fn wait_for_url(url: &str) -> ReadyCmd {
    wait_for_url_status(url, 200)
}

/// Ready when `url` answers with HTTP `status`.
pub fn wait_for_url_status(url: &str, status: u16) -> ReadyCmd {
    ReadyCmd(format!(
        "curl -s -o /dev/null -w \"%{{http_code}}\" {} | grep -q \"{status}\"",
        quote(url)
    ))
}

/// Ready when a process named `name` runs.
pub fn wait_for_process(name: &str) -> ReadyCmd {
    ReadyCmd(format!("pgrep {} > /dev/null", quote(name)))
}

/// Ready when the file `path` exists.
pub fn wait_for_file(path: &str) -> ReadyCmd {
    ReadyCmd(format!("[ -f {} ]", quote(path)))
}

/// Ready after `delay`, in whole seconds (at least one).
pub fn wait_for_timeout(delay: Duration) -> ReadyCmd {
    ReadyCmd(format!("sleep {}", (delay.as_millis() / 1000).max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_emit_upstreams_commands() {
        assert_eq!(
            wait_for_port(8000).command(),
            "[ -n \"$(ss -Htuln sport = :8000)\" ]"
        );
        assert_eq!(
            wait_for_url("http://localhost:3000/health").command(),
            "curl -s -o /dev/null -w \"%{http_code}\" http://localhost:3000/health | grep -q \"200\""
        );
        assert_eq!(
            wait_for_process("my app").command(),
            "pgrep 'my app' > /dev/null"
        );
        assert_eq!(wait_for_file("/tmp/ready").command(), "[ -f /tmp/ready ]");
        assert_eq!(
            wait_for_timeout(Duration::from_millis(20_000)).command(),
            "sleep 20"
        );
        assert_eq!(
            wait_for_timeout(Duration::from_millis(10)).command(),
            "sleep 1"
        );
    }
}
