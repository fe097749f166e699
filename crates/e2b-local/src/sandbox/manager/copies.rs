//! Copies of a sandbox's files: snapshots (templates) and forks, taken while it is frozen.

use super::*;

impl Manager {
    /// [`snapshot_now`](Self::snapshot_now), to the end even if the caller goes away
    /// (a client leaving mid-snapshot never leaves the sandbox frozen).
    pub(crate) async fn snapshot(
        &self,
        id: &str,
        name: Option<String>,
    ) -> Result<SnapshotRecord, SandboxError> {
        let (this, id) = (self.clone(), id.to_owned());
        detached(async move { this.snapshot_now(&id, name).await }).await
    }

    /// Snapshot a sandbox's files as a template.
    pub(super) async fn snapshot_now(
        &self,
        id: &str,
        name: Option<String>,
    ) -> Result<SnapshotRecord, SandboxError> {
        if let Some(name) = &name {
            validate_snapshot_name(name)?;
        }
        let shared = &self.shared;
        shared.check_open()?;
        let sandbox = shared.find(id)?;
        let _names = shared.snapshot_lock.lock().await;
        let existing = name.as_deref().and_then(|n| {
            lock(&shared.snapshots)
                .values()
                .find(|s| s.name.as_deref() == Some(n))
                .cloned()
        });
        let template_id = match &existing {
            Some(s) => s.template_id.clone(),
            None => {
                crate::ids::template_id().map_err(SandboxError::io("generate a template id"))?
            }
        };
        let staging = shared.dirs.snapshots().join(format!(
            ".tmp-{template_id}-{}",
            new_token()?.get(..8).unwrap_or("x")
        ));
        std::fs::create_dir_all(staging.join("fs"))
            .map_err(SandboxError::io("create the snapshot directory"))?;
        let result = async {
            let (record, layered) = {
                let _ops = sandbox.ops.lock().await;
                shared.ensure_present(&sandbox)?;
                let layered = if shared.snapshots_as_layers(&sandbox) {
                    Some(shared.snapshot_layer(&sandbox).await?)
                } else {
                    let sources: Vec<(PathBuf, PathBuf)> = sandbox
                        .paths
                        .writable()
                        .iter()
                        .map(|(n, from)| (from.to_path_buf(), staging.join("fs").join(n)))
                        .collect();
                    shared
                        .with_frozen(
                            &sandbox,
                            copy_state(&staging, sources, shared.config.rootless.clone()),
                        )
                        .await?;
                    None
                };
                (sandbox.record(), layered)
            };
            let snapshot = SnapshotRecord {
                template_id: template_id.clone(),
                name: name.clone(),
                source_sandbox_id: record.id.clone(),
                source_template_id: record.template_id.clone(),
                created_at: Utc::now(),
                env_vars: record.env_vars.clone(),
                code_interpreter: record.code_interpreter,
                image_template: record.image_template.clone(),
                layered: layered.clone(),
            };
            store::write_json_atomic(&staging.join("snapshot.json"), &snapshot)?;
            let target = shared.dirs.snapshot(&template_id);
            if let Some(existing) = &existing {
                shared.dirs.remove_dir(&target)?;
                shared.forget_layered(existing);
            }
            std::fs::rename(&staging, &target)
                .map_err(SandboxError::io("register the snapshot"))?;
            Ok(snapshot)
        }
        .await;
        match result {
            Ok(snapshot) => {
                lock(&shared.snapshots).insert(template_id, snapshot.clone());
                Ok(snapshot)
            }
            Err(e) => {
                let _ = shared.dirs.remove_dir(&staging);
                shared.gc_layers();
                Err(e)
            }
        }
    }

    /// All snapshots, newest first.
    /// The templates made from images in the data directory.
    pub(crate) fn image_templates(&self) -> Vec<crate::templates::TemplateRecord> {
        crate::templates::list(self.shared.dirs.root())
    }

