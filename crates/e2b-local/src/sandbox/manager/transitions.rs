//! Lifecycle transitions of existing sandboxes: kill, pause, resume, connect, timeouts and network updates.

use super::*;

impl Manager {
    /// Kill a sandbox and delete its files, to the end even if the caller goes away.
    pub(crate) async fn kill(&self, id: &str) -> Result<(), SandboxError> {
        let (this, id) = (self.clone(), id.to_owned());
        detached(async move { this.kill_now(&id).await }).await
    }

    /// Kill a sandbox and delete its files.
    pub(super) async fn kill_now(&self, id: &str) -> Result<(), SandboxError> {
        let sandbox = self.shared.find(id)?;
        self.shared.kill(&sandbox).await
    }

    /// Set the timeout to `secs` from now (running) or for the next resume (paused).
    pub(crate) async fn set_timeout(&self, id: &str, secs: u32) -> Result<(), SandboxError> {
        self.shared.validate_timeout(secs)?;
        let sandbox = self.shared.find(id)?;
        let _ops = sandbox.ops.lock().await;
        self.shared.ensure_present(&sandbox)?;
        {
            let mut live = sandbox.live();
            live.record.timeout_secs = secs;
            if live.record.state == State::Running {
                live.record.end_at = Utc::now() + seconds(secs);
            }
        }
        sandbox.save()?;
        sandbox.arm();
        Ok(())
    }

    /// Extend the timeout to at least `secs` from now.
    pub(crate) async fn refresh(&self, id: &str, secs: u32) -> Result<(), SandboxError> {
        let sandbox = self.shared.find(id)?;
        let _ops = sandbox.ops.lock().await;
        self.shared.ensure_present(&sandbox)?;
        {
            let mut live = sandbox.live();
            if live.record.state == State::Running {
                live.record.end_at = live.record.end_at.max(Utc::now() + seconds(secs));
            }
        }
        sandbox.save()?;
        sandbox.arm();
        Ok(())
    }

    /// [`connect_now`](Self::connect_now), to the end even if the caller goes away.
    pub(crate) async fn connect(
        &self,
        id: &str,
        timeout_secs: u32,
        memory: bool,
    ) -> Result<(SandboxRecord, bool), SandboxError> {
        let (this, id) = (self.clone(), id.to_owned());
        detached(async move { this.connect_now(&id, timeout_secs, memory).await }).await
    }

    /// Connect: extend a running sandbox's timeout (never shortening it) or
    /// resume a paused one, from its memory or (`memory` false) from its
    /// files only. Returns the record and whether it was resumed.
    pub(super) async fn connect_now(
        &self,
        id: &str,
        timeout_secs: u32,
        memory: bool,
    ) -> Result<(SandboxRecord, bool), SandboxError> {
        self.shared.validate_timeout(timeout_secs)?;
        let sandbox = self.shared.find(id)?;
        let _ops = sandbox.ops.lock().await;
        self.shared.ensure_present(&sandbox)?;
        let state = sandbox.live().record.state;
        match state {
            State::Running => {
                {
                    let mut live = sandbox.live();
                    live.record.end_at = live.record.end_at.max(Utc::now() + seconds(timeout_secs));
                }
                sandbox.save()?;
                sandbox.arm();
                Ok((sandbox.record(), false))
            }
            State::Paused => {
                if !memory {
                    // Resume from the files: the frozen processes go.
                    let frozen = sandbox.live().instance.take();
                    if let Some(instance) = frozen {
                        instance.kill().await;
                    }
                }
                self.shared.resume_locked(&sandbox, timeout_secs).await?;
                Ok((sandbox.record(), true))
            }
        }
    }

    /// [`resume_now`](Self::resume_now), to the end even if the caller goes away.
    pub(crate) async fn resume(
        &self,
        id: &str,
        timeout_secs: u32,
    ) -> Result<SandboxRecord, SandboxError> {
        let (this, id) = (self.clone(), id.to_owned());
        detached(async move { this.resume_now(&id, timeout_secs).await }).await
    }

