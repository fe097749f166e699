//! One long-lived thread that starts every sandbox process.
//!
//! `bwrap --die-with-parent` ties a sandbox's life to the *thread* that forked
//! it (`PR_SET_PDEATHSIG`). Forking from an async worker or a blocking-pool
//! thread (which exits when idle) would kill sandboxes at random; forking from
//! this thread, which lives exactly as long as the server, kills them when and
//! only when the server goes away.

use std::io;
use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::process::{Child, Command};
use tokio::sync::oneshot;

struct Job {
    command: Command,
    reply: oneshot::Sender<io::Result<Child>>,
}

/// Starts processes on a dedicated thread.
#[derive(Debug)]
pub(crate) struct Spawner {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").finish_non_exhaustive()
    }
}

impl Spawner {
    /// Start the thread; processes are registered with the runtime of `handle`.
    pub(crate) fn start(handle: tokio::runtime::Handle) -> io::Result<Self> {
        Self::start_with(handle, || Ok(()))
    }

    /// Start the thread, which first runs `setup` (what it changes about
    /// the thread, such as its mount namespace, every process it starts
    /// inherits); fails with `setup`'s error.
    pub(crate) fn start_with(
        handle: tokio::runtime::Handle,
        setup: impl FnOnce() -> io::Result<()> + Send + 'static,
    ) -> io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("e2b-local-spawner".into())
            .spawn(move || {
                let set_up = setup();
                let failed = set_up.is_err();
                let _ = ready_tx.send(set_up);
                if failed {
                    return;
                }
                let _runtime = handle.enter();
                for mut job in rx {
                    let _ = job.reply.send(job.command.spawn());
                }
            })?;
        let set_up = ready_rx
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the spawner thread ended")));
        if let Err(e) = set_up {
            let _ = thread.join();
            return Err(e);
        }
        Ok(Self {
            jobs: Some(tx),
            thread: Some(thread),
        })
    }

    /// Spawn `command` on the spawner thread.
    pub(crate) async fn spawn(&self, command: Command) -> io::Result<Child> {
        let (reply, rx) = oneshot::channel();
        self.jobs
            .as_ref()
            .ok_or_else(|| io::Error::other("the server is shutting down"))?
            .send(Job { command, reply })
            .map_err(|_| io::Error::other("the spawner thread is gone"))?;
        rx.await
            .map_err(|_| io::Error::other("the spawner thread is gone"))?
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        // Closing the channel ends the thread; its exit delivers SIGKILL to
        // every bwrap it started (PR_SET_PDEATHSIG).
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spawns_processes_that_can_be_awaited() {
        let spawner = Spawner::start(tokio::runtime::Handle::current()).unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "exit 3"]);
        let mut child = spawner.spawn(cmd).await.unwrap();
        assert_eq!(child.wait().await.unwrap().code(), Some(3));
        let err = spawner
            .spawn(Command::new("/nonexistent/binary"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn a_failed_setup_is_reported() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let err = Spawner::start_with(runtime.handle().clone(), || {
            Err(io::Error::other("no namespace"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "no namespace");
    }
}