    pub(crate) fn snapshots(&self) -> Vec<SnapshotRecord> {
        let mut all: Vec<SnapshotRecord> = lock(&self.shared.snapshots).values().cloned().collect();
        all.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.template_id.cmp(&b.template_id))
        });
        all
    }

    /// Delete a snapshot by reference; `Ok(false)` when there is none.
    pub(crate) async fn delete_snapshot(&self, reference: &str) -> Result<bool, SandboxError> {
        let shared = &self.shared;
        let _names = shared.snapshot_lock.lock().await;
        let found = lock(&shared.snapshots)
            .values()
            .find(|s| s.matches(reference))
            .map(|s| s.template_id.clone());
        let Some(template_id) = found else {
            return Ok(false);
        };
        shared
            .dirs
            .remove_dir(&shared.dirs.snapshot(&template_id))?;
        if let Some(snapshot) = lock(&shared.snapshots).remove(&template_id) {
            shared.forget_layered(&snapshot);
        }
        Ok(true)
    }

    /// [`fork_now`](Self::fork_now), to the end even if the caller goes away.
    pub(crate) async fn fork(
        &self,
        id: &str,
        count: u32,
        timeout_secs: u32,
    ) -> Result<Vec<ForkOutcome>, SandboxError> {
        let (this, id) = (self.clone(), id.to_owned());
        detached(async move { this.fork_now(&id, count, timeout_secs).await }).await
    }

    /// Fork a sandbox `count` times: copy its files (frozen meanwhile) and start each copy.
    pub(super) async fn fork_now(
        &self,
        id: &str,
        count: u32,
        timeout_secs: u32,
    ) -> Result<Vec<ForkOutcome>, SandboxError> {
        let shared = &self.shared;
        shared.check_open()?;
        shared.validate_timeout(timeout_secs)?;
        let sandbox = shared.find(id)?;
        let mut prepared = Vec::new();
        let source = {
            let _ops = sandbox.ops.lock().await;
            shared.ensure_present(&sandbox)?;
            let mut copies = Vec::new();
            for _ in 0..count {
                let fork_id =
                    crate::ids::sandbox_id().map_err(SandboxError::io("generate a sandbox id"))?;
                copies.push((
                    fork_id.clone(),
                    SandboxPaths::new(shared.dirs.sandbox(&fork_id)),
                ));
            }
            let copy_all = async {
                let mut results = Vec::new();
                for (_, paths) in &copies {
                    let sources: Vec<(PathBuf, PathBuf)> = sandbox
                        .paths
                        .writable()
                        .into_iter()
                        .map(|(name, from)| (from.to_path_buf(), paths.root.join(name)))
                        .collect();
                    results.push(
                        copy_state(&paths.root, sources, shared.config.rootless.clone()).await,
                    );
                }
                Ok::<_, SandboxError>(results)
            };
            let results = shared.with_frozen(&sandbox, copy_all).await?;
            prepared.extend(copies.into_iter().zip(results));
            sandbox.record()
        };
        let now = Utc::now();
        let mut starts = Vec::new();
        for ((fork_id, paths), copied) in prepared {
            let record = SandboxRecord {
                id: fork_id,
                started_at: now,
                end_at: now + seconds(timeout_secs),
                timeout_secs,
                envd_access_token: match source.envd_access_token {
                    Some(_) => Some(new_token()?),
                    None => None,
                },
                traffic_access_token: match source.traffic_access_token {
                    Some(_) => Some(new_token()?),
                    None => None,
                },
                state: State::Running,
                paused_with_memory: false,
                ..source.clone()
            };
            let shared = Arc::clone(shared);
            starts.push(async move {
                match copied {
                    Ok(()) => shared.start_new(paths, record).await,
                    Err(e) => {
                        let _ = shared.remove_dir_of(&paths);
                        Err(e)
                    }
                }
            });
        }
        Ok(futures_util::future::join_all(starts).await)
    }
}

