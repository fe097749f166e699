//! Reloading snapshots and paused sandboxes from the data directory at start.

use super::*;

impl Shared {
    pub(super) fn load_snapshots(&self) -> Result<(), SandboxError> {
        let root = self.dirs.snapshots();
        for entry in std::fs::read_dir(&root)
            .map_err(SandboxError::io("list snapshots"))?
            .flatten()
        {
            let dir = entry.path();
            let name = entry.file_name();
            if name.to_str().is_some_and(|n| n.starts_with(".tmp-")) {
                // An interrupted snapshot.
                self.dirs.remove_dir(&dir)?;
                continue;
            }
            match store::read_json::<SnapshotRecord>(&dir.join("snapshot.json")) {
                Ok(Some(record)) if record.template_id == name.to_string_lossy() => {
                    lock(&self.snapshots).insert(record.template_id.clone(), record);
                }
                Ok(_) => {
                    tracing::warn!(dir = %dir.display(), "ignoring a snapshot directory without a valid record")
                }
                Err(e) => tracing::warn!(error = %e, "ignoring an unreadable snapshot"),
            }
        }
        Ok(())
    }

    pub(super) fn load_sandboxes(self: &Arc<Self>) -> Result<(), SandboxError> {
        let root = self.dirs.sandboxes();
        for entry in std::fs::read_dir(&root)
            .map_err(SandboxError::io("list sandboxes"))?
            .flatten()
        {
            let dir = entry.path();
            let paths = SandboxPaths::new(dir.clone());
            let record = match store::read_json::<SandboxRecord>(&paths.record()) {
                Ok(Some(record)) if record.id == entry.file_name().to_string_lossy() => record,
                Ok(_) | Err(_) => {
                    self.dirs.remove_dir(&dir)?;
                    continue;
                }
            };
            if record.state != State::Paused {
                // Running sandboxes end with the server that ran them.
                tracing::info!(sandbox = %record.id, "removing a sandbox that ended with the previous server run");
                self.dirs.remove_dir(&dir)?;
                continue;
            }
            let mut record = record;
            record.paused_with_memory = false;
            store::write_json_atomic(&paths.record(), &record)?;
            let (deadline, rx) = lifecycle::deadline_channel();
            let sandbox = Arc::new(Sandbox {
                id: record.id.clone(),
                paths,
                ops: tokio::sync::Mutex::new(()),
                state: Mutex::new(Live::new(record, Presence::Ready)),
                deadline,
            });
            self.spawn_timer(&sandbox, rx);
            lock(&self.sandboxes).insert(sandbox.id.clone(), sandbox);
        }
        Ok(())
    }
}
