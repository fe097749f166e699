//! The processes the agent started, found by pid or tag.
//!
//! A process stays listed while it runs. After it ends it is kept for
//! [`RETENTION`] so that a `Connect` arriving late still learns how it ended;
//! a new process with the same pid or tag replaces it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use e2b_envd::connect::Code;
use e2b_envd::process::process_selector::Selector;
use e2b_envd::process::{ProcessInfo, ProcessSelector};

use super::handle::ProcessHandle;
use crate::agent::rpc_error::RpcError;

/// How long an ended process can still be connected to.
pub(crate) const RETENTION: Duration = Duration::from_secs(30);

/// Started processes by pid.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    by_pid: Mutex<HashMap<u32, Arc<ProcessHandle>>>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<u32, Arc<ProcessHandle>>> {
        // Map operations cannot be left half done by a panic.
        self.by_pid
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Register a newly started process, dropping any ended one it
    /// supersedes (same pid, or same tag).
    pub(crate) fn insert(&self, handle: Arc<ProcessHandle>) {
        let mut map = self.lock();
        if let Some(tag) = &handle.tag {
            map.retain(|_, p| p.is_running() || p.tag.as_ref() != Some(tag));
        }
        map.insert(handle.pid, handle);
    }

    /// Forget `handle` after the retention period, unless it was replaced.
    pub(crate) fn retire(self: &Arc<Self>, handle: &Arc<ProcessHandle>) {
        let registry = Arc::downgrade(self);
        let handle = Arc::downgrade(handle);
        tokio::spawn(async move {
            tokio::time::sleep(RETENTION).await;
            if let (Some(registry), Some(handle)) = (registry.upgrade(), handle.upgrade()) {
                let mut map = registry.lock();
                if map
                    .get(&handle.pid)
                    .is_some_and(|p| Arc::ptr_eq(p, &handle))
                {
                    map.remove(&handle.pid);
                }
            }
        });
    }

    /// Running processes, for `List`.
    pub(crate) fn list(&self) -> Vec<ProcessInfo> {
        let mut running: Vec<ProcessInfo> = self
            .lock()
            .values()
            .filter(|p| p.is_running())
            .map(|p| ProcessInfo {
                config: Some(p.config.clone()),
                pid: p.pid,
                tag: p.tag.clone(),
            })
            .collect();
        running.sort_by_key(|p| p.pid);
        running
    }

    /// The running process `selector` names.
    pub(crate) fn running(
        &self,
        selector: Option<&ProcessSelector>,
    ) -> Result<Arc<ProcessHandle>, RpcError> {
        self.find(selector, false)
    }

    /// The process `selector` names, running or recently ended.
    pub(crate) fn attachable(
        &self,
        selector: Option<&ProcessSelector>,
    ) -> Result<Arc<ProcessHandle>, RpcError> {
        self.find(selector, true)
    }

    fn find(
        &self,
        selector: Option<&ProcessSelector>,
        include_ended: bool,
    ) -> Result<Arc<ProcessHandle>, RpcError> {
        let map = self.lock();
        match selector.and_then(|s| s.selector.as_ref()) {
            Some(Selector::Pid(pid)) => map
                .get(pid)
                .filter(|p| include_ended || p.is_running())
                .cloned()
                .ok_or_else(|| {
                    RpcError::new(Code::NotFound, format!("process with pid {pid} not found"))
                }),
            Some(Selector::Tag(tag)) => map
                .values()
                .filter(|p| p.tag.as_ref() == Some(tag))
                .filter(|p| include_ended || p.is_running())
                // Prefer a running process, then the newest.
                .max_by_key(|p| (p.is_running(), p.sequence))
                .cloned()
                .ok_or_else(|| {
                    RpcError::new(Code::NotFound, format!("process with tag {tag} not found"))
                }),
            None => Err(RpcError::new(
                Code::InvalidArgument,
                "a process selector (pid or tag) is required",
            )),
        }
    }
}