impl Shared {
    /// Run `work` with the sandbox's processes frozen (if it runs), thawing afterwards.
    pub(super) async fn with_frozen<T>(
        &self,
        sandbox: &Sandbox,
        work: impl std::future::Future<Output = Result<T, SandboxError>>,
    ) -> Result<T, SandboxError> {
        let running = {
            let live = sandbox.live();
            match (&live.instance, live.record.state) {
                (Some(instance), State::Running) => Some(Arc::clone(instance)),
                _ => None,
            }
        };
        if let Some(instance) = &running {
            instance
                .freeze()
                .await
                .map_err(SandboxError::io("freeze the sandbox"))?;
        }
        // A disk is copied as an image: its filesystem must be consistent
        // on the device, not only quiet.
        let mounted = sandbox.live().instance.clone();
        let frozen_disk = match (mounted, sandbox.paths.has_disk()) {
            (Some(instance), true) => Some(disk::freeze(&disk_mount(&instance))),
            _ => None,
        };
        let result = match frozen_disk {
            Some(Err(e)) => Err(SandboxError::io("freeze the sandbox's disk")(e)),
            Some(Ok(frozen)) => {
                let result = work.await;
                drop(frozen);
                result
            }
            None => work.await,
        };
        if let Some(instance) = &running {
            instance
                .thaw()
                .await
                .map_err(SandboxError::io("thaw the sandbox"))?;
        }
        result
    }
}

pub(super) fn validate_snapshot_name(name: &str) -> Result<(), SandboxError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(SandboxError::Invalid(format!(
            "invalid snapshot name '{name}': use letters, digits, '-', '_' and '.', at most 128 characters"
        )))
    }
}

/// Run `copy` (of a sandbox's changes into a layer) on a blocking thread.
async fn copy_into_layer(
    copy: Box<dyn FnOnce() -> std::io::Result<()> + Send>,
) -> Result<(), SandboxError> {
    tokio::task::spawn_blocking(copy)
        .await
        .map_err(|e| SandboxError::Io {
            context: "copy the sandbox's changes into a layer".to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?
        .map_err(SandboxError::io("copy the sandbox's changes into a layer"))
}

/// Copy a sandbox's writable state (directories, or its disk image) into `root`.
/// An unprivileged server's `rootless` copies directories in the
/// sandboxes' user namespace (their files belong to its ids).
pub(super) async fn copy_state(
    root: &Path,
    pairs: Vec<(PathBuf, PathBuf)>,
    rootless: Option<Arc<crate::sandbox::rootless::Rootless>>,
) -> Result<(), SandboxError> {
    let root = root.to_path_buf();
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&root)?;
        let deadline = StdInstant::now() + COPY_TIMEOUT;
        for (from, to) in pairs {
            if let (true, Some(rootless)) = (from.is_dir(), &rootless) {
                rootless.copy_tree(&from, &to)?;
            } else if from.is_dir() {
                fs_copy::copy_tree(&from, &to, deadline)?;
            } else {
                disk::copy_sparse(&from, &to, Some(deadline))?;
            }
        }
        Ok::<_, std::io::Error>(())
    })
    .await
    .map_err(|e| SandboxError::Io {
        context: "copy the sandbox's files".into(),
        source: std::io::Error::other(e),
    })?
    .map_err(SandboxError::io("copy the sandbox's files"))
}