    /// Resume a paused sandbox (the deprecated resume route).
    pub(super) async fn resume_now(
        &self,
        id: &str,
        timeout_secs: u32,
    ) -> Result<SandboxRecord, SandboxError> {
        self.shared.validate_timeout(timeout_secs)?;
        let sandbox = self.shared.find(id)?;
        let _ops = sandbox.ops.lock().await;
        self.shared.ensure_present(&sandbox)?;
        if sandbox.live().record.state == State::Running {
            return Err(SandboxError::AlreadyRunning(id.to_owned()));
        }
        self.shared.resume_locked(&sandbox, timeout_secs).await?;
        Ok(sandbox.record())
    }

    /// Pause a sandbox, to the end even if the caller goes away.
    pub(crate) async fn pause(&self, id: &str, memory: bool) -> Result<(), SandboxError> {
        let (this, id) = (self.clone(), id.to_owned());
        detached(async move { this.pause_now(&id, memory).await }).await
    }

    /// Pause a sandbox: freeze its processes (`memory`) or stop them keeping only files.
    pub(super) async fn pause_now(&self, id: &str, memory: bool) -> Result<(), SandboxError> {
        let sandbox = self.shared.find(id)?;
        let _ops = sandbox.ops.lock().await;
        self.shared.ensure_present(&sandbox)?;
        self.shared.pause_locked(&sandbox, memory).await
    }

    /// Replace the network settings (recorded; see the crate docs for what is enforced).
    pub(crate) async fn update_network(
        &self,
        id: &str,
        update: NetworkUpdate,
    ) -> Result<(), SandboxError> {
        let sandbox = self.shared.find(id)?;
        let _ops = sandbox.ops.lock().await;
        self.shared.ensure_present(&sandbox)?;
        {
            let mut live = sandbox.live();
            let mut network = live.record.network.clone().unwrap_or_default();
            network.allow_out = update.allow_out;
            network.deny_out = update.deny_out;
            network.rules = update.rules;
            network.egress_proxy = update.egress_proxy;
            live.record.network = Some(network);
            if let Some(allow) = update.allow_internet_access {
                live.record.allow_internet_access = Some(allow);
            }
        }
        sandbox.save()?;
        Ok(())
    }
}

impl Shared {
    /// Drop a sandbox whose start failed.
    pub(super) async fn forget(&self, sandbox: &Arc<Sandbox>) {
        let instance = {
            let mut live = sandbox.live();
            live.presence = Presence::Removed;
            live.serving.cancel();
            live.disk = None;
            live.instance.take()
        };
        if let Some(instance) = instance {
            instance.kill().await;
        }
        lock(&self.sandboxes).remove(&sandbox.id);
        if let Err(e) = self.remove_files(sandbox) {
            tracing::warn!(sandbox = %sandbox.id, error = %e, "could not delete a failed sandbox's files");
        }
    }

    /// Delete a sandbox's files (an unprivileged server's sandbox root
    /// filesystem belongs to ids only the sandboxes' namespace can remove).
    fn remove_files(&self, sandbox: &Sandbox) -> Result<(), SandboxError> {
        self.remove_dir_of(&sandbox.paths)
    }

    /// Delete the directory of a sandbox's files.
    pub(super) fn remove_dir_of(&self, paths: &SandboxPaths) -> Result<(), SandboxError> {
        if let Some(rootless) = &self.config.rootless {
            rootless
                .remove_tree(&paths.rootfs)
                .map_err(SandboxError::io("delete the sandbox's root filesystem"))?;
        }
        self.dirs
            .remove_dir(&paths.root)
            .map_err(SandboxError::from)
    }

    /// Remove a sandbox from the registry and delete its files (processes already gone).
    pub(super) fn remove(&self, sandbox: &Sandbox) {
        {
            let mut live = sandbox.live();
            live.presence = Presence::Removed;
            live.serving.cancel();
            live.disk = None;
        }
        sandbox.deadline.send_replace(None);
        lock(&self.sandboxes).remove(&sandbox.id);
        if let Err(e) = self.remove_files(sandbox) {
            tracing::warn!(sandbox = %sandbox.id, error = %e, "could not delete a sandbox's files");
        }
    }

    pub(super) async fn kill(&self, sandbox: &Arc<Sandbox>) -> Result<(), SandboxError> {
        let _ops = sandbox.ops.lock().await;
        self.ensure_present(sandbox)?;
        let instance = {
            let mut live = sandbox.live();
            live.presence = Presence::Removed;
            live.serving.cancel();
            live.instance.take()
        };
        if let Some(instance) = instance {
            instance.kill().await;
        }
        self.remove(sandbox);
        tracing::info!(sandbox = %sandbox.id, "sandbox killed");
        Ok(())
    }

