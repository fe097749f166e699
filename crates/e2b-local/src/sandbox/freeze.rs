//! Pausing without a cgroup freezer: `SIGSTOP` every process of the sandbox.
//!
//! Processes keep their memory; `SIGCONT` resumes them. The `bwrap` monitor
//! process itself is left running so it still notices its parent dying.
//! Processes forked while stopping are caught by repeating the walk until no
//! new process appears (bounded).

use std::collections::BTreeSet;
use std::io;

use rustix::process::{Pid, Signal, kill_process};

use super::procs;

/// Upper bound of walks over `/proc` while stopping a process tree.
const MAX_PASSES: usize = 16;

fn signal(pid: u32, sig: Signal) -> io::Result<()> {
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return Ok(());
    };
    match kill_process(pid, sig) {
        Ok(()) => Ok(()),
        // Exited meanwhile.
        Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Stop every descendant of `root` (the sandbox's `bwrap` process).
pub(crate) fn stop_tree(root: u32) -> io::Result<()> {
    let mut stopped = BTreeSet::new();
    for _ in 0..MAX_PASSES {
        let fresh: Vec<u32> = procs::descendants(root)
            .into_iter()
            .map(|p| p.pid)
            .filter(|p| !stopped.contains(p))
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        for pid in fresh {
            signal(pid, Signal::STOP)?;
            stopped.insert(pid);
        }
    }
    Err(io::Error::other(
        "processes kept forking while the sandbox was being paused",
    ))
}

/// Continue every descendant of `root`.
pub(crate) fn continue_tree(root: u32) -> io::Result<()> {
    for p in procs::descendants(root) {
        signal(p.pid, Signal::CONT)?;
    }
    Ok(())
}

/// Send `SIGKILL` to one process.
pub(crate) fn kill(pid: u32) -> io::Result<()> {
    signal(pid, Signal::KILL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn state_of(pid: u32) -> Option<char> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        text[text.rfind(')')? + 1..]
            .split_whitespace()
            .next()?
            .chars()
            .next()
    }

    fn wait_state(pid: u32, want: char) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if state_of(pid) == Some(want) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }

    #[test]
    fn stops_and_continues_a_process_tree() {
        // sh (root) -> sleep (descendant)
        let mut root = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .unwrap();
        let root_pid = root.id();
        let deadline = Instant::now() + Duration::from_secs(5);
        let child = loop {
            if let Some(p) = procs::descendants(root_pid).first() {
                break p.pid;
            }
            assert!(Instant::now() < deadline, "child did not appear");
            std::thread::sleep(Duration::from_millis(2));
        };
        stop_tree(root_pid).unwrap();
        assert!(wait_state(child, 'T'), "child not stopped");
        continue_tree(root_pid).unwrap();
        assert!(wait_state(child, 'S'), "child not continued");
        kill(child).unwrap();
        root.wait().unwrap();
    }
}