impl Manager {
    /// Stop a sandbox (its processes end, its files stay) and copy the
    /// changes its writable trees hold into the layer directory `dest`
    /// (see [`layer_capture`](crate::sandbox::layer_capture)); `work` is
    /// an empty directory for the copy's mount points.
    pub(crate) async fn capture_layer(
        &self,
        id: &str,
        work: &Path,
        dest: &Path,
    ) -> Result<(), SandboxError> {
        let sandbox = self.shared.find(id)?;
        let _ops = sandbox.ops.lock().await;
        self.shared.ensure_present(&sandbox)?;
        if sandbox.live().record.state != State::Paused {
            self.shared.pause_locked(&sandbox, false).await?;
        }
        let (work, dest) = (work.to_path_buf(), dest.to_path_buf());
        let copy: Box<dyn FnOnce() -> std::io::Result<()> + Send> =
            match &self.shared.config.rootless {
                Some(rootless) if self.shared.writable_root(&sandbox) => {
                    let rootless = Arc::clone(rootless);
                    let upper = sandbox.paths.rootfs.join(crate::sandbox::stage::UPPER);
                    Box::new(move || rootless.capture(&upper, &dest))
                }
                _ if sandbox.paths.has_disk() => {
                    let device = self.shared.disk_device(&sandbox)?;
                    Box::new(move || {
                        crate::sandbox::layer_capture::capture(device.path(), &work, &dest)
                    })
                }
                _ => {
                    return Err(SandboxError::Invalid(
                        "only sandboxes with a writable root have layers to capture".to_owned(),
                    ));
                }
            };
        copy_into_layer(copy).await
    }

    /// Where the agent of a sandbox listens (for the server's own calls).
    pub(crate) fn agent_socket(&self, id: &str) -> Result<PathBuf, SandboxError> {
        Ok(self.shared.find(id)?.paths.socket())
    }
}

impl Manager {
    /// The key of the host base layer, when sandboxes have writable roots
    /// (template builds need them).
    pub(crate) fn host_base_key(&self) -> Option<String> {
        let config = &self.shared.config;
        match &config.host_base {
            Some(base) if config.disks.is_some() || config.rootless.is_some() => Some(base.key()),
            _ => None,
        }
    }

    /// Delete a tree the server made from sandboxes' files (an unprivileged
    /// server's belong to the sandboxes' ids: see
    /// [`rootless`](crate::sandbox::rootless)).
    pub(crate) fn remove_tree(&self, path: &Path) -> std::io::Result<()> {
        match &self.shared.config.rootless {
            Some(rootless) => rootless.remove_tree(path),
            None if path.exists() => std::fs::remove_dir_all(path),
            None => Ok(()),
        }
    }

    /// Copy a tree with its owners (see [`remove_tree`](Self::remove_tree)),
    /// or `None` when this server copies trees as its own user.
    pub(crate) fn copy_tree_as_sandboxes(
        &self,
        from: &Path,
        to: &Path,
    ) -> Option<std::io::Result<()>> {
        self.shared
            .config
            .rootless
            .as_ref()
            .map(|rootless| rootless.copy_tree(from, to))
    }
}

impl Manager {
    /// The server's data directory.
    pub(crate) fn data_dir(&self) -> &Path {
        self.shared.dirs.root()
    }
}

impl Shared {
    /// Whether a snapshot of `sandbox` is kept as a layer: its changes sit
    /// in writable trees on a disk of its own (root servers with writable
    /// roots).
    fn snapshots_as_layers(&self, sandbox: &Sandbox) -> bool {
        self.writable_root(sandbox)
    }

    /// Delete the layers nothing uses any more.
    fn gc_layers(&self) {
        let data = self.dirs.root();
        match &self.config.rootless {
            Some(rootless) => {
                crate::templates::gc_build_layers_with(data, |dir| rootless.remove_tree(dir));
            }
            None => crate::templates::gc_build_layers(data),
        }
    }

