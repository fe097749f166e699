//! Polled watchers (`CreateWatcher` / `GetWatcherEvents` / `RemoveWatcher`):
//! a background task collects changes until the client drains them.
//!
//! Undrained events are capped: past [`MAX_PENDING`] the watcher stops and
//! its next drain reports `resource_exhausted`, so a forgotten watcher cannot
//! grow without bound.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use e2b_envd::connect::Code;
use e2b_envd::filesystem::FilesystemEvent;
use tokio::task::JoinHandle;

use super::watch::DirWatch;
use crate::agent::rpc_error::RpcError;

/// Most events a watcher holds between drains.
pub(crate) const MAX_PENDING: usize = 100_000;

#[derive(Debug, Default)]
struct Collected {
    events: Vec<FilesystemEvent>,
    error: Option<RpcError>,
}

#[derive(Debug)]
struct Watcher {
    collected: Arc<Mutex<Collected>>,
    task: JoinHandle<()>,
}

/// The live polled watchers.
#[derive(Debug, Default)]
pub(crate) struct Watchers {
    by_id: Mutex<HashMap<String, Watcher>>,
    next: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave them inconsistent.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Watchers {
    /// Start collecting the changes of `watch`, converted by `to_event`;
    /// returns the new watcher's id.
    pub(crate) fn create(
        &self,
        mut watch: DirWatch,
        to_event: impl Fn(super::watch::Change) -> FilesystemEvent + Send + 'static,
    ) -> String {
        let collected = Arc::new(Mutex::new(Collected::default()));
        let sink = collected.clone();
        let task = tokio::spawn(async move {
            loop {
                let result = watch.next().await;
                let mut c = lock(&sink);
                match result {
                    Ok(change) if c.events.len() < MAX_PENDING => c.events.push(to_event(change)),
                    Ok(_) => {
                        c.error = Some(RpcError::new(
                            Code::ResourceExhausted,
                            format!(
                                "watcher stopped: more than {MAX_PENDING} events were not collected"
                            ),
                        ));
                        return;
                    }
                    Err(e) => {
                        c.error = Some(RpcError::new(Code::Internal, e.to_string()));
                        return;
                    }
                }
            }
        });
        let id = self.new_id();
        lock(&self.by_id).insert(id.clone(), Watcher { collected, task });
        id
    }

    /// A fresh id: `w` and 20 characters of `[a-z0-9]`, like envd's.
    fn new_id(&self) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut id = String::from("w");
        let mut round = 0u64;
        while id.len() < 21 {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(n);
            h.write_u64(round);
            let mut bits = h.finish();
            for _ in 0..10 {
                id.push(ALPHABET[(bits % ALPHABET.len() as u64) as usize] as char);
                bits /= ALPHABET.len() as u64;
            }
            round += 1;
        }
        id.truncate(21);
        id
    }

    fn not_found(id: &str) -> RpcError {
        RpcError::new(Code::NotFound, format!("watcher with id {id} not found"))
    }

    /// Take the events collected since the last call; once a stopped
    /// watcher has handed out its last events, the error that stopped it.
    pub(crate) fn drain(&self, id: &str) -> Result<Vec<FilesystemEvent>, RpcError> {
        let watchers = lock(&self.by_id);
        let watcher = watchers.get(id).ok_or_else(|| Self::not_found(id))?;
        let mut c = lock(&watcher.collected);
        match &c.error {
            Some(e) if c.events.is_empty() => Err(e.clone()),
            _ => Ok(std::mem::take(&mut c.events)),
        }
    }

    /// Stop and forget a watcher.
    pub(crate) fn remove(&self, id: &str) -> Result<(), RpcError> {
        let watcher = lock(&self.by_id)
            .remove(id)
            .ok_or_else(|| Self::not_found(id))?;
        watcher.task.abort();
        Ok(())
    }
}

impl Drop for Watchers {
    fn drop(&mut self) {
        for (_, w) in lock(&self.by_id).drain() {
            w.task.abort();
        }
    }
}