    /// At shutdown: stop the processes; paused sandboxes keep their files and record.
    pub(super) async fn end_with_server(&self, sandbox: &Arc<Sandbox>) {
        let _ops = sandbox.ops.lock().await;
        let (instance, paused) = {
            let mut live = sandbox.live();
            (
                live.instance.take(),
                live.record.state == State::Paused && live.presence != Presence::Removed,
            )
        };
        if let Some(instance) = instance {
            instance.kill().await;
        }
        if paused {
            {
                let mut live = sandbox.live();
                live.record.paused_with_memory = false;
            }
            if let Err(e) = sandbox.save() {
                tracing::warn!(sandbox = %sandbox.id, error = %e, "could not record a paused sandbox at shutdown");
            }
            sandbox.deadline.send_replace(None);
            lock(&self.sandboxes).remove(&sandbox.id);
        } else if sandbox.live().presence != Presence::Removed {
            self.remove(sandbox);
        }
    }

    pub(super) async fn pause_locked(
        &self,
        sandbox: &Arc<Sandbox>,
        memory: bool,
    ) -> Result<(), SandboxError> {
        tracing::info!(sandbox = %sandbox.id, memory, "pausing sandbox");
        let instance = {
            let live = sandbox.live();
            if live.record.state == State::Paused {
                return Err(SandboxError::AlreadyPaused(sandbox.id.clone()));
            }
            // Requests in flight end now, before the processes that would
            // answer them freeze.
            live.serving.cancel();
            live.instance.clone()
        };
        match (&instance, memory) {
            (Some(instance), true) => instance
                .freeze()
                .await
                .map_err(SandboxError::io("freeze the sandbox"))?,
            (Some(instance), false) => {
                sandbox.live().instance = None;
                instance.kill().await;
            }
            (None, _) => {}
        }
        {
            let mut live = sandbox.live();
            live.record.state = State::Paused;
            live.record.paused_with_memory = memory && live.instance.is_some();
        }
        sandbox.arm();
        sandbox.save()
    }

    pub(super) async fn resume_locked(
        self: &Arc<Self>,
        sandbox: &Arc<Sandbox>,
        timeout_secs: u32,
    ) -> Result<(), SandboxError> {
        tracing::info!(sandbox = %sandbox.id, timeout_secs, "resuming sandbox");
        let instance = sandbox.live().instance.clone();
        match instance {
            Some(instance) => instance
                .thaw()
                .await
                .map_err(SandboxError::io("thaw the sandbox"))?,
            None => self.boot(sandbox).await?,
        }
        {
            let mut live = sandbox.live();
            live.record.state = State::Running;
            if live.serving.is_cancelled() {
                live.serving = CancellationToken::new();
            }
            live.record.paused_with_memory = false;
            live.record.timeout_secs = timeout_secs;
            live.record.end_at = Utc::now() + seconds(timeout_secs);
        }
        sandbox.arm();
        sandbox.save()
    }

    /// The timeout of a sandbox passed: kill or pause it, per its lifecycle.
    pub(super) async fn expire(self: &Arc<Self>, id: &str) {
        let Ok(sandbox) = self.find(id) else { return };
        let _ops = sandbox.ops.lock().await;
        let (due, on_timeout, keep_memory) = {
            let live = sandbox.live();
            let due = live.presence != Presence::Removed
                && live.record.state == State::Running
                && live.record.end_at <= Utc::now();
            (
                due,
                live.record.lifecycle.on_timeout,
                live.record.lifecycle.pause_keeps_memory,
            )
        };
        if !due {
            sandbox.arm();
            return;
        }
        tracing::info!(sandbox = id, action = ?on_timeout, "sandbox timed out");
        let paused = match on_timeout {
            crate::sandbox::record::OnTimeout::Pause => {
                match self.pause_locked(&sandbox, keep_memory).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::warn!(sandbox = id, error = %e, "pause at timeout failed; killing");
                        false
                    }
                }
            }
            crate::sandbox::record::OnTimeout::Kill => false,
        };
        if !paused {
            let instance = {
                let mut live = sandbox.live();
                live.presence = Presence::Removed;
                live.serving.cancel();
                live.instance.take()
            };
            if let Some(instance) = instance {
                instance.kill().await;
            }
            self.remove(&sandbox);
        }
    }
}