    /// Copy the changes of a sandbox's writable trees into the new layer
    /// directory `staged` (a tree per directory); `work` is an empty
    /// directory for a root server's mount points.
    async fn copy_changes(
        &self,
        sandbox: &Arc<Sandbox>,
        work: PathBuf,
        staged: PathBuf,
    ) -> Result<(), SandboxError> {
        let copy: Box<dyn FnOnce() -> std::io::Result<()> + Send> = match &self.config.rootless {
            Some(rootless) => {
                let rootless = Arc::clone(rootless);
                let upper = sandbox.paths.rootfs.join(crate::sandbox::stage::UPPER);
                Box::new(move || rootless.capture(&upper, &staged))
            }
            None => {
                let device = self.disk_device(sandbox)?;
                Box::new(move || {
                    crate::sandbox::layer_capture::capture(device.path(), &work, &staged)
                })
            }
        };
        self.with_frozen(sandbox, copy_into_layer(copy)).await
    }

    /// Copy a sandbox's changes (frozen meanwhile) into a new layer and
    /// record the hidden template a snapshot's sandboxes start from: the
    /// sandbox's template's layers with that layer on top. Its id.
    async fn snapshot_layer(&self, sandbox: &Arc<Sandbox>) -> Result<String, SandboxError> {
        let data = self.dirs.root().to_path_buf();
        let record = sandbox.record();
        let host_key = self
            .config
            .host_base
            .as_ref()
            .map(|b| b.key())
            .unwrap_or_default();
        let base = match &record.image_template {
            Some(id) => crate::templates::load(&data, id)
                .ok_or_else(|| SandboxError::TemplateNotFound(id.clone()))?,
            None => crate::templates::host_base_record("", &host_key),
        };
        let new_id = || crate::ids::template_id().map_err(SandboxError::io("generate an id"));
        let (layer_id, hidden_id) = (new_id()?, new_id()?);
        let layers = data.join("build-layers");
        let staged = layers.join(format!(".tmp-{layer_id}"));
        let work = data.join("build-work").join(&layer_id);
        std::fs::create_dir_all(&layers).map_err(SandboxError::io("make the layer directory"))?;
        let captured = self
            .copy_changes(sandbox, work.clone(), staged.clone())
            .await;
        let _ = std::fs::remove_dir_all(&work);
        if let Err(e) = captured {
            let _ = match &self.config.rootless {
                Some(rootless) => rootless.remove_tree(&staged),
                None => std::fs::remove_dir_all(&staged),
            };
            return Err(e);
        }
        std::fs::rename(&staged, layers.join(&layer_id))
            .map_err(SandboxError::io("register the snapshot's layer"))?;
        let dir = crate::templates::template_dir(&data, &hidden_id);
        std::fs::create_dir_all(&dir).map_err(SandboxError::io("make the snapshot's template"))?;
        let top = crate::templates::template_dir(&data, &base.template_id).join("layer");
        if !base.template_id.is_empty() && top.is_dir() {
            let out = std::process::Command::new("cp")
                .arg("-a")
                .arg("--no-target-directory")
                .arg(&top)
                .arg(dir.join("layer"))
                .output()
                .map_err(SandboxError::io("copy the template's top layer"))?;
            if !out.status.success() {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(SandboxError::Io {
                    context: "copy the template's top layer".to_owned(),
                    source: std::io::Error::other(
                        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                    ),
                });
            }
        }
        let mut build_layers = base.build_layers.clone();
        build_layers.push(layer_id);
        let hidden = crate::templates::TemplateRecord {
            template_id: hidden_id.clone(),
            name: hidden_id.clone(),
            hidden: true,
            build_layers,
            build_id: None,
            tags: Vec::new(),
            ..base
        };
        crate::templates::write_record(&dir, &hidden).map_err(|e| SandboxError::Io {
            context: "record the snapshot's template".to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?;
        Ok(hidden_id)
    }

    /// Drop the hidden template of a deleted layered snapshot, and the
    /// layers nothing uses any more.
    fn forget_layered(&self, snapshot: &SnapshotRecord) {
        if let Some(id) = &snapshot.layered {
            let data = self.dirs.root();
            let _ = std::fs::remove_dir_all(crate::templates::template_dir(data, id));
            self.gc_layers();
        }
    }
}
